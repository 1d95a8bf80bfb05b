"""Subcommands that keep services going: ``register`` (and, later, ``feed``).

Each command lives in its own delimited section below; the module registers
them with :func:`zkservices.cli.command` on import and must stay importable
without optional packages.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
from typing import Any, Optional

from .cli import command, parse_value

__all__: list[str] = []


# ===========================================================================
# register PATH HOST:PORT [name=VALUE...]
# ===========================================================================
#
# Decisions:
# - Runs in the foreground.  SIGTERM and SIGINT both remove the node at once
#   (an explicit unregister, then the session is closed) and end the command:
#   exit 0 on SIGTERM (the normal way a supervisor stops a service), 130 on
#   SIGINT (the CLI's convention for Ctrl-C).  A signal that arrives while the
#   command is still waiting for ZooKeeper ends it the same way.
# - stdout gets one line per node registered or removed,
#   ``registered PATH (REASON)`` / ``unregistered PATH (REASON)``, so scripts
#   can follow the registration; logs (health transitions, connection
#   trouble) go to stderr.
# - Without a check option the server is registered unconditionally;
#   --interval/--timeout/--rise/--fall without a check are a usage error.
# - VALUE is JSON (``weight=3`` → 3, ``tags=["a"]`` → a list); text that is
#   not JSON is a string (``color=red``), never evaluated.  NaN and Infinity
#   stay strings (JSON cannot store them).  ``host`` and ``port`` come from
#   HOST:PORT and cannot be given as properties.
# - argparse (3.11) cannot take name=VALUE arguments *after* an option that
#   follows HOST:PORT: write options before PATH or after the last name=VALUE.
#   ``--check-tcp`` without a value must not be followed by PATH (it would take
#   PATH as its address).

_register_log = logging.getLogger("zkservices.cli.register")

_SAME_ADDRESS = object()  # --check-tcp given without HOST:PORT
_STOP_TIMEOUT = 10.0  # how long removal may wait for an unreachable ZooKeeper before the session is closed
_CONNECTED = 0  # a wake-up byte that is no signal number


def parse_assignment(text: str) -> tuple[str, Any]:
    """``'weight=3'`` → ``('weight', 3)``; raise :class:`argparse.ArgumentTypeError` if no ``=``."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected name=VALUE, got {text!r}")
    return name, parse_value(value)


def _address(text: str) -> tuple[str, int]:
    from ._znode.paths import parse_address

    try:
        return parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _http_url(text: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"expected an http:// or https:// URL, got {text!r}")
    return text


def _shell_command(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("the command is empty")
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _register_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="service path; the server's node is PATH/HOST:PORT")
    parser.add_argument("address", metavar="HOST:PORT", type=_address,
                        help="the server's address ([v6addr]:port for IPv6; a blank host registers "
                             "every address of this machine)")
    parser.add_argument("properties", metavar="name=VALUE", nargs="*", type=parse_assignment,
                        help="node properties; VALUE is JSON, or else a string")
    checks = parser.add_mutually_exclusive_group()
    checks.add_argument("--check-tcp", metavar="HOST:PORT", nargs="?", const=_SAME_ADDRESS, type=_address,
                        help="registered while a TCP connection succeeds (default: to the registered "
                             "address; a blank host is checked at 127.0.0.1)")
    checks.add_argument("--check-http", metavar="URL", type=_http_url,
                        help="registered while GET URL answers 2xx or 3xx")
    checks.add_argument("--check-command", metavar="CMD", type=_shell_command,
                        help="registered while the shell command CMD exits 0")
    parser.add_argument("--interval", metavar="S", type=_seconds, help="seconds between checks (default 2)")
    parser.add_argument("--timeout", metavar="S", type=_seconds, help="seconds a check may take (default 2)")
    parser.add_argument("--rise", metavar="N", type=_count,
                        help="passes in a row to register again (default 2)")
    parser.add_argument("--fall", metavar="N", type=_count,
                        help="failures in a row to unregister (default 3)")
    parser.set_defaults(register_parser=parser)


class _Unconditional:
    """The check used without a check option: always passes."""

    def check(self, timeout: float) -> tuple[bool, str]:
        return True, "no health check"

    def __repr__(self) -> str:
        return "no health check"


def _register_options(args: argparse.Namespace) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Validate what argparse cannot: return ``(check, monitor options, properties)``.

    Usage errors exit 2 through the subcommand's parser.
    """
    from ._discovery import CommandCheck, HttpCheck, TcpCheck
    from ._znode.paths import check_path

    parser: argparse.ArgumentParser = args.register_parser
    try:
        check_path(args.path)
    except ValueError as exc:
        parser.error(str(exc))
    properties: dict[str, Any] = {}
    for name, value in args.properties:
        if name in ("host", "port"):
            parser.error(f"{name}={value!r}: {name} comes from HOST:PORT")
        if name in properties:
            parser.error(f"property {name!r} given twice")
        properties[name] = value
    timing = {key: getattr(args, key) for key in ("interval", "timeout", "rise", "fall")
              if getattr(args, key) is not None}
    check: Any
    if args.check_tcp is _SAME_ADDRESS:
        check = None  # HealthCheckedRegistration's default: the registered address
    elif args.check_tcp is not None:
        check = TcpCheck(args.check_tcp[0] or "127.0.0.1", args.check_tcp[1])
    elif args.check_http is not None:
        check = HttpCheck(args.check_http)
    elif args.check_command is not None:
        check = CommandCheck(args.check_command)
    else:
        if timing:
            given = ", ".join(f"--{key}" for key in timing)
            parser.error(f"{given}: only with a check (--check-tcp, --check-http or --check-command)")
        check = _Unconditional()
        timing = {"interval": 24 * 3600.0}
    return check, timing, properties


@command("register", "register a server and keep it registered while its health check passes")(_register_arguments)
def register(args: argparse.Namespace) -> int:
    import zkservices

    check, timing, properties = _register_options(args)

    def report(registered: bool, reason: str, paths: tuple[str, ...]) -> None:
        for path in paths:
            print(f"{'registered' if registered else 'unregistered'} {path} ({reason})", flush=True)

    with _SignalWakeup() as wakeup:
        zk = _connect(args.zookeeper, wakeup)
        if zk is None:
            return _exit_code(wakeup.signal)
        try:
            selfreg = zkservices.HealthCheckedRegistration(
                zk, args.path, args.address, check=check, on_change=report, **timing, **properties
            )
            selfreg.start()
            _register_log.info("running: %r", selfreg)
            signum = wakeup.wait_signal()
            _register_log.info("received %s: removing the registration", signal.Signals(signum).name)
            selfreg.stop(_STOP_TIMEOUT, reason=f"received {signal.Signals(signum).name}")
        finally:
            zk.close()
    return _exit_code(signum)


def _exit_code(signum: Optional[int]) -> int:
    return 130 if signum == signal.SIGINT else 0


class _SignalWakeup:
    """SIGTERM and SIGINT wake the main thread, which then cleans up itself.

    The handlers do nothing but let :func:`signal.set_wakeup_fd` write the
    signal number into a pipe; the main thread blocks reading that pipe.  So a
    signal never interrupts a ZooKeeper call half-way, and it is seen at once
    whichever thread the kernel delivered it to.  Other threads write
    ``_CONNECTED`` into the same pipe.
    """

    def __init__(self) -> None:
        self.signal: Optional[int] = None
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._previous_fd = -1
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "_SignalWakeup":
        self._previous_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous[signum] = signal.signal(signum, _ignore)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._previous_fd)
        os.close(self._read)
        os.close(self._write)

    def post(self, byte: int) -> None:
        try:
            os.write(self._write, bytes([byte]))
        except OSError:  # closed: nobody is waiting any more
            pass

    def wait(self) -> int:
        """Block until a byte arrives; a signal's number is remembered in ``signal``."""
        byte = os.read(self._read, 1)[0]
        if byte in (signal.SIGTERM, signal.SIGINT):
            self.signal = byte
        return byte

    def wait_signal(self) -> int:
        while self.signal is None:
            self.wait()
        return self.signal


def _ignore(signum: int, frame: object) -> None:
    """The Python-level handler: the wake-up byte does the work."""


def _connect(connection_string: Optional[str], wakeup: _SignalWakeup) -> Any:
    """A connected ZooKeeper, connecting in the background, unless a signal comes first (then ``None``).

    Connecting keeps trying (and logging) for as long as no server answers; a
    permanent error (a bad connection string...) is raised.
    """
    from ._discovery import BackgroundConnection

    connection = BackgroundConnection(connection_string)
    connection.add_done_callback(lambda _: wakeup.post(_CONNECTED))
    connection.start()
    while wakeup.signal is None and not connection.done:
        wakeup.wait()
    if wakeup.signal is not None:
        connection.close()
        _register_log.info("received %s before ZooKeeper answered", signal.Signals(wakeup.signal).name)
        return None
    if connection.exception is not None:
        raise connection.exception
    return connection.zk


# ===========================================================================
# (further service commands go below, each in its own section)
# ===========================================================================
