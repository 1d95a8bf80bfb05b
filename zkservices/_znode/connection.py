"""ZooKeeper connection strings: ``host:port,host:port/chroot``, checked without a server.

Pure: no session, no I/O.  The command line's ``-z`` and the agent's
``zookeeper.connection`` are checked by the same function.
"""

from __future__ import annotations

from .paths import check_path, parse_address

__all__ = ["split_connection_string", "DEFAULT_PORT"]

#: The port a connection string's host without one gets (as kazoo does).
DEFAULT_PORT = 2181


def split_connection_string(text: str) -> tuple[list[tuple[str, int]], str]:
    """``'h1:2181,h2/chroot'`` -> ``([('h1', 2181), ('h2', 2181)], '/chroot')``.

    :raises ValueError: naming the connection string and what is wrong with it.
    """
    hosts_part, slash, rest = text.strip().partition("/")
    chroot = slash + rest
    problem = None
    hosts: list[tuple[str, int]] = []
    for item in hosts_part.split(","):
        item = item.strip()
        if not item:
            problem = "a host is missing" if hosts_part.strip() else "no host"
            break
        bracketed = item.startswith("[") and item.endswith("]")
        if bracketed or (":" not in item):
            item = f"{item}:{DEFAULT_PORT}"
        try:
            host, port = parse_address(item)
        except ValueError as exc:
            problem = str(exc)
            break
        if not host:
            problem = f"{item!r} has no host"
            break
        hosts.append((host, port))
    if problem is None and chroot and chroot != "/":
        try:
            check_path(chroot)
        except ValueError as exc:
            problem = f"chroot: {exc}"
    if problem is not None:
        raise ValueError(f"invalid connection string {text!r}: {problem}")
    return hosts, "" if chroot == "/" else chroot
