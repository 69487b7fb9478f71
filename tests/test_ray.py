"""`fhdr batch --ray` on a real two-node Ray cluster on this machine, one node killed mid-batch.

Slow (a minute or more on 2 cores): deselected by default, run with `pytest -m ray`; skipped when
Ray is not installed (`pip install -e ".[ray]"`).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import pytest

from fhdr_cli.io.hdr_files import read_hdr

pytest.importorskip("ray")
pytestmark = pytest.mark.ray

RAY = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
PHOTOS = 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo.extend(children.get(found[-1], []))
    return found


def cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:  # gone meanwhile
        return b""


def raylet_of_node(node_manager_port: int) -> int:
    for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
        argv = cmdline(pid).split(b"\0")
        if argv[0].endswith(b"raylet") and f"--node_manager_port={node_manager_port}".encode() in argv:
            return pid
    raise AssertionError(f"no raylet with node manager port {node_manager_port}")


@pytest.fixture
def cluster(tmp_path):
    """A head node and a second node, one CPU each, on 127.0.0.1; always stopped afterwards."""
    if RAY is None:
        pytest.skip("the ray command is not installed")
    short = Path(tempfile.mkdtemp(prefix="fhdr-ray-"))  # Unix socket paths must stay under 108 bytes
    token = short / "token"
    token.write_text(secrets.token_hex(32))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token),
           "PYTHONUNBUFFERED": "1"}
    port, second_node = free_port(), free_port()
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--object-store-memory=80000000", "--disable-usage-stats"]
    try:
        subprocess.run([RAY, "start", "--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={short}",
                        *common], env=env, check=True, capture_output=True, timeout=180)
        subprocess.run([RAY, "start", f"--address=127.0.0.1:{port}", f"--node-manager-port={second_node}", *common],
                       env=env, check=True, capture_output=True, timeout=180)
        yield f"127.0.0.1:{port}", second_node, env
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=180)
        shutil.rmtree(short, ignore_errors=True)


def test_a_node_lost_mid_batch_costs_nothing(cluster, tmp_path, photo, weights_file):
    address, second_node, env = cluster
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    for i in range(PHOTOS):
        assert cv2.imwrite(str(in_dir / f"p{i:02d}.jpg"), cv2.resize(photo, (240 + i, 180))[:, :, ::-1])
    (in_dir / "bad.jpg").write_bytes(b"\xff\xd8 not a photo")  # fails on its own; the batch goes on
    report = tmp_path / "report.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "fhdr_cli", "batch", str(in_dir), str(out_dir), "-n", "1",
                             "--device", "cpu", "--weights", str(weights_file), "--ray", address, "--report", str(report)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 600
        # kill the second node once its actor is up and the batch under way (some photos done, more to do)
        raylet, workers = raylet_of_node(second_node), []
        while time.monotonic() < deadline and proc.poll() is None:
            workers = [pid for pid in descendants(raylet) if b"MapWorker" in cmdline(pid)]
            if workers and out_dir.is_dir() and len(list(out_dir.glob("p*.exr"))) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the batch ended before the node could be killed"
        killed = descendants(raylet)
        for pid in killed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert workers, "the second node had no actor to lose"
    assert proc.returncode == 1, stderr  # one photo failed
    assert f"│ {PHOTOS:>9} │ {0:>7} │ {1:>6} │" in stdout, stdout  # converted / skipped / failed
    assert "failed: " in stderr and "bad.jpg: not a JPEG, PNG, TIFF, HEIF or WebP image" in stderr
    assert stdout.startswith("     fhdr batch") or stdout.lstrip().startswith("fhdr batch"), stdout  # only the summary
    assert "Traceback" not in stderr
    assert sorted(p.name for p in out_dir.iterdir()) == [f"p{i:02d}.exr" for i in range(PHOTOS)]  # no temporaries
    for i in range(PHOTOS):
        assert read_hdr(out_dir / f"p{i:02d}.exr").shape == (180, 240 + i, 3)  # whole
    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert sorted(r["source"] for r in records) == sorted(str(p) for p in in_dir.iterdir())  # each exactly once
    assert {r["source"]: r["status"] for r in records if r["status"] != "converted"} == {str(in_dir / "bad.jpg"): "failed"}
