"""Planning an import or a deletion: the :class:`Change` objects to apply, in order.

The plans that read the server are steps (:func:`import_base`, :func:`plan_import`:
generators yielding their round trips, run by either driver).

An import plan holds creates and data changes parents first, then deletions
(children first), then ACL changes.  Data changes and deletions carry the
version they were planned against, so that applying them fails (and the
caller plans again) when another client changed the tree meanwhile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from kazoo.security import ACL, Id, make_digest_acl_credential

from .._znode.encoding import decode
from .._znode.links import LINK_SUFFIX, MAX_LINK_DEPTH, NodeExists, ReadProperties, serve
from .._znode.paths import join, split
from ..errors import LinkLoop
from .._steps.links import node_exists, read_properties
from .._steps.requests import Step
from .checks import Item, checking_links
from .model import same_json
from .read import Progress, Znode, exported, read_nodes

__all__ = ["Change", "Op", "plan_import", "import_base", "deletions", "log_changes"]

log = logging.getLogger("zkservices.tree")


@dataclass(frozen=True)
class Change:
    """One change made (or planned) by ``import_tree`` or ``delete_recursive``.

    ``action`` is ``'create'``, ``'set'`` (node data), ``'acl'`` or
    ``'delete'``; ``path`` the real node path (below the session's chroot);
    ``data`` the node data written by a create or set; ``acl`` the ACL list
    given to a create or acl change (``None``: the client's default).
    ``str(change)`` is one readable line: ``create /a/b {"x":1}``,
    ``set /a {"x":2}``, ``acl /a world:anyone:r``, ``delete /a/old``.
    """

    action: str
    path: str
    data: bytes | None = None
    acl: tuple[ACL, ...] | None = None

    @property
    def properties(self) -> dict[str, Any] | None:
        """The properties written (decoded ``data``), or None for acl/delete."""
        return None if self.data is None else decode(self.data)

    def __str__(self) -> str:
        if self.action == "create":
            shown = _shorten(self.data) if self.data not in (None, b"", b"{}") else ""
            return f"create {self.path}" + (f" {shown}" if shown else "")
        if self.action == "set":
            return f"set {self.path} {_shorten(self.data)}"
        if self.action == "acl":
            return f"acl {self.path} {_acl_text(self.acl)}"
        return f"{self.action} {self.path}"


def _shorten(data: bytes | None, limit: int = 200) -> str:
    text = (data or b"").decode("utf-8", "replace")
    return text if len(text) <= limit else text[: limit - 1] + "…"


_PERMISSION_LETTERS = (("r", 1), ("w", 2), ("c", 4), ("d", 8), ("a", 16))


def _acl_text(acl: Sequence[ACL] | None) -> str:
    if acl is None:
        return "(default)"
    parts = []
    for entry in acl:
        letters = "".join(letter for letter, bit in _PERMISSION_LETTERS if entry.perms & bit)
        parts.append(f"{entry.id.scheme}:{entry.id.id}:{letters or '-'}")
    return ",".join(parts) or "(none)"


class Op:
    """A planned change plus what applying it needs (the expected version; -1: any).

    Light (a plan holds one per node); its :class:`Change` is made when it is
    reported (``op.change``).
    """

    __slots__ = ("action", "path", "data", "acl", "version")

    def __init__(
        self, action: str, path: str, data: bytes | None = None, acl: tuple[ACL, ...] | None = None, version: int = -1
    ) -> None:
        self.action = action
        self.path = path
        self.data = data
        self.acl = acl
        self.version = version

    @property
    def change(self) -> Change:
        """The change this op makes."""
        return Change(self.action, self.path, self.data, self.acl)

    def __repr__(self) -> str:
        return f"Op({self.change}, version={self.version})"


def log_changes(changes: Iterable[Change], *, dry_run: bool = False) -> None:
    """Log each change at INFO on ``zkservices.tree`` (``dry run: `` first for a plan)."""
    if not log.isEnabledFor(logging.INFO):
        return
    for change in changes:
        log.info("%s%s", "dry run: " if dry_run else "", change)


def import_base(path: str) -> Step[tuple[str, list[str]]]:
    """The real path to import into, and its missing ancestors (to create, top first).

    Follows symbolic links like writes do (a real node wins over a link of
    the same name; a dangling link's target is created).  Walks up from
    ``path`` one node at a time, so paths of any depth work.

    :raises LinkLoop: symbolic links in ``path`` loop, or more than
        ``MAX_LINK_DEPTH`` of them are followed.
    """
    followed: list[str] = []
    while True:
        below: list[str] = []  # names below the deepest existing node, deepest first
        current = path
        while current != "/" and not (yield from node_exists(current)):
            current, name = split(current)
            below.append(name)
        below.reverse()
        if below:
            target = ((yield from read_properties(current)) or {}).get(below[0] + LINK_SUFFIX)
            if isinstance(target, str) and target.strip():
                link = join(current, below[0])
                if link in followed:
                    raise LinkLoop("symbolic link loop: " + " -> ".join(followed + [link]))
                if len(followed) >= MAX_LINK_DEPTH:
                    raise LinkLoop(f"{followed[0]}: too many levels of symbolic links")
                followed.append(link)
                path = join(current, target.strip())
                for name in below[1:]:
                    path = join(path, name)
                continue
        missing = []
        for name in below:
            current = join(current, name)
            missing.append(current)
        return current, missing


def plan_import(
    items: list[Item],
    real: str,
    missing: list[str],
    trim: bool | None,
    acl: tuple[ACL, ...] | None,
    filename: str | None,
    dry_run: bool,
    progress: Progress | None,
    attempt: int,
    auth: Sequence[tuple[str, str]] = (),
) -> Step[list[Op]]:
    """The changes that make the server hold ``items`` (prepared at ``real``), checked.

    Reads what is there (pipelined), plans creates, data and ACL changes,
    and deletions for ``trim``; then checks every property link of the tree
    against the tree as it will be (TreeError naming the line if one is bad).
    ``attempt`` counts the plan-and-apply rounds (warnings only on the first);
    ``auth`` is the session's ``(scheme, credential)`` pairs (``auth`` ACL entries).
    """
    tree: dict[str, Any] = {}  # path -> node of the tree, made when first needed

    def in_tree() -> dict[str, Any]:
        if not tree and items:
            tree.update((p, node) for p, node, _ in items)
        return tree

    wanted = _expand_acl(auth, acl) if acl is not None else None

    def want_children(p: str, node: Znode) -> bool:
        imported = in_tree().get(p)
        if imported is None:
            return trim is True
        return bool(imported.children) or trim is not False

    def select(p: str, names: list[str]) -> Iterable[str]:
        imported = in_tree().get(p)
        if imported is None or trim is not False:
            return names
        return [n for n in names if n in imported.children]

    if missing:
        existing: dict[str, Znode] = {}
    else:
        prefix = real.rstrip("/") + "/"
        existing = yield from read_nodes(
            [p for p, _node, _data in items if "/" not in p[len(prefix):]],
            want_children=want_children,
            select=select,
            want_acl=lambda p: wanted is not None and p in in_tree(),
            progress=progress,
        )

    plan: list[Op] = [Op("create", p, b"", acl) for p in missing]
    if not existing:
        plan.extend([Op("create", p, data, acl) for p, _node, data in items])
    for p, node, data in items if existing else ():
        current = existing.get(p)
        if current is None:
            plan.append(Op("create", p, data, acl))
            continue
        # (compared as export shows it: re-importing an export leaves data it could not show alone)
        if current.data != data and not same_json(exported(p, current.data), node.properties):
            plan.append(Op("set", p, data, None, current.stat.version))
        if wanted is not None and current.acl is not None and not _same_acl(current.acl, wanted):
            plan.append(Op("acl", p, None, acl, current.acl_version))

    # nodes that are there but not in the tree
    removals: list[Op] = []
    for p, node, _data in items if existing else ():
        current = existing.get(p)
        if current is None or current.children is None or trim is False:
            continue
        for child_name in current.children:
            if child_name in node.children:
                continue
            extra = join(p, child_name)
            extra_node = existing.get(extra)
            if extra_node is None:
                continue  # deleted meanwhile
            if trim is None:
                if not extra_node.stat.ephemeralOwner and attempt == 1:
                    log.warning("%s is not in the imported tree; not trimmed (trim=True deletes it)", extra)
                continue
            removals.extend(deletions(  # (registrations below config nodes are expected)
                extra, existing, False, dry_run=dry_run, ephemeral_level=logging.DEBUG, ancestor_level=logging.INFO
            ))
    plan.extend(removals)

    # property links must resolve in the tree as it will be
    deleted = {op.path for op in removals}
    created: set[str] = set()  # made when first needed
    made: list[bool] = []

    def exists(p: str) -> Step[bool]:
        if not made:
            created.update(op.path for op in plan if op.action == "create")
            made.append(True)
        tree = in_tree()
        if p == "/" or p in tree or p in created:
            return True
        if p in deleted:
            return False
        if p in existing:
            return True
        parent, name = split(p)
        if parent in created:
            return False
        listed = existing.get(parent)
        if listed is not None and listed.children is not None:
            return name in listed.children
        return (yield from node_exists(p))

    def read(p: str) -> Step[dict | None]:
        tree = in_tree()
        if p in tree:
            return tree[p].properties
        if not (yield from exists(p)):
            return None
        if p in created:
            return {}
        if p in existing:
            return decode(existing[p].data)
        return (yield from read_properties(p))

    def ask(query: Any) -> Step[Any]:
        if query.__class__ is ReadProperties:
            return (yield from read(query.path))
        assert query.__class__ is NodeExists
        return (yield from exists(query.path))

    yield from serve(checking_links(items, filename), ask)
    return plan


def _expand_acl(auth: Sequence[tuple[str, str]], acl: Sequence[ACL]) -> list[ACL]:
    """``acl`` as the server stores it: ``auth`` entries become this session's digest ids."""
    expanded = []
    for entry in acl:
        if entry.id.scheme == "auth":
            for scheme, credential in auth:
                if scheme == "digest" and ":" in credential:
                    user, password = credential.split(":", 1)
                    expanded.append(ACL(entry.perms, Id("digest", make_digest_acl_credential(user, password))))
        else:
            expanded.append(entry)
    return expanded


def _same_acl(current: Sequence[ACL] | None, wanted: Sequence[ACL]) -> bool:
    if current is None:
        return False
    return {(a.perms, a.id.scheme, a.id.id) for a in current} == {(a.perms, a.id.scheme, a.id.id) for a in wanted}


def deletions(
    top: str, nodes: dict[str, Znode], force: bool, *, dry_run: bool, ephemeral_level: int, ancestor_level: int
) -> list[Op]:
    """Deletes for ``top`` and what is below it (as read into ``nodes``), children first.

    Ephemeral nodes (unless ``force``) and their ancestors are kept and
    logged: ephemeral ones at ``ephemeral_level``, the nodes above them at
    ``ancestor_level``.  ``/`` itself is never deleted.
    """
    plan: list[Op] = []
    keep: set[str] = set()
    prefix = "dry run: " if dry_run else ""
    order: list[tuple[str, list[str]]] = []
    pending = [top]
    while pending:  # pre-order; reversed below, every node comes after what is below it
        path = pending.pop()
        prefix_path = path if path != "/" else ""
        kids = [f"{prefix_path}/{name}" for name in nodes[path].children or ()]
        kids = [kid for kid in kids if kid in nodes]
        order.append((path, kids))
        pending.extend(kids)
    for path, kids in reversed(order):
        if path == "/":
            continue
        if nodes[path].stat.ephemeralOwner and not force:
            keep.add(path)
            log.log(ephemeral_level, "%snot deleting %s: it is an ephemeral node", prefix, path)
        elif any(kid in keep for kid in kids):
            keep.add(path)
            log.log(ancestor_level, "%snot deleting %s: it has ephemeral nodes below it", prefix, path)
        else:
            plan.append(Op("delete", path))
    return plan
