"""`fhdr batch --report FILE`: one JSON object per photo, for pipelines.

    {"source": "shots/a.jpg", "output": "hdr/a.exr", "status": "converted", "reason": "",
     "seconds": 1.93, "megapixels": 12.0}

status is "converted", "skipped" (output existed, --skip-existing) or "failed" (reason says why);
seconds is the photo's own reading, converting and writing time (photos overlap, so the sum exceeds
the batch's wall time); megapixels is null when the photo was never read. Lines come in the order
the photos were done: those skipped at once first, then the others as planned. The file replaces any earlier report atomically, also when the batch is interrupted (it then
lists the photos finished so far).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from ..errors import UsageError
from ..io.atomic import atomic_write
from .batch import BatchResult

FIELDS = ("source", "output", "status", "reason", "seconds", "megapixels")


def report_record(result: BatchResult) -> dict:
    return {"source": str(result.job.src), "output": str(result.job.dst), "status": result.status,
            "reason": result.reason, "seconds": round(result.seconds, 3),
            "megapixels": None if result.megapixels is None else round(result.megapixels, 3)}


def write_report(path: Path, results: Iterable[BatchResult]) -> None:
    lines = "".join(json.dumps(report_record(r), ensure_ascii=False) + "\n" for r in results)

    def write(tmp: Path) -> None:
        tmp.write_text(lines, encoding="utf-8", errors="surrogateescape")

    atomic_write(Path(path), write, overwrite=True)


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
