"""Atomic file replacement: a temporary file in the same directory, fsync, ``os.replace``.

Readers of a file written here see either the old content or the new one,
never a partial file.  :func:`atomic_write` is the one-call form; a
:class:`StagedFile` lets the caller look at (or check) the new content in its
temporary file before it is put in place.  Both keep the permission bits (and,
when the process may, the owner) of the file they replace, give a new file
:data:`NEW_FILE_MODE` less the umask, follow a symbolic link so that it stays
a link, and leave no temporary file behind on error.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import stat

from .._types import PathLike

__all__ = ["atomic_write", "StagedFile", "read_bytes", "NEW_FILE_MODE", "PathLike"]

log = logging.getLogger("zkservices.files")


#: Mode of a newly created file, before the umask applies (an existing file
#: keeps its own permission bits).
NEW_FILE_MODE = 0o644


def _real_target(path: PathLike) -> str:
    """The file to replace: a symbolic link is followed so that it stays a link."""
    path = os.fspath(path)
    return os.path.realpath(path) if os.path.islink(path) else path


def read_bytes(path: PathLike) -> bytes | None:
    """The content of the file at ``path`` (symbolic links followed), or ``None`` if it does not exist.

    Raises :class:`OSError` for other failures (no permission, a directory...).
    """
    try:
        with open(_real_target(path), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:  # pragma: no cover - e.g. no permission to open it
        log.debug("cannot open %s to fsync it: %s", directory, exc)
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # pragma: no cover - filesystems that refuse directory fsync
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:  # pragma: no cover
        log.warning("cannot remove temporary file %s: %s", path, exc)


class StagedFile:
    """New content for ``path``, written and fsynced to a hidden temporary file next to it.

    :param path: the file to replace (a symbolic link is followed).
    :param data: the new content (``str`` is encoded as UTF-8).

    The temporary file is ``.<stem>.<random>.tmp<suffix>`` in the target's
    directory (the same suffix, so tools that look at it are happy), with the
    target's permission bits and owner when it exists.  :attr:`path` names it;
    :meth:`commit` renames it over the target (then fsyncs the directory),
    :meth:`discard` removes it.  As a context manager, leaving the block
    without :meth:`commit` discards it.  Raises :class:`OSError` when the
    file cannot be written (nothing is left behind).
    """

    def __init__(self, path: PathLike, data: str | bytes) -> None:
        self.target = _real_target(path)
        self.data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        self.path = self._write_temp()
        self.state = "staged"

    def _write_temp(self) -> str:
        directory, base = os.path.split(self.target)
        directory = directory or "."
        stem, suffix = os.path.splitext(base)
        try:
            existing: os.stat_result | None = os.stat(self.target)
        except FileNotFoundError:
            existing = None
        while True:
            tmp = os.path.join(directory, f".{stem.lstrip('.')}.{secrets.token_hex(4)}.tmp{suffix}")
            try:
                # The kernel applies the umask to NEW_FILE_MODE, as for any new file.
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
                fd = os.open(tmp, flags, NEW_FILE_MODE)
            except FileExistsError:  # pragma: no cover - 32 random bits collided
                continue
            break
        try:
            if existing is not None:
                os.fchmod(fd, stat.S_IMODE(existing.st_mode))
                if (existing.st_uid, existing.st_gid) != (os.geteuid(), os.getegid()):
                    try:
                        os.fchown(fd, existing.st_uid, existing.st_gid)
                    except OSError as exc:
                        log.debug("cannot keep the owner of %s: %s", self.target, exc)
            view = memoryview(self.data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            _unlink_quietly(tmp)
            raise
        os.close(fd)
        return tmp

    def commit(self) -> None:
        """Put the new content in place (``os.replace``, then fsync the directory).

        Raises :class:`OSError` (the temporary file is removed) and
        :class:`RuntimeError` when the file was already committed or discarded.
        """
        if self.state != "staged":
            raise RuntimeError(f"{self!r} is {self.state}")
        self.state = "committed"
        try:
            os.replace(self.path, self.target)
        except BaseException:
            _unlink_quietly(self.path)
            raise
        _fsync_directory(os.path.dirname(self.target) or ".")

    def discard(self) -> None:
        """Remove the temporary file, leaving the target as it is (idempotent; no-op after commit)."""
        if self.state == "staged":
            self.state = "discarded"
            _unlink_quietly(self.path)

    def __enter__(self) -> "StagedFile":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()

    def __repr__(self) -> str:
        return f"<StagedFile {self.target} ({len(self.data)} bytes) {self.state}>"


def atomic_write(path: PathLike, text: str | bytes) -> bool:
    """Replace the file at ``path`` with ``text`` (``str`` as UTF-8) atomically.

    Returns ``False`` and touches nothing (not even the mtime) when the file
    already holds exactly this content, else ``True`` after writing.

    Writing goes through a :class:`StagedFile`: a hidden temporary file in the
    same directory, fsynced, then ``os.replace`` and an fsync of the directory.
    An existing file keeps its permission bits (and its owner, when the
    process may set it); a new file gets mode ``0o644`` less the umask.  When
    ``path`` is a symbolic link, the file it points to is replaced and the link
    stays.  Raises :class:`OSError` when the file cannot be written; no
    temporary file is left behind.
    """
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if read_bytes(path) == data:
        return False
    with StagedFile(path, data) as staged:
        staged.commit()
    return True
