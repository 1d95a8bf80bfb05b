"""Loopback networking for test servers: free ports and the four-letter-word commands."""

from __future__ import annotations

import socket

from .._os.fourletter import four_letter_word, srvr

__all__ = ["free_ports", "four_letter_word", "srvr"]


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
