"""ganforge.files.write_atomic: the one atomic write every saved file goes through."""

import os

import pytest

from ganforge.files import write_atomic


def test_write_atomic_replaces_the_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")
    assert write_atomic(path, lambda f: f.write(b"new")) == path
    assert path.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["a.bin"]


def test_a_failing_write_keeps_the_old_file_and_removes_its_temp(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")

    def write(f):
        f.write(b"half")
        raise ValueError("md5 does not match")

    with pytest.raises(ValueError, match="md5"):
        write_atomic(path, write)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["a.bin"]


def test_before_replace_runs_after_the_write_and_before_the_rename(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")
    seen = []
    write_atomic(path, lambda f: f.write(b"new"), durable=True,
                 before_replace=lambda: seen.append((path.read_bytes(), len(os.listdir(tmp_path)))))
    assert seen == [(b"old", 2)]  # the old file and the finished temp file


def test_the_file_gets_the_mode_of_a_plain_open(tmp_path):
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "a.bin", lambda f: f.write(b"x"))
    finally:
        os.umask(old)
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o640
