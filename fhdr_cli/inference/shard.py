"""Which of the planned files this job converts: `--shard K/N`, `--files-from`, and the schedulers'
own numbering (SLURM job arrays, Kubernetes Indexed Jobs).

A file's shard comes from a hash of its path relative to IN_DIR, not from its place in a listing,
so N jobs that each list the folder (in any order, on any machine) together cover every file
exactly once, and a file keeps its shard when others are added.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import UsageError


@dataclass(frozen=True)
class Shard:
    index: int  # 0 .. count-1
    count: int
    origin: str = "--shard"  # where the numbers came from, for messages

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, relative: PurePosixPath | str) -> bool:
        """Whether the file at `relative` (to IN_DIR, '/'-separated) belongs to this shard."""
        digest = hashlib.blake2b(str(relative).encode("utf-8", "surrogateescape"), digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.count == self.index


def parse_shard(text: str) -> Shard:
    """'K/N' with 0 <= K < N."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise UsageError(f"--shard: expected K/N such as 0/8 (shard K of N, counted from 0), got '{text}'")
    index, count = int(match[1]), int(match[2])
    if count < 1 or index >= count:
        raise UsageError(f"--shard {text}: K must be 0..N-1 (shards are counted from 0)")
    return Shard(index, count)


def scheduler_shard(env: Mapping[str, str] = os.environ) -> Shard | None:
    """The shard a SLURM job array task or Kubernetes Indexed Job pod stands for; None outside them.

    SLURM gives the task's id and the array's size (`--array=0-7`, `1-8` or `0-14:2` alike);
    Kubernetes gives only the pod's index, so there FHDR_SHARD_COUNT (or `--shard K/N`) must name
    the number of completions: without it every pod would convert every file."""
    if "SLURM_ARRAY_TASK_ID" in env and "SLURM_ARRAY_TASK_COUNT" in env:
        task, count = _int(env, "SLURM_ARRAY_TASK_ID"), _int(env, "SLURM_ARRAY_TASK_COUNT")
        first, step = _int(env, "SLURM_ARRAY_TASK_MIN", 0), _int(env, "SLURM_ARRAY_TASK_STEP", 1) or 1
        index, rest = divmod(task - first, step)
        if rest or not 0 <= index < count:
            raise UsageError(f"SLURM array task {task} is not one of {count} evenly spaced tasks from {first}; "
                             "pass --shard K/N")
        return Shard(index, count, "SLURM_ARRAY_TASK_ID")
    if "JOB_COMPLETION_INDEX" in env:
        if "FHDR_SHARD_COUNT" not in env:
            raise UsageError("JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but not the number of pods: "
                             "set FHDR_SHARD_COUNT to the Job's completions (or pass --shard K/N; --shard 0/1: all files)")
        index, count = _int(env, "JOB_COMPLETION_INDEX"), _int(env, "FHDR_SHARD_COUNT")
        if count < 1 or not 0 <= index < count:
            raise UsageError(f"JOB_COMPLETION_INDEX {index} is not below FHDR_SHARD_COUNT {count}")
        return Shard(index, count, "JOB_COMPLETION_INDEX")
    return None


def _int(env: Mapping[str, str], name: str, default: int | None = None) -> int:
    value = env.get(name)
    if value is None and default is not None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UsageError(f"{name}={value!r} in the environment is not a whole number") from None


def read_file_list(source: str, in_dir: Path) -> list[Path]:
    """The files named one per line in `source` (a file, or '-' for standard input), relative to
    `in_dir` (absolute names must lie inside it); blank lines are skipped and repeats dropped."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise UsageError(f"--files-from {source}: cannot read ({os.strerror(exc.errno) if exc.errno else exc})") from None
    files: dict[Path, None] = {}  # ordered set
    root = Path(os.path.abspath(in_dir))
    for line in text.splitlines():
        name = line.rstrip("\r")
        if not name.strip():
            continue
        path = Path(os.path.abspath(root / name))  # normalises "a/../b" without following links
        if root not in path.parents:
            raise UsageError(f"--files-from {source}: '{name}' is not inside {in_dir}")
        files[in_dir / path.relative_to(root)] = None
    return list(files)
