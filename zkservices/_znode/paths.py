"""Paths and addresses: validation, joining, ``host:port`` names.

Pure functions, no server access.  ZooKeeper rejects paths that are not
absolute, have empty segments or a trailing slash, contain ``.``/``..``
segments, or contain the characters listed in :data:`_BAD_CHARS`; we reject
them before anything is sent, with :class:`~zkservices.InvalidPath`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ..errors import InvalidPath
from .._types import Address

__all__ = [
    "check_path", "normalize", "join", "split", "basename", "format_address", "parse_address", "port_problem", "Address",
]

# What ZooKeeper's PathUtils.validatePath refuses (besides structure).  Java
# strings hold characters beyond the BMP as surrogate pairs (\ud800-\udfff),
# which that range refuses, so those characters are refused too.
_BAD_CHARS = re.compile("[\u0000-\u001f\u007f-\u009f\ud800-\uf8ff\ufff0-\uffff\U00010000-\U0010ffff]")


def check_path(path: object) -> str:
    """Return ``path`` if ZooKeeper would accept it, else raise :class:`InvalidPath`."""
    if not isinstance(path, str):
        raise InvalidPath(f"invalid path {path!r}: paths are str")
    if not path.startswith("/"):
        raise InvalidPath(f"invalid path {path!r}: must start with '/'")
    if path == "/":
        return path
    if path.endswith("/"):
        raise InvalidPath(f"invalid path {path!r}: must not end with '/'")
    for segment in path[1:].split("/"):
        if segment == "":
            raise InvalidPath(f"invalid path {path!r}: empty segment")
        if segment in (".", ".."):
            raise InvalidPath(f"invalid path {path!r}: '{segment}' segment")
    bad = _BAD_CHARS.search(path)
    if bad:
        raise InvalidPath(f"invalid path {path!r}: character {bad.group()!r} is not allowed")
    return path


def _resolve_dots(segments: list[str], *, keep_empty: bool) -> str:
    """``/`` + ``segments`` with ``.`` dropped and ``..`` taking the previous one away
    (never above the root); empty segments dropped unless ``keep_empty``."""
    parts: list[str] = []
    for segment in segments:
        if segment == "." or (segment == "" and not keep_empty):
            continue
        if segment == "..":
            if parts:
                parts.pop()
            continue
        parts.append(segment)
    return "/" + "/".join(parts)


def normalize(path: str) -> str:
    """Resolve ``.`` and ``..`` segments of an absolute path (zc.zk's ``resolve`` did):
    ``'/top/a/b/c/./..'`` -> ``'/top/a/b'``.  ``..`` above the root stays at the root;
    anything else (empty segments included) is left for :func:`check_path` to judge."""
    if not isinstance(path, str) or not path.startswith("/") or not any(
        segment in (".", "..") for segment in path.split("/")
    ):
        return path
    return _resolve_dots(path[1:].split("/"), keep_empty=True)


def join(base: str, relative: str) -> str:
    """Join ``relative`` onto ``base`` (an absolute path), resolving ``.`` and ``..``.

    An absolute ``relative`` replaces ``base``.  ``..`` above the root stays at
    the root.  The result is not validated further.
    """
    combined = relative if relative.startswith("/") else base.rstrip("/") + "/" + relative
    return _resolve_dots(combined.split("/"), keep_empty=False)


def split(path: str) -> tuple[str, str]:
    """``'/a/b/c'`` → ``('/a/b', 'c')``; ``'/a'`` → ``('/', 'a')``; ``'/'`` → ``('/', '')``."""
    if path == "/":
        return "/", ""
    parent, _, name = path.rpartition("/")
    return parent or "/", name


def basename(path: str) -> str:
    return split(path)[1]


def format_address(host: str, port: int) -> str:
    """``host:port``, or ``[v6addr]:port`` for IPv6 addresses."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def port_problem(port: Any) -> str | None:
    """Why ``port`` is not a TCP port (an integer from 1 to 65535), in words for a log
    message; ``None`` when it is one."""
    if isinstance(port, bool) or not isinstance(port, int):
        return f"port {port!r} is not an integer"
    if not 1 <= port <= 65535:
        return f"port {port} is not between 1 and 65535"
    return None


def parse_address(address: Address) -> tuple[str, int]:
    """Accept ``'host:port'``, ``'[v6]:port'``, ``(host, port)``; a blank host stays ``''``."""
    host: Any
    port: Any
    if isinstance(address, tuple):
        if len(address) != 2:
            raise ValueError(f"address {address!r}: expected (host, port)")
        host, port = address
    elif isinstance(address, str):
        text = address.strip()
        if text.startswith("["):
            host, sep, rest = text[1:].partition("]")
            if not sep or not rest.startswith(":"):
                raise ValueError(f"address {address!r}: expected '[v6addr]:port'")
            port = rest[1:]
        else:
            host, sep, port = text.rpartition(":")
            if not sep:
                raise ValueError(f"address {address!r}: expected 'host:port'")
            if ":" in host:
                raise ValueError(f"address {address!r}: write IPv6 addresses as '[addr]:port'")
    else:
        raise ValueError(f"address {address!r}: expected 'host:port' or (host, port)")
    try:
        port_number = int(port)
    except (TypeError, ValueError):
        raise ValueError(f"address {address!r}: port {port!r} is not a number") from None
    if not 0 < port_number < 65536:
        raise ValueError(f"address {address!r}: port {port_number} out of range")
    host = str(host).strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host:
        try:
            host = str(ipaddress.ip_address(host))  # canonical form of IP literals
        except ValueError:
            pass
    return host, port_number
