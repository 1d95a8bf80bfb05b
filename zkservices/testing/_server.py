"""Real ZooKeeper server processes for tests, the dev server and the demo.

Plain :mod:`subprocess`; no ``kazoo.testing``.  A server runs in its own
process group (``start_new_session=True``) so that ``kill()`` and the atexit
clean-up take the whole JVM down.  Readiness is proven by the server answering
the ``srvr`` four-letter command, never by a port merely accepting.

Lookup of what is needed to run a server, in order:

- jars: ``$ZOOKEEPER_CLASSPATH`` (a ``:``-separated classpath), else
  ``$ZOOKEEPER_HOME`` (its ``*.jar`` and ``lib/*.jar``), else the locations
  Debian's ``zookeeper`` package uses (``/usr/share/java/zookeeper.jar`` plus the
  log4j binding beside it), else ``/usr/share/zookeeper``;
- Java: ``$JAVA_HOME/bin/java``, else ``java`` on ``$PATH``.
"""

from __future__ import annotations

import atexit
import collections
import glob
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from typing import Iterable, Sequence

from ..errors import ServerError

__all__ = [
    "ServerError",
    "ZooKeeperServer",
    "ZooKeeperEnsemble",
    "find_classpath",
    "find_java",
    "four_letter_word",
]

log = logging.getLogger("zkservices.testing")
server_log = logging.getLogger("zkservices.server")

INSTALL_HINT = (
    "install Debian's ZooKeeper server with 'apt-get install zookeeper' "
    "(it brings Java), or set ZOOKEEPER_CLASSPATH / ZOOKEEPER_HOME"
)

DEBIAN_JAVA_DIR = "/usr/share/java"

_LEVELS = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
}
# The pattern we give log4j: %d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n
_LINE = re.compile(r"^\d{4}-\d\d-\d\d[ T][\d:,.]+ - (?P<level>[A-Z]+)\s*\[(?P<where>.*?)\] - (?P<msg>.*)$")

_LOG4J_PROPERTIES = """\
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.Threshold=DEBUG
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n
"""




# --------------------------------------------------------------------------
# Finding Java and the jars


def find_java() -> str:
    """Return the path of the ``java`` executable or raise :class:`ServerError`."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = os.path.join(java_home, "bin", "java")
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("java")
    if found:
        return found
    raise ServerError(f"Java not found (no $JAVA_HOME/bin/java, no java on PATH): {INSTALL_HINT}")


def _jars_in(directory: str) -> list[str]:
    return sorted(glob.glob(os.path.join(directory, "*.jar")))


def find_classpath(classpath: str | None = None) -> str:
    """Return a classpath that runs a ZooKeeper server with log4j logging.

    ``classpath`` (when given) wins over the environment.  Raises
    :class:`ServerError` naming what is missing.
    """
    explicit = classpath or os.environ.get("ZOOKEEPER_CLASSPATH")
    if explicit:
        entries = [e for e in explicit.split(os.pathsep) if e]
        missing = [e for e in entries if not glob.glob(e)]
        if missing:
            raise ServerError(f"ZooKeeper classpath entries do not exist: {', '.join(missing)}")
        return os.pathsep.join(entries)
    home = os.environ.get("ZOOKEEPER_HOME")
    if home:
        jars = _jars_in(home) + _jars_in(os.path.join(home, "lib"))
        if not any("zookeeper" in os.path.basename(j) for j in jars):
            raise ServerError(f"ZOOKEEPER_HOME={home} holds no zookeeper*.jar: {INSTALL_HINT}")
        return os.pathsep.join(jars)
    debian = os.path.join(DEBIAN_JAVA_DIR, "zookeeper.jar")
    if os.path.exists(debian):
        # zookeeper.jar's manifest names its own dependencies; slf4j needs a
        # binding or the server logs nothing at all.
        extra = [
            os.path.join(DEBIAN_JAVA_DIR, name)
            for name in ("slf4j-log4j12.jar", "log4j-1.2.jar")
            if os.path.exists(os.path.join(DEBIAN_JAVA_DIR, name))
        ]
        return os.pathsep.join([debian, *extra])
    share = "/usr/share/zookeeper"
    jars = _jars_in(share) + _jars_in(os.path.join(share, "lib"))
    if any("zookeeper" in os.path.basename(j) for j in jars):
        return os.pathsep.join(jars)
    raise ServerError(f"ZooKeeper jars not found (looked in {DEBIAN_JAVA_DIR} and {share}): {INSTALL_HINT}")


# --------------------------------------------------------------------------
# Small helpers


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Return ``count`` distinct ports that were free on ``host`` a moment ago."""
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


def four_letter_word(host: str, port: int, word: str = "srvr", timeout: float = 2.0) -> str:
    """Send a four-letter command and return the answer ('' if the server closed)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(word.encode("ascii"))
        chunks = []
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


_live: "weakref.WeakSet[ZooKeeperServer]" = weakref.WeakSet()


@atexit.register
def _kill_everything() -> None:  # pragma: no cover - runs at interpreter exit
    for server in list(_live):
        try:
            server._kill_group(signal.SIGKILL)
            server._cleanup_dir()
        except Exception:
            pass


# --------------------------------------------------------------------------
# One server


class ZooKeeperServer:
    """A real ZooKeeper server process on a free loopback port.

    Standalone by default; :class:`ZooKeeperEnsemble` makes members of an
    ensemble by passing ``myid`` and ``peers``.  Use it as a context manager, or
    call :meth:`start` and :meth:`close`.  The data directory survives
    :meth:`stop`/:meth:`start` (so sessions and data do too) and is removed by
    :meth:`close`.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        data_dir: str | None = None,
        classpath: str | None = None,
        java: str | None = None,
        startup_timeout: float = 30.0,
        tick_time: int = 200,
        max_session_timeout: int = 60000,
        myid: int | None = None,
        peers: Sequence[tuple[int, int, int]] | None = None,
        name: str | None = None,
        log_tail_lines: int = 200,
    ) -> None:
        self.host = host
        self.port = port if port is not None else free_ports(1, host)[0]
        self.classpath = find_classpath(classpath)
        self.java = java or find_java()
        self.startup_timeout = startup_timeout
        self.tick_time = tick_time
        self.max_session_timeout = max_session_timeout
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
        self._write_config()
        _live.add(self)

    # -- configuration -------------------------------------------------

    @property
    def connection_string(self) -> str:
        """``host:port`` of this server (no chroot)."""
        return f"{self.host}:{self.port}"

    def _write_config(self) -> None:
        os.makedirs(self.data_dir, exist_ok=True)
        lines = [
            f"tickTime={self.tick_time}",
            "initLimit=20",
            "syncLimit=10",
            f"dataDir={self.data_dir}",
            f"clientPort={self.port}",
            f"clientPortAddress={self.host}",
            "admin.enableServer=false",
            "4lw.commands.whitelist=*",
            "forceSync=no",
            f"maxSessionTimeout={self.max_session_timeout}",
            "maxClientCnxns=0",
        ]
        if self.peers:
            lines += [f"server.{sid}={self.host}:{peer}:{election}" for sid, peer, election in self.peers]
            with open(os.path.join(self.data_dir, "myid"), "w") as f:
                f.write(f"{self.myid}\n")
        with open(os.path.join(self.base_dir, "zoo.cfg"), "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(self.base_dir, "log4j.properties"), "w") as f:
            f.write(_LOG4J_PROPERTIES)

    # -- process control -----------------------------------------------

    @property
    def running(self) -> bool:
        """True while the server process exists (paused counts as running)."""
        return self._process is not None and self._process.poll() is None

    @property
    def paused(self) -> bool:
        return self._paused and self.running

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    def start(self, *, wait: bool = True) -> "ZooKeeperServer":
        """Start the process (no-op if running) and, with ``wait``, wait until it serves."""
        if self._closed:
            raise ServerError(f"{self!r} is closed")
        if not self.running:
            self._check_port_free()
            cmd = [
                self.java,
                "-Xmx256m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-Dzookeeper.root.logger=INFO,CONSOLE",
                "-Dzookeeper.admin.enableServer=false",
                "-Djava.awt.headless=true",
                "-cp",
                os.pathsep.join([self.base_dir, self.classpath]),
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                os.path.join(self.base_dir, "zoo.cfg"),
            ]
            log.debug("starting %s: %s", self.name, " ".join(cmd))
            self._process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.base_dir,
            )
            self._paused = False
            self._reader = threading.Thread(
                target=self._forward_log, args=(self._process,), name=f"zkservices-{self.name}-log", daemon=True
            )
            self._reader.start()
            log.info("started ZooKeeper %s (pid %d) on %s", self.name, self._process.pid, self.connection_string)
        if wait:
            self.wait_serving()
        return self

    def _check_port_free(self) -> None:
        # Readiness is "srvr answers on our port": another server already there
        # would answer for us, so refuse to start on a port that is taken.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            # SO_REUSEADDR as the server itself uses: TIME_WAIT leftovers of a
            # killed server are fine, a listening socket is not.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((self.host, self.port))
                s.listen(1)
            except OSError as exc:
                raise ServerError(
                    f"cannot start ZooKeeper {self.name}: port {self.host}:{self.port} is in use ({exc.strerror})"
                ) from None

    def _forward_log(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        level = logging.INFO
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self._tail.append(line)
            match = _LINE.match(line)
            if match:
                level = _LEVELS.get(match.group("level"), logging.INFO)
                text = f"[{match.group('where')}] {match.group('msg')}"
            else:  # continuation lines (stack traces) keep the previous level
                text = line
            if server_log.isEnabledFor(level):
                server_log.log(level, "%s: %s", self.name, text, extra={"zookeeper_server": self.name})

    def log_tail(self, lines: int = 50) -> str:
        """The last ``lines`` lines the server wrote."""
        tail = list(self._tail)[-lines:]
        return "\n".join(tail)

    def srvr(self, timeout: float = 2.0) -> dict[str, str]:
        """The answer to ``srvr`` as a dict (``{'Mode': 'leader', ...}``); ``{}`` if not serving."""
        try:
            text = four_letter_word(self.host, self.port, "srvr", timeout)
        except OSError:
            return {}
        info = {}
        for line in text.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                info[key.strip()] = value.strip()
        return info

    @property
    def mode(self) -> str | None:
        """``standalone``, ``leader``, ``follower`` or None when not serving."""
        return self.srvr().get("Mode")

    def wait_serving(self, timeout: float | None = None) -> None:
        """Wait until the server answers ``srvr`` with a mode; raise with the log tail otherwise."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.startup_timeout)
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise ServerError(
                    f"ZooKeeper {self.name} exited with code {self._process.returncode} while starting; "
                    f"log tail:\n{self.log_tail()}"
                )
            if self.mode:
                return
            if time.monotonic() > deadline:
                raise ServerError(
                    f"ZooKeeper {self.name} on {self.connection_string} did not serve within "
                    f"{timeout or self.startup_timeout:.0f}s; log tail:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def _kill_group(self, sig: int) -> None:
        if self._process is not None and self._process.poll() is None:
            try:
                os.killpg(self._process.pid, sig)
            except ProcessLookupError:
                pass

    def _reap(self, timeout: float) -> None:
        if self._process is None:
            return
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill_group(signal.SIGKILL)
            self._process.wait(10)
        if self._reader is not None:
            self._reader.join(5)
        self._paused = False

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server gracefully (SIGTERM, SIGKILL after ``timeout``)."""
        if not self.running:
            return
        if self._paused:
            self._kill_group(signal.SIGCONT)
        self._kill_group(signal.SIGTERM)
        self._reap(timeout)
        log.info("stopped ZooKeeper %s", self.name)

    def kill(self) -> None:
        """Kill the server process group at once (SIGKILL), as a crash would."""
        if not self.running:
            return
        self._kill_group(signal.SIGKILL)
        self._reap(10)
        log.info("killed ZooKeeper %s", self.name)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but nothing answers."""
        if not self.running:
            raise ServerError(f"{self!r} is not running")
        self._kill_group(signal.SIGSTOP)
        self._paused = True
        log.info("paused ZooKeeper %s", self.name)

    def resume(self) -> None:
        """Undo :meth:`pause` (SIGCONT)."""
        if self.running:
            self._kill_group(signal.SIGCONT)
        self._paused = False
        log.info("resumed ZooKeeper %s", self.name)

    def restart(self, *, wait: bool = True) -> None:
        """Stop gracefully and start again with the same port and data."""
        self.stop()
        self.start(wait=wait)

    def _cleanup_dir(self) -> None:
        if self._own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def close(self) -> None:
        """Kill the process and remove the data directory (idempotent)."""
        if self._closed:
            return
        if self.running:
            if self._paused:
                self._kill_group(signal.SIGCONT)
            self._kill_group(signal.SIGKILL)
            self._reap(10)
        self._closed = True
        self._cleanup_dir()
        _live.discard(self)

    def __enter__(self) -> "ZooKeeperServer":
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
        return f"<ZooKeeperServer {self.name} {self.connection_string} {state}>"


# --------------------------------------------------------------------------
# An ensemble


class ZooKeeperEnsemble:
    """``n`` ZooKeeper servers forming one ensemble on loopback (default 3).

    ``servers`` are :class:`ZooKeeperServer` members (each can be stopped,
    killed, paused on its own); :meth:`leader` returns the member that leads
    now.  Ready when a leader exists and every running member serves.
    """

    def __init__(
        self,
        n: int = 3,
        *,
        classpath: str | None = None,
        java: str | None = None,
        startup_timeout: float = 60.0,
        tick_time: int = 200,
    ) -> None:
        if n < 1:
            raise ValueError("an ensemble needs at least one server")
        self.startup_timeout = startup_timeout
        ports = free_ports(3 * n)
        peers = [(i + 1, ports[3 * i + 1], ports[3 * i + 2]) for i in range(n)]
        classpath = find_classpath(classpath)
        java = java or find_java()
        self.servers: list[ZooKeeperServer] = [
            ZooKeeperServer(
                port=ports[3 * i],
                classpath=classpath,
                java=java,
                startup_timeout=startup_timeout,
                tick_time=tick_time,
                myid=i + 1,
                peers=peers,
            )
            for i in range(n)
        ]

    @property
    def connection_string(self) -> str:
        """Every member, comma-separated (``127.0.0.1:p1,127.0.0.1:p2,...``)."""
        return ",".join(s.connection_string for s in self.servers)

    def start(self) -> "ZooKeeperEnsemble":
        """Start every member that is not running and wait until the ensemble serves."""
        for server in self.servers:
            if server.paused:
                server.resume()
            server.start(wait=False)
        self.wait_serving()
        return self

    def wait_serving(self, timeout: float | None = None) -> None:
        """Wait until a leader exists and every running, unpaused member serves."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.startup_timeout)
        while True:
            modes = {}
            for server in self.servers:
                if server._process is not None and server._process.poll() is not None and not server._closed:
                    if server._process.returncode not in (0, -signal.SIGKILL, -signal.SIGTERM, 143):
                        raise ServerError(
                            f"ZooKeeper {server.name} exited with code {server._process.returncode}; "
                            f"log tail:\n{server.log_tail()}"
                        )
                if server.running and not server.paused:
                    modes[server.name] = server.mode
            if modes and "leader" in modes.values() and all(modes.values()):
                return
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {s.name}:\n{s.log_tail(20)}" for s in self.servers)
                raise ServerError(f"ensemble did not get a leader with all members serving: {modes}\n{tails}")
            time.sleep(0.05)

    def leader(self, timeout: float = 30.0) -> ZooKeeperServer:
        """The member that is leader now (waits up to ``timeout`` for an election)."""
        deadline = time.monotonic() + timeout
        while True:
            for server in self.servers:
                if server.running and not server.paused and server.mode == "leader":
                    return server
            if time.monotonic() > deadline:
                raise ServerError("no leader in the ensemble")
            time.sleep(0.05)

    def followers(self) -> list[ZooKeeperServer]:
        leader = self.leader()
        return [s for s in self.servers if s is not leader]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def kill(self) -> None:
        for server in self.servers:
            server.kill()

    def pause(self) -> None:
        for server in self.servers:
            server.pause()

    def resume(self) -> None:
        for server in self.servers:
            server.resume()

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        # SIGKILL every member first, so that none logs the others' deaths
        for server in self.servers:
            if server.paused:
                server._kill_group(signal.SIGCONT)
            server._kill_group(signal.SIGKILL)
        for server in self.servers:
            server.close()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(f"--- {s.name}:\n{s.log_tail(lines)}" for s in self.servers)

    def __enter__(self) -> "ZooKeeperEnsemble":
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterable[ZooKeeperServer]:
        return iter(self.servers)

    def __repr__(self) -> str:
        members = ", ".join(repr(s) for s in self.servers)
        return f"<ZooKeeperEnsemble n={len(self.servers)} [{members}]>"
