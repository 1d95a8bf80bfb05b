"""Tree operations of :class:`~zkservices.ZooKeeper` (import/export, walk,
delete_recursive, print_tree, is_ephemeral), kept apart as a mixin.

Filled in by the tree/CLI work (issue 4); empty until then.
"""

from __future__ import annotations

__all__ = ["TreeOperations"]


class TreeOperations:
    """Mixin for :class:`zkservices.ZooKeeper`; expects ``self.client``."""
