"""One real ZooKeeper server process (standalone, or a member of an ensemble).

Plain :mod:`subprocess`; no ``kazoo.testing``.  The server runs in its own
process group (``start_new_session=True``), so that :meth:`ZooKeeperServer.kill`
and the clean-up at interpreter exit take the whole JVM down.  Readiness is
proven by the server answering the ``srvr`` four-letter command, never by a
port merely accepting.  Where Java and the jars come from:
:mod:`zkservices.testing.install`; the certificates of a TLS server:
:mod:`zkservices.testing.certs`; launching the JVM and signalling its group:
:mod:`zkservices.testing.process`.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from typing import TYPE_CHECKING, Sequence

from ..errors import ServerError
from .certs import Certificates, make_certificates
from .install import find_classpath, find_java, netty_classpath
from .net import free_ports, server_version, srvr
from .process import check_port_free, launch, reap, server_command, signal_group, wait_stopped
from .serverconfig import config_lines, write_server_files

if TYPE_CHECKING:  # pragma: no cover - types only
    from .. import TLS

__all__ = ["CLIENT_AUTH", "ZooKeeperServer"]

#: The values of ``client_auth`` (ZooKeeper's ``ssl.clientAuth``).
CLIENT_AUTH = ("none", "want", "need")

log = logging.getLogger("zkservices.testing")

_live: weakref.WeakSet[ZooKeeperServer] = weakref.WeakSet()


@atexit.register
def _kill_everything() -> None:  # pragma: no cover - runs at interpreter exit
    for server in list(_live):
        try:
            server.close()
        except Exception:
            pass


class ZooKeeperServer:
    """A real ZooKeeper server process on a free loopback port.

    Lifecycle: constructing it finds Java and the jars and writes the
    configuration (no process yet); :meth:`start` runs the server and waits
    until it serves; :meth:`stop`, :meth:`kill`, :meth:`pause`,
    :meth:`resume` and :meth:`restart` act on the running process;
    :meth:`close` kills it and removes the data directory, for good.  As a
    context manager it starts on entry and closes on exit.  The data
    directory survives :meth:`stop`/:meth:`start` (so sessions and data do);
    ``restart(wipe_data=True)`` empties it, as a rebuilt server would be.

    With ``tls=True`` the server also serves TLS on :attr:`secure_port`
    (ZooKeeper's ``secureClientPort``, its Netty connection factory, the
    classpath's Netty jars, else Debian's), beside the plain :attr:`port`
    (readiness and the four-letter words stay on the plain port).  Constructing it makes a
    throw-away CA, a server certificate for ``IP:<host>`` and a client
    certificate in :attr:`tls_dir` (:func:`~zkservices.testing.make_certificates`).
    A client connects with ``ZooKeeper(server.secure_connection_string,
    tls=server.tls)``; :attr:`tls` trusts the CA and presents the client
    certificate (needed with ``client_auth="need"``).

    Attributes of a TLS server (all None for a plain one): :attr:`secure_port`;
    :attr:`tls`, the client's :class:`~zkservices.TLS`; :attr:`tls_dir`, the
    directory of the certificates; :attr:`ca_file`, the CA certificate (PEM);
    :attr:`client_cert_file` and :attr:`client_key_file`, the client
    certificate and its unencrypted key (PEM); :attr:`certificates`, every
    file (:class:`~zkservices.testing.Certificates`).  :attr:`client_auth`
    is ``"none"`` for a plain server.

    Standalone by default; :class:`~zkservices.testing.ZooKeeperEnsemble`
    makes ensemble members by passing ``myid`` and ``peers``.

    :param port: client port (default: a free one).
    :param host: address to listen on.
    :param data_dir: where configuration and data go (default: a temporary
        directory, removed by :meth:`close`; a given one is kept).
    :param classpath: the server's jars (default: found by
        :func:`~zkservices.testing.find_classpath`).
    :param version: instead of ``classpath``: a downloaded server's version
        (``"3.9"``, ``"3.9.5"``) in ``.zookeeper/`` (from ``scripts/bootstrap
        --test``; :func:`~zkservices.testing.install.version_classpath`).
    :param java: the ``java`` executable (default: :func:`~zkservices.testing.find_java`).
    :param startup_timeout: seconds :meth:`start` waits for the server to serve.
    :param tick_time: ZooKeeper's ``tickTime`` in milliseconds (small: fast expiry).
    :param max_session_timeout: the longest session timeout the server grants (ms).
    :param myid: this member's id in an ensemble.
    :param peers: every member as ``(myid, peer_port, election_port)`` (all on
        ``host``), or ``(myid, peer_host, peer_port, election_port)``.
    :param name: the name in logs and reprs (default ``zk`` or ``zk<myid>``).
    :param log_tail_lines: how many output lines :meth:`log_tail` keeps.
    :param tls: also serve TLS on a secure client port, with throw-away certificates.
    :param client_auth: whether the TLS port asks clients for a certificate:
        ``"none"``, ``"want"`` (checked when given) or ``"need"`` (mutual TLS).
    :param secure_port: the TLS port (default: a free one); only with ``tls``.
    :param certificates: use these (e.g. an ensemble's, shared by its members)
        instead of making new ones; only with ``tls``.
    :param four_letter_words: the four-letter words the server answers
        (``4lw.commands.whitelist``): ``"*"``, every one (the default, for
        tests asking ``mntr`` or ``ruok``), a comma-separated list, or None for
        the server's own default (``srvr`` alone in 3.8 and 3.9; other words
        get "... is not executed because it is not in the whitelist.").
    :param netns: run the server inside this network namespace (``ip netns exec
        NETNS java ...``; needs root), on ``host``, an address of that namespace
        (see :class:`~zkservices.testing.Network`).  The port check before
        starting is skipped: the namespace's ports are its own.
    :param read_only: let the server serve reads when it loses its quorum
        (ZooKeeper's read-only mode, for clients connecting with
        ``read_only=True``): the Java system property
        ``-Dreadonlymode.enabled=true`` and, in ``zoo.cfg``,
        ``localSessionsEnabled=true`` and ``localSessionsUpgradingEnabled=true``
        (a read-only server refuses to take over a global session; a client
        gets a fresh local session there).  Its :meth:`mode` is then
        ``"read-only"``.
    :raises ValueError: ``client_auth`` is not one of :data:`CLIENT_AUTH`, or
        ``client_auth``/``secure_port``/``certificates`` is given without
        ``tls``, or both ``classpath`` and ``version`` are given.
    :raises ServerError: Java or the jars cannot be found; for ``tls``: the
        Netty jars, ``openssl`` or ``keytool`` are missing (the message says
        what to install) or making the certificates fails.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        data_dir: str | None = None,
        classpath: str | None = None,
        version: str | None = None,
        java: str | None = None,
        startup_timeout: float = 30.0,
        tick_time: int = 200,
        max_session_timeout: int = 60000,
        myid: int | None = None,
        peers: Sequence[tuple[int, int, int] | tuple[int, str, int, int]] | None = None,
        name: str | None = None,
        log_tail_lines: int = 200,
        tls: bool = False,
        client_auth: str = "none",
        secure_port: int | None = None,
        certificates: Certificates | None = None,
        four_letter_words: str | None = "*",
        netns: str | None = None,
        read_only: bool = False,
    ) -> None:
        if client_auth not in CLIENT_AUTH:
            raise ValueError(f"client_auth must be one of {', '.join(CLIENT_AUTH)}, not {client_auth!r}")
        if not tls and (client_auth != "none" or secure_port is not None or certificates is not None):
            raise ValueError("client_auth, secure_port and certificates are options of a TLS server: pass tls=True too")
        self.host = host
        self.netns = netns
        self.read_only = read_only
        ports = free_ports(2) if netns is not None else free_ports(2, host=host)
        self.port = port if port is not None else ports[0]
        self.classpath = find_classpath(classpath, version=version)
        self.java = java or find_java()
        if tls:
            self.classpath = netty_classpath(self.classpath)
        self.startup_timeout = startup_timeout
        self.tick_time = tick_time
        self.max_session_timeout = max_session_timeout
        self.four_letter_words = four_letter_words
        self.myid = myid
        self.peers = list(peers) if peers else None
        self.name = name or (f"zk{myid}" if myid is not None else "zk")
        self._own_dir = data_dir is None
        self.base_dir = data_dir or tempfile.mkdtemp(prefix="zkservices-server-")
        self.data_dir = os.path.join(self.base_dir, "data")
        self._tail: collections.deque[str] = collections.deque(maxlen=log_tail_lines)
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._paused = False
        self._closed = False
        self._version: tuple[int, int, int] | None = None
        self.client_auth = client_auth
        self.secure_port: int | None = None
        self.certificates: Certificates | None = None
        self.tls: TLS | None = None
        self.tls_dir: str | None = None
        self.ca_file: str | None = None
        self.client_cert_file: str | None = None
        self.client_key_file: str | None = None
        if tls:
            self.secure_port = secure_port if secure_port is not None else next(p for p in ports if p != self.port)
            try:
                certs = certificates or make_certificates(
                    os.path.join(self.base_dir, "tls"), server_names=[host], java=self.java)
            except BaseException:
                if self._own_dir:
                    shutil.rmtree(self.base_dir, ignore_errors=True)
                raise
            self.certificates, self.tls, self.tls_dir = certs, certs.client_tls, certs.directory
            self.ca_file, self.client_cert_file, self.client_key_file = (
                certs.ca_file, certs.client_cert_file, certs.client_key_file)
        self._write_config()
        _live.add(self)

    # -- configuration -------------------------------------------------

    @property
    def connection_string(self) -> str:
        """``host:port`` of this server's plain port (no chroot)."""
        return f"{self.host}:{self.port}"

    @property
    def secure_connection_string(self) -> str | None:
        """``host:secure_port`` of a TLS server (no chroot); None for a plain server."""
        return None if self.secure_port is None else f"{self.host}:{self.secure_port}"

    def _write_config(self) -> None:
        secure = []
        if self.certificates is not None:
            secure = [
                f"secureClientPort={self.secure_port}",
                f"secureClientPortAddress={self.host}",
                "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
                *self.certificates.server_properties(client_auth=self.client_auth),
            ]
        lines = config_lines(
            data_dir=self.data_dir, host=self.host, port=self.port, tick_time=self.tick_time,
            max_session_timeout=self.max_session_timeout, four_letter_words=self.four_letter_words,
            secure=secure, peers=self.peers or (), local_sessions=self.read_only)
        write_server_files(self.base_dir, self.data_dir, lines, myid=self.myid if self.peers else None)

    # -- state -----------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the server process exists (paused counts as running)."""
        return self._process is not None and self._process.poll() is None

    @property
    def paused(self) -> bool:
        """True while the process is frozen by :meth:`pause`."""
        return self._paused and self.running

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran; the server cannot start again."""
        return self._closed

    @property
    def pid(self) -> int | None:
        """The process id while running, else None."""
        return self._process.pid if self.running and self._process else None

    @property
    def returncode(self) -> int | None:
        """The exit code of the last process once it ended (negative: killed by that signal), else None."""
        return self._process.poll() if self._process is not None else None

    def srvr(self, *, timeout: float = 2.0, secure: bool = False) -> dict[str, str]:
        """The answer to ``srvr`` as a dict (``{'Mode': 'leader', ...}``); ``{}`` if not serving.

        With ``secure`` it asks over TLS on :attr:`secure_port`, with the
        client certificate (``{}`` for a plain server).
        """
        if not secure:
            return srvr(self.host, self.port, timeout=timeout)
        if self.certificates is None or self.secure_port is None:
            return {}
        return srvr(self.host, self.secure_port, timeout=timeout, ssl_context=self.certificates.client_ssl_context())

    @property
    def mode(self) -> str | None:
        """``standalone``, ``leader``, ``follower``, ``read-only`` or None when not serving."""
        return self.srvr().get("Mode")

    @property
    def version(self) -> tuple[int, int, int] | None:
        """The server's ZooKeeper version, e.g. ``(3, 9, 5)``, from ``srvr`` (kept once known); None before.

        Tests expecting what one version does compare it: ``server.version >= (3, 9)``."""
        if self._version is None:
            self._version = server_version(self.srvr())
        return self._version

    def log_tail(self, lines: int = 50) -> str:
        """The last ``lines`` lines the server wrote (all of its runs), newline-separated."""
        return "\n".join(list(self._tail)[-lines:])

    # -- process control -----------------------------------------------

    def start(self, *, wait: bool = True) -> ZooKeeperServer:
        """Start the process (no-op if running) and, with ``wait``, wait until it serves.

        Returns the server.  Raises :class:`ServerError` when it is closed, when
        its port is taken by another process, or (with ``wait``) when it exits
        or does not serve within ``startup_timeout`` (the message carries the
        log tail).
        """
        if self._closed:
            raise ServerError(f"{self!r} is closed")
        if not self.running:
            for port in (self.port, self.secure_port):
                if port is not None and self.netns is None:
                    check_port_free(self.host, port, self.name)
            cmd = server_command(self.java, self.base_dir, self.classpath, read_only=self.read_only, netns=self.netns)
            log.debug("starting %s: %s", self.name, " ".join(cmd))
            self._process, self._reader = launch(cmd, cwd=self.base_dir, name=self.name, tail=self._tail)
            self._paused = False
            log.info("started ZooKeeper %s (pid %d) on %s", self.name, self._process.pid, self.connection_string)
        if wait:
            self.wait_serving()
        return self

    def wait_serving(self, *, timeout: float | None = None) -> None:
        """Wait until the server answers ``srvr`` with a mode (a TLS server: on both ports).

        ``timeout`` defaults to ``startup_timeout``.  Raises
        :class:`ServerError` with the log tail when the process exits or the
        time runs out.
        """
        limit = timeout if timeout is not None else self.startup_timeout
        deadline = time.monotonic() + limit
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise ServerError(
                    f"ZooKeeper {self.name} exited with code {self._process.returncode} while starting; "
                    f"log tail:\n{self.log_tail()}"
                )
            if self.mode and (self.secure_port is None or self.srvr(secure=True).get("Mode")):
                return
            if time.monotonic() > deadline:
                raise ServerError(
                    f"ZooKeeper {self.name} on {self.connection_string} did not serve within "
                    f"{limit:.0f}s; log tail:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def _signal(self, sig: int) -> None:
        signal_group(self._process, sig)

    def _reap(self, timeout: float) -> None:
        reap(self._process, self._reader, timeout)
        self._paused = False

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop the server gracefully (SIGTERM, SIGKILL after ``timeout`` seconds); no-op if not running."""
        if not self.running:
            return
        if self._paused:
            self._signal(signal.SIGCONT)
        self._signal(signal.SIGTERM)
        self._reap(timeout)
        log.info("stopped ZooKeeper %s", self.name)

    def kill(self, *, wait: bool = True) -> None:
        """Kill the server's process group at once (SIGKILL), as a crash would; no-op if not running.

        With ``wait=False`` the signal is sent and the process not reaped
        (to kill several servers at the same moment, then reap them).
        """
        if not self.running:
            return
        if self._paused:
            self._signal(signal.SIGCONT)
        self._signal(signal.SIGKILL)
        if wait:
            self._reap(10)
            log.info("killed ZooKeeper %s", self.name)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but nothing answers.
        Returns once every thread of the server is stopped (on Linux), so that a
        request sent after it gets no answer until :meth:`resume`.

        Raises :class:`ServerError` when it is not running.
        """
        if not self.running:
            raise ServerError(f"{self!r} is not running")
        self._signal(signal.SIGSTOP)
        self._paused = True
        wait_stopped(self._process)
        log.info("paused ZooKeeper %s", self.name)

    def resume(self) -> None:
        """Undo :meth:`pause` (SIGCONT); harmless when not paused."""
        if self.running:
            self._signal(signal.SIGCONT)
        self._paused = False
        log.info("resumed ZooKeeper %s", self.name)

    def restart(self, *, wait: bool = True, wipe_data: bool = False) -> None:
        """Stop gracefully and start again on the same ports (see :meth:`start`).

        The data survive, unless ``wipe_data``: then the data directory is
        emptied in between, as on a server rebuilt from scratch (every node,
        session and transaction log gone; an ensemble member keeps its id;
        a TLS server keeps its certificates).
        """
        self.stop()
        if wipe_data:
            self.wipe_data()
        self.start(wait=wait)

    def wipe_data(self) -> None:
        """Empty the data directory of a stopped server (an ensemble member keeps its ``myid``).

        Raises :class:`ServerError` while the server runs.
        """
        if self.running:
            raise ServerError(f"cannot wipe the data of {self!r}: stop it first")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self._write_config()
        log.info("wiped the data of ZooKeeper %s", self.name)

    def close(self) -> None:
        """Kill the process and remove the data directory it created (idempotent)."""
        if self._closed:
            return
        self.kill()
        self._closed = True
        if self._own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)
        _live.discard(self)

    def __enter__(self) -> ZooKeeperServer:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._closed:
            state = "closed"
        elif self.paused:
            state = "paused"
        elif self.running:
            state = f"running pid={self.pid}"
        else:
            state = "stopped"
        secure = f" tls={self.secure_connection_string} client_auth={self.client_auth}" if self.secure_port else ""
        netns = f" netns={self.netns}" if self.netns is not None else ""
        return f"<ZooKeeperServer {self.name} {self.connection_string}{secure}{netns} {state}>"
