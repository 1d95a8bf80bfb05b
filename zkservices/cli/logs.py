"""Logging for the command line: configured by ``main()`` only, on stderr."""

from __future__ import annotations

import argparse
import logging
import sys

__all__ = ["configure_logging", "show_info", "RedactCredentials"]


class RedactCredentials(logging.Filter):
    """Keep credentials out of kazoo's DEBUG log of the requests it sends (its ``Auth``
    packets): a filter on the command's own handler, so kazoo's loggers are left alone."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(type(arg).__name__ == "Auth" for arg in args):
            record.args = tuple(
                f"Auth(scheme={getattr(arg, 'scheme', '?')!r}, auth=<redacted>)" if type(arg).__name__ == "Auth"
                else arg for arg in args
            )
        return True


def configure_logging(verbose: int, quiet: int) -> None:
    """Log to stderr at WARNING; each ``-v`` one level more, each ``-q`` one less."""
    level = logging.WARNING - 10 * verbose + 10 * quiet
    level = max(logging.DEBUG, min(logging.CRITICAL, level))
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:  # the handlers basicConfig made: ours
        if not any(isinstance(f, RedactCredentials) for f in handler.filters):
            handler.addFilter(RedactCredentials())
    if verbose < 2:
        # the local server's own chatter (its WARN lines are routine) only with -vv
        logging.getLogger("zkservices.server").setLevel(max(level + 10, logging.ERROR))


def show_info(args: argparse.Namespace, *names: str) -> None:
    """Show INFO records of the loggers ``names`` at the default verbosity (a daemon saying what it does).

    ``-q`` hides them again; ``-v`` shows them anyway.
    """
    if not args.quiet and not args.verbose:
        for name in names:
            logging.getLogger(name).setLevel(logging.INFO)
