"""ZooKeeper's four-letter admin words (``srvr``, ``ruok``...), plain or over TLS.

The one place that speaks them: the rebuilt-ensemble watch of the session asks
``srvr`` for a server's last transaction id, the test servers ask it whether
they serve.
"""

from __future__ import annotations

import socket
import ssl

__all__ = ["four_letter_word", "srvr"]


def four_letter_word(
    host: str, port: int, word: str = "srvr", *, timeout: float = 2.0, ssl_context: ssl.SSLContext | None = None
) -> str:
    """Send a four-letter command (``srvr``, ``stat``, ``ruok``...) and return the answer.

    With ``ssl_context`` the command goes over TLS (to a secure client port).
    A word the server does not allow (``4lw.commands.whitelist``; by default
    ZooKeeper 3.8 and 3.9 allow ``srvr`` alone) gets ``"<word> is not executed
    because it is not in the whitelist."``; ``''`` when the server closed
    without answering.  Raises :class:`OSError` (:class:`ssl.SSLError` included)
    when nothing listens, the TLS handshake fails or it times out.
    """
    with socket.create_connection((host, port), timeout=timeout) as raw:
        s = ssl_context.wrap_socket(raw, server_hostname=host) if ssl_context is not None else raw
        s.sendall(word.encode("ascii"))
        chunks = []
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def srvr(host: str, port: int, *, timeout: float = 2.0, ssl_context: ssl.SSLContext | None = None) -> dict[str, str]:
    """The server's answer to ``srvr`` as a dict (``{'Mode': 'leader', ...}``); over TLS with ``ssl_context``.

    ``{}`` when the server does not answer (not running, paused, refusing,
    TLS handshake failing); never raises for network errors.
    """
    try:
        text = four_letter_word(host, port, "srvr", timeout=timeout, ssl_context=ssl_context)
    except OSError:
        return {}
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info
