"""Tree commands: ``export``, ``import`` and ``validate``.

Decisions:

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
- ``import``/``export`` show progress on stderr only when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import sys

from .args import add_timeout, command
from .links import warn_dangling_in_changes, warn_dangling_in_file
from .output import Progress, read_input, write_atomically
from .session import connect, friendly

__all__: list[str] = []


# ---------------------------------------------------------------------------
# export


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-e", "--ephemeral", action="store_true", help="include ephemeral nodes")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of stdout")
    parser.add_argument("--format", choices=("text", "yaml"), default=None,
                        help="text (zc.zk's form; the default) or yaml (the default for -o *.yaml/*.yml)")
    parser.add_argument("--name", default=None, help="rename the top node of the export")
    parser.add_argument("path", nargs="?", default="/", metavar="PATH", help="node to export (default /)")
    add_timeout(parser)


@command("export", "write the tree at PATH in the text (zc.zk) or YAML form")(_export_arguments)
@friendly
def export(args: argparse.Namespace) -> int:
    form = args.format
    if form is None:
        form = "yaml" if args.output and args.output.lower().endswith((".yaml", ".yml")) else "text"
    progress = Progress.on_terminal("export")
    with connect(args) as zk:
        text = zk.export_tree(args.path, ephemeral=args.ephemeral, name=args.name, format=form, progress=progress)
    if progress is not None:
        progress.finish(f"{_count_nodes(text, form)} nodes")
    if args.output:
        write_atomically(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


def _count_nodes(text: str, form: str) -> int:
    if form == "text":
        return sum(1 for line in text.splitlines() if line.lstrip().startswith("/"))
    from .._tree import iter_nodes, parse_tree

    return sum(1 for _ in iter_nodes(parse_tree(text))) if text else 0


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
    add_timeout(parser)


@command("import", "import a tree file (text or YAML) below PATH; prints the changes")(_import_arguments)
@friendly
def import_(args: argparse.Namespace) -> int:
    from .._tree import check_tree

    data, filename = read_input(args.file)
    # Before connecting, a bad file needs no server: syntax, names, sizes.
    # Not property links: checked as if imported at '/', a relative link
    # ('../../b/c x') refused files import_tree accepts below PATH; import_tree
    # checks them where the tree really goes, naming the line just the same.
    tree = check_tree(data, filename=filename, links=False).root
    progress = Progress.on_terminal("import")
    with connect(args) as zk:
        changes = zk.import_tree(
            tree, args.path, trim=args.trim, dry_run=args.dry_run, filename=filename, progress=progress
        )
        warn_dangling_in_changes(zk, changes, args.command)
    for change in changes:
        print(change)
    if progress is not None:
        progress.finish(f"{len(changes)} change(s){' planned' if args.dry_run else ''}")
    if args.dry_run:
        print(f"dry run: {len(changes)} change(s) planned, nothing written", file=sys.stderr)
    return 0


def _validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="tree file (text or YAML, detected), or - for stdin")


@command("validate", "check a tree file as import would, without a server", connects=False)(_validate_arguments)
@friendly
def validate(args: argparse.Namespace) -> int:
    from .._tree import check_tree

    data, filename = read_input(args.file)
    checked = check_tree(data, filename=filename)
    unchecked = checked.unchecked_links
    print(f"{filename}: ok, {len(checked.items)} node(s)")
    if unchecked:
        print(
            f"{filename}: {len(unchecked)} property link(s) lead out of the file and are checked on import: "
            + ", ".join(unchecked[:5]) + (", ..." if len(unchecked) > 5 else ""),
            file=sys.stderr,
        )
    warn_dangling_in_file(checked.items, filename, args.command)
    return 0
