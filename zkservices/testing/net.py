"""Loopback networking for test servers: free ports, the four-letter-word commands, the server's version."""

from __future__ import annotations

import re
import socket

from .._os.fourletter import four_letter_word, srvr

__all__ = ["free_ports", "four_letter_word", "server_version", "srvr"]


def free_ports(count: int, *, host: str = "127.0.0.1") -> list[int]:
    """Return ``count`` distinct ports that were free on ``host`` a moment ago.

    The ports are bound together (so they differ) and released before
    returning; another process may take one meanwhile.
    """
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)")


def server_version(info: dict[str, str]) -> tuple[int, int, int] | None:
    """The server's version as ``(major, minor, patch)``, from its answer to :func:`srvr`.

    ``srvr`` says ``Zookeeper version: 3.9.5-293c895..., built on ...``;
    None when ``info`` is empty (the server did not answer) or has no
    version line.  Tests compare it with a tuple (``version >= (3, 9)``) to
    expect what their server's version does.
    """
    match = _VERSION.match(info.get("Zookeeper version", ""))
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch
