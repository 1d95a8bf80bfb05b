"""Trees: ZooKeeper subtrees as text or YAML files, parsed, checked, imported and exported.

The package, one concept per module:

- :mod:`.model` -- :class:`Node` and walking a tree;
- :mod:`.rules` -- what a tree may hold (node names, property keys, link values, JSON values);
- :mod:`.text` and :mod:`.yaml` -- the two forms' grammars and parsers (:mod:`.values`: the
  text form's property values, and a property as the JSON member of node data);
- :mod:`.emit` -- writing either form; :mod:`.formats` -- detecting, parsing and writing either;
- :mod:`.checks` -- checking a tree before it goes anywhere (``validate_tree``);
- :mod:`.read`, :mod:`.plan`, :mod:`.apply` -- pipelined reads, change plans, transactions;
- :mod:`.ops` -- the operations a session offers (``import_tree``, ``export_tree``,
  ``walk``, ``delete_recursive``, ``is_ephemeral``, ``print_tree``), each taking the
  session core (:mod:`.core` says what they use of it).

This module lists the names other packages use; :mod:`.ops` (which talks to a
session) is imported by the session itself.
"""

from __future__ import annotations

from .checks import TreeCheck, TreeInput, check_tree, validate_tree
from .formats import FORMATS, detect_format, emit_tree, parse_tree
from .model import Node, iter_nodes
from .plan import Change
from .rules import key_problem, link_value_problem, node_name_problem
from .text import parse_text
from .yaml import parse_yaml

__all__ = [
    "Node",
    "iter_nodes",
    "FORMATS",
    "detect_format",
    "parse_tree",
    "parse_text",
    "parse_yaml",
    "emit_tree",
    "TreeInput",
    "TreeCheck",
    "check_tree",
    "validate_tree",
    "Change",
    "key_problem",
    "link_value_problem",
    "node_name_problem",
]
