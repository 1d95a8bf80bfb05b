"""Warnings for dangling symbolic links (``name -> target`` whose target does not exist).

A dangling link is no error -- its target may be created later -- but an
operator wants to know: ``validate``, ``import`` and ``set-property`` log one
WARNING per such link they read or write, naming the node, the link and its target.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Iterator, Mapping

from .._tree import Node
from .._znode.links import LINK_SUFFIX
from .._znode.paths import join

__all__ = ["symbolic_links", "warn_dangling_in_file", "warn_dangling_in_changes", "warn_dangling_links"]

log = logging.getLogger("zkservices.cli")


def symbolic_links(path: str, properties: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(key, absolute target)`` of each symbolic link among the properties of the node at ``path``."""
    for key, value in properties.items():
        if key.endswith(LINK_SUFFIX) and isinstance(value, str) and value.strip():
            yield key, join(path, value.strip())


def _warn(command: str, path: str, key: str, target: str, why: str) -> None:
    log.warning("%s: symbolic link %s '%s' leads to %s, %s", command, path, key, target, why)


def warn_dangling_in_file(items: Iterable[tuple[str, Node, bytes]], filename: str, command: str) -> int:
    """Warn for links of a checked tree file that lead to a node missing below one of its own top nodes.

    Links out of the file's subtrees cannot be judged without a server and
    are not reported.  Returns the number of warnings.
    """
    items = list(items)
    paths = {path for path, _, _ in items}
    tops = {"/" + path.split("/")[1] for path in paths}
    warned = 0
    for path, node, _ in items:
        for key, target in symbolic_links(path, node.properties):
            if target not in paths and ("/" + target.split("/")[1]) in tops and target != "/":
                _warn(command, path, key, target, f"which {filename} does not hold")
                warned += 1
    return warned


def warn_dangling_links(zk: Any, path: str, properties: Mapping[str, Any], command: str,
                        planned: frozenset[str] = frozenset()) -> int:
    """Warn for each symbolic link of the node ``path`` whose target does not exist on the server.

    ``planned``: paths a dry run would create (links to them do not dangle).
    """
    warned = 0
    for key, target in symbolic_links(path, properties):
        if target in planned:
            continue
        try:
            zk.resolve(target)
        except Exception:  # NoNode, a link loop...: the link leads nowhere
            _warn(command, path, key, target, "which does not exist")
            warned += 1
    return warned


def warn_dangling_in_changes(zk: Any, changes: Iterable[Any], command: str) -> int:
    """Warn for each symbolic link written by ``changes`` (creates and sets) whose target does not exist.

    Links an import leaves as they were are not reported again.
    """
    changes = list(changes)
    planned = frozenset(change.path for change in changes if change.action == "create")
    return sum(warn_dangling_links(zk, change.path, change.properties or {}, command, planned)
               for change in changes if change.action in ("create", "set"))
