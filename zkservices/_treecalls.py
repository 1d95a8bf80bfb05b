"""The tree calls of the ZooKeeper helper (zc.zk's ``export_tree``, ``import_tree``,
``print_tree``, ``walk``, ``delete_recursive``, ``is_ephemeral``): a mixin over the
session core; :mod:`zkservices._tree.ops` does the work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Literal, Sequence, overload

from ._tree import Change, TreeInput
from ._tree import ops as tree_ops
from ._types import Progress

if TYPE_CHECKING:
    from ._session.core import SessionCore

__all__ = ["TreeCalls"]


class TreeCalls:
    """zc.zk's tree calls, on :attr:`core` (the ZooKeeper helper's session core)."""

    if TYPE_CHECKING:  # the ZooKeeper helper's; not an annotation of its public API
        core: SessionCore

    def is_ephemeral(self, path: str) -> bool:
        """Whether the node at ``path`` is ephemeral.

        :param path: the node; symbolic links in it are followed.
        :returns: True for an ephemeral node, False for a persistent one.
        :raises NoNodeError: there is no node at ``path``.
        :raises LinkLoop: symbolic links in ``path`` loop.
        """
        return tree_ops.is_ephemeral(self.core, path)

    def export_tree(
        self,
        path: str = "/",
        ephemeral: bool = False,
        name: str | None = None,
        format: str = "text",
        *,
        progress: "Progress | None" = None,
    ) -> str:
        """The tree at ``path`` in the text (zc.zk's) or the YAML form.

        Deterministic and lossless with :meth:`import_tree`; trees of any depth.
        Node data no tree form can hold exports as a ``string_value`` property
        (with a WARNING naming the node).

        :param path: the top node (links followed; the export keeps the name
            given).  ``'/'`` exports the top-level nodes (``/zookeeper`` never).
        :param ephemeral: include ephemeral nodes (left out by default).
        :param name: rename the top node; with ``path='/'``, wrap the top-level
            nodes in a node of that name holding the root's properties.
        :param format: ``'text'`` or ``'yaml'``.
        :param progress: ``progress(phase, done, total)``, called now and then while reading.
        :returns: the tree as text ending with a newline (``""`` if ``path``
            is an ephemeral node and ``ephemeral`` is false).
        :raises ValueError: an unknown ``format`` or an invalid ``name``.
        :raises NoNodeError: there is no node at ``path`` (or the chroot is missing).
        :raises LinkLoop: symbolic links in ``path`` loop.
        """
        return tree_ops.export_tree(self.core, path, ephemeral, name, format, progress=progress)

    def print_tree(self, path: str = "/") -> None:
        """Print the export of ``path``, ephemeral nodes included, to standard output.

        :param path: the top node (links followed).
        :raises NoNodeError: there is no node at ``path``.
        """
        tree_ops.print_tree(self.core, path)

    @overload
    def walk(self, path: str = "/", ephemeral: bool = True, children: Literal[False] = False) -> Iterator[str]: ...

    @overload
    def walk(self, path: str, ephemeral: bool, children: Literal[True]) -> Iterator[tuple[str, list[str]]]: ...

    @overload
    def walk(
        self, path: str = "/", ephemeral: bool = True, *, children: Literal[True]
    ) -> Iterator[tuple[str, list[str]]]: ...

    @overload
    def walk(
        self, path: str = "/", ephemeral: bool = True, children: bool = False
    ) -> Iterator[str] | Iterator[tuple[str, list[str]]]: ...

    def walk(
        self, path: str = "/", ephemeral: bool = True, children: bool = False
    ) -> Iterator[str] | Iterator[tuple[str, list[str]]]:
        """Walk the tree at ``path`` lazily, pre-order, start node first.

        Each node is read when the walk gets to it, so nodes deleted during
        the walk are skipped.  ``/zookeeper`` is never visited.

        :param path: the start node; symbolic links are followed and real paths yielded.
        :param ephemeral: False skips ephemeral nodes at every depth (their
            flags are read pipelined).
        :param children: yield ``(path, names)`` pairs instead of paths:
            ``names`` is the sorted list of children to visit next, and
            removing names from it prunes them.
        :returns: an iterator of paths (or pairs).
        :raises NoNodeError: at once, when there is no node at ``path``.
        :raises LinkLoop: symbolic links in ``path`` loop.
        """
        return tree_ops.walk(self.core, path, ephemeral, children)

    def delete_recursive(
        self, path: str, dry_run: bool = False, force: bool = False, ignore_if_ephemeral: bool = False
    ) -> "list[Change]":
        """Delete ``path`` and everything below it, children first.

        Links in the parent path are followed; the last segment must be a
        real node.  ``/`` itself and ``/zookeeper`` are never deleted.

        :param path: the top node to delete.
        :param dry_run: return the plan and delete nothing.
        :param force: delete ephemeral nodes too; otherwise they and the
            nodes above them are kept (and logged at WARNING).
        :param ignore_if_ephemeral: keeping ephemeral nodes is expected:
            log them at DEBUG only.
        :returns: the changes made (or planned), as :class:`~zkservices.Change`.
        :raises NoNodeError: there is no node at ``path``.
        :raises LinkLoop: symbolic links in ``path`` loop.
        """
        return tree_ops.delete_recursive(self.core, path, dry_run, force, ignore_if_ephemeral)

    def import_tree(
        self,
        text: "TreeInput",
        path: str = "/",
        trim: bool | None = None,
        acl: Sequence[Any] | None = None,
        dry_run: bool = False,
        *,
        filename: str | None = None,
        progress: "Progress | None" = None,
    ) -> "list[Change]":
        """Import a tree (text or YAML, or a parsed Node) below ``path``.

        Everything is checked before anything is written.  Each imported node
        gets exactly the properties the tree gives it; unchanged nodes are not
        written.  Changes go out in pipelined transactions; each is atomic, the
        whole import is not, and when another client changes the tree
        meanwhile the import reads, plans and applies again.

        :param text: the tree: text or UTF-8 bytes in either form, or a :class:`~zkservices.Node`.
        :param path: where the tree's root goes; resolved through symbolic
            links and created if missing.
        :param trim: nodes below the imported top-level nodes that the tree
            does not list: True deletes them (never ephemeral nodes nor their
            ancestors), None logs a WARNING for each, False leaves them silently.
        :param acl: ACL for created nodes, also set on imported nodes whose ACL
            differs; None uses the client's default and leaves ACLs alone.
        :param dry_run: return the plan, writing nothing.
        :param filename: named in errors.
        :param progress: ``progress(phase, done, total)``, called now and then.
        :returns: the changes made (or planned), as :class:`~zkservices.Change`.
        :raises TreeError: naming the line (a ``ValueError``): a tree that does
            not parse, invalid names or values, data over the node size limit,
            bad property links; nothing is changed.
        :raises TypeError: ``text`` is not a tree, or ``trim`` not True/False/None.
        :raises LinkLoop: symbolic links in ``path`` loop.
        """
        return tree_ops.import_tree(
            self.core, text, path, trim, acl, dry_run, filename=filename, progress=progress
        )

