"""The ``zkservices`` command line (also ``python -m zkservices``).

One :mod:`argparse` parser; each subcommand is a function registered with
:func:`command`.  ``main(argv)`` returns the exit code: 0 success, 1 a failure
the command reports (one line on stderr), 2 bad usage, 130 interrupted.
Logging is configured here, never at import time.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any, Callable, Sequence

__all__ = ["main", "command"]

log = logging.getLogger("zkservices.cli")

Handler = Callable[[argparse.Namespace], int]
_COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Handler]] = []


class CommandError(Exception):
    """A failure a command reports as one line on stderr (exit code 1)."""


def command(name: str, help: str) -> Callable[[Callable[[argparse.ArgumentParser], None]], Callable[[Handler], Handler]]:
    """Register a subcommand: ``@command(name, help)(add_arguments)(handler)``."""

    def with_arguments(add_arguments: Callable[[argparse.ArgumentParser], None]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            _COMMANDS.append((name, help, add_arguments, handler))
            return handler

        return register

    return with_arguments


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    _load_commands()
    parser = argparse.ArgumentParser(prog="zkservices", description="Service discovery and configuration on ZooKeeper.")
    parser.add_argument("--version", action="version", version=f"zkservices {__version__}")
    parser.add_argument(
        "-z",
        "--zookeeper",
        metavar="CONNECTION",
        default=None,
        help="ZooKeeper connection string (default: $ZKSERVICES_CONNECTION, $ZC_ZK_CONNECTION_STRING, 127.0.0.1:2181)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (repeatable)")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="less log output (repeatable)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, help_text, add_arguments, handler in _COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(p)
        p.set_defaults(handler=handler)
    return parser


_loaded = False


def _load_commands() -> None:
    """Import the modules that register subcommands (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib

    # each module registers its subcommands on import; a module that does not
    # exist yet is simply absent from the command list
    for name in ("_cli_commands", "_cli_tree", "_cli_services", "_cli_feed"):
        try:
            importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{name}":
                raise


def _configure_logging(verbose: int, quiet: int) -> None:
    level = logging.WARNING - 10 * verbose + 10 * quiet
    level = max(logging.DEBUG, min(logging.CRITICAL, level))
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if verbose < 2:
        # the local server's own chatter (its WARN lines are routine) only with -vv
        logging.getLogger("zkservices.server").setLevel(max(level + 10, logging.ERROR))


def parse_value(text: str) -> Any:
    """A ``name=VALUE`` value on the command line: JSON if it parses (finite
    numbers only; no ``NaN``/``Infinity``), else the text itself.  Never eval'd."""

    def no_constant(name: str) -> Any:
        raise ValueError(name)

    try:
        return json.loads(text, parse_constant=no_constant)
    except ValueError:
        return text


def connection_string(args: argparse.Namespace) -> str | None:
    return args.zookeeper


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, args.quiet)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except CommandError as exc:
        print(f"zkservices {args.command}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # one line, not a traceback, unless -v -v
        if args.verbose >= 2:
            log.exception("%s failed", args.command)
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"zkservices {args.command}: {type(exc).__name__}: {message}", file=sys.stderr)
        return 1
    finally:
        sys.stdout.flush()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
