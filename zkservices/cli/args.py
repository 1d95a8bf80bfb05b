"""The parser: the :func:`command` registry, the global options and the argument types commands share.

Each subcommand is a function registered with ``@command(name, help)(add_arguments)``
on import of its module.  Options that say how to reach ZooKeeper (``-z``,
``--auth``, ``--auth-file``, ``--tls-*``) are accepted before the subcommand
and, for commands that connect, after it too.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .._tree import key_problem, link_value_problem
from .._znode.connection import DEFAULT_PORT, split_connection_string
from .._znode.paths import parse_address

__all__ = [
    "COMMANDS",
    "Command",
    "CommandError",
    "command",
    "no_arguments",
    "build_parser",
    "merge_connection_options",
    "add_timeout",
    "seconds",
    "positive_seconds",
    "fraction",
    "count",
    "address",
    "connection_string",
    "split_connection_string",
    "auth_item",
    "parse_value",
    "parse_assignment",
    "property_assignment",
    "DEFAULT_PORT",
]

Handler = Callable[[argparse.Namespace], int]
AddArguments = Callable[[argparse.ArgumentParser], None]

class CommandError(Exception):
    """A failure a command reports as one line on stderr (exit code 1)."""


@dataclass(frozen=True)
class Command:
    """A registered subcommand."""

    name: str
    help: str
    add_arguments: AddArguments
    handler: Handler
    connects: bool


COMMANDS: list[Command] = []


def command(name: str, help: str, *, connects: bool = True) -> Callable[[AddArguments], Callable[[Handler], Handler]]:
    """Register a subcommand: ``@command(name, help)(add_arguments)`` on its handler.

    :param connects: the command talks to ZooKeeper, so the connection options
        are accepted after its name too.
    """

    def with_arguments(add_arguments: AddArguments) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            COMMANDS.append(Command(name, help, add_arguments, handler, connects))
            return handler

        return register

    return with_arguments


def no_arguments(parser: argparse.ArgumentParser) -> None:
    """For commands without arguments of their own."""


# ---------------------------------------------------------------------------
# Argument types


def seconds(text: str) -> float:
    """A number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds (0 or more), got {text!r}")
    return value


def positive_seconds(text: str) -> float:
    """A number of seconds, more than 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def fraction(text: str) -> float:
    """A number between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be between 0 and 1")
    return value


def count(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6addr]:PORT``); a blank host stays ``''``."""
    try:
        return parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def connection_string(text: str) -> str:
    """A ZooKeeper connection string, checked (hosts, ports, chroot)."""
    try:
        split_connection_string(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip()


def auth_item(text: str) -> tuple[str, str]:
    """``SCHEME:CREDENTIALS`` -> ``(scheme, credentials)`` (``digest:ops:secret`` -> ``('digest', 'ops:secret')``).

    The error never repeats the credentials.
    """
    scheme, sep, credentials = text.strip().partition(":")
    if not sep or not scheme or not credentials or not re.fullmatch(r"[A-Za-z0-9_.-]+", scheme):
        raise argparse.ArgumentTypeError("expected SCHEME:CREDENTIALS (e.g. digest:user:password)")
    return scheme, credentials


def parse_value(text: str) -> Any:
    """A ``name=VALUE`` value on the command line: JSON if it parses (finite
    numbers only; no ``NaN``/``Infinity``), else the text itself.  Never eval'd."""

    def no_constant(name: str) -> Any:
        raise ValueError(name)

    try:
        return json.loads(text, parse_constant=no_constant)
    except ValueError:
        return text


def parse_assignment(text: str) -> tuple[str, Any]:
    """``'weight=3'`` -> ``('weight', 3)``; :class:`argparse.ArgumentTypeError` without ``=``."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected name=VALUE, got {text!r}")
    return name, parse_value(value)


_LINK_ASSIGNMENT = re.compile(r"(.+? (?:->|=>))=(.*)", re.DOTALL)


def property_assignment(text: str) -> tuple[str, Any]:
    """``name=VALUE`` for a node property; link keys take text (``'db ->=/x'``, ``'t =>=../cms threads'``).

    Keys and link values no tree form could export are refused, and white
    space around a link value is dropped.
    """
    match = _LINK_ASSIGNMENT.fullmatch(text)
    if match:
        key, value = match.group(1), match.group(2).strip()
        problem = key_problem(key) or link_value_problem(key[-2:], value)
        if problem:
            raise argparse.ArgumentTypeError(f"{text!r}: {problem}")
        return key, value
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected name=VALUE, got {text!r}")
    problem = key_problem(name)
    if problem:
        raise argparse.ArgumentTypeError(f"{text!r}: {problem}")
    return name, parse_value(value)


def add_timeout(parser: argparse.ArgumentParser, default: float | None = 10.0) -> None:
    """``--timeout S``: how long to wait for ZooKeeper to answer (the same in every command)."""
    shown = "no limit" if default is None else f"{default:g}"
    parser.add_argument("--timeout", type=positive_seconds, default=default, metavar="S",
                        help=f"seconds to wait for a ZooKeeper server to answer (default {shown})")


# ---------------------------------------------------------------------------
# The parser

_CONNECTION_OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("-z", "--zookeeper"), dict(dest="zookeeper", metavar="CONNECTION", type=connection_string,
                                 help="ZooKeeper connection string (default: $ZKSERVICES_CONNECTION, "
                                      "$ZC_ZK_CONNECTION_STRING, 127.0.0.1:2181)")),
    (("--auth",), dict(dest="auth", metavar="SCHEME:CREDENTIALS", action="append", type=auth_item,
                       help="authenticate the session (repeatable; e.g. digest:ops:secret; "
                            "default: $ZKSERVICES_AUTH, comma or newline separated)")),
    (("--auth-file",), dict(dest="auth_file", metavar="FILE", action="append",
                            help="read SCHEME:CREDENTIALS lines from FILE (keeps secrets out of ps)")),
    (("--tls-ca",), dict(dest="tls_ca", metavar="FILE",
                         help="talk TLS, trusting the CA(s) in this PEM file (default: $ZKSERVICES_TLS_CA)")),
    (("--tls-cert",), dict(dest="tls_cert", metavar="FILE",
                           help="client certificate (PEM) for mutual TLS (default: $ZKSERVICES_TLS_CERT)")),
    (("--tls-key",), dict(dest="tls_key", metavar="FILE",
                          help="the client certificate's key (PEM) (default: $ZKSERVICES_TLS_KEY)")),
]
_AFTER = "_after_command"


def build_parser(commands: Sequence[Command]) -> argparse.ArgumentParser:
    """The ``zkservices`` parser with ``commands`` as subcommands."""
    from .. import __version__

    parser = argparse.ArgumentParser(prog="zkservices", description="Service discovery and configuration on ZooKeeper.")
    parser.add_argument("--version", action="version", version=f"zkservices {__version__}")
    for flags, options in _CONNECTION_OPTIONS:
        parser.add_argument(*flags, default=None, **options)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (repeatable)")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="less log output (repeatable)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for cmd in commands:
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        if cmd.connects:
            group = p.add_argument_group("connection options (also accepted before the command)")
            for flags, options in _CONNECTION_OPTIONS:
                options = {**options, "dest": options["dest"] + _AFTER}
                group.add_argument(*flags, default=argparse.SUPPRESS, **options)
        p.set_defaults(handler=cmd.handler, parser=p, connects=cmd.connects)
    return parser


def merge_connection_options(args: argparse.Namespace) -> None:
    """Fold connection options given after the command into those given before it."""
    for _, options in _CONNECTION_OPTIONS:
        dest = options["dest"]
        if not hasattr(args, dest + _AFTER):
            continue
        after = getattr(args, dest + _AFTER)
        delattr(args, dest + _AFTER)
        if options.get("action") == "append":
            setattr(args, dest, (getattr(args, dest) or []) + after)
        else:
            setattr(args, dest, after)
