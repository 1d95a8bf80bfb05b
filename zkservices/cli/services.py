"""``register PATH HOST:PORT [name=VALUE...]``: keep a server registered while its health check passes.

PATH is the providers node, as in ``register_server`` (the server's node is
PATH/HOST:PORT in the default provider format).

Decisions:

- Runs in the foreground.  SIGTERM and SIGINT both remove the node at once
  (an explicit unregister, then the session is closed) and end the command:
  exit 0 on SIGTERM (the normal way a supervisor stops a service), 130 on
  SIGINT (the CLI's convention for Ctrl-C).  A signal that arrives while the
  command is still waiting for ZooKeeper ends it the same way.
- stdout gets one line per node registered or removed,
  ``registered PATH (REASON)`` / ``unregistered PATH (REASON)``, so scripts
  can follow the registration; the log (stderr) says the same at INFO, shown
  at the default verbosity, with health transitions and connection trouble.
- ``--timeout S`` is, as in every command, how long to wait for ZooKeeper to
  answer (at start; default: as long as it takes); ``--check-timeout S`` how
  long one health check may take.
- Without a check option the server is registered unconditionally;
  --interval/--check-timeout/--rise/--fall without a check are a usage error.
- VALUE is JSON (``weight=3`` -> 3, ``tags=["a"]`` -> a list); text that is
  not JSON is a string (``color=red``), never evaluated.  NaN and Infinity
  stay strings (JSON cannot store them).  ``host`` and ``port`` come from
  HOST:PORT and cannot be given as properties.
- argparse cannot take name=VALUE arguments *after* an option that follows
  HOST:PORT: write options before PATH or after the last name=VALUE.
  ``--check-tcp`` without a value must not be followed by PATH (it would take
  PATH as its address).
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import threading
import time
from typing import Any, Optional

from .args import CommandError, add_timeout, address, command, count, parse_assignment, positive_seconds
from .logs import show_info

__all__: list[str] = []

log = logging.getLogger("zkservices.cli.register")

_SAME_ADDRESS = object()  # --check-tcp given without HOST:PORT
FORMATS = ("zkservices", "curator", "serverset")  # the provider formats (--provider-format)
# How long removal may wait for ZooKeeper before the session is closed.  Connected, a
# removal takes milliseconds (and closing the session removes the node anyway); in an
# outage nothing can remove it, and the node goes with the session's expiry.
_STOP_TIMEOUT = 1.5
_CONNECTED = 0  # a wake-up byte that is no signal number


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


def _register_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH",
                        help="the providers node; the server's node is PATH/HOST:PORT (see --provider-format)")
    parser.add_argument("address", metavar="HOST:PORT", type=address,
                        help="the server's address ([v6addr]:port for IPv6; a blank host registers "
                             "every address of this machine)")
    parser.add_argument("properties", metavar="name=VALUE", nargs="*", type=parse_assignment,
                        help="node properties; VALUE is JSON, or else a string")
    checks = parser.add_mutually_exclusive_group()
    checks.add_argument("--check-tcp", metavar="HOST:PORT", nargs="?", const=_SAME_ADDRESS, type=address,
                        help="registered while a TCP connection succeeds (default: to the registered "
                             "address; a blank host is checked at 127.0.0.1)")
    checks.add_argument("--check-http", metavar="URL", type=_http_url,
                        help="registered while GET URL answers 2xx or 3xx")
    checks.add_argument("--check-command", metavar="CMD", type=_shell_command,
                        help="registered while the shell command CMD exits 0")
    parser.add_argument("--interval", metavar="S", type=positive_seconds, help="seconds between checks (default 2)")
    parser.add_argument("--provider-format", choices=FORMATS, default=None,
                        help="the provider node's format: zkservices' host:port node (default), a Curator "
                             "service instance (PATH/ID) or a Finagle/Aurora ServerSet member (PATH/member_N)")
    # the deprecated spelling of --provider-format, hidden
    parser.add_argument("--format", dest="deprecated_format", choices=FORMATS, default=None,
                        help=argparse.SUPPRESS)
    parser.add_argument("--check-timeout", dest="check_timeout", metavar="S", type=positive_seconds,
                        help="seconds a check may take (default 2)")
    parser.add_argument("--rise", metavar="N", type=count, help="passes in a row to register again (default 2)")
    parser.add_argument("--fall", metavar="N", type=count, help="failures in a row to unregister (default 3)")
    add_timeout(parser, default=None)
    parser.set_defaults(register_parser=parser)


class _Unconditional:
    """The check used without a check option: always passes."""

    def check(self, timeout: float) -> tuple[bool, str]:
        return True, "no health check"

    def __repr__(self) -> str:
        return "no health check"


_TIMING = {"interval": "interval", "check_timeout": "timeout", "rise": "rise", "fall": "fall"}


def _register_options(args: argparse.Namespace) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Validate what argparse cannot: return ``(check, monitor options, properties)``.

    Usage errors exit 2 through the subcommand's parser.
    """
    from .._discovery import CommandCheck, HttpCheck, TcpCheck
    from .._znode.paths import check_path

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
    if args.deprecated_format is not None:
        if args.provider_format is not None:
            parser.error("give --provider-format only (--format is its deprecated spelling)")
        log.warning("--format is deprecated; use --provider-format")
        args.provider_format = args.deprecated_format
    if args.provider_format is None:
        args.provider_format = "zkservices"
    timing = {keyword: getattr(args, option) for option, keyword in _TIMING.items()
              if getattr(args, option) is not None}
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
            given = ", ".join(f"--{option.replace('_', '-')}" for option, keyword in _TIMING.items()
                              if keyword in timing)
            parser.error(f"{given}: only with a check (--check-tcp, --check-http or --check-command)")
        check = _Unconditional()
        timing = {"interval": 24 * 3600.0}
    return check, timing, properties


@command("register", "register a server and keep it registered while its health check passes")(_register_arguments)
def register(args: argparse.Namespace) -> int:
    import zkservices

    check, timing, properties = _register_options(args)
    show_info(args, log.name)

    def report(registered: bool, reason: str, paths: tuple[str, ...]) -> None:
        for path in paths:
            print(f"{'registered' if registered else 'unregistered'} {path} ({reason})", flush=True)
            log.info("%s %s (%s)", "registered" if registered else "unregistered", path, reason)

    with _SignalWakeup() as wakeup:
        zk = _connect(args, wakeup)
        if zk is None:
            return _exit_code(wakeup.signal)
        try:
            selfreg = zkservices.HealthCheckedRegistration(
                zk, args.path, args.address, check=check, on_change=report, provider_format=args.provider_format,
                **timing,
                **properties,
            )
            selfreg.start()
            log.info("running: %r", selfreg)
            signum = wakeup.wait_signal()
            log.info("received %s: removing the registration", signal.Signals(signum).name)
            selfreg.stop(_STOP_TIMEOUT, reason=f"received {signal.Signals(signum).name}")
            if selfreg.registered:
                log.warning("ZooKeeper did not answer within %gs: leaving %s to the session's expiry",
                            _STOP_TIMEOUT, ", ".join(selfreg.paths) or "the registration")
        finally:
            _close_within(zk, _STOP_TIMEOUT)
    return _exit_code(signum)


def _close_within(zk: Any, seconds: float) -> None:
    """Close the session, but give up waiting after ``seconds``: in an outage kazoo
    waits for its connection attempt to time out, and a process on its way out need
    not (the server expires the session)."""
    closer = threading.Thread(target=zk.close, name="zkservices-close", daemon=True)
    closer.start()
    closer.join(seconds)
    if closer.is_alive():
        log.info("the session is not closed cleanly (ZooKeeper does not answer); the server will expire it")


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

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until a byte arrives (None after ``timeout`` seconds); a signal's number is kept in ``signal``."""
        if timeout is not None:
            ready, _, _ = select.select([self._read], [], [], max(0.0, timeout))
            if not ready:
                return None
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


def _connect(args: argparse.Namespace, wakeup: _SignalWakeup) -> Any:
    """A connected ZooKeeper, connecting in the background, unless a signal comes first (then ``None``).

    Connecting keeps trying (and logging) until a server answers or
    ``--timeout`` passes (then CommandError); a permanent error (bad auth...)
    is raised.
    """
    from .._discovery import BackgroundConnection

    options = args.session
    # an attempt no longer than --timeout, so that giving up can wait for it to end:
    # kazoo's own warnings about it then come before our error, never after it
    attempt = 5.0 if args.timeout is None else max(0.1, min(5.0, args.timeout))
    connection = BackgroundConnection(options.connection_string, attempt_timeout=attempt,
                                      **options.zookeeper_options())
    connection.add_done_callback(lambda _: wakeup.post(_CONNECTED))
    connection.start()
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    while wakeup.signal is None and not connection.done:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            connection.close(timeout=attempt + 5.0)
            raise CommandError(f"no ZooKeeper server at {options.connection_string} answered "
                               f"within {args.timeout:g}s")
        wakeup.wait(left)
    if wakeup.signal is not None:
        connection.close()
        log.info("received %s before ZooKeeper answered", signal.Signals(wakeup.signal).name)
        return None
    if connection.exception is not None:
        raise connection.exception
    return connection.zk
