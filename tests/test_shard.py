"""`fhdr batch --shard`, `--files-from` and `--report`: N jobs cover every photo exactly once."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from fhdr_cli.inference.batch import plan_batch, run_batch
from fhdr_cli.cli import app
from fhdr_cli.errors import UsageError
from fhdr_cli.io.hdr_files import read_hdr
from fhdr_cli.inference.pipeline import Converter
from fhdr_cli.inference.report import FIELDS
from fhdr_cli.inference.shard import Shard, parse_shard, read_file_list, scheduler_shard

try:
    runner = CliRunner(mix_stderr=False)
except TypeError:  # click >= 8.2 keeps stderr apart by default
    runner = CliRunner()

NO_SCHEDULER = {"SLURM_ARRAY_TASK_ID": None, "SLURM_ARRAY_TASK_COUNT": None, "JOB_COMPLETION_INDEX": None,
                "FHDR_SHARD_COUNT": None}


def fhdr(*args, env=None, input=None):
    return runner.invoke(app, [str(a) for a in args], env={**NO_SCHEDULER, **(env or {})}, input=input)


def one_line_error(result, code: int) -> str:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fhdr: error: "), result.stderr
    return lines[0]


@pytest.fixture
def tree(tmp_path, photo):
    """40 small photos in three folders (names chosen so that sorted and hashed orders differ)."""
    root = tmp_path / "shots"
    names = [f"{folder}img{i:02d}.{'png' if i % 3 else 'jpg'}" for folder in ("", "day1/", "day2/deep/")
             for i in range(14 if folder else 12)]
    for i, name in enumerate(names):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        small = cv2.resize(photo, (8 + i % 5, 6 + i % 3))
        assert cv2.imwrite(str(root / name), small[:, :, ::-1])
    return root, names


@pytest.mark.parametrize("count", [1, 2, 3, 8])
def test_shards_cover_every_file_exactly_once_whatever_the_listing_order(tree, tmp_path, count):
    root, names = tree
    everything = {job.src for job in plan_batch(root, tmp_path / "out", recursive=True)}
    assert len(everything) == len(names)
    shuffled = [root / n for n in names]
    random.Random(count).shuffle(shuffled)
    parts = []
    for index in range(count):
        listed = {job.src for job in plan_batch(root, tmp_path / "out", recursive=True, shard=Shard(index, count))}
        # the same shard from an explicit list in another order: a file's shard is its path's, not its place's
        assert {job.src for job in plan_batch(root, tmp_path / "out", files=shuffled, shard=Shard(index, count))} == listed
        parts.append(listed)
    assert set().union(*parts) == everything
    assert sum(len(p) for p in parts) == len(everything)  # disjoint
    if count == 3:
        assert all(parts), "every shard of 40 files gets some"


def test_a_file_keeps_its_shard_when_others_are_added(tree, tmp_path):
    root, _ = tree
    before = {job.src for job in plan_batch(root, tmp_path / "o", recursive=True, shard=Shard(1, 4))}
    cv2.imwrite(str(root / "day1" / "new.png"), np.zeros((4, 4, 3), np.uint8))
    after = {job.src for job in plan_batch(root, tmp_path / "o", recursive=True, shard=Shard(1, 4))}
    assert before <= after


@pytest.mark.parametrize("text", ["1", "2/2", "-1/3", "a/b", "0/0", ""])
def test_a_bad_shard_is_a_usage_error(text, tree, tmp_path):
    with pytest.raises(UsageError):
        parse_shard(text)
    root, _ = tree
    one_line_error(fhdr("batch", root, tmp_path / "out", "--shard", text), 2)


@pytest.mark.parametrize("env, expected", [
    ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "8", "SLURM_ARRAY_TASK_MIN": "0"}, (0, 8)),
    ({"SLURM_ARRAY_TASK_ID": "8", "SLURM_ARRAY_TASK_COUNT": "8", "SLURM_ARRAY_TASK_MIN": "1"}, (7, 8)),  # --array=1-8
    ({"SLURM_ARRAY_TASK_ID": "6", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "0",
      "SLURM_ARRAY_TASK_STEP": "2"}, (3, 4)),  # --array=0-7:2
    ({"JOB_COMPLETION_INDEX": "2", "FHDR_SHARD_COUNT": "5"}, (2, 5)),
    ({}, None),
])
def test_the_schedulers_number_the_shards(env, expected):
    shard = scheduler_shard(env)
    assert (shard and (shard.index, shard.count)) == expected


@pytest.mark.parametrize("env", [
    {"JOB_COMPLETION_INDEX": "2"},  # every pod would convert every file
    {"JOB_COMPLETION_INDEX": "5", "FHDR_SHARD_COUNT": "5"},
    {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "1"},  # --array=1,5,7
    {"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "3"},
])
def test_unusable_scheduler_numbers_are_usage_errors(env, tree, tmp_path):
    with pytest.raises(UsageError):
        scheduler_shard(env)
    root, _ = tree
    one_line_error(fhdr("batch", root, tmp_path / "out", env=env), 2)


def test_slurm_array_tasks_convert_the_folder_between_them_and_rerun_idempotently(tree, tmp_path, weights_file):
    root, names = tree
    out = tmp_path / "hdr"
    for task in range(1, 4):  # sbatch --array=1-3
        env = {"SLURM_ARRAY_TASK_ID": str(task), "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "1"}
        result = fhdr("batch", root, out, "-r", "-n", "1", "--device", "cpu", "--weights", weights_file,
                      "--report", tmp_path / f"report{task}.jsonl", env=env)
        assert result.exit_code == 0, result.stderr
        assert f"fhdr: shard {task - 1}/3 (from SLURM_ARRAY_TASK_ID): " in result.stderr
    reports = [json.loads(line) for task in range(1, 4) for line in (tmp_path / f"report{task}.jsonl").read_text().splitlines()]
    assert sorted(r["source"] for r in reports) == sorted(str(root / n) for n in names)
    assert {r["status"] for r in reports} == {"converted"}
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == sorted(str(Path(n).with_suffix(".exr")) for n in names)  # no temporary files either
    # a task that is re-run (preempted, retried) skips what it did and touches nothing else
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.exr")}
    again = fhdr("batch", root, out, "-r", "-n", "1", "--device", "cpu", "--weights", weights_file, "--skip-existing",
                 "--shard", "1/3", "--report", tmp_path / "again.jsonl")
    assert again.exit_code == 0, again.stderr
    redo = [json.loads(line) for line in (tmp_path / "again.jsonl").read_text().splitlines()]
    assert redo and {r["status"] for r in redo} == {"skipped"}
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.exr")} == before


def test_files_from_converts_exactly_the_listed_files_and_reports_each(tree, tmp_path, weights_file):
    root, names = tree
    listing = tmp_path / "list.txt"
    listing.write_text(f"{names[3]}\n\n{names[20]}\r\n{root / names[30]}\n{names[3]}\nday1/missing.jpg\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / Path(names[20]).with_suffix(".exr")).parent.mkdir(parents=True)
    (tmp_path / "out" / Path(names[20]).with_suffix(".exr")).write_bytes(b"earlier")
    result = fhdr("batch", root, tmp_path / "out", "--files-from", listing, "--skip-existing", "-n", "1",
                  "--device", "cpu", "--weights", weights_file, "--report", tmp_path / "report.jsonl")
    assert result.exit_code == 1, result.stderr  # the missing file failed; the rest went on
    records = [json.loads(line) for line in (tmp_path / "report.jsonl").read_text().splitlines()]
    assert [tuple(r) for r in records] == [FIELDS] * 4
    by_name = {Path(r["source"]).relative_to(root).as_posix(): r for r in records}
    # skipped ones first, then the others in listed order; the repeat dropped
    assert list(by_name) == [names[20], names[3], names[30], "day1/missing.jpg"]
    assert [r["status"] for r in records] == ["skipped", "converted", "converted", "failed"]
    assert "no such file" in by_name["day1/missing.jpg"]["reason"]
    assert by_name["day1/missing.jpg"]["megapixels"] is None
    converted = by_name[names[3]]
    assert converted["output"] == str(tmp_path / "out" / Path(names[3]).with_suffix(".exr"))
    assert converted["seconds"] > 0 and converted["reason"] == ""
    assert converted["megapixels"] == round(np.prod(read_hdr(converted["output"]).shape[:2]) / 1e6, 3)
    written = {p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.exr")}
    assert written == {str(Path(n).with_suffix(".exr")) for n in (names[3], names[20], names[30])}


def test_files_from_standard_input(tree, tmp_path, weights_file):
    root, names = tree
    result = fhdr("batch", root, tmp_path / "out", "--files-from", "-", "-n", "1", "--device", "cpu",
                  "--weights", weights_file, input=f"{names[0]}\n{names[15]}\n")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.exr")) == sorted(Path(n).with_suffix(".exr").name
                                                                              for n in (names[0], names[15]))


@pytest.mark.parametrize("line", ["../elsewhere.jpg", "/etc/passwd"])
def test_files_from_refuses_files_outside_in_dir(tree, tmp_path, line):
    root, _ = tree
    listing = tmp_path / "list.txt"
    listing.write_text(line + "\n")
    with pytest.raises(UsageError, match="not inside"):
        read_file_list(str(listing), root)
    assert "not inside" in one_line_error(fhdr("batch", root, tmp_path / "out", "--files-from", listing), 2)
    assert not (tmp_path / "out").exists()


def test_files_from_with_a_missing_list_or_recursive_is_a_usage_error(tree, tmp_path):
    root, names = tree
    assert "cannot read" in one_line_error(fhdr("batch", root, tmp_path / "o", "--files-from", tmp_path / "nope"), 2)
    (tmp_path / "list.txt").write_text(names[0])
    one_line_error(fhdr("batch", root, tmp_path / "o", "--files-from", tmp_path / "list.txt", "-r"), 2)


def test_report_in_a_missing_folder_fails_before_any_work(tree, tmp_path, weights_file):
    root, _ = tree
    one_line_error(fhdr("batch", root, tmp_path / "out", "--report", tmp_path / "no" / "r.jsonl",
                        "--weights", weights_file), 2)
    assert not (tmp_path / "out").exists()


def test_results_stay_in_order_with_several_writers_and_failures_between(tree, tmp_path, weights_file):
    root, names = tree
    files = [root / n for n in names[:9]]
    files[4].write_bytes(b"not a photo")
    jobs = plan_batch(root, tmp_path / "out", files=files)
    converter = Converter.load(weights=weights_file, device="cpu", iterations=1)
    results = list(run_batch(jobs, converter, io_threads=3))
    assert [r.job.src for r in results] == files
    assert [r.status for r in results] == ["converted"] * 4 + ["failed"] + ["converted"] * 4
    for r in results:
        if r.status == "converted":
            assert read_hdr(r.job.dst).shape[:2] == cv2.imread(str(r.job.src)).shape[:2]


def test_ray_without_ray_installed_says_how_to_get_it(tree, tmp_path, weights_file):
    root, _ = tree
    script = ("import sys; sys.modules['ray'] = None; from fhdr_cli.__main__ import main; "  # as if not installed
              f"sys.argv = ['fhdr', 'batch', {str(root)!r}, {str(tmp_path / 'out')!r}, '--ray', 'auto', "
              f"'--weights', {str(weights_file)!r}]; main()")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == ['fhdr: error: --ray needs Ray: pip install "fhdr[ray]"']
    assert not (tmp_path / "out").exists()


def test_ray_at_an_address_nobody_answers_is_a_usage_error(tree, tmp_path, weights_file):
    pytest.importorskip("ray")
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root, _ = tree
    result = fhdr("batch", root, tmp_path / "out", "--ray", f"127.0.0.1:{port}", "--weights", weights_file)
    assert "cannot connect" in one_line_error(result, 2)
