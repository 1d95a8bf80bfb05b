"""The type aliases of the public API, in one place.

- ``Address``: a server address, ``"host:port"``, ``"[v6]:port"``, ``":port"`` (every local
  address) or a ``(host, port)`` tuple.
- ``PathLike``: a file system path, ``str`` or ``os.PathLike``.
- ``Command``: a command line, a shell string or an argument list.
- ``Watch``: a kazoo watcher, called with a ``WatchedEvent``.
- ``Progress``: ``progress(phase, done, total)`` for long tree operations (``total`` may be None).
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence, Tuple, Union

__all__ = ["Address", "PathLike", "Command", "Watch", "Progress"]

Address = Union[str, Tuple[str, int]]
PathLike = Union[str, "os.PathLike[str]"]
Command = Union[str, Sequence[str]]
Watch = Callable[[Any], Any]
Progress = Callable[[str, int, Union[int, None]], None]
