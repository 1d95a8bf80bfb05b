"""Node commands: ``tree``, ``ls``, ``get``, ``watch`` and ``rm``.

Decisions:

- ``tree``, ``ls``, ``get`` and ``watch`` follow symbolic links in PATH;
  ``rm`` does not (it removes the node or link holder named, never a link's
  target).
- ``watch PATH`` prints ``children PATH [...]``, ``properties PATH {...}``
  (property links followed) and ``deleted PATH`` lines, the current state
  first, then one line per change, until interrupted (exit 130).
- ``rm PATH`` refuses a node with children unless ``-r`` is given (then the
  whole subtree goes, ephemeral nodes included); a missing node is exit 1.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from typing import Any, Callable, Iterator

from .args import CommandError, add_timeout, command
from .session import connect, friendly

__all__: list[str] = []


def _path_arguments(default: str | None) -> Callable[[argparse.ArgumentParser], None]:
    def add(parser: argparse.ArgumentParser) -> None:
        if default is None:
            parser.add_argument("path", metavar="PATH", help="the node (links followed)")
        else:
            parser.add_argument("path", nargs="?", default=default, metavar="PATH",
                                help=f"the node (default {default}; links followed)")
        add_timeout(parser)

    return add


@command("tree", "print the tree at PATH, ephemeral nodes included")(_path_arguments("/"))
@friendly
def tree(args: argparse.Namespace) -> int:
    with connect(args) as zk:
        zk.print_tree(args.path)
    return 0


@command("ls", "list the children of PATH, one per line")(_path_arguments("/"))
@friendly
def ls(args: argparse.Namespace) -> int:
    with connect(args) as zk:
        names = sorted(zk.get_children(zk.resolve(args.path)))
    for name in names:
        print(name)
    return 0


@command("get", "print the properties of PATH as JSON (property links followed)")(_path_arguments(None))
@friendly
def get(args: argparse.Namespace) -> int:
    with connect(args) as zk:
        properties = zk.get_properties(args.path)
    print(json.dumps(properties, indent=2, sort_keys=True, ensure_ascii=False))
    return 0


# ---------------------------------------------------------------------------
# watch


@command("watch", "print the children and properties of PATH and every change until interrupted")(
    _path_arguments(None)
)
@friendly
def watch(args: argparse.Namespace) -> int:
    from ..errors import BadPropertyLink, LinkLoop

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

    with connect(args) as zk:
        zk.children(path)(on_children)
        zk.properties(path)(on_properties)
        for _ in _forever():
            pass
    return 0  # pragma: no cover - only an interrupt ends the loop


def _forever() -> Iterator[None]:
    while True:
        time.sleep(3600)
        yield None


# ---------------------------------------------------------------------------
# rm


def _rm_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-r", "--recursive", action="store_true", help="also delete everything below PATH")
    parser.add_argument("path", metavar="PATH", help="the node (symbolic links not followed)")
    add_timeout(parser)


@command("rm", "delete the node PATH (-r: with everything below it)")(_rm_arguments)
@friendly
def rm(args: argparse.Namespace) -> int:
    from kazoo.exceptions import NotEmptyError

    from .._znode.paths import check_path

    try:
        path = check_path(args.path)
    except ValueError as exc:
        args.parser.error(str(exc))
    if path == "/":
        args.parser.error("refusing to delete the root node /")
    with connect(args) as zk:
        if zk.client.exists(path) is None:  # (not through symbolic links)
            parent, _, name = path.rpartition("/")
            if f"{name} ->" in zk.get_properties(parent or "/") if zk.client.exists(parent or "/") else False:
                raise CommandError(f"{path} is a symbolic link, not a node: "
                                   f"unset-property {parent or '/'} '{name} ->' removes the link")
            raise CommandError(f"no such node: {path}")
        try:
            zk.delete(path, recursive=args.recursive)
        except NotEmptyError:
            count = len(zk.get_children(path))
            raise CommandError(f"{path} is not empty ({count} child node(s)); use -r to delete it "
                               "with everything below it") from None
    return 0
