"""Atomic writes: the new file replaces the old whole, and gets the mode the umask asks for."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.atomic import current_umask, write_bytes_atomic, write_text_atomic


@pytest.fixture
def restore_umask() -> Iterator[None]:
    saved = os.umask(0o022)
    os.umask(saved)
    yield
    os.umask(saved)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077, 0o027])
def test_new_file_mode_follows_the_umask_like_open(tmp_path: Path, restore_umask: None, mask: int) -> None:
    os.umask(mask)
    assert current_umask() == mask
    atomic = write_text_atomic(tmp_path / "report.html", "<p>ok</p>")
    with open(tmp_path / "plain.html", "w") as fh:  # what any other tool would create
        fh.write("<p>ok</p>")
    assert stat.S_IMODE(atomic.stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE(atomic.stat().st_mode) == stat.S_IMODE((tmp_path / "plain.html").stat().st_mode)


def test_replacing_a_file_leaves_no_temp_file_and_the_new_content(tmp_path: Path, restore_umask: None) -> None:
    os.umask(0o022)
    target = tmp_path / "deep" / "out.json"
    write_bytes_atomic(target, b"old")
    write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.json"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(TypeError):
        write_bytes_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_device_is_written_in_place_not_replaced(tmp_path):
    """Renaming a temp file over /dev/null would turn the device into a plain file (as root)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    write_text_atomic(fifo, "hello")
    reader.join(10)
    assert got == [b"hello"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    write_text_atomic("/dev/null", "x")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_per_sample_output_to_dev_null_keeps_the_device(tmp_path):
    from assay.load.sample_output import join_parts

    part = tmp_path / ".part0.x"
    part.write_bytes(b'{"type":"Point"}\n')
    join_parts("json", Path("/dev/null"), [part])
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert not part.exists()
