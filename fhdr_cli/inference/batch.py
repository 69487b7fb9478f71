"""Folder conversion: mirror a tree of photos into a tree of HDR files.

Reading the next photo and writing the previous results run on worker threads
while the model computes, so decoding and encoding hide behind the network: one
reader (decoding is quick, and serialised anyway by the capture of libjpeg's
warnings; on a GPU it also starts the photo's upload, which then runs beside the
model's work on the current photo) and a few writers (one half-float 12 MP EXR
takes longer to encode than a GPU takes to convert it), with at most one pending
result per writer.
A file that fails is recorded with its reason and the batch goes on; nothing
is swallowed: every failure ends up in the results.
"""

from __future__ import annotations

import fnmatch
import os
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from ..errors import FhdrError, UsageError
from ..io.photo import LDR_EXTENSIONS, LdrImage, read_ldr
from ..io.ultrahdr import DEFAULT_MAX_BOOST_STOPS, is_ultrahdr_path
from .pipeline import Converter, UploadedPhoto, check_output, write_output
from .shard import Shard

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
    seconds: float = 0.0  # reading + converting + writing this photo (they overlap with other photos')
    megapixels: float | None = None  # of the photo, once read


def plan_batch(in_dir: Path, out_dir: Path, *, recursive: bool = False, pattern: str | None = None,
               fmt: str = "exr", files: list[Path] | None = None, shard: Shard | None = None) -> list[BatchJob]:
    """The photos under `in_dir` (matching `pattern`, if given; or exactly `files`, paths inside
    `in_dir`) that belong to `shard`, and where each one's HDR goes.

    None is a UsageError when photos are there but the options leave them out; [] when there are none
    (or none in this shard)."""
    if not in_dir.exists():
        raise UsageError(f"{in_dir}: no such folder")
    if not in_dir.is_dir():
        raise UsageError(f"{in_dir}: not a folder")
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got '{fmt}'")
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir}: not a folder")
    if files is not None:
        if recursive or pattern:
            raise UsageError("--files-from names the files itself: drop --recursive and --pattern")
        sources = files  # exactly these: one that is missing or not a photo fails on its own
    else:
        candidates = in_dir.rglob("*") if recursive else in_dir.iterdir()
        sources = [src for src in sorted(candidates) if src.is_file() and src.suffix.lower() in LDR_EXTENSIONS
                   and not (pattern and not fnmatch.fnmatch(src.name, pattern))]
    jobs = [BatchJob(src, (out_dir / src.relative_to(in_dir)).with_suffix(f".{fmt}")) for src in sources]
    first_for: dict[Path, Path] = {}
    for job in jobs:  # one output per photo: never write one photo's result over another's, or over itself
        first = first_for.setdefault(job.dst, job.src)
        if first != job.src or job.dst.resolve() == job.src.resolve():
            job.clash = first
    if not jobs and files is None:
        _explain_nothing_matched(in_dir, recursive, pattern)
    if shard is not None:  # after the clashes: they are found the same way in every shard
        jobs = [job for job in jobs if shard.holds(job.src.relative_to(in_dir).as_posix())]
    return jobs


def default_io_threads() -> int:
    """Writer threads: half the cores, 1 to 4 (a 2-core CPU needs one; 4 encode 12 MP EXRs faster
    than an H200 converts them)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(4, cores // 2))


def _explain_nothing_matched(in_dir: Path, recursive: bool, pattern: str | None) -> None:
    """Raise a UsageError saying which option left out the photos that are under `in_dir`."""
    photos = [p for p in in_dir.rglob("*") if p.is_file() and p.suffix.lower() in LDR_EXTENSIONS]
    matching = [p for p in photos if not pattern or fnmatch.fnmatch(p.name, pattern)]
    if matching and not recursive:  # a match directly inside would have made a job
        raise UsageError(f"{in_dir}: no photos directly inside, {len(matching)} in its subfolders (add --recursive)")
    if photos and pattern:
        raise UsageError(f"{in_dir}: none of the {len(photos)} photos under it matches --pattern '{pattern}'")


def run_batch(jobs: list[BatchJob], converter: Converter, *, overwrite: bool = False, skip_existing: bool = False,
              float32: bool = False, on_tile: Callable[[int, int], None] | None = None,
              max_boost: float = DEFAULT_MAX_BOOST_STOPS, skip: frozenset[Path] = frozenset(),
              io_threads: int | None = None) -> Iterator[BatchResult]:
    """Convert every job, yielding one result per job: those skipped (or clashing) at once, then the
    others in order. The photos in `skip` (failed before) are skipped; `max_boost` is for Ultra HDR
    JPEGs; `io_threads` writers (default: `default_io_threads()`) encode while the model runs."""
    if overwrite and skip_existing:
        raise UsageError("--overwrite and --skip-existing exclude each other")
    decided, todo = triage(jobs, skip_existing=skip_existing, skip=skip)
    yield from decided

    writer_count = io_threads or default_io_threads()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fhdr-read") as readers, \
            ThreadPoolExecutor(max_workers=writer_count, thread_name_prefix="fhdr-write") as writers:
        reads = deque(readers.submit(_timed, _read_and_upload, job.src, converter) for job in todo[:2])
        # In job order: finished results, and writes still running. Holding at most one result per
        # writer bounds the memory (a 12 MP result is 144 MB) and keeps every writer busy.
        pending: deque[BatchResult | _Write] = deque()
        for index, job in enumerate(todo):
            if index + 2 < len(todo):
                reads.append(readers.submit(_timed, _read_and_upload, todo[index + 2].src, converter))
            read = reads.popleft()
            megapixels = None
            try:
                if job.dst.exists() and not overwrite:
                    raise UsageError(f"{job.dst}: already exists (use --overwrite or --skip-existing)")
                check_output(job.src, job.dst, converter.colour_space)
                (image, upload), seconds = read.result()
                read = None  # the future would keep the decoded photo alive through the next one
                megapixels = image.rgb.shape[0] * image.rgb.shape[1] / 1e6
                start = time.perf_counter()
                hdr = converter(upload, on_tile, None if is_ultrahdr_path(job.dst) else image.rgb_to_rec709)
                panorama = converter.misses_wrap(image.rgb)
                job.dst.parent.mkdir(parents=True, exist_ok=True)
                seconds += time.perf_counter() - start
                write = writers.submit(_timed, write_output, job.src, job.dst, hdr, image, converter,
                                       overwrite=overwrite, float32=float32, max_boost=max_boost)
                del image, upload, hdr  # the writer holds what it needs: free the rest before the next photo
                pending.append(_Write(job, write, panorama, seconds, megapixels))
            except Exception as exc:  # recorded in the results, never dropped
                pending.append(BatchResult(job, "failed", describe(exc), megapixels=megapixels))
            while pending and (len(pending) > writer_count or _ready(pending[0])):
                yield _finish(pending.popleft())
        while pending:
            yield _finish(pending.popleft())


def triage(jobs: list[BatchJob], *, skip_existing: bool, skip: frozenset[Path] = frozenset()
           ) -> tuple[list[BatchResult], list[BatchJob]]:
    """(results known without converting: clashes, existing outputs under --skip-existing, photos that
    failed before; the jobs left to convert)."""
    decided, todo = [], []
    for job in jobs:
        if job.clash == job.src:
            decided.append(BatchResult(job, "failed", f"{job.src}: its output would replace the photo itself; "
                                                      "choose another folder"))
        elif job.clash is not None:
            decided.append(BatchResult(job, "failed", f"{job.src}: same output {job.dst} as {job.clash}; rename one of them"))
        elif job.dst.exists() and skip_existing:
            decided.append(BatchResult(job, "skipped", "output exists"))
        elif job.src.resolve() in skip:
            decided.append(BatchResult(job, "skipped", "failed before"))
        else:
            todo.append(job)
    return decided, todo


T = TypeVar("T")


def _read_and_upload(src: Path, converter: Converter) -> tuple[LdrImage, UploadedPhoto]:
    image = read_ldr(src)
    return image, converter.upload(image.rgb)


def _timed(function: Callable[..., T], *args, **kwargs) -> tuple[T, float]:
    start = time.perf_counter()
    return function(*args, **kwargs), time.perf_counter() - start


@dataclass
class _Write:
    job: BatchJob
    future: Future
    panorama: bool
    seconds: float  # so far: reading and converting
    megapixels: float


def _ready(entry: BatchResult | _Write) -> bool:
    return isinstance(entry, BatchResult) or entry.future.done()


def _finish(entry: BatchResult | _Write) -> BatchResult:
    if isinstance(entry, BatchResult):
        return entry
    try:
        _, seconds = entry.future.result()
    except Exception as exc:  # recorded in the results, never dropped
        return BatchResult(entry.job, "failed", describe(exc), seconds=entry.seconds, megapixels=entry.megapixels)
    return BatchResult(entry.job, "converted", unwrapped_panorama=entry.panorama, seconds=entry.seconds + seconds,
                       megapixels=entry.megapixels)


def describe(exc: Exception) -> str:
    """Our errors already read as sentences; anything else is unexpected, so name its type."""
    return str(exc) if isinstance(exc, FhdrError) else f"unexpected {type(exc).__name__}: {exc}"
