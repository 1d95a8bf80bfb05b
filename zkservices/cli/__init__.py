"""The ``zkservices`` command line (also ``python -m zkservices``).

One :mod:`argparse` parser (:mod:`.args`); each subcommand is a function
registered with :func:`~.args.command` by the module of its group (``tree``,
``nodes``, ``services``, ``status``, ``feed``, ``agent``, ``dev``).  :func:`main` returns the exit
code: 0 success, 1 a failure the command reports (one line on stderr), 2 bad
usage, 130 interrupted.  Logging is configured in :func:`main` only.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Sequence

from .args import COMMANDS, CommandError, build_parser, command, merge_connection_options, parse_value
from .logs import configure_logging

__all__ = ["main", "command", "parse_value"]

log = logging.getLogger("zkservices.cli")

#: The modules that register subcommands, in the order ``--help`` lists them.
COMMAND_MODULES = ("tree", "properties", "nodes", "services", "status", "feed", "agent", "dev")


def load_commands() -> None:
    """Import the modules that register subcommands."""
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}")


def make_parser() -> argparse.ArgumentParser:
    """The ``zkservices`` parser with every subcommand (the documentation's CLI reference is built from it)."""
    load_commands()
    return build_parser(COMMANDS)


def _quiet_broken_pipe() -> int:
    """stdout's reader went away (``| head``): stop quietly, and let the interpreter's last flush succeed."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Usage errors raise :class:`SystemExit` with code 2 (argparse's way).
    """
    from .session import resolve_session_options

    args = make_parser().parse_args(argv)
    merge_connection_options(args)
    args.session = None
    if args.connects:
        try:
            args.session = resolve_session_options(args)
        except ValueError as exc:
            args.parser.error(str(exc))
    configure_logging(args.verbose, args.quiet)
    try:
        try:
            return int(args.handler(args) or 0)
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        return _quiet_broken_pipe()
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
