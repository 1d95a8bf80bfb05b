"""``feed``: render services in ZooKeeper into a load-balancer config file, and keep it current.

Decisions:

- ``--timeout S`` is how long to wait for ZooKeeper (then the snapshot is
  used; ``--once`` without a snapshot fails after S seconds, not later).
- The feed's log (files written, reloads) shows at INFO at the default verbosity.
- ``--template nginx``, ``haproxy``, ``prometheus`` or ``json`` picks a shipped
  template when no file of that name exists.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from .._feed.render import SHIPPED_TEMPLATES
from .args import CommandError, command, fraction, seconds
from .logs import show_info

__all__: list[str] = []

#: ``--template NAME`` picks a shipped template when no file of that name exists.
EXAMPLES = SHIPPED_TEMPLATES

#: How long ``--once`` waits beyond ``--timeout`` for the snapshot to be taken up.
SNAPSHOT_GRACE = 0.5


def _feed_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--template", required=True, metavar="FILE",
                        help="Jinja2 template (strict undefined); 'nginx', 'haproxy', 'prometheus' or 'json' picks a shipped template")
    parser.add_argument("--output", metavar="FILE", help="the file to maintain (not needed with --dry-run)")
    parser.add_argument("--once", action="store_true", help="render once and exit")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the rendered text to stdout instead of writing (no check, no reload)")
    parser.add_argument("--min-wait", type=seconds, default=None, metavar="S",
                        help="render only after no change for S seconds (default 0.2: a backend whose "
                             "session is restored comes back as one change)")
    # Default: 4 x --min-wait, as consul-template does.  Without a cap, changes
    # arriving more often than --min-wait (one flapping backend is enough)
    # postponed every write forever, for every service in the file.
    parser.add_argument("--max-wait", type=seconds, default=None, metavar="S",
                        help="but at most S seconds after the first pending change "
                             "(default 4 x --min-wait; 0: no cap)")
    parser.add_argument("--check-command", metavar="CMD",
                        help="shell command validating the candidate file ({} is its path); failure keeps the old file")
    parser.add_argument("--reload-command", metavar="CMD", help="shell command run after each change written")
    parser.add_argument("--min-fraction", type=fraction, default=None, metavar="F",
                        help="shrink guard: refuse a provider set smaller than F x the last one (default 0.5; 0 disables)")
    parser.add_argument("--force", action="store_true", help="publish provider sets the shrink guard would refuse")
    parser.add_argument("--snapshot", metavar="FILE",
                        help="last-known-good snapshot: saved on every good set, used when ZooKeeper is down at start")
    parser.add_argument("--timeout", type=seconds, default=10.0, metavar="S",
                        help="seconds to wait for ZooKeeper before using the snapshot (--once: before failing; default 10)")
    parser.add_argument("services", nargs="+", metavar="SERVICE",
                        help="service node(s); the providers are the children of SERVICE/providers "
                             "(see --providers)")
    parser.add_argument("--providers", metavar="REL", default="providers",
                        help="each service's providers node, relative to SERVICE (default 'providers'; "
                             "'.' for a Curator or ServerSet directory, whose own children are the providers)")


def _template(value: str) -> tuple[str, str]:
    """(text, name) of the template named on the command line."""
    if not os.path.exists(value) and value in EXAMPLES:
        from .._feed import example_template

        return example_template(EXAMPLES[value]), EXAMPLES[value]
    try:
        with open(value, encoding="utf-8") as f:
            return f.read(), value
    except OSError as exc:
        raise CommandError(f"cannot read template {value}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CommandError(f"cannot read template {value}: not UTF-8 text ({exc.reason})") from None


def _print(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


@command("feed", "render live providers and properties into a load-balancer config file")(_feed_arguments)
def feed(args: argparse.Namespace) -> int:
    from .._discovery import DEFAULT_MIN_FRACTION
    from .._feed import DEFAULT_MIN_WAIT, Feed, FeedError, FeedTemplateError

    if args.output is None and not args.dry_run:
        raise CommandError("--output FILE is needed (or --dry-run)")
    if args.output is not None and os.path.isdir(args.output):
        raise CommandError(f"--output {args.output} is a directory")
    text, name = _template(args.template)
    show_info(args, "zkservices.feed")
    options = args.session
    min_wait = DEFAULT_MIN_WAIT if args.min_wait is None else args.min_wait
    try:
        feed = Feed(
            options.connection_string,
            args.services,
            template_text=text,
            output=args.output,
            check_command=args.check_command,
            reload_command=args.reload_command,
            min_wait=min_wait,
            max_wait=4 * min_wait if args.max_wait is None else args.max_wait,
            providers=args.providers,
            dry_run=args.dry_run,
            min_fraction=DEFAULT_MIN_FRACTION if args.min_fraction is None else args.min_fraction,
            force=args.force,
            snapshot=args.snapshot,
            timeout=args.timeout,
            on_render=_print if args.dry_run else None,
            template_name=name,
            **options.zookeeper_options(),
        )
    except FeedTemplateError as exc:
        raise CommandError(f"bad template: {exc}") from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None

    if args.once:
        try:
            feed.run_once(args.timeout + (SNAPSHOT_GRACE if args.snapshot else 0.0))
        except FeedError as exc:
            raise CommandError(str(exc)) from None
        return 0

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        feed.start()
        checked = False
        while not stop.wait(0.2):
            if feed.connection_error:
                raise CommandError(feed.connection_error)
            if not checked and feed.file_feed.processed:
                checked = True
                if feed.file_feed.render_failures:
                    # the very first rendering failed: a template error, not a passing one
                    raise CommandError(f"bad template: {feed.last_error}")
    finally:
        signal.signal(signal.SIGTERM, previous)
        feed.close(timeout=30)
    return 0
