import errno
import os
from pathlib import Path

import pytest

from fhdr_cli.io.atomic import atomic_write, check_writable_dir, remove_stale_temporaries
from fhdr_cli.errors import FhdrError, UsageError


def _writer(data: bytes):
    def write(tmp: Path) -> None:
        tmp.write_bytes(data)

    return write


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_creates_new_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.exr"
    atomic_write(target, _writer(b"new"), overwrite=False)
    assert target.read_bytes() == b"new"
    assert _names(tmp_path) == ["out.exr"]


def test_temp_file_is_hidden_sibling_keeping_extension(tmp_path):
    seen = []

    def write(tmp: Path) -> None:
        seen.append(tmp)
        tmp.write_bytes(b"x")

    atomic_write(tmp_path / "photo.hdr", write, overwrite=False)
    (tmp,) = seen
    assert tmp.parent == tmp_path
    assert tmp.name.startswith(".photo.")
    assert tmp.suffix == ".hdr"


def test_refuses_to_clobber_without_overwrite(tmp_path):
    target = tmp_path / "out.exr"
    target.write_bytes(b"precious")
    with pytest.raises(UsageError, match="already exists"):
        atomic_write(target, _writer(b"new"), overwrite=False)
    assert target.read_bytes() == b"precious"
    assert _names(tmp_path) == ["out.exr"]


def test_overwrite_replaces(tmp_path):
    target = tmp_path / "out.exr"
    target.write_bytes(b"old")
    atomic_write(target, _writer(b"new"), overwrite=True)
    assert target.read_bytes() == b"new"
    assert _names(tmp_path) == ["out.exr"]


@pytest.mark.parametrize("exc_type", [RuntimeError, KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("existing", [False, True])
def test_failure_inside_write_cleans_up(tmp_path, exc_type, existing):
    target = tmp_path / "out.exr"
    if existing:
        target.write_bytes(b"precious")

    def write(tmp: Path) -> None:
        tmp.write_bytes(b"half-written")
        raise exc_type("boom")

    with pytest.raises(exc_type):
        atomic_write(target, write, overwrite=True)
    if existing:
        assert target.read_bytes() == b"precious"
        assert _names(tmp_path) == ["out.exr"]
    else:
        assert _names(tmp_path) == []


def test_os_error_while_writing_is_one_line_fhdr_error(tmp_path):
    target = tmp_path / "out.exr"

    def write(tmp: Path) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(FhdrError) as info:
        atomic_write(target, write, overwrite=False)
    message = str(info.value)
    assert str(target) in message and os.strerror(errno.ENOSPC) in message
    assert "\n" not in message
    assert _names(tmp_path) == []


def test_missing_folder_is_fhdr_error(tmp_path):
    target = tmp_path / "nope" / "out.exr"
    with pytest.raises(FhdrError, match="No such file or directory"):
        atomic_write(target, _writer(b"x"), overwrite=False)


def test_file_appearing_during_write_is_not_clobbered(tmp_path):
    target = tmp_path / "out.exr"

    def write(tmp: Path) -> None:
        tmp.write_bytes(b"ours")
        target.write_bytes(b"someone else's")  # e.g. a parallel fhdr run

    with pytest.raises(UsageError, match="already exists"):
        atomic_write(target, write, overwrite=False)
    assert target.read_bytes() == b"someone else's"
    assert _names(tmp_path) == ["out.exr"]


def test_permission_denied_creating_temp_is_fhdr_error(tmp_path, monkeypatch):
    # Simulated, because the tests may run as root, who can write anywhere.
    real_open = os.open

    def deny(path, flags, *args):
        if Path(path).parent == tmp_path:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(FhdrError, match="Permission denied") as info:
        atomic_write(tmp_path / "out.exr", _writer(b"x"), overwrite=False)
    assert not isinstance(info.value, UsageError)
    assert _names(tmp_path) == []


def test_check_writable_dir_rejects_read_only_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(UsageError, match="not writable"):
        check_writable_dir(tmp_path / "out.exr")


def test_check_writable_dir(tmp_path):
    check_writable_dir(tmp_path / "out.exr")
    with pytest.raises(UsageError, match="does not exist"):
        check_writable_dir(tmp_path / "missing" / "out.exr")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(UsageError, match="not a folder"):
        check_writable_dir(tmp_path / "file" / "out.exr")


def test_remove_stale_temporaries_takes_only_what_a_killed_writer_of_that_file_left(tmp_path):
    names = [".a.0123abcd.tmp.exr", ".a.ffffffff.tmp.exr", "a.exr", ".a.0123abcd.tmp.hdr", ".ab.0123abcd.tmp.exr",
             ".a.0123abc.tmp.exr", ".b.0123abcd.tmp.exr", "a.0123abcd.tmp.exr"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    remove_stale_temporaries(tmp_path / "a.exr")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[2:])
    remove_stale_temporaries(tmp_path / "missing" / "a.exr")  # no folder: nothing to do
