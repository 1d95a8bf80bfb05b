"""Atomic file writes, with real files."""

from __future__ import annotations

import os
import stat
import time

import pytest

from zkservices._os import StagedFile, atomic_write, read_bytes


def test_atomic_write_unchanged_content_touches_nothing(tmp_path):
    path = tmp_path / "out.conf"
    assert atomic_write(path, "hello\n") is True
    before = os.stat(path)
    time.sleep(0.01)
    assert atomic_write(path, "hello\n") is False
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert os.listdir(tmp_path) == ["out.conf"]


def test_atomic_write_replaces_and_keeps_mode(tmp_path):
    path = tmp_path / "secret.conf"
    path.write_text("old\n")
    os.chmod(path, 0o600)
    old_inode = os.stat(path).st_ino
    assert atomic_write(str(path), "new\n") is True
    assert path.read_text() == "new\n"
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_ino != old_inode  # replaced, not rewritten in place
    assert os.listdir(tmp_path) == ["secret.conf"]


def test_atomic_write_new_file_mode_is_0644_less_umask(tmp_path):
    umask = os.umask(0o027)
    try:
        assert atomic_write(tmp_path / "a.conf", "x") is True
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "a.conf").st_mode) == 0o640
    assert atomic_write(tmp_path / "b.conf", "x") is True
    assert stat.S_IMODE(os.stat(tmp_path / "b.conf").st_mode) == 0o644 & ~umask


def test_atomic_write_follows_symlink(tmp_path):
    real = tmp_path / "real.conf"
    real.write_text("old")
    link = tmp_path / "link.conf"
    link.symlink_to(real)
    assert atomic_write(link, "new") is True
    assert link.is_symlink()
    assert real.read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["link.conf", "real.conf"]


def test_atomic_write_leaves_no_temp_file_on_error(tmp_path):
    target = tmp_path / "a-directory"
    target.mkdir()
    (target / "inside").write_text("x")
    with pytest.raises(OSError):
        atomic_write(target, "text")
    assert sorted(os.listdir(tmp_path)) == ["a-directory"]
    with pytest.raises(OSError):
        atomic_write(tmp_path / "missing-dir" / "out.conf", "text")
    assert sorted(os.listdir(tmp_path)) == ["a-directory"]


# -- StagedFile ------------------------------------------------------------------


def test_staged_file_is_next_to_the_target_until_committed(tmp_path):
    target = tmp_path / "lb.conf"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    with StagedFile(target, "new\n") as staged:
        assert os.path.dirname(staged.path) == str(tmp_path)
        name = os.path.basename(staged.path)
        assert name.startswith(".lb.") and name.endswith(".tmp.conf")
        assert open(staged.path).read() == "new\n" and target.read_text() == "old\n"
        assert stat.S_IMODE(os.stat(staged.path).st_mode) == 0o640
        assert "staged" in repr(staged)
        staged.commit()
        assert "committed" in repr(staged)
        with pytest.raises(RuntimeError):
            staged.commit()
    assert target.read_text() == "new\n"
    assert os.listdir(tmp_path) == ["lb.conf"]


def test_staged_file_not_committed_is_discarded(tmp_path):
    target = tmp_path / "lb.conf"
    target.write_text("old\n")
    with StagedFile(target, b"candidate\n") as staged:
        assert staged.data == b"candidate\n"
    assert staged.state == "discarded"
    staged.discard()  # idempotent
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["lb.conf"]
    with pytest.raises(RuntimeError):
        staged.commit()


def test_read_bytes(tmp_path):
    assert read_bytes(tmp_path / "missing") is None
    (tmp_path / "real").write_bytes(b"\x00data")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert read_bytes(tmp_path / "link") == b"\x00data"
    with pytest.raises(OSError):
        read_bytes(tmp_path)
