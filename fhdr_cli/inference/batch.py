"""Folder conversion: mirror a tree of photos into a tree of HDR files.

Reading the next photo and writing the previous result run on worker threads
while the model computes, so decoding and encoding hide behind the network.
A file that fails is recorded with its reason and the batch goes on; nothing
is swallowed: every failure ends up in the results.
"""

from __future__ import annotations

import fnmatch
import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ..errors import FhdrError, UsageError
from ..io.photo import LDR_EXTENSIONS, read_ldr
from ..io.ultrahdr import DEFAULT_MAX_BOOST_STOPS, is_ultrahdr_path
from .pipeline import Converter, check_output, write_output

FORMATS = ("exr", "hdr", "jpg")  # jpg: Ultra HDR JPEG


@dataclass
class BatchJob:
    src: Path
    dst: Path
    clash: Path | None = None  # an earlier photo with the same output (a.jpg and a.png -> a.exr), or itself


@dataclass
class BatchResult:
    job: BatchJob
    status: str  # "converted", "skipped" or "failed"
    reason: str = ""
    unwrapped_panorama: bool = False  # converted without wrap, yet looks like a 360-degree panorama


def plan_batch(in_dir: Path, out_dir: Path, *, recursive: bool = False, pattern: str | None = None,
               fmt: str = "exr") -> list[BatchJob]:
    """The photos under `in_dir` (matching `pattern`, if given) and where each one's HDR goes.

    None is a UsageError when photos are there but the options leave them out; [] when there are none."""
    if not in_dir.exists():
        raise UsageError(f"{in_dir}: no such folder")
    if not in_dir.is_dir():
        raise UsageError(f"{in_dir}: not a folder")
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got '{fmt}'")
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir}: not a folder")
    candidates = in_dir.rglob("*") if recursive else in_dir.iterdir()
    jobs = []
    for src in sorted(candidates):
        if not src.is_file() or src.suffix.lower() not in LDR_EXTENSIONS:
            continue
        if pattern and not fnmatch.fnmatch(src.name, pattern):
            continue
        jobs.append(BatchJob(src, (out_dir / src.relative_to(in_dir)).with_suffix(f".{fmt}")))
    first_for: dict[Path, Path] = {}
    for job in jobs:  # one output per photo: never write one photo's result over another's, or over itself
        first = first_for.setdefault(job.dst, job.src)
        if first != job.src or job.dst.resolve() == job.src.resolve():
            job.clash = first
    if not jobs:
        _explain_nothing_matched(in_dir, recursive, pattern)
    return jobs


def _explain_nothing_matched(in_dir: Path, recursive: bool, pattern: str | None) -> None:
    """Raise a UsageError saying which option left out the photos that are under `in_dir`."""
    photos = [p for p in in_dir.rglob("*") if p.is_file() and p.suffix.lower() in LDR_EXTENSIONS]
    matching = [p for p in photos if not pattern or fnmatch.fnmatch(p.name, pattern)]
    if matching and not recursive:  # a match directly inside would have made a job
        raise UsageError(f"{in_dir}: no photos directly inside, {len(matching)} in its subfolders (add --recursive)")
    if photos and pattern:
        raise UsageError(f"{in_dir}: none of the {len(photos)} photos under it matches --pattern '{pattern}'")


def failed_sources(report: Path) -> set[Path]:
    """The photos a previous `--report` (JSON lines: source, output, status, reason, ...) lists as failed."""
    try:
        lines = report.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"{report}: cannot read the report ({exc.strerror or exc})") from None
    failed = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if entry["status"] == "failed":
                failed.add(Path(entry["source"]).resolve())  # as run_batch compares them
        except (ValueError, KeyError, TypeError):
            raise UsageError(f"{report}:{number}: not a line of an fhdr batch report") from None
    return failed


def run_batch(jobs: list[BatchJob], converter: Converter, *, overwrite: bool = False, skip_existing: bool = False,
              float32: bool = False, on_tile: Callable[[int, int], None] | None = None,
              max_boost: float = DEFAULT_MAX_BOOST_STOPS,
              skip: frozenset[Path] = frozenset()) -> Iterator[BatchResult]:
    """Convert every job, yielding one result per job in order; the photos in `skip` (failed before) are
    skipped; `max_boost` is for Ultra HDR JPEGs."""
    if overwrite and skip_existing:
        raise UsageError("--overwrite and --skip-existing exclude each other")
    todo: list[BatchJob] = []
    for job in jobs:
        if job.clash == job.src:
            yield BatchResult(job, "failed", f"{job.src}: its output would replace the photo itself; choose another folder")
        elif job.clash is not None:
            yield BatchResult(job, "failed", f"{job.src}: same output {job.dst} as {job.clash}; rename one of them")
        elif job.dst.exists() and skip_existing:
            yield BatchResult(job, "skipped", "output exists")
        elif job.src.resolve() in skip:
            yield BatchResult(job, "skipped", "failed before")
        else:
            todo.append(job)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fhdr-read") as readers, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="fhdr-write") as writers:
        reads = [readers.submit(read_ldr, job.src) for job in todo[:2]]
        pending_write: tuple[BatchJob, Future, bool] | None = None
        for index, job in enumerate(todo):
            if index + 2 < len(todo):
                reads.append(readers.submit(read_ldr, todo[index + 2].src))
            try:
                if job.dst.exists() and not overwrite:
                    raise UsageError(f"{job.dst}: already exists (use --overwrite or --skip-existing)")
                check_output(job.src, job.dst, converter.colour_space)
                image = reads[index].result()
                reads[index] = None  # drop the decoded photo as soon as it is used
                hdr = converter(image.rgb, on_tile, None if is_ultrahdr_path(job.dst) else image.rgb_to_rec709)
                panorama = converter.misses_wrap(image.rgb)
                job.dst.parent.mkdir(parents=True, exist_ok=True)
                write = writers.submit(write_output, job.src, job.dst, hdr, image, converter, overwrite=overwrite,
                                       float32=float32, max_boost=max_boost)
            except Exception as exc:  # recorded in the results, never dropped
                write = None
                failure = BatchResult(job, "failed", describe(exc))
            else:
                failure = None
            if pending_write:
                yield _finish(*pending_write)
            pending_write = (job, write, panorama) if write else None
            if failure:
                yield failure
        if pending_write:
            yield _finish(*pending_write)


def _finish(job: BatchJob, write: Future, panorama: bool) -> BatchResult:
    try:
        write.result()
    except Exception as exc:  # recorded in the results, never dropped
        return BatchResult(job, "failed", describe(exc))
    return BatchResult(job, "converted", unwrapped_panorama=panorama)


def describe(exc: Exception) -> str:
    """Our errors already read as sentences; anything else is unexpected, so name its type."""
    return str(exc) if isinstance(exc, FhdrError) else f"unexpected {type(exc).__name__}: {exc}"
