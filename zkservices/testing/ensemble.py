"""An ensemble of real ZooKeeper servers on loopback, with a leader to find and members to fail."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from typing import Iterator, Sequence

from .. import TLS
from ..errors import ServerError
from .certs import Certificates, make_certificates
from .install import find_classpath, find_java
from .net import free_ports
from .nethost import Host
from .server import CLIENT_AUTH, ZooKeeperServer

__all__ = ["ZooKeeperEnsemble"]

# Exit codes of a member that was stopped or killed on purpose (not a failure to report).
_DELIBERATE_EXITS = (0, -signal.SIGKILL, -signal.SIGTERM, 143)


class ZooKeeperEnsemble:
    """``n`` ZooKeeper servers forming one ensemble on loopback (default 3).

    Lifecycle as :class:`~zkservices.testing.ZooKeeperServer`: constructing
    it prepares the members (no process yet), :meth:`start` runs every member
    and waits until the ensemble serves, :meth:`close` kills them all and
    removes their data, for good; a context manager starts and closes it.

    :attr:`servers` are the members, each a :class:`ZooKeeperServer` that can
    be stopped, killed or paused on its own; :meth:`leader` returns the member
    that leads now.  Ready when a leader exists and every running member serves.

    With ``tls=True`` every member also serves TLS on its own secure client
    port, all with one throw-away CA and server certificate (made in
    :attr:`tls_dir`, removed by :meth:`close`); a client connects with
    ``ZooKeeper(ensemble.secure_connection_string, tls=ensemble.tls)``.  The
    members talk to each other in plaintext (quorum TLS is not set up).

    :param n: number of members (at least 1).
    :param classpath: the servers' jars (default: found by
        :func:`~zkservices.testing.find_classpath`).
    :param version: instead of ``classpath``: a downloaded server's version
        (``"3.9"``), as for :class:`ZooKeeperServer`; what runs is :attr:`version`.
    :param java: the ``java`` executable.
    :param startup_timeout: seconds :meth:`start` waits for the ensemble to serve.
    :param tick_time: ZooKeeper's ``tickTime`` in milliseconds.
    :param tls: every member also serves TLS (see above).
    :param client_auth: the members' TLS client authentication, as for
        :class:`ZooKeeperServer` (``"none"``, ``"want"``, ``"need"``).
    :param hosts: run member ``i`` on ``hosts[i]``, a host of a
        :class:`~zkservices.testing.Network` (in its namespace, on its
        address, ports 2181, 2888 and 3888) instead of on loopback;
        :meth:`Network.ensemble <zkservices.testing.Network.ensemble>` does it.
    :param read_only: every member serves reads when cut off from its quorum
        (ZooKeeper's read-only mode, with the local-session settings it needs:
        see :class:`ZooKeeperServer`); a member that lost its quorum then says
        ``"read-only"`` as its :meth:`~ZooKeeperServer.mode`.
    :raises ValueError: ``hosts`` are not ``n``, ``n`` is below 1, ``client_auth`` is invalid or given without ``tls``,
        or both ``classpath`` and ``version`` are given.
    :raises ServerError: Java or the jars cannot be found; for ``tls`` what
        :class:`ZooKeeperServer` raises.
    """

    def __init__(
        self,
        n: int = 3,
        *,
        classpath: str | None = None,
        version: str | None = None,
        java: str | None = None,
        startup_timeout: float = 60.0,
        tick_time: int = 200,
        tls: bool = False,
        client_auth: str = "none",
        hosts: Sequence[Host] | None = None,
        read_only: bool = False,
    ) -> None:
        if hosts is not None and len(hosts) != n:
            raise ValueError(f"an ensemble of {n} needs {n} hosts, not {len(hosts)}")
        if n < 1:
            raise ValueError("an ensemble needs at least one server")
        if client_auth not in CLIENT_AUTH:
            raise ValueError(f"client_auth must be one of {', '.join(CLIENT_AUTH)}, not {client_auth!r}")
        if not tls and client_auth != "none":
            raise ValueError("client_auth is an option of a TLS ensemble: pass tls=True too")
        self.startup_timeout = startup_timeout
        ports = free_ports(4 * n)
        peers: list[tuple[int, int, int] | tuple[int, str, int, int]]
        if hosts is None:
            peers = [(i + 1, ports[4 * i + 1], ports[4 * i + 2]) for i in range(n)]
        else:
            ports = [port for _ in range(n) for port in (2181, 2888, 3888, 2281)]
            peers = [(i + 1, host.address, 2888, 3888) for i, host in enumerate(hosts)]
        classpath = find_classpath(classpath, version=version)
        java = java or find_java()
        self._closed = False
        self.tls_dir: str | None = None
        self.certificates: Certificates | None = None
        self.tls: TLS | None = None
        if tls:
            self.tls_dir = tempfile.mkdtemp(prefix="zkservices-ensemble-tls-")
            try:
                names = [h.address for h in hosts] if hosts is not None else ["127.0.0.1"]
                self.certificates = make_certificates(self.tls_dir, server_names=names, java=java)
            except BaseException:
                shutil.rmtree(self.tls_dir, ignore_errors=True)
                raise
            self.tls = self.certificates.client_tls
        self.servers: list[ZooKeeperServer] = []
        try:
            for i in range(n):
                options = dict(tls=True, client_auth=client_auth, secure_port=ports[4 * i + 3],
                               certificates=self.certificates) if tls else {}
                self.servers.append(ZooKeeperServer(
                    port=ports[4 * i],
                    classpath=classpath,
                    java=java,
                    startup_timeout=startup_timeout,
                    tick_time=tick_time,
                    myid=i + 1,
                    peers=peers,
                    host=hosts[i].address if hosts is not None else "127.0.0.1",
                    netns=hosts[i].namespace if hosts is not None else None,
                    read_only=read_only,
                    **options,  # type: ignore[arg-type]
                ))
        except BaseException:
            self.close()
            raise

    @property
    def connection_string(self) -> str:
        """Every member, comma-separated (``127.0.0.1:p1,127.0.0.1:p2,...``)."""
        return ",".join(s.connection_string for s in self.servers)

    @property
    def secure_connection_string(self) -> str | None:
        """Every member's TLS port, comma-separated; None for a plaintext ensemble."""
        if self.tls is None:
            return None
        return ",".join(str(s.secure_connection_string) for s in self.servers)

    @property
    def version(self) -> tuple[int, int, int] | None:
        """The members' ZooKeeper version, e.g. ``(3, 9, 5)`` (they share the jars); None before one served."""
        return next((v for v in (s.version for s in self.servers if s.running and not s.paused) if v), None)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran; the ensemble cannot start again."""
        return self._closed

    def start(self) -> ZooKeeperEnsemble:
        """Resume paused members, start stopped ones, and wait until the ensemble serves.

        Returns the ensemble.  Raises :class:`ServerError` when it is closed or
        does not serve in time (see :meth:`wait_serving`).
        """
        if self._closed:
            raise ServerError(f"{self!r} is closed")
        for server in self.servers:
            if server.paused:
                server.resume()
            server.start(wait=False)
        self.wait_serving()
        return self

    def wait_serving(self, *, timeout: float | None = None) -> None:
        """Wait until a leader exists and every running, unpaused member serves.

        ``timeout`` defaults to ``startup_timeout``.  Raises
        :class:`ServerError` with the members' log tails when a member exits
        unexpectedly or the time runs out.
        """
        deadline = time.monotonic() + (timeout if timeout is not None else self.startup_timeout)
        while True:
            modes = {}
            for server in self.servers:
                code = server.returncode
                if code is not None and not server.closed and code not in _DELIBERATE_EXITS:
                    raise ServerError(
                        f"ZooKeeper {server.name} exited with code {code}; log tail:\n{server.log_tail()}"
                    )
                if server.running and not server.paused:
                    modes[server.name] = server.mode
            if modes and "leader" in modes.values() and all(modes.values()):
                return
            if time.monotonic() > deadline:
                raise ServerError(
                    f"ensemble did not get a leader with all members serving: {modes}\n{self.log_tail(20)}"
                )
            time.sleep(0.05)

    def leader(self, *, timeout: float = 30.0) -> ZooKeeperServer:
        """The member that is leader now; waits up to ``timeout`` seconds for an election.

        Raises :class:`ServerError` when no member leads by then.
        """
        deadline = time.monotonic() + timeout
        while True:
            for server in self.servers:
                if server.running and not server.paused and server.mode == "leader":
                    return server
            if time.monotonic() > deadline:
                raise ServerError("no leader in the ensemble")
            time.sleep(0.05)

    def followers(self) -> list[ZooKeeperServer]:
        """Every member except the current :meth:`leader`."""
        leader = self.leader()
        return [s for s in self.servers if s is not leader]

    def stop(self) -> None:
        """Stop every member gracefully."""
        for server in self.servers:
            server.stop()

    def kill(self) -> None:
        """Kill every member at once (SIGKILL)."""
        for server in self.servers:
            server.kill(wait=False)
        for server in self.servers:
            server.kill()

    def pause(self) -> None:
        """Freeze every member (SIGSTOP)."""
        for server in self.servers:
            server.pause()

    def resume(self) -> None:
        """Undo :meth:`pause` on every member."""
        for server in self.servers:
            server.resume()

    def restart(self) -> None:
        """Stop every member, then :meth:`start` the ensemble again with the same data."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Kill every member and remove their data (idempotent)."""
        # SIGKILL every member first, so that none logs the others' deaths
        for server in self.servers:
            server.kill(wait=False)
        for server in self.servers:
            server.close()
        if self.tls_dir is not None and os.path.isdir(self.tls_dir):
            shutil.rmtree(self.tls_dir, ignore_errors=True)
        self._closed = True

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of every member, each under a ``--- name:`` heading."""
        return "\n".join(f"--- {s.name}:\n{s.log_tail(lines)}" for s in self.servers)

    def __enter__(self) -> ZooKeeperEnsemble:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[ZooKeeperServer]:
        return iter(self.servers)

    def __repr__(self) -> str:
        if self._closed:
            return f"<ZooKeeperEnsemble n={len(self.servers)} closed>"
        members = ", ".join(repr(s) for s in self.servers)
        tls = " tls" if self.tls is not None else ""
        return f"<ZooKeeperEnsemble n={len(self.servers)}{tls} [{members}]>"
