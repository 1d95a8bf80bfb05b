"""Helpers shared by the tree tests: compact tree builders, the contract example, error capture."""

from __future__ import annotations

from pathlib import Path

import pytest

from zkservices import TreeError
from zkservices._tree import Node, parse_tree

BROKEN = Path(__file__).parent.parent / "data" / "broken"

CONTRACT_EXAMPLE = """\
# comment
/fooservice : z4m cms
  threads = 3
  database = "/databases/main"
  db -> /databases/main
  threads_copy => ../cms threads
  /providers
"""


def node(name="", properties=None, **children):
    """Build a tree compactly: node('a', {'x': 1}, b=node('b'))."""
    return Node(name, dict(properties or {}), dict(children))


def tree(**top):
    return node("", None, **top)


def parse_error(text, parser=parse_tree, **kw):
    with pytest.raises(TreeError) as info:
        parser(text, **kw)
    return info.value
