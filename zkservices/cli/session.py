"""How commands reach ZooKeeper: connection string, authentication and TLS from options and environment.

:func:`resolve_session_options` runs once in ``main()`` after parsing (a bad
``--auth-file`` line, a missing certificate or a bad ``$ZKSERVICES_*`` value is
a usage error, exit 2); :func:`connect` opens a session for the commands that
need one at once, and says promptly why no server answers when it can tell
(refused, unknown host); :func:`friendly` turns the usual failures into one line.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import socket
import warnings
from dataclasses import dataclass
from typing import Any, Callable

from .._session import TLS, default_connection_string
from .._znode.paths import format_address
from .args import CommandError, auth_item, split_connection_string

__all__ = ["SessionOptions", "resolve_session_options", "connect", "friendly", "unreachable", "read_auth_file"]

#: Seconds of the first connect attempt, after which the CLI looks why no server answers.
FIRST_ATTEMPT = 1.0


@dataclass(frozen=True)
class SessionOptions:
    """Where and how to connect: what ``ZooKeeper(...)`` gets from the command line."""

    connection_string: str
    auth: tuple[tuple[str, str], ...] = ()
    tls: TLS | None = None

    def zookeeper_options(self) -> dict[str, Any]:
        """Keyword arguments for :class:`zkservices.ZooKeeper`."""
        return {"auth": list(self.auth) or None, "tls": self.tls}

    def __repr__(self) -> str:  # never show credentials
        schemes = ",".join(scheme for scheme, _ in self.auth)
        return f"SessionOptions({self.connection_string!r}, auth=[{schemes}], tls={self.tls!r})"


def read_auth_file(name: str) -> list[tuple[str, str]]:
    """``SCHEME:CREDENTIALS`` lines of ``name`` (blank lines and ``#`` comments skipped).

    :raises ValueError: naming the file (and the line) that is unreadable or bad.
    """
    try:
        with open(name, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"--auth-file {name}: cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
    items = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            items.append(auth_item(line))
        except argparse.ArgumentTypeError as exc:
            raise ValueError(f"--auth-file {name}, line {number}: {exc}") from None
    return items


def _environment_auth() -> list[tuple[str, str]]:
    text = os.environ.get("ZKSERVICES_AUTH", "")
    items = []
    for number, part in enumerate(text.replace("\n", ",").split(","), 1):
        if part.strip():
            try:
                items.append(auth_item(part))
            except argparse.ArgumentTypeError as exc:
                raise ValueError(f"$ZKSERVICES_AUTH, item {number}: {exc}") from None
    return items


def resolve_session_options(args: argparse.Namespace) -> SessionOptions:
    """The session options of the parsed command line, completed from the environment.

    Options given on the command line replace the environment's: ``--auth``
    or ``--auth-file`` replace ``$ZKSERVICES_AUTH``; each ``--tls-*`` its variable.
    :raises ValueError: a bad auth file, environment value, connection string or TLS file.
    """
    connection = args.zookeeper or default_connection_string()
    split_connection_string(connection)  # the environment's value is checked as -z's is
    if args.auth or args.auth_file:
        auth = list(args.auth or [])
        for name in args.auth_file or []:
            auth.extend(read_auth_file(name))
    else:
        auth = _environment_auth()
    files: dict[str, str | None] = {}
    for what in ("ca", "cert", "key"):
        value = getattr(args, f"tls_{what}") or os.environ.get(f"ZKSERVICES_TLS_{what.upper()}") or None
        files[what] = value
    tls = None
    if any(files.values()):
        try:
            tls = TLS(ca=files["ca"], cert=files["cert"], key=files["key"])
        except ValueError as exc:
            raise ValueError(f"{exc} (--tls-ca/--tls-cert/--tls-key or $ZKSERVICES_TLS_*)") from None
    return SessionOptions(connection, tuple(auth), tls)


def unreachable(connection_string: str, timeout: float) -> str | None:
    """Why no server of ``connection_string`` can answer, or None when one might.

    Every host is looked up and tried once over TCP: only when each is refused
    or cannot be resolved is there a reason (``"connection refused by
    127.0.0.1:1"``, ``"host 'nohost' cannot be resolved"``); a host that accepts or
    does not answer in time leaves the verdict to the client.
    """
    hosts, _ = split_connection_string(connection_string)
    problems: list[str] = []
    for host, port in hosts:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            problems.append(f"host {host!r} cannot be resolved ({getattr(exc, 'strerror', None) or exc})")
            continue
        for family, kind, proto, _, sockaddr in infos:
            with socket.socket(family, kind, proto) as probe:
                probe.settimeout(max(0.1, min(timeout, 2.0)))
                try:
                    probe.connect(sockaddr)
                except ConnectionRefusedError:
                    problem = f"connection refused by {format_address(host, port)}"
                    if problem not in problems:
                        problems.append(problem)
                except OSError:
                    return None
                else:
                    return None
    return "; ".join(problems) or None


def connect(args: argparse.Namespace) -> Any:
    """A connected :class:`zkservices.ZooKeeper`, or :class:`CommandError` in one line.

    Waits up to ``args.timeout`` seconds; a refused connection or an unknown
    host is reported after the first second.  kazoo's warnings per failed
    attempt are shown with ``-v`` only (the one line says it all).
    """
    import zkservices

    options: SessionOptions = args.session
    kazoo_log = logging.getLogger("kazoo")
    level = kazoo_log.level
    if not args.verbose:
        kazoo_log.setLevel(logging.ERROR)
    first = min(args.timeout, FIRST_ATTEMPT)
    try:
        # kazoo only warns when the chroot is missing: say it in one line instead
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                zk = zkservices.ZooKeeper(options.connection_string, timeout=first, **options.zookeeper_options())
            except zkservices.FailedConnect as exc:
                reason = unreachable(options.connection_string, args.timeout)
                if reason is not None:
                    raise CommandError(f"no ZooKeeper server at {options.connection_string}: {reason}") from None
                if args.timeout <= first:
                    raise CommandError(str(exc)) from None
                try:
                    zk = zkservices.ZooKeeper(options.connection_string, timeout=args.timeout - first,
                                              **options.zookeeper_options())
                except zkservices.FailedConnect as again:
                    raise CommandError(str(again)) from None
    finally:
        kazoo_log.setLevel(level)
    for warning in caught:
        if "chroot" in str(warning.message).lower() and zk.client.chroot:
            zk.close()
            raise CommandError(f"the chroot {zk.client.chroot} does not exist on the server (create it first)")
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return zk


def friendly(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the usual failures into one readable line (:class:`CommandError`)."""

    @functools.wraps(handler)
    def wrapper(args: argparse.Namespace) -> int:
        from kazoo.exceptions import NoAuthError, NoNodeError

        from ..errors import NotAuthorized, ZkServicesError

        try:
            return handler(args)
        except NoNodeError as exc:
            detail = str(exc) or getattr(args, "path", None) or ""
            raise CommandError(f"no such node: {detail}" if detail else "no such node") from None
        except NotAuthorized as exc:
            raise CommandError(f"not allowed (ACL): {exc}") from None
        except NoAuthError as exc:
            detail = str(exc) or f"{getattr(args, 'path', '')}: not authorized"
            raise CommandError(f"not allowed (ACL): {detail}") from None
        except (ZkServicesError, ValueError) as exc:
            raise CommandError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None

    return wrapper
