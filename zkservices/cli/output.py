"""What commands read and write besides ZooKeeper: input files, atomically written output, progress lines."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from typing import Any

from .args import CommandError

__all__ = ["read_input", "write_atomically", "Progress"]


def read_input(name: str) -> tuple[bytes, str]:
    """``(bytes, name for messages)`` of the file ``name`` (``-``: stdin); CommandError if unreadable."""
    if name == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    try:
        with open(name, "rb") as f:
            return f.read(), name
    except OSError as exc:
        raise CommandError(f"cannot read {name}: {exc.strerror or exc}") from None


def write_atomically(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` (temporary file, fsync, rename).

    The file keeps the mode it had; a new one gets 0666 less the umask, as a
    plain write would.  CommandError when it cannot be written.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(prefix=".zkservices-export-", dir=directory)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), mode)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None


class Progress:
    """``reading 1234 nodes`` on one terminal line, rewritten now and then."""

    def __init__(self, what: str, stream: Any) -> None:
        self.what = what
        self.stream = stream
        self.last = 0.0
        self.width = 0

    @classmethod
    def on_terminal(cls, what: str) -> "Progress | None":
        """A progress line on stderr when it is a terminal, else None."""
        stream = sys.stderr
        try:
            return cls(what, stream) if stream.isatty() else None
        except (AttributeError, ValueError):
            return None

    def _show(self, text: str, end: str = "") -> None:
        pad = " " * max(0, self.width - len(text))
        self.stream.write(f"\r{text}{pad}{end}")
        self.stream.flush()
        self.width = 0 if end else len(text)

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and total is None:
            return
        self.last = now
        count = f"{done}/{total}" if total is not None else f"{done}"
        self._show(f"{self.what}: {phase} {count} nodes")

    def finish(self, summary: str) -> None:
        """The last line, kept."""
        self._show(f"{self.what}: {summary}", end="\n")

    def __repr__(self) -> str:
        return f"<Progress {self.what}>"
