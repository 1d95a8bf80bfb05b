"""Loopback networking for test servers: free ports and the four-letter-word commands."""

from __future__ import annotations

import socket

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


def four_letter_word(host: str, port: int, word: str = "srvr", *, timeout: float = 2.0) -> str:
    """Send a four-letter command (``srvr``, ``stat``, ``ruok``...) and return the answer.

    Returns ``''`` when the server closed without answering (the word is not
    whitelisted).  Raises :class:`OSError` when nothing listens or it times out.
    """
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(word.encode("ascii"))
        chunks = []
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def srvr(host: str, port: int, *, timeout: float = 2.0) -> dict[str, str]:
    """The server's answer to ``srvr`` as a dict (``{'Mode': 'leader', ...}``).

    ``{}`` when the server does not answer (not running, paused, refusing);
    never raises for network errors.
    """
    try:
        text = four_letter_word(host, port, "srvr", timeout=timeout)
    except OSError:
        return {}
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info
