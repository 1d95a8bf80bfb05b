"""Subcommands for trees and nodes: ``export``, ``import``, ``validate``,
``set-property``, ``tree``, ``ls``, ``get`` and ``watch``.

Decisions:

- Every command but ``validate`` connects with ``-z/--zookeeper`` (else the
  environment, see ``zkservices --help``); ``--timeout S`` is how long to wait
  for a server to answer (default 10 s); no answer is exit 1 with one line.
- Results go to stdout, diagnostics to stderr (one line on failure, exit 1:
  a bad tree file names its line; a missing node names the node).
- ``import`` prints one line per change (``create /a``, ``set /a {...}``,
  ``delete /a/old``); with ``--dry-run`` the same lines, nothing written and a
  note on stderr.  Without ``--trim`` nodes the file does not list are
  reported on stderr (a warning each) and kept; ``--no-trim`` keeps them
  silently.
- ``export -o FILE`` writes the file atomically (temporary file, then
  rename) with the mode the file had (new files: 0666 less the umask);
  without ``--format`` a FILE ending in ``.yaml``/``.yml`` gets YAML.
- A chroot in the connection string that does not exist on the server is
  exit 1 with one line naming it.
- ``set-property PATH name=VALUE...``: VALUE is JSON (``3``, ``true``,
  ``"x"``, ``[1]``); other text is taken as a string, never evaluated.  Links
  are set with their full key: ``'db ->=/databases/main'``,
  ``'t =>=../cms threads'`` (white space around a link value is dropped;
  names and link values that no tree form could export are usage errors).
  The update is version-checked (merges).
- ``watch PATH`` prints ``children PATH [...]``, ``properties PATH {...}``
  (property links followed) and ``deleted PATH`` lines, the current state
  first, then one line per change, until interrupted (exit 130).
- ``import``/``export`` show progress on stderr only when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Iterator

from .cli import CommandError, command, parse_value

__all__: list[str] = []


# ---------------------------------------------------------------------------
# Shared helpers


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds: {text!r}")
    return value


def _timeout_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=_seconds, default=10.0, metavar="S",
                        help="seconds to wait for a ZooKeeper server to answer (default 10)")


def _connect(args: argparse.Namespace) -> Any:
    """A ZooKeeper session, or CommandError in one line when no server answers.

    kazoo logs a warning per failed connection attempt; while connecting
    those are only shown with ``-v`` (the one-line error says it all).
    """
    import logging
    import warnings

    import zkservices

    kazoo_log = logging.getLogger("kazoo")
    level = kazoo_log.level
    if not args.verbose:
        kazoo_log.setLevel(logging.ERROR)
    try:
        # kazoo only warns (two lines on stderr) when the chroot is missing;
        # then every command failed with "no such node: /", or export
        # printed nothing and exited 0.  Say it in one line instead.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            zk = zkservices.ZooKeeper(args.zookeeper, timeout=args.timeout)
    except zkservices.FailedConnect as exc:
        raise CommandError(str(exc)) from None
    finally:
        kazoo_log.setLevel(level)
    for warning in caught:
        if "chroot" in str(warning.message).lower() and zk.client.chroot:
            zk.close()
            raise CommandError(f"the chroot {zk.client.chroot} does not exist on the server (create it first)")
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return zk


def _friendly(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the usual failures into one readable line (CommandError)."""

    @functools.wraps(handler)
    def wrapper(args: argparse.Namespace) -> int:
        from kazoo.exceptions import NoAuthError, NoNodeError

        from .errors import ZkServicesError

        try:
            return handler(args)
        except NoNodeError as exc:
            detail = str(exc) or getattr(args, "path", None) or ""
            raise CommandError(f"no such node: {detail}" if detail else "no such node") from None
        except NoAuthError as exc:
            # (an exception is always true: `exc or path` printed kazoo's empty text)
            raise CommandError(f"not allowed (ACL): {str(exc) or getattr(args, 'path', '')}") from None
        except (ZkServicesError, ValueError) as exc:
            raise CommandError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None

    return wrapper


def _read_input(name: str) -> tuple[bytes, str]:
    if name == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    try:
        with open(name, "rb") as f:
            return f.read(), name
    except OSError as exc:
        raise CommandError(f"cannot read {name}: {exc.strerror or exc}") from None


class _Progress:
    """``reading 1234 nodes`` on one terminal line, rewritten now and then."""

    def __init__(self, what: str, stream: Any) -> None:
        self.what = what
        self.stream = stream
        self.last = 0.0
        self.width = 0

    @classmethod
    def on_terminal(cls, what: str) -> "_Progress | None":
        stream = sys.stderr
        try:
            return cls(what, stream) if stream.isatty() else None
        except (AttributeError, ValueError):
            return None

    def _show(self, text: str, end: str = "") -> None:
        pad = " " * max(0, self.width - len(text))
        self.stream.write(f"\r{text}{pad}{end}")
        self.stream.flush()
        self.width = 0 if end else len(text)

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and total is None:
            return
        self.last = now
        count = f"{done}/{total}" if total is not None else f"{done}"
        self._show(f"{self.what}: {phase} {count} nodes")

    def finish(self, summary: str) -> None:
        self._show(f"{self.what}: {summary}", end="\n")


# ---------------------------------------------------------------------------
# export


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-e", "--ephemeral", action="store_true", help="include ephemeral nodes")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of stdout")
    parser.add_argument("--format", choices=("text", "yaml"), default=None,
                        help="text (zc.zk's form; the default) or yaml (the default for -o *.yaml/*.yml)")
    parser.add_argument("--name", default=None, help="rename the top node of the export")
    parser.add_argument("path", nargs="?", default="/", metavar="PATH", help="node to export (default /)")
    _timeout_argument(parser)


@command("export", "write the tree at PATH in the text (zc.zk) or YAML form")(_export_arguments)
@_friendly
def export(args: argparse.Namespace) -> int:
    form = args.format
    if form is None:
        form = "yaml" if args.output and args.output.lower().endswith((".yaml", ".yml")) else "text"
    progress = _Progress.on_terminal("export")
    with _connect(args) as zk:
        text = zk.export_tree(args.path, ephemeral=args.ephemeral, name=args.name, format=form, progress=progress)
    if progress is not None:
        progress.finish(f"{_count_nodes(text, form)} nodes")
    if args.output:
        _write_atomically(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


def _count_nodes(text: str, form: str) -> int:
    if form == "text":
        return sum(1 for line in text.splitlines() if line.lstrip().startswith("/"))
    from ._tree import iter_nodes, parse_tree

    return sum(1 for _ in iter_nodes(parse_tree(text))) if text else 0


def _write_atomically(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(prefix=".zkservices-export-", dir=directory)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    # mkstemp makes the file 0600: give it the mode the file had, else the
    # usual one (0666 less the umask), as a plain write would
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), mode)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None


# ---------------------------------------------------------------------------
# import and validate


def _import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="print the changes, write nothing")
    trim = parser.add_mutually_exclusive_group()
    trim.add_argument("--trim", dest="trim", action="store_const", const=True, default=None,
                      help="delete nodes below the imported top-level nodes that FILE does not list "
                           "(never ephemeral nodes)")
    trim.add_argument("--no-trim", dest="trim", action="store_const", const=False,
                      help="keep such nodes without a warning")
    parser.add_argument("file", metavar="FILE", help="tree file (text or YAML, detected), or - for stdin")
    parser.add_argument("path", nargs="?", default="/", metavar="PATH",
                        help="import below this node (default /; links followed, created if missing)")
    _timeout_argument(parser)


@command("import", "import a tree file (text or YAML) below PATH; prints the changes")(_import_arguments)
@_friendly
def import_(args: argparse.Namespace) -> int:
    from ._tree import check_tree

    data, filename = _read_input(args.file)
    # Before connecting, a bad file needs no server: syntax, names, sizes.
    # Not property links: checked as if imported at '/', a relative link
    # ('../../b/c x') refused files import_tree accepts below PATH; import_tree
    # checks them where the tree really goes, naming the line just the same.
    tree = check_tree(data, filename=filename, links=False).root
    progress = _Progress.on_terminal("import")
    with _connect(args) as zk:
        changes = zk.import_tree(
            tree, args.path, trim=args.trim, dry_run=args.dry_run, filename=filename, progress=progress
        )
    for change in changes:
        print(change)
    if progress is not None:
        progress.finish(f"{len(changes)} change(s){' planned' if args.dry_run else ''}")
    if args.dry_run:
        print(f"dry run: {len(changes)} change(s) planned, nothing written", file=sys.stderr)
    return 0


def _validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="tree file (text or YAML, detected), or - for stdin")


@command("validate", "check a tree file as import would, without a server")(_validate_arguments)
@_friendly
def validate(args: argparse.Namespace) -> int:
    from ._tree import check_tree

    data, filename = _read_input(args.file)
    checked = check_tree(data, filename=filename)
    unchecked = checked.unchecked_links
    print(f"{filename}: ok, {len(checked.items)} node(s)")
    if unchecked:
        print(
            f"{filename}: {len(unchecked)} property link(s) lead out of the file and are checked on import: "
            + ", ".join(unchecked[:5]) + (", ..." if len(unchecked) > 5 else ""),
            file=sys.stderr,
        )
    return 0


# ---------------------------------------------------------------------------
# set-property


_LINK_ASSIGNMENT = re.compile(r"(.+? (?:->|=>))=(.*)", re.DOTALL)


def _assignment(text: str) -> tuple[str, Any]:
    from ._tree import key_problem, link_value_problem

    match = _LINK_ASSIGNMENT.fullmatch(text)
    if match:  # 'db ->=/x', 't =>=../cms threads': link values are text
        # Refuse what no tree form can hold (an empty target, 'a/b ->'):
        # the core stores it, and then every export of the tree failed.
        # White space around a link value is never meant ('db ->= /x').
        key, value = match.group(1), match.group(2).strip()
        problem = key_problem(key) or link_value_problem(key[-2:], value)
        if problem:
            raise argparse.ArgumentTypeError(f"{text!r}: {problem}")
        return key, value
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected name=VALUE, got {text!r}")
    problem = key_problem(name)  # ('/x=1': export could not write it)
    if problem:
        raise argparse.ArgumentTypeError(f"{text!r}: {problem}")
    return name, parse_value(value)


def _set_property_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="the node (links followed)")
    parser.add_argument("assignments", metavar="name=VALUE", nargs="+", type=_assignment,
                        help="VALUE is JSON; other text is a string")
    _timeout_argument(parser)


@command("set-property", "set properties of a node (VALUE as JSON, else as text)")(_set_property_arguments)
@_friendly
def set_property(args: argparse.Namespace) -> int:
    with _connect(args) as zk:
        view = zk.properties(args.path, watch=False)
        view.update(dict(args.assignments))
    return 0


# ---------------------------------------------------------------------------
# tree, ls, get


def _path_arguments(default: str | None) -> Callable[[argparse.ArgumentParser], None]:
    def add(parser: argparse.ArgumentParser) -> None:
        if default is None:
            parser.add_argument("path", metavar="PATH", help="the node (links followed)")
        else:
            parser.add_argument("path", nargs="?", default=default, metavar="PATH",
                                help=f"the node (default {default}; links followed)")
        _timeout_argument(parser)

    return add


@command("tree", "print the tree at PATH, ephemeral nodes included")(_path_arguments("/"))
@_friendly
def tree(args: argparse.Namespace) -> int:
    with _connect(args) as zk:
        zk.print_tree(args.path)
    return 0


@command("ls", "list the children of PATH, one per line")(_path_arguments("/"))
@_friendly
def ls(args: argparse.Namespace) -> int:
    with _connect(args) as zk:
        names = sorted(zk.get_children(zk.resolve(args.path)))
    for name in names:
        print(name)
    return 0


@command("get", "print the properties of PATH as JSON (property links followed)")(_path_arguments(None))
@_friendly
def get(args: argparse.Namespace) -> int:
    with _connect(args) as zk:
        properties = zk.get_properties(args.path)
    print(json.dumps(properties, indent=2, sort_keys=True, ensure_ascii=False))
    return 0


# ---------------------------------------------------------------------------
# watch


@command("watch", "print the children and properties of PATH and every change until interrupted")(
    _path_arguments(None)
)
@_friendly
def watch(args: argparse.Namespace) -> int:
    from .errors import BadPropertyLink, LinkLoop

    lock = threading.Lock()
    path = args.path

    def emit(line: str) -> None:
        with lock:
            print(line, flush=True)

    def dumps(value: Any) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)

    def on_children(children: Any = None) -> None:
        if children is not None:
            emit(f"children {path} {dumps(sorted(children))}")

    def on_properties(properties: Any = None) -> None:
        if properties is None:
            emit(f"deleted {path}")
            return
        shown = {}
        for key in properties:
            try:
                shown[key] = properties[key]
            except (BadPropertyLink, LinkLoop) as exc:
                shown[key] = f"<bad link: {exc}>"
        emit(f"properties {path} {dumps(shown)}")

    with _connect(args) as zk:
        zk.children(path)(on_children)
        zk.properties(path)(on_properties)
        for _ in _forever():
            pass
    return 0  # pragma: no cover - only an interrupt ends the loop


def _forever() -> Iterator[None]:
    while True:
        time.sleep(3600)
        yield None
