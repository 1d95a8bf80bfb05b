"""The files a test server starts from: ``zoo.cfg``, ``myid``, and the logging set-up.

Written by :class:`~zkservices.testing.ZooKeeperServer` into its directory,
which comes first on the server's classpath: ZooKeeper 3.8 (log4j 1.2) reads
``log4j.properties`` there, 3.9 (logback) ``logback.xml``
(:mod:`zkservices.testing.serverlog`).  The settings suit tests: fast ticks,
no fsync, no admin HTTP server, loopback only.
"""

from __future__ import annotations

import os
from typing import Sequence

from .serverlog import LOG4J_PROPERTIES, LOGBACK_XML

__all__ = ["LOCAL_SESSION_LINES", "READ_ONLY_JVM_OPTIONS", "config_lines", "write_server_files"]

#: The Java system property that lets a server cut off from its quorum serve
#: reads (ZooKeeper's read-only mode; not a ``zoo.cfg`` setting).
READ_ONLY_JVM_OPTIONS = ("-Dreadonlymode.enabled=true",)

#: The ``zoo.cfg`` lines read-only mode needs beside it: a read-only server
#: refuses to take over a global session ("Refusing global session reconnection
#: in RO mode"), so a read-only client must get a fresh session there, a local
#: one; upgrading lets such sessions create ephemeral nodes on a read-write server.
LOCAL_SESSION_LINES = ("localSessionsEnabled=true", "localSessionsUpgradingEnabled=true")


def config_lines(
    *,
    data_dir: str,
    host: str,
    port: int,
    tick_time: int,
    max_session_timeout: int,
    four_letter_words: str | None,
    secure: Sequence[str] = (),
    peers: Sequence[tuple[int, int, int] | tuple[int, str, int, int]] = (),
    local_sessions: bool = False,
) -> list[str]:
    """The lines of ``zoo.cfg``.

    ``four_letter_words`` is ZooKeeper's ``4lw.commands.whitelist`` (``"*"``:
    every word); None leaves the line out, so the server's own default holds
    (``srvr`` alone, in 3.8 as in 3.9).  ``secure`` are the TLS lines, ``peers``
    the ensemble's members as ``(myid, peer_port, election_port)`` (on ``host``)
    or ``(myid, peer_host, peer_port, election_port)`` (each on its own address).
    ``local_sessions`` adds ``localSessionsEnabled=true`` and
    ``localSessionsUpgradingEnabled=true`` (what read-only mode needs: see
    :data:`READ_ONLY_JVM_OPTIONS`).
    """
    lines = [
        f"tickTime={tick_time}",
        "initLimit=20",
        "syncLimit=10",
        f"dataDir={data_dir}",
        f"clientPort={port}",
        f"clientPortAddress={host}",
        "admin.enableServer=false",
        *([f"4lw.commands.whitelist={four_letter_words}"] if four_letter_words is not None else []),
        "forceSync=no",
        f"maxSessionTimeout={max_session_timeout}",
        "maxClientCnxns=0",
        *secure,
        *(LOCAL_SESSION_LINES if local_sessions else ()),
    ]
    for member in peers:
        sid, address, peer, election = member if len(member) == 4 else (member[0], host, *member[1:])
        lines.append(f"server.{sid}={address}:{peer}:{election}")
    return lines


def write_server_files(base_dir: str, data_dir: str, lines: Sequence[str], *, myid: int | None = None) -> None:
    """Write ``zoo.cfg`` (``lines``) and both logging set-ups into ``base_dir``, ``myid`` into ``data_dir``."""
    os.makedirs(data_dir, exist_ok=True)
    if myid is not None:
        with open(os.path.join(data_dir, "myid"), "w") as f:
            f.write(f"{myid}\n")
    files = (("zoo.cfg", "\n".join(lines) + "\n"), ("log4j.properties", LOG4J_PROPERTIES), ("logback.xml", LOGBACK_XML))
    for filename, text in files:
        with open(os.path.join(base_dir, filename), "w") as f:
            f.write(text)
