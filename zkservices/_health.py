"""Health checks for self-registration (``zkservices register --check-…``).

The ZooKeeper side (registering while healthy, unregistering when not) is
:class:`zkservices.HealthCheckedRegistration` and ``zkservices register``.

A *check* is any object with ``check(timeout) -> (ok, reason)`` (the
:class:`HealthCheck` protocol).  Three are provided:

- :class:`TcpCheck` -- a TCP connect succeeds;
- :class:`HttpCheck` -- a ``GET`` answers 2xx or 3xx (redirects are not followed,
  environment proxies are not used: the service itself is checked, as HAProxy does);
- :class:`CommandCheck` -- a command exits 0 (its process group is killed on timeout).

:class:`HealthMonitor` runs a check every ``interval`` seconds in a daemon thread
and reports transitions to ``on_change(healthy, reason)`` with HAProxy-like
dampening (``rise`` consecutive passes to go up, ``fall`` consecutive failures to
go down).  One deliberate difference from HAProxy: the state starts *unknown* and
the **first** result decides at once, so a healthy server is registered without
waiting ``rise * interval`` and a dead one is never registered.  (HAProxy starts
servers as up and needs ``fall`` failures to take them down.)

Checks never raise for an unhealthy service: every failure becomes ``(False,
reason)`` with a short human reason such as ``"connect to 127.0.0.1:8080
refused"``, ``"HTTP 503"``, ``"exit 1: <last stderr line>"`` or ``"timed out
after 2.0s"``.  Everything is logged under ``zkservices.health``.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence, Union, runtime_checkable

__all__ = [
    "HealthCheck",
    "TcpCheck",
    "HttpCheck",
    "CommandCheck",
    "HealthMonitor",
]

log = logging.getLogger("zkservices.health")

Command = Union[str, Sequence[str]]


@runtime_checkable
class HealthCheck(Protocol):
    """What :class:`HealthMonitor` needs: ``check(timeout) -> (ok, reason)``.

    ``check`` must return within about ``timeout`` seconds and should not raise
    for an unhealthy service (a raising check counts as a failure).
    """

    def check(self, timeout: float) -> tuple[bool, str]:  # pragma: no cover - protocol
        ...


def _hostport(host: str, port: int) -> str:
    """``host:port``, with brackets around an IPv6 address."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _seconds(timeout: float) -> str:
    return f"{float(timeout)}s"


# --------------------------------------------------------------------------
# Running commands (shared with the feed's check and reload commands)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _CommandResult:
    """The outcome of :func:`_run_command`."""

    returncode: Optional[int]  # None when it timed out or could not start
    stdout: str
    stderr: str
    timed_out: bool = False
    error: Optional[str] = None  # could not start (e.g. executable not found)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def last_line(self) -> str:
        """The last non-blank line of stderr, else of stdout, else ``''``."""
        for text in (self.stderr, self.stdout):
            for line in reversed(text.splitlines()):
                if line.strip():
                    return line.strip()
        return ""

    def describe(self, timeout: float) -> str:
        """A short reason: ``exit 1: <last line>``, ``timed out after 2.0s``…"""
        if self.error is not None:
            return self.error
        if self.timed_out:
            return f"timed out after {_seconds(timeout)}"
        assert self.returncode is not None
        if self.returncode < 0:
            try:
                what = f"killed by {signal.Signals(-self.returncode).name}"
            except ValueError:
                what = f"killed by signal {-self.returncode}"
        else:
            what = f"exit {self.returncode}"
        line = self.last_line()
        return f"{what}: {line}" if line else what


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group led by ``proc`` (started with its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:  # pragma: no cover - already reaped
        pass


_OUTPUT_TAIL = 64 * 1024  # bytes of a command's output kept (its last lines give the reason)


def _run_command(command: Command, *, timeout: float, env: Optional[Mapping[str, str]] = None) -> _CommandResult:
    """Run ``command`` (a ``str`` through ``/bin/sh``, else an argv) with a timeout.

    The command runs in its own session, so on timeout its whole process group is
    killed (a shell and the children it started).  stdin is ``/dev/null``.

    The command is done when *it* exits: background processes it leaves behind
    (``some-daemon &``, a load balancer restarted by a reload script) neither
    delay the result nor are killed.  (Output goes to temporary files, not pipes:
    with pipes, waiting for end-of-file waited for every process that inherited
    them, so such a command always "timed out" and its children were killed.)
    """
    shell = isinstance(command, str)
    argv: Command = command if shell else list(command)
    full_env = None
    if env is not None:
        full_env = dict(os.environ)
        full_env.update(env)
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        try:
            proc = subprocess.Popen(
                argv,
                shell=shell,
                stdin=subprocess.DEVNULL,
                stdout=out_file,
                stderr=err_file,
                start_new_session=True,
                env=full_env,
            )
        except OSError as exc:
            name = argv if shell else (argv[0] if argv else "")
            return _CommandResult(None, "", "", error=f"cannot run {name!r}: {exc.strerror or exc}")
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()
            return _CommandResult(None, _tail(out_file), _tail(err_file), timed_out=True)
        except BaseException:
            _kill_group(proc)
            proc.wait()
            raise
        return _CommandResult(proc.returncode, _tail(out_file), _tail(err_file))


def _tail(f: Any) -> str:
    """The last :data:`_OUTPUT_TAIL` bytes written to the temporary file ``f``, decoded."""
    size = f.seek(0, os.SEEK_END)
    f.seek(max(0, size - _OUTPUT_TAIL))
    return _decode(f.read())


def _decode(data: Optional[bytes]) -> str:
    return (data or b"").decode("utf-8", errors="replace")


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------


class TcpCheck:
    """Healthy when a TCP connection to ``host:port`` can be opened (then closed).

    A blank ``host`` means ``localhost`` (every address it resolves to is tried).
    """

    def __init__(self, host: str, port: int) -> None:
        port = int(port)
        if not 0 < port < 65536:
            raise ValueError(f"invalid TCP port: {port}")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        self.host = host or "localhost"
        self.port = port

    def check(self, timeout: float) -> tuple[bool, str]:
        """Connect; ``(True, "connect to h:p ok")`` or ``(False, reason)``."""
        where = _hostport(self.host, self.port)
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
        except ConnectionRefusedError:
            return False, f"connect to {where} refused"
        except socket.timeout:
            return False, f"connect to {where} timed out after {_seconds(timeout)}"
        except socket.gaierror as exc:
            return False, f"cannot resolve {self.host!r}: {exc.strerror or exc}"
        except OSError as exc:
            return False, f"connect to {where} failed: {exc.strerror or exc}"
        sock.close()
        return True, f"connect to {where} ok"

    def __repr__(self) -> str:
        return f"TcpCheck({self.host!r}, {self.port})"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Do not follow redirects: a 3xx answer is itself the (healthy) result."""

    def redirect_request(self, *args: object, **kw: object) -> None:  # type: ignore[override]
        return None


class _Tracking:
    """Mixin for urllib's HTTP(S) handlers: remember the connections they open."""

    connections: list

    def do_open(self, http_class: Any, req: Any, **kw: Any) -> Any:
        def make(*args: Any, **kwargs: Any) -> Any:
            connection = http_class(*args, **kwargs)
            self.connections.append(connection)
            return connection

        return super().do_open(make, req, **kw)  # type: ignore[misc]


class _TrackingHTTPHandler(_Tracking, urllib.request.HTTPHandler):
    pass


class _TrackingHTTPSHandler(_Tracking, urllib.request.HTTPSHandler):
    pass


class HttpCheck:
    """Healthy when ``GET url`` answers with a 2xx or 3xx status.

    Redirects are not followed and ``$http_proxy`` & co. are ignored: the check
    talks to the service directly, like a load balancer's HTTP check.  The whole
    check (connect, request, status line and headers) ends after ``timeout``
    seconds: a server that trickles its answer fails with ``timed out``.
    """

    def __init__(self, url: str) -> None:
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"HttpCheck needs an http:// or https:// URL, not {url!r}")
        self.url = url

    def check(self, timeout: float) -> tuple[bool, str]:
        """GET the URL; the reason is ``"HTTP <status>"`` or why no answer came."""
        from . import __version__

        # The socket timeout bounds each read, not the check: a wedged server
        # sending a byte now and then held the monitor's thread for minutes,
        # so no later check ran and a dead server stayed registered.  A timer
        # shuts the connection down when the deadline passes.
        http_handler, https_handler = _TrackingHTTPHandler(), _TrackingHTTPSHandler()
        connections: list[Any] = []
        http_handler.connections = https_handler.connections = connections
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect(),
                                             http_handler, https_handler)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            for connection in list(connections):
                sock = getattr(connection, "sock", None)
                if sock is not None:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        timer = threading.Timer(timeout, expire)
        timer.daemon = True
        timer.start()
        try:
            ok, reason = self._get(opener, timeout, __version__)
        finally:
            timer.cancel()
        if not ok and expired.is_set():
            return False, f"timed out after {_seconds(timeout)}"
        return ok, reason

    def _get(self, opener: Any, timeout: float, version: str) -> tuple[bool, str]:
        request = urllib.request.Request(self.url, headers={"User-Agent": f"zkservices-health/{version}"})
        try:
            with opener.open(request, timeout=timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
        except urllib.error.URLError as exc:
            return False, self._failure(exc.reason, timeout)
        except (OSError, ValueError) as exc:  # timeouts while reading, bad responses
            return False, self._failure(exc, timeout)
        except Exception as exc:  # http.client.HTTPException and friends
            return False, f"GET {self.url} failed: {type(exc).__name__}: {exc}"
        return 200 <= status < 400, f"HTTP {status}"

    def _failure(self, reason: object, timeout: float) -> str:
        if isinstance(reason, socket.timeout):
            return f"timed out after {_seconds(timeout)}"
        if isinstance(reason, ConnectionRefusedError):
            return f"GET {self.url}: connection refused"
        if isinstance(reason, OSError) and reason.strerror:
            return f"GET {self.url} failed: {reason.strerror}"
        return f"GET {self.url} failed: {reason}"

    def __repr__(self) -> str:
        return f"HttpCheck({self.url!r})"


class CommandCheck:
    """Healthy when the command exits 0.

    A ``str`` runs through ``/bin/sh -c``; a sequence is an argv run directly.
    The command gets its own process group, killed as a whole on timeout.
    """

    def __init__(self, command: Command) -> None:
        if isinstance(command, str):
            if not command.strip():
                raise ValueError("CommandCheck needs a command")
            self.command: Command = command
        else:
            self.command = tuple(command)
            if not self.command:
                raise ValueError("CommandCheck needs a command")

    def check(self, timeout: float) -> tuple[bool, str]:
        """Run the command; the reason is ``"exit 0"``, ``"exit 1: <last stderr line>"``…"""
        result = _run_command(self.command, timeout=timeout)
        return result.ok, result.describe(timeout)

    def __repr__(self) -> str:
        command = self.command if isinstance(self.command, str) else list(self.command)
        return f"CommandCheck({command!r})"


# --------------------------------------------------------------------------
# The monitor
# --------------------------------------------------------------------------


class HealthMonitor:
    """Run ``check`` every ``interval`` seconds and report transitions.

    - The state (:attr:`healthy`) starts as ``None`` (unknown); the first result
      decides it immediately, so a healthy service is reported up after one check.
    - After that, ``rise`` consecutive passes are needed to go up and ``fall``
      consecutive failures to go down; a single differing result resets the count.
    - ``on_change(healthy, reason)`` is called on every transition (the first
      decision included), from the monitor's thread; an exception it raises is
      logged and the monitor goes on.
    - Checks start ``interval`` seconds apart (start to start); a check running
      longer than ``interval`` is followed by the next one at once.

    Lifecycle: created → :meth:`start` → :meth:`stop`; a monitor cannot be
    restarted.  Use it as a context manager to start and stop it.  :meth:`stop`
    returns as soon as a check in progress ends (at most about ``timeout``); no
    ``on_change`` call happens after it returns.
    """

    def __init__(
        self,
        check: HealthCheck,
        *,
        interval: float = 2.0,
        timeout: float = 2.0,
        rise: int = 2,
        fall: int = 3,
        on_change: Optional[Callable[[bool, str], None]] = None,
        name: Optional[str] = None,
    ) -> None:
        if not callable(getattr(check, "check", None)):
            raise TypeError(f"{check!r} has no check(timeout) method")
        if interval <= 0:
            raise ValueError(f"interval must be positive, not {interval}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        if rise < 1 or fall < 1:
            raise ValueError(f"rise and fall must be at least 1 (got rise={rise}, fall={fall})")
        self.check = check
        self.interval = float(interval)
        self.timeout = float(timeout)
        self.rise = int(rise)
        self.fall = int(fall)
        self.on_change = on_change
        self.name = name if name is not None else repr(check)
        self._healthy: Optional[bool] = None
        self._reason = "not checked yet"
        self._streak = 0  # consecutive results that disagree with the current state
        self._checks = 0
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    # -- state ---------------------------------------------------------------

    @property
    def healthy(self) -> Optional[bool]:
        """``None`` until the first check, then the dampened state."""
        return self._healthy

    @property
    def reason(self) -> str:
        """The reason given by the most recent check."""
        return self._reason

    @property
    def checks(self) -> int:
        """How many checks have completed."""
        return self._checks

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> "HealthMonitor":
        """Start the checking thread (once); returns the monitor."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError(f"{self!r} was already started")
            self._thread = threading.Thread(target=self._run, name=f"zkservices-health {self.name}", daemon=True)
            self._thread.start()
        log.debug("%s: monitoring every %ss (rise %d, fall %d)", self.name, self.interval, self.rise, self.fall)
        return self

    def stop(self, timeout: Optional[float] = None) -> None:
        """Stop checking and wait (up to ``timeout`` seconds) for the thread to end.

        Idempotent.  Safe to call from ``on_change`` (it then does not wait).
        """
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> "HealthMonitor":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the thread ----------------------------------------------------------

    def _run(self) -> None:
        next_check = time.monotonic()
        while not self._stopping.is_set():
            ok, reason = self._check_once()
            if self._stopping.is_set():
                break  # a result arriving after stop() is not reported
            self._record(ok, reason)
            next_check += self.interval
            now = time.monotonic()
            if next_check < now:
                next_check = now
            if self._stopping.wait(next_check - now):
                break
        log.debug("%s: monitor stopped", self.name)

    def _check_once(self) -> tuple[bool, str]:
        try:
            ok, reason = self.check.check(self.timeout)
        except Exception as exc:
            log.exception("%s: the check raised", self.name)
            return False, f"check raised {type(exc).__name__}: {exc}"
        return bool(ok), str(reason)

    def _record(self, ok: bool, reason: str) -> None:
        self._checks += 1
        self._reason = reason
        log.debug("%s: check %s (%s)", self.name, "passed" if ok else "failed", reason)
        if self._healthy is None:
            self._transition(ok, reason)
            return
        if ok == self._healthy:
            self._streak = 0
            return
        self._streak += 1
        if self._streak >= (self.rise if ok else self.fall):
            self._transition(ok, reason)

    def _transition(self, healthy: bool, reason: str) -> None:
        previous = self._healthy
        self._healthy = healthy
        self._streak = 0
        was = {None: "unknown", True: "healthy", False: "unhealthy"}[previous]
        if healthy:
            log.info("%s: healthy (was %s): %s", self.name, was, reason)
        else:
            log.warning("%s: unhealthy (was %s): %s", self.name, was, reason)
        if self.on_change is None:
            return
        try:
            self.on_change(healthy, reason)
        except Exception:
            log.exception("%s: on_change(%r, %r) raised; monitoring goes on", self.name, healthy, reason)

    def __repr__(self) -> str:
        state = {None: "unknown", True: "healthy", False: "unhealthy"}[self._healthy]
        if self._thread is None:
            life = "not started"
        elif self._thread.is_alive() and not self._stopping.is_set():
            life = "running"
        else:
            life = "stopped"
        return (
            f"<HealthMonitor {self.name} {state} {life} interval={self.interval:g}s "
            f"rise={self.rise} fall={self.fall} checks={self._checks}>"
        )
