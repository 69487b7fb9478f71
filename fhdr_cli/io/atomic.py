"""Write output files so that a crash, Ctrl-C or full disk never leaves a half-written image behind.

The data goes to a hidden temporary file in the target's own folder (same file system, so the
final rename is atomic) and only appears under the real name once it is complete and on disk.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

from fhdr_cli.errors import FhdrError, UsageError

# File systems without hard links (FAT, some network shares) answer os.link with one of these.
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK}
_TMP = ".tmp"  # temporary files are named .STEM.<8 hex digits>.tmp.EXT


def atomic_write(path: Path, write: Callable[[Path], None], *, overwrite: bool) -> None:
    """Create ``path`` by calling ``write(tmp)`` on a temporary sibling, then move it into place.

    The temporary name keeps ``path``'s extension last, because writers pick the format from it.
    With ``overwrite=False`` an existing ``path`` is never replaced, even if it appears while we
    write (UsageError). On any failure, Ctrl-C included, the temporary file is removed, the
    exception propagates and an existing ``path`` is left untouched; operating-system errors
    become a one-line FhdrError naming ``path``.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}{_TMP}{path.suffix}")
    created = False
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        created = True
        try:
            write(tmp)
            # fsync works on the file, whichever descriptor wrote it: flush before the rename
            # so a power cut cannot leave an empty file under the real name.
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, path)
        else:
            _move_without_clobbering(tmp, path)
    except OSError as exc:
        if created:
            _discard(tmp)
        raise FhdrError(f"{path}: cannot write ({_reason(exc)})") from exc
    except BaseException:
        if created:
            _discard(tmp)
        raise


def remove_stale_temporaries(path: Path) -> None:
    """Remove the temporary files that writers of ``path`` killed mid-write (SIGKILL, a lost
    node) left behind. Only for a retry that knows no other writer of ``path`` is still alive."""
    path = Path(path)
    try:
        names = os.listdir(path.parent)
    except OSError:
        return  # no folder yet: nothing was left in it
    ours = re.compile(re.escape(f".{path.stem}.") + "[0-9a-f]{8}" + re.escape(f"{_TMP}{path.suffix}"))
    for name in names:
        if ours.fullmatch(name):
            _discard(path.parent / name)


def check_writable_dir(path: Path) -> None:
    """Fail before hours of work if the folder that will hold ``path`` is missing or read-only."""
    folder = Path(path).parent
    if not folder.exists():
        raise UsageError(f"{path}: folder '{folder}' does not exist")
    if not folder.is_dir():
        raise UsageError(f"{path}: '{folder}' is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{path}: folder '{folder}' is not writable")


def _move_without_clobbering(tmp: Path, path: Path) -> None:
    """Give ``tmp`` the name ``path`` unless ``path`` exists; the hard link makes the test atomic."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise UsageError(f"{path}: already exists (use --overwrite)") from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        # No hard links here: check, then rename (Windows' rename also refuses to clobber).
        if os.path.lexists(path):
            raise UsageError(f"{path}: already exists (use --overwrite)") from None
        os.rename(tmp, path)
    else:
        os.unlink(tmp)


def _discard(tmp: Path) -> None:
    """Remove a temporary file without masking the error that made us give up on it."""
    try:
        os.unlink(tmp)
    except OSError:
        pass


def _reason(exc: OSError) -> str:
    """The short operating-system wording ('No space left on device') without Python's decoration."""
    return os.strerror(exc.errno) if exc.errno else str(exc)
