"""Property commands: ``set-property PATH name=VALUE...`` and ``unset-property PATH NAME...``.

Decisions:

- VALUE is JSON (``3``, ``true``, ``"x"``, ``[1]``); other text is taken as a
  string, never evaluated.  Links are set with their full key:
  ``'db ->=/databases/main'``, ``'t =>=../cms threads'`` (white space around a
  link value is dropped; names and link values that no tree form could export
  are usage errors).  The update is version-checked (merges).  A symbolic
  link whose target does not exist is set, with a warning.
- ``unset-property`` removes each NAME (a property link ``NAME =>`` too; a
  symbolic link by its full key ``'db ->'``).  A NAME the node does not have
  is exit 1 before anything is written.
- PATH follows symbolic links; the write lands on the real node.
"""

from __future__ import annotations

import argparse

from .args import CommandError, add_timeout, command, property_assignment
from .links import warn_dangling_links
from .session import connect, friendly

__all__: list[str] = []

_PROPERTY_LINK_SUFFIX = " =>"


def _set_property_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="the node (links followed)")
    parser.add_argument("assignments", metavar="name=VALUE", nargs="+", type=property_assignment,
                        help="VALUE is JSON; other text is a string")
    add_timeout(parser)


@command("set-property", "set properties of a node (VALUE as JSON, else as text)")(_set_property_arguments)
@friendly
def set_property(args: argparse.Namespace) -> int:
    assignments = dict(args.assignments)
    with connect(args) as zk:
        view = zk.properties(args.path, watch=False)
        view.update(assignments)
        warn_dangling_links(zk, zk.resolve(args.path), assignments, args.command)
    return 0


def _unset_property_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="the node (links followed)")
    parser.add_argument("names", metavar="NAME", nargs="+", help="property names ('db ->' for a symbolic link)")
    add_timeout(parser)


@command("unset-property", "remove properties of a node")(_unset_property_arguments)
@friendly
def unset_property(args: argparse.Namespace) -> int:
    import json

    with connect(args) as zk:
        real = zk.resolve(args.path)
        data, _ = zk.get(real)
        try:
            own = json.loads(data.decode("utf-8")) if data else {}
        except ValueError:
            own = None
        if not isinstance(own, dict):
            raise CommandError(f"{real} holds no properties (its data is not a JSON object)")
        missing = [name for name in args.names if name not in own and name + _PROPERTY_LINK_SUFFIX not in own]
        if missing:
            raise CommandError(f"{real} has no property {', '.join(repr(name) for name in missing)}; nothing removed")
        view = zk.properties(real, watch=False)
        for name in dict.fromkeys(args.names):
            del view[name]
    return 0
