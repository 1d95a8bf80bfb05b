"""The tree operations of a session: import, export, walk, delete, is_ephemeral.

Each takes the session core (``zk.core``) and talks to the server in
pipelined batches (many requests in flight, answered in order) rather than
one call at a time: a 10,000-node tree is read with
``get_async``/``get_children_async`` and written with multi-op transactions
sent back to back.  ``walk`` is lazy and reads each node when it gets to it.
Trees of any depth are handled without recursion.

``import_tree`` and ``delete_recursive`` first check everything, then plan
the changes (:mod:`.plan`) and apply them (:mod:`.apply`).  Data changes are
version-checked: when another client changed a node between our read and
our write (or created or deleted one), the batch fails as a whole, and the
operation reads again, plans again and applies what is still missing (up to
:data:`ATTEMPTS` times).

Decisions:

- Node data is written as compact UTF-8 JSON objects, as ``encode`` writes
  them (``{}`` for a node without properties); the import path's missing
  ancestors are created with empty data.
- Node data that is not a JSON object reads (and exports) as a
  ``string_value`` property holding the text (undecodable bytes replaced by
  U+FFFD).  Importing that export writes ``{"string_value": ...}`` only where
  the node's decoded properties differ: over an unchanged node it leaves the
  original data alone.  The same holds for JSON objects no tree form can
  hold (``NaN``, empty or ``/`` keys, a non-string link target, values nested
  more than 100 levels, ...) and for JSON nested too deeply to decode: such
  a node exports as ``string_value`` (with a WARNING naming it) instead of
  failing the export.
- ``export_tree('/a')`` has a top node ``/a`` holding ``/a``'s properties (zc.zk);
  ``name`` renames that top node.  ``export_tree('/')`` lists the top-level
  nodes; with ``name`` they are wrapped in a top node of that name holding
  the root's properties (without ``name`` they are left out, with a
  WARNING).  Exporting through a symbolic link reads the real node but
  keeps the name given.  A missing start node (a chroot that does not
  exist, too) raises NoNodeError, also for ``walk``.
- ``delete_recursive(path)`` follows links in ``path``'s parents; its last
  segment must be a real node (deleting a link's target tree through the
  link would be a surprise: remove a link by deleting its ``name ->``
  property).  ``is_ephemeral`` and ``walk`` follow links fully; ``walk``
  yields real paths.
- ``acl=None`` creates nodes with the session's default ACL (open without
  ``auth``; with ``auth`` world-read and all rights for the identity) and
  leaves existing nodes' ACLs alone.
"""

from __future__ import annotations

import logging
import sys
from collections import deque
from typing import Any, Callable, Iterator, Sequence

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, NotEmptyError
from kazoo.security import ACL

from .._session.drivers import run
from .._session.retry import RETRYABLE
from .._steps.links import resolve
from .._steps.requests import Step, exists
from .._znode.paths import check_path, join, split
from . import apply
from .checks import TreeInput, as_tree_encoded, prepare_tree
from .core import SessionCore
from .formats import FORMATS, emit_checked
from .model import Node
from .plan import Change, Op, deletions, import_base, log_changes, plan_import
from .read import Progress, Znode, everything, exported, read_nodes
from .rules import RESERVED_TOP_LEVEL, node_name_problem

__all__ = [
    "is_ephemeral", "export_tree", "print_tree", "walk", "delete_recursive", "import_tree", "ATTEMPTS",
    "exporting", "deleting", "importing", "Apply",
]

log = logging.getLogger("zkservices.tree")

ATTEMPTS = 5  # plan-and-apply rounds when other clients change the tree meanwhile
_CONFLICTS = (NodeExistsError, NoNodeError, BadVersionError, NotEmptyError)

#: How a step applies a plan: ``apply(plan, progress)``, a step returning the
#: changes applied and the first error (default: :func:`~.apply.applying`).
Apply = Callable[[list[Op], "Progress | None"], Step[tuple[list[Change], "BaseException | None"]]]


def _applying_on(core: SessionCore) -> Apply:
    """The blocking front's ``apply``: :func:`.apply.apply_plan` on ``core`` (looked up
    when called), as a step that makes its round trips itself."""

    def apply_step(plan: list[Op], progress: Progress | None) -> Step[tuple[list[Change], BaseException | None]]:
        return apply.apply_plan(core, plan, progress=progress)
        yield  # (a generator: a step, for the blocking driver only)

    return apply_step


def _missing(path: str, real: str) -> NoNodeError:
    return NoNodeError(f"{path}: no such node" + (f" ({real})" if real != path else ""))


def is_ephemeral(core: SessionCore, path: str) -> bool:
    """Whether the node at ``path`` (symbolic links followed) is ephemeral.

    :param core: the session core.
    :param path: the node.
    :raises NoNodeError: there is no node at ``path``.
    :raises LinkLoop: symbolic links in ``path`` loop.
    """
    real = core.resolve(check_path(path))
    stat = core.retry(core.client.exists, real)
    if stat is None:
        raise NoNodeError(path)
    return bool(stat.ephemeralOwner)


# ---------------------------------------------------------------------------
# export


def export_tree(
    core: SessionCore,
    path: str = "/",
    ephemeral: bool = False,
    name: str | None = None,
    format: str = "text",
    *,
    progress: Progress | None = None,
) -> str:
    """The tree at ``path`` in the text or YAML form, read pipelined.

    :param core: the session core.
    :param path: the top node (links followed; the export keeps the name given).
    :param ephemeral: include ephemeral nodes.
    :param name: rename the top node (with ``path='/'``: wrap the top-level nodes in it).
    :param format: ``'text'`` or ``'yaml'``.
    :param progress: ``progress(phase, done, total)``, called now and then while reading.
    :returns: the tree as text (``""`` for an ephemeral top node left out).
    :raises ValueError: an unknown ``format`` or an invalid ``name``.
    :raises NoNodeError: ``path`` does not exist (or the chroot is missing).
    """
    return run(core, exporting(path, ephemeral, name, format, progress=progress))


def exporting(
    path: str = "/",
    ephemeral: bool = False,
    name: str | None = None,
    format: str = "text",
    *,
    progress: Progress | None = None,
) -> Step[str]:
    """:func:`export_tree` as a step (either driver runs it)."""
    if format not in FORMATS:
        raise ValueError(f"unknown tree format {format!r}; expected one of {', '.join(FORMATS)}")
    check_path(path)
    if name is not None:
        problem = node_name_problem(name)
        if problem:
            raise ValueError(f"invalid top node name {name!r}: {problem}")
    real = yield from resolve(path)
    nodes = yield from read_nodes(
        [real],
        want_children=lambda p, node: True,
        select=everything,
        skip=lambda p, node: bool(node.stat.ephemeralOwner) and not ephemeral,
        progress=progress,
    )
    if real not in nodes and (yield exists(real)) is None:
        # a missing chroot resolves to '/' and reads as nothing: an error,
        # not an empty export (an empty backup)
        raise _missing(path, real)
    return emit_checked(_tree_of(nodes, real, path, name), format=format)  # (exported() checked them)


def _tree_of(nodes: dict[str, Znode], real: str, path: str, name: str | None) -> Node:
    root = Node()
    if real not in nodes:  # ephemeral and not wanted, or deleted meanwhile
        return root
    if real == "/" and name is None:
        top = root
        # the root's properties have no place in this export: say so rather than lose them quietly
        # (a chroot's root node often holds them)
        dropped = exported(real, nodes[real].data)
        if dropped:
            log.warning("exporting %s leaves out its own properties (%s); give a name to keep them",
                        path, ", ".join(sorted(dropped)))
    else:
        top_name = name if name is not None else split(path)[1]
        top = Node(top_name, exported(real, nodes[real].data, warn=True))
        root.children[top_name] = top
    pending = [(real, top)]
    while pending:
        parent_path, parent = pending.pop()
        for child_name in nodes[parent_path].children or ():
            child_path = join(parent_path, child_name)
            child = nodes.get(child_path)
            if child is None:
                continue
            node = Node(child_name, exported(child_path, child.data, warn=True))
            parent.children[child_name] = node
            pending.append((child_path, node))
    return root


def print_tree(core: SessionCore, path: str = "/") -> None:
    """Write the export of ``path``, ephemeral nodes included, to standard output.

    :param core: the session core.
    :param path: the top node.
    :raises NoNodeError: ``path`` does not exist.
    """
    sys.stdout.write(export_tree(core, path, ephemeral=True))


# ---------------------------------------------------------------------------
# walk


def walk(core: SessionCore, path: str = "/", ephemeral: bool = True, children: bool = False) -> Iterator[Any]:
    """Walk the tree at ``path`` (links followed), lazily, pre-order, start node first.

    :param core: the session core.
    :param path: the start node.
    :param ephemeral: False skips ephemeral nodes at every depth.
    :param children: yield ``(path, names)`` pairs (``names``: the sorted
        children to visit next; removing names prunes them) instead of paths.
    :returns: an iterator of real paths (or pairs).
    :raises NoNodeError: at once, if ``path`` does not exist.
    """
    real = core.resolve(check_path(path))
    if real == "/" and core.retry(core.client.exists, real) is None:
        raise NoNodeError(f"{path}: no such node (is the chroot missing?)")  # resolve('/') does not check
    return _walk(core, real, ephemeral, children)


def _walk(core: SessionCore, real: str, ephemeral: bool, with_children: bool) -> Iterator[Any]:
    client = core.client

    def read(path: str) -> Any:
        try:
            return core.retry(client.get_children, path, include_data=True)
        except NoNodeError:
            return None

    def lasting(path: str, names: list[str]) -> list[str]:
        """``names`` without the children that are ephemeral (or gone)."""
        started = [(name, client.exists_async(join(path, name))) for name in names]
        kept = []
        for name, pending in started:
            try:
                stat = pending.get()
            except RETRYABLE:
                stat = core.retry(client.exists, join(path, name))
            if stat is not None and not stat.ephemeralOwner:
                kept.append(name)
        return kept

    stack: list[deque[str]] = [deque([real])]
    while stack:
        frame = stack[-1]
        if not frame:
            stack.pop()
            continue
        path = frame.popleft()
        answer = read(path)
        if answer is None:
            continue  # deleted meanwhile
        names, stat = answer
        if not ephemeral and stat.ephemeralOwner:
            continue
        names = sorted(names)
        if path == "/" and RESERVED_TOP_LEVEL in names:
            names.remove(RESERVED_TOP_LEVEL)
        if not ephemeral and names:
            names = lasting(path, names)
        if with_children:
            yield path, names
        else:
            yield path
        stack.append(deque(join(path, name) for name in names))


# ---------------------------------------------------------------------------
# delete and import


def delete_recursive(
    core: SessionCore, path: str, dry_run: bool = False, force: bool = False, ignore_if_ephemeral: bool = False
) -> list[Change]:
    """Delete ``path`` and everything below it; return the changes made (or planned with ``dry_run``).

    :param core: the session core.
    :param path: the top node; links in its parents are followed, its last
        segment must be a real node.
    :param dry_run: plan only.
    :param force: delete ephemeral nodes too; otherwise they and their
        ancestors are kept (logged at WARNING, or DEBUG with ``ignore_if_ephemeral``).
    :returns: the changes, children first.
    :raises NoNodeError: there is no node at ``path``.
    """
    done = run(core, deleting(path, dry_run, force, ignore_if_ephemeral, applier=_applying_on(core)))
    if not dry_run:
        core.settle()
    return done


def deleting(
    path: str, dry_run: bool = False, force: bool = False, ignore_if_ephemeral: bool = False, *,
    applier: Apply | None = None,
) -> Step[list[Change]]:
    """:func:`delete_recursive` as a step, without settling (the caller's, unless
    ``dry_run``).  ``applier``: how a plan is applied (default :func:`~.apply.applying`
    with the client's default ACL: a deletion creates nothing)."""
    check_path(path)
    parent, name = split(path)
    real = join((yield from resolve(parent)), name) if name else "/"
    applying = applier or (lambda plan, progress: apply.applying(plan, None, progress))
    done: list[Change] = []
    for attempt in range(1, ATTEMPTS + 1):
        nodes = yield from read_nodes([real], want_children=lambda p, node: True, select=everything)
        if real not in nodes:
            if attempt == 1:
                raise _missing(path, real)
            break
        level = logging.DEBUG if ignore_if_ephemeral else logging.WARNING
        plan = deletions(real, nodes, force, dry_run=dry_run, ephemeral_level=level, ancestor_level=level)
        if dry_run:
            log_changes([op.change for op in plan], dry_run=True)
            return [op.change for op in plan]
        if _applied(done, (yield from applying(plan, None)), attempt, f"delete_recursive {path}"):
            break
    return done


def import_tree(
    core: SessionCore,
    text: TreeInput,
    path: str = "/",
    trim: bool | None = None,
    acl: Sequence[ACL] | None = None,
    dry_run: bool = False,
    *,
    filename: str | None = None,
    progress: Progress | None = None,
) -> list[Change]:
    """Import a tree (text or YAML, or a parsed Node) below ``path``; return the changes.

    :param core: the session core.
    :param text: the tree: text or bytes in either form, or a parsed Node.
    :param path: where the tree's root goes (links followed, created if missing).
    :param trim: nodes below the imported top-level nodes that the tree does
        not list: True deletes them (never ephemeral ones nor their
        ancestors), None warns about each, False leaves them silently.
    :param acl: ACL for created nodes, set on imported nodes whose ACL differs.
    :param dry_run: plan only.
    :param filename: named in errors.
    :param progress: ``progress(phase, done, total)``, called now and then.
    :returns: the changes made (or planned).
    :raises TreeError: naming the line, for a bad tree; nothing is changed.
    :raises TypeError: ``text`` is not a tree, or ``trim`` not True/False/None.
    """
    done = run(core, importing(text, path, trim, acl, dry_run, filename=filename, progress=progress,
                               auth=core.auth, default_acl=core.default_acl(), applier=_applying_on(core)))
    if done and not dry_run:
        core.settle()
    return done


def importing(
    text: TreeInput,
    path: str = "/",
    trim: bool | None = None,
    acl: Sequence[ACL] | None = None,
    dry_run: bool = False,
    *,
    filename: str | None = None,
    progress: Progress | None = None,
    auth: Sequence[tuple[str, str]] = (),
    default_acl: list[ACL] | None = None,
    applier: Apply | None = None,
) -> Step[list[Change]]:
    """:func:`import_tree` as a step, without settling (the caller's, when changes
    were made).  ``auth``: the session's ``(scheme, credential)`` pairs;
    ``default_acl``: the ACL of created nodes without ``acl``; ``applier``: how a
    plan is applied (default :func:`~.apply.applying` with ``default_acl``)."""
    check_path(path)
    if trim not in (True, False, None):
        raise TypeError(f"trim must be True, False or None, not {trim!r}")
    root, encoded = as_tree_encoded(text, filename)
    trusted = not isinstance(text, Node)  # parsed just now: names, keys and values are checked
    wanted_acl = tuple(acl) if acl is not None else None
    applying = applier or (lambda plan, progress: apply.applying(plan, default_acl, progress))
    done: list[Change] = []
    for attempt in range(1, ATTEMPTS + 1):
        real, missing = yield from import_base(path)
        items = prepare_tree(root, real, filename, trusted=trusted, encoded=encoded)
        plan = yield from plan_import(items, real, missing, trim, wanted_acl, filename, dry_run, progress, attempt,
                                      auth)
        if dry_run:
            log_changes([op.change for op in plan], dry_run=True)
            return [op.change for op in plan]
        if _applied(done, (yield from applying(plan, progress)), attempt, f"import into {path}"):
            break
    return done


def _applied(done: list[Change], outcome: tuple[list[Change], BaseException | None], attempt: int,
             what: str) -> bool:
    """Take an applied plan's ``outcome`` into ``done``: True when it all went,
    False to read, plan and apply again (another client changed the tree meanwhile,
    or the connection failed); raises any other error, or the last attempt's."""
    applied, error = outcome
    done.extend(applied)
    if error is None:
        return True
    if not isinstance(error, _CONFLICTS + RETRYABLE) or attempt == ATTEMPTS:
        raise error
    log.info("%s: the tree changed meanwhile (%s); reading it again", what, error)
    return False
