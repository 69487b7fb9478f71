"""`fhdr batch --ray ADDRESS`: the same batch on a Ray cluster, through Ray Data.

Only paths travel through Ray: every node reads the photos from and writes the HDR files to the
same shared folders (NFS, a mounted bucket). A pool of actors loads the model once per actor: one
GPU per actor where the cluster has GPUs, else one actor per node's worth of cores. Each actor runs
`run_batch` on a few photos at a time, so decoding and encoding overlap the model as on one machine.

Retries are safe: outputs appear whole or not at all (atomic renames), and the driver decides once,
before anything runs, which outputs may be written, so an output that exists when a task runs was
written by an earlier attempt of that same task (on a node that died before reporting it): it
counts as converted and is not written twice. Temporary files that a killed attempt left behind
are removed by the retry.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import FhdrError, UsageError
from ..io.atomic import remove_stale_temporaries
from ..io.photo import native_stderr_captured
from ..io.ultrahdr import DEFAULT_MAX_BOOST_STOPS
from .batch import BatchJob, BatchResult, default_io_threads, run_batch, triage

# Photos per actor call: enough for reading, the model and writing to overlap inside one actor,
# few enough that a task lost with its node costs little to redo.
PHOTOS_PER_TASK = 4
CONNECT_TIMEOUT_S = 10


def connect(address: str) -> None:
    """'local': a private Ray instance on this machine; 'auto': the cluster this machine is part of
    (or RAY_ADDRESS); else HOST:PORT or ray://HOST:PORT."""
    try:
        import ray
    except ImportError:
        raise UsageError('--ray needs Ray: pip install "fhdr[ray]"') from None
    # Ray's C++ core logs on this process's stderr (a notice about Ray Data's own actor arguments on
    # every run, and that it was told this); its errors reach fhdr as exceptions, reported in one line.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    _check_reachable(address)
    try:
        with native_stderr_captured():
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR, include_dashboard=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise UsageError(f"--ray {address}: cannot connect ({' '.join(str(exc).split())})") from None


def _check_reachable(address: str) -> None:
    """ray.init retries an unreachable HOST:PORT for ever: knock first."""
    host, colon, port = address.rpartition(":")
    if not colon or "/" in address or not port.isdigit():
        return  # auto, local, ray://...: Ray says itself when those fail
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise UsageError(f"--ray {address}: cannot connect ({os.strerror(exc.errno) if exc.errno else 'timed out'})") from None


def actor_resources(device: str, needs_gpu: bool) -> tuple[dict[str, float], int, str]:
    """(resources per actor, actors at most, their device) for the connected cluster."""
    import ray

    gpus = int(ray.cluster_resources().get("GPU", 0))
    if device in ("auto", "cuda") and gpus:
        return {"num_gpus": 1, "num_cpus": 1}, gpus, "cuda"
    if device == "cuda" or needs_gpu:
        raise UsageError("--ray: the cluster has no GPUs for --device cuda, --half or --compile")
    cpus = [int(node["Resources"].get("CPU", 0)) for node in ray.nodes() if node["Alive"]]
    per_actor = min(c for c in cpus if c) if any(cpus) else 1
    return {"num_cpus": per_actor}, max(1, sum(c // per_actor for c in cpus)), "cpu"


def run_ray_batch(jobs: list[BatchJob], converter_options: dict[str, Any], *, overwrite: bool = False,
                  skip_existing: bool = False, float32: bool = False, max_boost: float = DEFAULT_MAX_BOOST_STOPS,
                  skip: frozenset[Path] = frozenset()) -> Iterator[BatchResult]:
    """Convert `jobs` on the Ray cluster that `connect` joined, yielding one result per job as each
    is done, and leave the cluster (ray.shutdown) at the end. The options are `run_batch`'s.

    `converter_options` are `Converter.load`'s keyword arguments (less device and threads, which
    follow from the actors' resources)."""
    # Ray prints its notices (e.g. that a task lost with its node is retried) on stdout, which holds
    # fhdr's summary: send them to stderr, with the progress.
    with contextlib.redirect_stdout(sys.stderr):
        yield from _run(jobs, converter_options, overwrite, skip_existing, float32, max_boost, skip)


def _run(jobs: list[BatchJob], converter_options: dict[str, Any], overwrite: bool, skip_existing: bool,
         float32: bool, max_boost: float, skip: frozenset[Path]) -> Iterator[BatchResult]:
    import ray
    import ray.data

    try:
        if overwrite and skip_existing:
            raise UsageError("--overwrite and --skip-existing exclude each other")
        decided, candidates = triage(jobs, skip_existing=skip_existing, skip=skip)  # once: see the module's docstring
        yield from decided
        todo: list[BatchJob] = []
        for job in candidates:
            if job.dst.exists() and not overwrite:
                yield BatchResult(job, "failed", f"{job.dst}: already exists (use --overwrite or --skip-existing)")
            else:
                todo.append(job)
        if not todo:
            return
        resources, actors, device = actor_resources(
            converter_options.get("device", "auto"),
            converter_options.get("half", False) or converter_options.get("compile", False))
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # fhdr draws its own
        context.enable_auto_log_stats = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # its progress lines would garble fhdr's
        rows = [{"src": str(job.src.absolute()), "dst": str(job.dst.absolute())} for job in todo]
        by_src = {row["src"]: job for row, job in zip(rows, todo)}
        dataset = ray.data.from_items(rows, override_num_blocks=max(1, len(rows) // PHOTOS_PER_TASK))
        options = {**converter_options, "device": device, "threads": int(resources["num_cpus"]) if device == "cpu" else None}
        # Ray Data restarts actors and retries their tasks without limit by default: a lost node's
        # photos are converted again elsewhere.
        converted = dataset.map_batches(
            _Convert, batch_size=PHOTOS_PER_TASK, batch_format="pandas",
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=min(actors, len(rows)),
                                               initial_size=min(actors, len(rows))),  # all at work from the start
            fn_constructor_kwargs={"options": options, "overwrite": overwrite, "float32": float32,
                                   "max_boost": max_boost}, **resources)
        for row in converted.iter_rows():
            yield BatchResult(by_src[row["src"]], row["status"], row["reason"],
                              unwrapped_panorama=bool(row["panorama"]), seconds=float(row["seconds"]),
                              megapixels=None if row["megapixels"] < 0 else float(row["megapixels"]))
    except ray.exceptions.RayError as exc:
        raise FhdrError(f"the Ray cluster failed the batch: {_first_line(exc)}") from exc
    finally:
        ray.shutdown()


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    if isinstance(cause, FhdrError):
        return str(cause)
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(exc).__name__


class _Convert:
    """A Ray Data actor: loads the model once, then converts a few photos per call."""

    def __init__(self, options: dict[str, Any], overwrite: bool, float32: bool, max_boost: float) -> None:
        from .pipeline import Converter

        self.converter = Converter.load(**options)
        self.overwrite, self.float32, self.max_boost = overwrite, float32, max_boost

    def __call__(self, batch):
        jobs = [BatchJob(Path(src), Path(dst)) for src, dst in zip(batch["src"], batch["dst"])]
        for job in jobs:
            remove_stale_temporaries(job.dst)  # what an attempt killed mid-write left behind
        # Without --overwrite an existing output is this task's own, from an earlier attempt.
        results = {r.job.src: r for r in run_batch(jobs, self.converter, overwrite=self.overwrite,
                                                   skip_existing=not self.overwrite, float32=self.float32,
                                                   max_boost=self.max_boost, io_threads=default_io_threads())}
        ordered = [results[job.src] for job in jobs]
        batch = batch.copy()
        batch["status"] = ["converted" if r.status == "skipped" else r.status for r in ordered]
        batch["reason"] = [r.reason for r in ordered]
        batch["seconds"] = [r.seconds for r in ordered]
        batch["megapixels"] = [-1.0 if r.megapixels is None else r.megapixels for r in ordered]
        batch["panorama"] = [r.unwrapped_panorama for r in ordered]
        return batch

