"""The two tree forms as one: telling them apart, parsing either, writing either.

Telling the forms apart (:func:`detect_format`): only the first line that is
neither blank nor a ``#`` comment decides.  With ``s`` that line stripped,
the tree is YAML when ``s`` starts with ``---``, ``%``, ``{``, ``?``, ``'``
or ``"``, or when ``s`` starts with ``/`` and the first ``:`` followed by
white space or the line end comes right after a non-blank character
(``/fooservice:``, ``/fooservice: {}``), or when ``s`` is a YAML sequence item
(``- ...``: a list at the top, which the YAML parser then refuses as "must be a
mapping").  A file named ``*.yaml`` or ``*.yml`` is always YAML.  Everything
else is the text form:
``/fooservice : z4m cms`` (blank before the colon), ``/10.0.0.1:8080`` (no
blank after it), ``/fooservice``.  So YAML files must write ``/name:`` with
the colon attached, and a text file cannot start with a node whose name ends
in ``:`` (such names are not allowed in the text form anyway).
"""

from __future__ import annotations

import logging
import re

from .emit import emit_text
from .yamlemit import emit_yaml
from .model import Node
from .rules import decode_source
from .text import COLON_END, parse_text, parse_text_encoded
from .yaml import parse_yaml

__all__ = ["FORMATS", "detect_format", "parse_tree", "parse_tree_encoded", "emit_tree", "emit_checked"]

logger = logging.getLogger("zkservices.tree")

#: The names of the forms, for ``format=``.
FORMATS = ("text", "yaml")

_YAML_STARTS = ("---", "%", "{", "?", "'", '"')
_TEXT_OPERATOR = re.compile(r"\s(=|->|=>)(\s|$)")  # "- = 1" is a text property named "-"


def detect_format(text: str | bytes) -> str:
    """Return ``'yaml'`` or ``'text'``: which form ``text`` is in (rule in the module docstring).

    :raises TreeError: ``text`` is bytes that are not UTF-8.
    """
    text = decode_source(text, None)
    start = 0
    while start <= len(text):  # (line by line: only the first lines of a big file are looked at)
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        stripped = text[start:end].strip()
        start = end + 1
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith(_YAML_STARTS) or stripped == "-" or (
            stripped.startswith("- ") and not _TEXT_OPERATOR.search(stripped)
        ):
            return "yaml"
        if stripped.startswith("/"):
            colon = COLON_END.search(stripped)
            if colon and not stripped[colon.start() - 1].isspace():
                return "yaml"
        return "text"
    return "text"


def parse_tree(text: str | bytes, *, filename: str | None = None) -> Node:
    """Parse a tree in the text or the YAML form (detected by :func:`detect_format`).

    :param text: the tree, as text or UTF-8 bytes.
    :param filename: named in errors; a name ending in ``.yaml``/``.yml`` means YAML.
    :returns: the root node (name ``""``) whose children are the top-level entries.
    :raises TreeError: naming the line (a ``ValueError``), for anything either form refuses.
    :raises TypeError: ``text`` is neither str nor bytes.
    """
    return parse_tree_encoded(text, filename=filename, encoded=False)[0]


def parse_tree_encoded(
    text: str | bytes, *, filename: str | None = None, encoded: bool = True
) -> tuple[Node, list[bytes | None] | None]:
    """Parse like :func:`parse_tree`; for the text form, also each node's data as an import writes it.

    :returns: the root, and (text form, ``encoded``) the data of every node
        below it in pre-order, None where the parser left it to the caller
        (see :func:`~.text.parse_text_encoded`); None instead of the list for YAML.
    :raises TreeError: as :func:`parse_tree`.
    """
    text = decode_source(text, filename)
    form = "yaml" if filename and filename.lower().endswith((".yaml", ".yml")) else detect_format(text)
    logger.debug("parsing %s as %s", filename or "<string>", form)
    if form == "yaml":
        return parse_yaml(text, filename=filename), None
    if encoded:
        return parse_text_encoded(text, filename=filename)
    return parse_text(text, filename=filename), None


def emit_tree(root: Node, *, format: str = "text") -> str:
    """Write the tree below ``root`` in the text or YAML form, deterministically.

    :param root: the tree's root node (it must have no properties).
    :param format: ``'text'`` (zc.zk's form) or ``'yaml'``.
    :returns: the tree as text, ending with a newline (``""`` for an empty tree).
    :raises ValueError: for an unknown format, and for what the form cannot
        hold, naming the node path and property.

    ``parse_tree(emit_tree(root, format=f)) == root`` for every tree this
    accepts, at any depth.
    """
    return emit_checked(root, format=format, checked=False)


def emit_checked(root: Node, *, format: str = "text", checked: bool = True) -> str:
    """:func:`emit_tree` for a tree whose properties were checked for writing already (an export's)."""
    if format == "text":
        return emit_text(root, checked=checked)
    if format == "yaml":
        text = emit_yaml(root, checked=checked)
        if text and detect_format(text) != "yaml":  # pragma: no cover - defensive, keeps detection right
            text = "---\n" + text
        return text
    raise ValueError(f"unknown tree format {format!r}; expected one of {', '.join(FORMATS)}")
