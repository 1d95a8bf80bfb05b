"""Health checks: is a service up?  (``zkservices register --check-…``)

A *check* is any object with ``check(timeout) -> (ok, reason)`` (the
:class:`HealthCheck` protocol).  Three are provided:

- :class:`TcpCheck` -- a TCP connect succeeds;
- :class:`HttpCheck` -- a ``GET`` answers 2xx or 3xx (redirects are not followed,
  environment proxies are not used: the service itself is checked, as HAProxy does);
- :class:`CommandCheck` -- a command exits 0 (its process group is killed on timeout).

:class:`~zkservices.HealthMonitor` runs a check repeatedly and
:class:`~zkservices.HealthCheckedRegistration` registers a server while it passes.

Checks never raise for an unhealthy service: every failure becomes ``(False,
reason)`` with a short human reason such as ``"connect to 127.0.0.1:8080
refused"``, ``"HTTP 503"``, ``"exit 1: <last stderr line>"`` or ``"timed out
after 2.0s"``.
"""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Protocol, runtime_checkable

from .._os import Command, run_command
from .._version import __version__
from .._znode.paths import format_address

__all__ = ["HealthCheck", "TcpCheck", "HttpCheck", "CommandCheck"]


@runtime_checkable
class HealthCheck(Protocol):
    """What :class:`~zkservices.HealthMonitor` needs: ``check(timeout) -> (ok, reason)``.

    ``check`` must return within about ``timeout`` seconds and should not raise
    for an unhealthy service (a raising check counts as a failure).
    """

    def check(self, timeout: float) -> tuple[bool, str]:  # pragma: no cover - protocol
        ...


def _seconds(timeout: float) -> str:
    return f"{float(timeout)}s"


class TcpCheck:
    """Healthy when a TCP connection to ``host:port`` can be opened (then closed).

    A blank ``host`` means ``localhost`` (every address it resolves to is tried);
    brackets around an IPv6 address are dropped.  Raises :class:`ValueError`
    for a port outside 1-65535.
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
        where = format_address(self.host, self.port)
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

    def redirect_request(self, *args: object, **kw: object) -> None:
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
    Raises :class:`ValueError` for a URL that is not ``http://`` or ``https://``.
    """

    def __init__(self, url: str) -> None:
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"HttpCheck needs an http:// or https:// URL, not {url!r}")
        self.url = url

    def check(self, timeout: float) -> tuple[bool, str]:
        """GET the URL; the reason is ``"HTTP <status>"`` or why no answer came."""
        # The socket timeout bounds each read, not the whole check (a server
        # trickling bytes would hold the monitor's thread and every later
        # decision): a timer shuts the connection down at the deadline.
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
    The command gets its own process group, killed as a whole (children
    too) on timeout.  Raises :class:`ValueError` for an
    empty command.
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
        result = run_command(self.command, timeout=timeout)
        return result.ok, result.describe(timeout)

    def __repr__(self) -> str:
        command = self.command if isinstance(self.command, str) else list(self.command)
        return f"CommandCheck({command!r})"
