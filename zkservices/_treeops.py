"""Tree operations of :class:`~zkservices.ZooKeeper`: import, export, walk, delete.

Kept apart from the session as the mixin :class:`TreeOperations`; status:
stable.  Everything here talks to the server in pipelined batches (many
requests in flight, answered in order) rather than one call at a time: a
10,000-node tree is read with ``get_async``/``get_children_async`` and written
with multi-op transactions sent back to back.

Reading
-------

``export_tree`` and the planning steps of ``import_tree`` and
``delete_recursive`` read with a breadth-first crawl that keeps up to
``_CHUNK * _CHUNKS_IN_FLIGHT`` requests in flight: a ``get`` per node, and a
``get_children`` only for nodes whose stat says they have children.  Nodes
deleted while being read are left out.  The reserved ``/zookeeper`` node is
never visited.  (``walk`` is lazy and reads each node when it gets to it.)

Writing
-------

``import_tree`` and ``delete_recursive``:

First everything is checked, then the changes are computed as a plan of
:class:`Change` objects (creates and data changes parents first, deletions
children first).  The plan is cut into transactions of at most
:data:`_BATCH_OPS` operations and about :data:`_BATCH_BYTES` bytes (well under
ZooKeeper's 1 MB request limit), all committed with ``commit_async`` back to
back: ZooKeeper applies one session's requests in order, so a batch's
parents exist when its children are created.  Each batch is atomic; the
whole import is not.  Data changes are version-checked: when another client
changed a node between our read and our write (or created or deleted one),
the batch fails as a whole, and the import reads again, plans again and
applies what is still missing (up to :data:`_ATTEMPTS` times).  ACL changes
cannot be part of a ZooKeeper transaction; they are sent after the
transactions, pipelined, each atomic by itself.

Decisions
---------

- Node data is written as compact UTF-8 JSON objects, as ``encode`` writes
  them (``{}`` for a node without properties); the import path's missing
  ancestors are created with empty data.
- Node data that is not a JSON object reads (and exports) as a
  ``string_value`` property holding the text (undecodable bytes replaced by
  U+FFFD).  Importing that export writes ``{"string_value": ...}`` only where
  the node's decoded properties differ: over an unchanged node it leaves the
  original data alone.  The same holds for JSON objects no tree form can
  hold (``NaN``, empty or ``/`` keys, a non-string link target, ...) and
  for JSON nested too deeply to decode: such a node exports as
  ``string_value`` (with a WARNING naming it) instead of failing the export.
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
- ``acl=None`` creates nodes with the client's default ACL (kazoo's default:
  open) and leaves existing nodes' ACLs alone.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence, Union

from kazoo.exceptions import (
    BadVersionError,
    ConnectionClosedError,
    ConnectionLoss,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    OperationTimeoutError,
    RolledBackError,
    RuntimeInconsistency,
    SessionExpiredError,
)
from kazoo.security import ACL, Id, make_digest_acl_credential

from ._znode.encoding import MAX_DATA_SIZE, check_json, check_size, decode
from .errors import BadPropertyLink, LinkLoop, TreeError, ValueTooLarge
from ._znode.links import LINK_SUFFIX, MAX_LINK_DEPTH, PROPERTY_LINK_SUFFIX, follow_property
from ._znode.links import resolve as resolve_links
from ._znode.paths import check_path, join, split
from ._tree import (
    FORMATS,
    RESERVED_TOP_LEVEL,
    Node,
    _checked,
    _key_problem,
    _link_value_problem,
    _node_name_problem,
    _same_json,
    _split_key,
    emit_tree,
    parse_tree,
)

if TYPE_CHECKING:  # pragma: no cover
    from kazoo.protocol.states import ZnodeStat

__all__ = ["TreeOperations", "Change", "validate_tree"]

log = logging.getLogger("zkservices.tree")

_CHUNK = 500  # read requests sent together
_CHUNKS_IN_FLIGHT = 2  # so at most 1,000 reads in flight (the server's own default limit)
_BATCH_OPS = 1000  # operations per transaction at most
_BATCH_BYTES = 512 * 1024  # estimated request size per transaction at most
_ATTEMPTS = 5  # plan-and-apply rounds when other clients change the tree meanwhile
_RETRYABLE = (ConnectionLoss, OperationTimeoutError, SessionExpiredError)
_CONFLICTS = (NodeExistsError, NoNodeError, BadVersionError, NotEmptyError)

TreeInput = Union[str, bytes, Node]
Progress = Callable[[str, int, Union[int, None]], None]


# ---------------------------------------------------------------------------
# Changes


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


@dataclass
class _Op:
    """A planned change plus what applying it needs (the expected version)."""

    change: Change
    version: int = -1


# ---------------------------------------------------------------------------
# Reading many nodes at once


@dataclass
class _Znode:
    data: bytes
    stat: "ZnodeStat"
    children: list[str] | None = None  # None: not read
    acl: list[ACL] | None = None  # None: not read
    acl_version: int = -1


def _pipelined_read(
    client: Any,
    roots: Iterable[str],
    *,
    want_children: Callable[[str, _Znode], bool],
    select: Callable[[str, list[str]], Iterable[str]],
    want_acl: Callable[[str], bool] = lambda path: False,
    skip: Callable[[str, _Znode], bool] = lambda path, node: False,
    progress: Progress | None = None,
) -> dict[str, _Znode]:
    """Read ``roots`` and what the callbacks select below them, pipelined.

    After a node's ``get``: it is dropped if ``skip(path, node)``; its ACL is
    read if ``want_acl(path)``; its children are listed if it has any and
    ``want_children(path, node)``.  Of each listing, the names ``select``
    returns are read in turn.  Returns path -> :class:`_Znode` for the nodes
    that exist; nodes that vanish while being read are left out.
    """
    nodes: dict[str, _Znode] = {}
    todo: deque[tuple[str, str]] = deque(("get", path) for path in roots)
    chunks: deque[list[tuple[str, str, Any]]] = deque()
    last_report = 0.0
    get, get_children, get_acls = client.get_async, client.get_children_async, client.get_acls_async
    while todo or chunks:
        # Requests go out in chunks, two chunks in flight: while one chunk's
        # answers are handled, the next is on the wire.  Waiting once per
        # chunk (ZooKeeper answers in order: when its last answer is in, all
        # are) costs far less than waking up for every answer.
        while todo and len(chunks) < _CHUNKS_IN_FLIGHT:
            chunk: list[tuple[str, str, Any]] = []
            while todo and len(chunk) < _CHUNK:
                kind, path = todo.popleft()
                if kind == "get":
                    result = get(path)
                elif kind == "children":
                    result = get_children(path)
                else:
                    result = get_acls(path)
                chunk.append((kind, path, result))
            chunks.append(chunk)
        chunk = chunks.popleft()
        chunk[-1][2].wait()
        for kind, path, result in chunk:
            try:
                value = result.get()
            except NoNodeError:
                nodes.pop(path, None)  # gone meanwhile (its listing may still be in flight)
                continue
            except NoAuthError as exc:
                # kazoo's NoAuthError carries no text: name the node the ACL refused
                # (the CLI printed "not allowed (ACL): " with nothing after it)
                if exc.args:
                    raise
                action = {"get": "reading", "children": "listing the children of"}.get(kind, "reading the ACL of")
                raise NoAuthError(f"{action} {path}") from None
            if kind == "get":
                data, stat = value
                node = _Znode(data or b"", stat)
                if skip(path, node):
                    continue
                nodes[path] = node
                if want_acl(path):
                    todo.append(("acl", path))
                if stat.numChildren > 0 and want_children(path, node):
                    todo.append(("children", path))
                elif stat.numChildren == 0:
                    node.children = []
            elif kind == "children":
                listed = nodes.get(path)
                if listed is None:
                    continue
                node = listed
                names = sorted(value)
                if path == "/" and RESERVED_TOP_LEVEL in names:
                    names.remove(RESERVED_TOP_LEVEL)
                node.children = names
                prefix = path if path != "/" else ""
                todo.extend(("get", f"{prefix}/{name}") for name in select(path, names))
            else:
                with_acl = nodes.get(path)
                if with_acl is not None:
                    acl, acl_stat = value
                    with_acl.acl, with_acl.acl_version = list(acl), acl_stat.aversion
        if progress is not None and time.monotonic() - last_report > 0.1:
            last_report = time.monotonic()
            progress("reading", len(nodes), None)
    if progress is not None:
        progress("reading", len(nodes), len(nodes))
    return nodes


def _everything(path: str, names: list[str]) -> list[str]:
    return names


def _exported(path: str, data: bytes, *, warn: bool = False) -> dict[str, Any]:
    """Node data as the properties of a tree node: :func:`decode`, unless no tree form can hold them.

    Other clients can store JSON objects the tree format refuses (``NaN``
    from Python's ``json.dumps``, empty or ``/`` keys, a link whose target is
    not a string) or JSON too deeply nested to decode.  One such node used
    to make the whole export fail; now its raw text is exported as a
    ``string_value`` property, like data that is not a JSON object.  Import
    compares server data through this same function, so importing the export
    over the unchanged node leaves the original data alone.
    """
    try:
        properties = decode(data)
        for key, value in properties.items():
            _checked(path, key, value)
        return properties
    except (ValueError, RecursionError) as exc:
        problem = "JSON nested too deeply" if isinstance(exc, RecursionError) else str(exc)
    if warn:
        log.warning("%s: its data is JSON the tree format cannot hold (%s); exported as 'string_value'",
                    path, problem)
    return {"string_value": data.decode("utf-8", "replace")}


# ---------------------------------------------------------------------------
# Checking a tree before it goes anywhere


def _error(reason: str, node: Node | None, filename: str | None) -> TreeError:
    return TreeError(reason, filename=filename, lineno=getattr(node, "lineno", None))


def _as_tree(text: TreeInput, filename: str | None) -> Node:
    if isinstance(text, Node):
        return text
    if isinstance(text, (str, bytes, bytearray, memoryview)):
        return parse_tree(bytes(text) if not isinstance(text, str) else text, filename=filename)
    raise TypeError(f"a tree is text, bytes or a parsed Node, not {type(text).__name__}")


def _prepare(
    root: Node, base: str, filename: str | None, *, trusted: bool = False
) -> list[tuple[str, Node, bytes]]:
    """Check every node of ``root`` (imported at ``base``); return ``(path, node, data)``, pre-order.

    Catches what the parser catches for files (for trees built in Python)
    and what only a server would refuse: data over the node size limit.
    ``trusted``: ``root`` comes straight from :func:`parse_tree`, which
    checked names, keys and values already; only the size is left to check.
    """
    if not isinstance(root, Node):
        raise TypeError(f"expected a tree Node, not {type(root).__name__}")
    if root.properties:
        raise _error("the root of a tree cannot have properties; give them to a node", root, filename)
    items: list[tuple[str, Node, bytes]] = []
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
    key_problems: dict[str, str | None] = {}
    pending: list[tuple[str, Node, bool]] = [(base, root, True)]
    while pending:
        path, node, is_root = pending.pop()
        if not is_root:
            properties = node.properties
            if trusted:
                data = dumps(properties).encode("utf-8")
                if len(data) > MAX_DATA_SIZE:
                    try:
                        check_size(path, data)
                    except ValueTooLarge as exc:
                        raise _error(str(exc), node, filename) from None
            else:
                data = _checked_data(path, node, filename, dumps, key_problems)
            items.append((path, node, data))
        prefix = path if path != "/" else ""
        children = []
        for name, child in node.children.items():
            if not trusted:
                _check_child(path, name, child, node, filename)
            children.append((f"{prefix}/{name}", child, False))
        pending.extend(reversed(children))
    return items


_PLAIN = (str, int, bool, type(None))  # values that need no further check


def _checked_data(path: str, node: Node, filename: str | None, dumps: Callable[[Any], str],
                  key_problems: dict[str, str | None]) -> bytes:
    """``node``'s data, every key and value checked (``key_problems`` caches key checks)."""
    for key, value in node.properties.items():
        if isinstance(key, str):
            if key in key_problems:
                problem = key_problems[key]
            else:
                problem = key_problems[key] = _key_problem(key)
        else:
            problem = _key_problem(key)
        if problem is None and key.endswith((LINK_SUFFIX, PROPERTY_LINK_SUFFIX)):
            op, _base = _split_key(key)
            problem = _link_value_problem(op, value)
        if problem is None and value.__class__ not in _PLAIN:
            try:
                check_json(value, f"property {key!r}")
            except ValueError as exc:
                problem = str(exc)
        if problem:
            raise _error(f"node {path}: {problem}", node, filename)
    data = dumps(node.properties).encode("utf-8")
    if len(data) > MAX_DATA_SIZE:
        try:
            check_size(path, data)
        except ValueTooLarge as exc:
            raise _error(str(exc), node, filename) from None
    return data


def _check_child(path: str, name: Any, child: Any, parent: Node, filename: str | None) -> None:
    child_path = f"{path.rstrip('/')}/{name}" if isinstance(name, str) else f"{path}/{name!r}"
    problem = _node_name_problem(name)
    if problem is None and not isinstance(child, Node):
        problem = f"expected a Node, not {type(child).__name__}"
    if problem is None and child.name != name:
        problem = f"the node is named {child.name!r}"
    if problem is None and path == "/" and name == RESERVED_TOP_LEVEL:
        problem = f"'/{RESERVED_TOP_LEVEL}' is reserved by ZooKeeper"
    if problem:
        raise _error(f"invalid node {child_path}: {problem}", child if isinstance(child, Node) else parent, filename)


class _Unknown(Exception):
    """A property-link check needed a node outside the tree (validate_tree only)."""


def _property_links(properties: dict[str, Any]) -> Iterator[str]:
    """Names of the property links in ``properties`` that are in effect."""
    for key in properties:
        if key.endswith(PROPERTY_LINK_SUFFIX):
            name = key[: -len(PROPERTY_LINK_SUFFIX)]
            if name not in properties:
                yield name


def _check_links(
    items: Sequence[tuple[str, Node, bytes]],
    read: Callable[[str], dict | None],
    exists: Callable[[str], bool],
    filename: str | None,
) -> list[str]:
    """Follow every property link of ``items`` in the world ``read``/``exists`` describe.

    Raises TreeError naming the node's line for a bad or looping link.
    Returns the links that could not be checked (the world said _Unknown).
    """
    unchecked = []

    def resolve_path(path: str) -> str:
        return resolve_links(path, read, exists)

    for path, node, _data in items:
        for name in _property_links(node.properties):
            try:
                follow_property(path, node.properties, name, read=read, resolve_path=resolve_path)
            except _Unknown:
                unchecked.append(f"{path} '{name}{PROPERTY_LINK_SUFFIX}'")
            except (BadPropertyLink, LinkLoop) as exc:
                # (their messages start with the node path and the link)
                raise _error(str(exc), node, filename) from None
    return unchecked


def _static_link_check(items: Sequence[tuple[str, Node, bytes]], filename: str | None) -> list[str]:
    """Check property links among the tree's own nodes; those that leave the tree are unchecked."""
    tree = {path: node.properties for path, node, _ in items}

    def exists(path: str) -> bool:
        if path == "/" or path in tree:
            return True
        raise _Unknown(path)

    def read(path: str) -> dict | None:
        if path in tree:
            return tree[path]
        raise _Unknown(path)

    return _check_links(items, read, exists, filename)


def validate_tree(text: TreeInput, *, path: str = "/", filename: str | None = None) -> Node:
    """Check a tree as ``import_tree(text, path)`` would, without a server; return it parsed.

    Raises :class:`~zkservices.TreeError` (a ``ValueError`` naming the line)
    for syntax errors, invalid node names, data over the node size limit and
    property links that are bad among the tree's own nodes.  Property links
    that lead out of the tree can only be checked by ``import_tree``, against
    the server; they are logged (INFO, ``zkservices.tree``) as not checked.
    """
    root = _as_tree(text, filename)
    items = _prepare(root, check_path(path), filename)
    for link in _static_link_check(items, filename):
        log.info("%s: property link %s leads out of the tree; import_tree checks it", filename or "<string>", link)
    return root


def _same_acl(current: Sequence[ACL] | None, wanted: Sequence[ACL]) -> bool:
    if current is None:
        return False
    return {(a.perms, a.id.scheme, a.id.id) for a in current} == {(a.perms, a.id.scheme, a.id.id) for a in wanted}


# ---------------------------------------------------------------------------
# The mixin


class TreeOperations:
    """Mixin for :class:`zkservices.ZooKeeper`: trees in and out, walking, deleting.

    Expects ``self.client`` (a KazooClient), ``resolve``, ``_retry``,
    ``_settle``, ``_read_properties`` and ``_auth`` from the session.
    """

    client: Any
    _auth: list[tuple[str, str]]

    if TYPE_CHECKING:  # pragma: no cover - provided by ZooKeeper
        def resolve(self, path: str) -> str: ...
        def _retry(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...
        def _settle(self, timeout: float = 30.0) -> None: ...
        def _read_properties(self, path: str) -> dict | None: ...

    # -- small things --------------------------------------------------

    def is_ephemeral(self, path: str) -> bool:
        """True when the node at ``path`` (links followed) is ephemeral; NoNodeError if none."""
        real = self.resolve(check_path(path))
        stat = self._retry(self.client.exists, real)
        if stat is None:
            raise NoNodeError(path)
        return bool(stat.ephemeralOwner)

    def _read(self, roots: Iterable[str], **kw: Any) -> dict[str, _Znode]:
        """:func:`_pipelined_read` on this session, started over after connection trouble."""
        roots = list(roots)
        return self._retry(lambda: _pipelined_read(self.client, roots, **kw))

    # -- export ----------------------------------------------------------

    def export_tree(
        self,
        path: str = "/",
        ephemeral: bool = False,
        name: str | None = None,
        format: str = "text",
        *,
        progress: Progress | None = None,
    ) -> str:
        """The tree at ``path`` in the text (zc.zk) or YAML form; see the module docstring.

        Deterministic and lossless with :meth:`import_tree`.  Ephemeral nodes
        are left out unless ``ephemeral``; ``/zookeeper`` always is.
        ``progress(phase, done, total)`` is called now and then while reading.
        """
        if format not in FORMATS:
            raise ValueError(f"unknown tree format {format!r}; expected one of {', '.join(FORMATS)}")
        check_path(path)
        if name is not None:
            problem = _node_name_problem(name)
            if problem:
                raise ValueError(f"invalid top node name {name!r}: {problem}")
        real = self.resolve(path)
        nodes = self._read(
            [real],
            want_children=lambda p, node: True,
            select=_everything,
            skip=lambda p, node: bool(node.stat.ephemeralOwner) and not ephemeral,
            progress=progress,
        )
        if real not in nodes and self._retry(self.client.exists, real) is None:
            # a missing chroot resolves to '/' and read as nothing: an empty
            # export (an empty backup) instead of an error
            raise NoNodeError(f"{path}: no such node" + (f" ({real})" if real != path else ""))
        root = self._tree_of(nodes, real, path, name)
        return emit_tree(root, format=format)

    @staticmethod
    def _tree_of(nodes: dict[str, _Znode], real: str, path: str, name: str | None) -> Node:
        root = Node()
        if real not in nodes:  # ephemeral and not wanted, or deleted meanwhile
            return root
        if real == "/" and name is None:
            top = root
            # the root's properties have no place in this export: say so rather than lose them quietly
            # (a chroot's root node often holds them)
            dropped = _exported(real, nodes[real].data)
            if dropped:
                log.warning("exporting %s leaves out its own properties (%s); give a name to keep them",
                            path, ", ".join(sorted(dropped)))
        else:
            top_name = name if name is not None else split(path)[1]
            properties = _exported(real, nodes[real].data, warn=True)
            top = Node(top_name, properties)
            root.children[top_name] = top
        pending = [(real, top)]
        while pending:
            parent_path, parent = pending.pop()
            for child_name in nodes[parent_path].children or ():
                child_path = join(parent_path, child_name)
                child = nodes.get(child_path)
                if child is None:
                    continue
                node = Node(child_name, _exported(child_path, child.data, warn=True))
                parent.children[child_name] = node
                pending.append((child_path, node))
        return root

    def print_tree(self, path: str = "/") -> None:
        """Print the export of ``path``, ephemeral nodes included (the only call that prints)."""
        print(self.export_tree(path, ephemeral=True), end="")

    # -- walk ------------------------------------------------------------

    def walk(self, path: str = "/", ephemeral: bool = True, children: bool = False) -> Iterator[Any]:
        """Walk the tree at ``path`` (links followed), lazily, pre-order, start node first.

        Yields real paths, or with ``children=True`` ``(path, names)`` where
        ``names`` is the sorted list of children to visit next: removing names
        from it prunes them.  ``ephemeral=False`` skips ephemeral nodes at
        every depth (and leaves them out of ``names``; their flags are read
        pipelined).  Each node is read when the walk gets to it, so nodes
        deleted during the walk are skipped.  Raises NoNodeError at once if
        ``path`` does not exist.
        """
        real = self.resolve(check_path(path))
        if real == "/" and self._retry(self.client.exists, real) is None:
            raise NoNodeError(f"{path}: no such node (is the chroot missing?)")  # resolve('/') does not check
        return self._walk(real, ephemeral, children)

    def _walk(self, real: str, ephemeral: bool, with_children: bool) -> Iterator[Any]:
        client = self.client

        def read(path: str) -> Any:
            try:
                return self._retry(client.get_children, path, include_data=True)
            except NoNodeError:
                return None

        def lasting(path: str, names: list[str]) -> list[str]:
            """``names`` without the children that are ephemeral (or gone)."""
            started = [(name, client.exists_async(join(path, name))) for name in names]
            kept = []
            for name, pending in started:
                try:
                    stat = pending.get()
                except _RETRYABLE:
                    stat = self._retry(client.exists, join(path, name))
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

    # -- delete ----------------------------------------------------------

    def delete_recursive(
        self, path: str, dry_run: bool = False, force: bool = False, ignore_if_ephemeral: bool = False
    ) -> list[Change]:
        """Delete ``path`` and everything below it; return the changes made (or planned).

        Ephemeral nodes, and the nodes above them, are kept (and logged at
        WARNING) unless ``force``; ``ignore_if_ephemeral`` makes keeping them
        expected (logged at DEBUG only).  ``dry_run`` returns the plan and deletes
        nothing.  ``/`` itself and ``/zookeeper`` are never deleted.  Links in
        the parent path are followed; the last segment must be a real node.
        NoNodeError if there is none.
        """
        check_path(path)
        parent, name = split(path)
        real = join(self.resolve(parent), name) if name else "/"
        done: list[Change] = []
        for attempt in range(1, _ATTEMPTS + 1):
            nodes = self._read([real], want_children=lambda p, node: True, select=_everything)
            if real not in nodes:
                if attempt == 1:
                    raise NoNodeError(f"{path}: no such node" + (f" ({real})" if real != path else ""))
                break
            level = logging.DEBUG if ignore_if_ephemeral else logging.WARNING
            plan = _deletions(real, nodes, force, dry_run=dry_run, ephemeral_level=level, ancestor_level=level)
            if dry_run:
                _log_changes([op.change for op in plan], dry_run=True)
                return [op.change for op in plan]
            applied, error = self._apply(plan)
            done.extend(applied)
            if error is None:
                break
            if not isinstance(error, _CONFLICTS + _RETRYABLE) or attempt == _ATTEMPTS:
                raise error
            log.info("delete_recursive %s: the tree changed meanwhile (%s); reading it again", path, error)
        self._settle()
        return done

    # -- import ----------------------------------------------------------

    def import_tree(
        self,
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

        Everything is checked before anything is written; a bad tree raises
        :class:`~zkservices.TreeError` (a ``ValueError`` naming the line) and
        changes nothing.  Each imported node gets exactly the properties the
        tree gives it; unchanged nodes are not written.  Nodes below the
        imported top-level nodes that the tree does not list: ``trim=True``
        deletes them (never ephemeral nodes nor their ancestors),
        ``trim=None`` logs a WARNING for each, ``trim=False`` leaves them
        silently.  ``acl`` is given to created nodes and set on imported
        nodes whose ACL differs.  ``dry_run`` returns the plan, writing
        nothing.  ``path`` is resolved through symbolic links and created if
        missing.  See the module docstring for batching and atomicity.
        """
        check_path(path)
        if trim not in (True, False, None):
            raise TypeError(f"trim must be True, False or None, not {trim!r}")
        root = _as_tree(text, filename)
        trusted = not isinstance(text, Node)  # parsed just now: names, keys and values are checked
        wanted_acl = tuple(acl) if acl is not None else None
        done: list[Change] = []
        for attempt in range(1, _ATTEMPTS + 1):
            real, missing = self._import_base(path)
            items = _prepare(root, real, filename, trusted=trusted)
            plan = self._plan_import(items, real, missing, trim, wanted_acl, filename, dry_run, progress, attempt)
            if dry_run:
                _log_changes([op.change for op in plan], dry_run=True)
                return [op.change for op in plan]
            applied, error = self._apply(plan, progress=progress)
            done.extend(applied)
            if error is None:
                break
            if not isinstance(error, _CONFLICTS + _RETRYABLE) or attempt == _ATTEMPTS:
                raise error
            log.info("import into %s: the tree changed meanwhile (%s); reading it again", path, error)
        if done:
            self._settle()
        return done

    def _import_base(self, path: str, depth: int = 0) -> tuple[str, list[str]]:
        """The real path to import into, and its missing ancestors (to create, top first)."""
        try:
            return self.resolve(path), []
        except NoNodeError:
            pass
        parent, name = split(path)
        real_parent, missing = self._import_base(parent, depth)
        real = join(real_parent, name)
        if not missing:
            # a dangling symbolic link: create its target, as writes through links do
            target = (self._read_properties(real_parent) or {}).get(name + LINK_SUFFIX)
            if isinstance(target, str) and target.strip():
                if depth > MAX_LINK_DEPTH:
                    raise LinkLoop(f"{path}: too many levels of symbolic links")
                return self._import_base(join(real_parent, target.strip()), depth + 1)
        return real, missing + [real]

    def _plan_import(
        self,
        items: list[tuple[str, Node, bytes]],
        real: str,
        missing: list[str],
        trim: bool | None,
        acl: tuple[ACL, ...] | None,
        filename: str | None,
        dry_run: bool,
        progress: Progress | None,
        attempt: int,
    ) -> list[_Op]:
        tree = {p: node for p, node, _ in items}
        top = [p for p, node, _ in items if split(p)[0] == real]
        wanted = self._expand_acl(acl) if acl is not None else None

        def want_children(p: str, node: _Znode) -> bool:
            imported = tree.get(p)
            if imported is None:
                return trim is True
            return bool(imported.children) or trim is not False

        def select(p: str, names: list[str]) -> Iterable[str]:
            imported = tree.get(p)
            if imported is None or trim is not False:
                return names
            return [n for n in names if n in imported.children]

        if missing:
            existing: dict[str, _Znode] = {}
        else:
            existing = self._read(
                top,
                want_children=want_children,
                select=select,
                want_acl=lambda p: wanted is not None and p in tree,
                progress=progress,
            )

        plan: list[_Op] = [_Op(Change("create", p, b"", acl)) for p in missing]
        for p, node, data in items:
            current = existing.get(p)
            if current is None:
                plan.append(_Op(Change("create", p, data, acl)))
                continue
            # (compared as export shows it: re-importing an export leaves data it could not show alone)
            if not _same_json(_exported(p, current.data), node.properties):
                plan.append(_Op(Change("set", p, data), current.stat.version))
            if wanted is not None and current.acl is not None and not _same_acl(current.acl, wanted):
                plan.append(_Op(Change("acl", p, None, acl), current.acl_version))

        # nodes that are there but not in the tree
        deletions: list[_Op] = []
        for p, node, _data in items:
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
                        log.warning(
                            "%s is not in the imported tree; not trimmed (trim=True deletes it)", extra
                        )
                    continue
                deletions.extend(_deletions(  # (registrations below config nodes are expected)
                    extra, existing, False, dry_run=dry_run, ephemeral_level=logging.DEBUG, ancestor_level=logging.INFO
                ))
        plan.extend(deletions)

        # property links must resolve in the tree as it will be
        deleted = {op.change.path for op in deletions}
        created = {op.change.path for op in plan if op.change.action == "create"}

        def exists(p: str) -> bool:
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
            return self._retry(self.client.exists, p) is not None

        def read(p: str) -> dict | None:
            if p in tree:
                return tree[p].properties
            if not exists(p):
                return None
            if p in created:
                return {}
            if p in existing:
                return decode(existing[p].data)
            return self._read_properties(p)

        _check_links(items, read, exists, filename)
        return plan

    def _expand_acl(self, acl: Sequence[ACL]) -> list[ACL]:
        """``acl`` as the server stores it: ``auth`` entries become this session's digest ids."""
        expanded = []
        for entry in acl:
            if entry.id.scheme == "auth":
                for scheme, credential in self._auth:
                    if scheme == "digest" and ":" in credential:
                        user, password = credential.split(":", 1)
                        expanded.append(ACL(entry.perms, Id("digest", make_digest_acl_credential(user, password))))
            else:
                expanded.append(entry)
        return expanded

    # -- applying a plan ---------------------------------------------------

    def _apply(self, plan: list[_Op], progress: Progress | None = None) -> tuple[list[Change], BaseException | None]:
        """Apply ``plan``: transactions sent back to back, then ACL changes.

        Returns the changes applied and the first error (None if all went
        well).  A failed batch is rolled back as a whole; later batches may
        still have been applied.
        """
        client = self.client
        writes = [op for op in plan if op.change.action != "acl"]
        acls = [op for op in plan if op.change.action == "acl"]
        sent = []
        for batch in _batches(writes):
            transaction = client.transaction()
            for op in batch:
                change = op.change
                if change.action == "create":
                    transaction.create(change.path, change.data or b"", acl=list(change.acl) if change.acl else None)
                elif change.action == "set":
                    transaction.set_data(change.path, change.data or b"", version=op.version)
                else:
                    transaction.delete(change.path, version=op.version)
            sent.append((batch, transaction.commit_async()))
        applied: list[Change] = []
        error: BaseException | None = None
        total = len(writes)
        for batch, pending in sent:
            try:
                results = pending.get()
            except (ConnectionClosedError,) + _RETRYABLE as exc:
                error = error or exc
                continue
            failure = _batch_failure(batch, results)
            if failure is not None:
                log.info("a batch of %d change(s) was rolled back: %s", len(batch), failure)
                error = error or failure
                continue
            changes = [op.change for op in batch]
            _log_changes(changes)
            applied.extend(changes)
            if progress is not None:
                progress("writing", len(applied), total)
        if error is None and acls:
            started = [(op, client.set_acls_async(op.change.path, list(op.change.acl or ()), op.version)) for op in acls]
            for op, pending in started:
                try:
                    pending.get()
                except Exception as exc:
                    error = error or _annotated(exc, op.change)
                    continue
                _log_changes([op.change])
                applied.append(op.change)
        return applied, error


def _batches(ops: list[_Op]) -> Iterator[list[_Op]]:
    batch: list[_Op] = []
    size = 0
    for op in ops:
        change = op.change
        cost = 64 + len(change.path.encode("utf-8")) + len(change.data or b"") + 40 * len(change.acl or ())
        if batch and (len(batch) >= _BATCH_OPS or size + cost > _BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(op)
        size += cost
    if batch:
        yield batch


def _batch_failure(batch: list[_Op], results: list[Any]) -> BaseException | None:
    """The error that made a transaction fail (with the change it hit), or None."""
    for op, result in zip(batch, results):
        if isinstance(result, Exception) and not isinstance(result, (RolledBackError, RuntimeInconsistency)):
            return _annotated(result, op.change)
    for result in results:
        if isinstance(result, Exception):
            return result
    return None


def _annotated(exc: BaseException, change: Change) -> BaseException:
    """``exc`` (a kazoo error, which carries no text) as the same type saying what failed."""
    if exc.args:
        return exc
    try:
        return type(exc)(f"{change}: {type(exc).__name__}")
    except Exception:  # pragma: no cover - an exception type with another signature
        return exc


def _deletions(
    top: str, nodes: dict[str, _Znode], force: bool, *, dry_run: bool, ephemeral_level: int, ancestor_level: int
) -> list[_Op]:
    """Deletes for ``top`` and what is below it, children first; keeps ephemerals and their ancestors.

    Kept nodes are logged: ephemeral ones at ``ephemeral_level``, the nodes
    above them at ``ancestor_level``.
    """
    plan: list[_Op] = []
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
            plan.append(_Op(Change("delete", path)))
    return plan


def _log_changes(changes: Iterable[Change], *, dry_run: bool = False) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    for change in changes:
        log.info("%s%s", "dry run: " if dry_run else "", change)
