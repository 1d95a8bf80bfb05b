"""Both forms as one (zkservices._tree.formats): detection, parse_tree, the broken-file corpus."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkservices import TreeError
from zkservices._tree import Node, detect_format, parse_text, parse_tree, parse_yaml

from ._helpers import BROKEN, parse_error

# ---------------------------------------------------------------------------
# The broken-file corpus


@pytest.mark.parametrize("path", sorted(BROKEN.glob("*.tree")), ids=lambda p: p.stem)
def test_broken_file_corpus(path):
    data = path.read_bytes()
    header = re.match(rb"(?:#[^\n]*\n)*?# expect: line (\d+): ([^\n]*)\n", data)
    assert header, f"{path.name} lacks an '# expect: line N: fragment' header"
    lineno, fragment = int(header.group(1)), header.group(2).decode()
    error = parse_error(data, filename=path.name)
    assert error.lineno == lineno, str(error)
    assert f"{path.name}, line {lineno}: " in str(error)
    assert fragment in str(error)


def test_broken_corpus_is_there():
    names = {p.stem for p in BROKEN.glob("*.tree")}
    assert {"binary_junk", "mixed_tabs", "bad_literal_code", "duplicate_node", "yaml_duplicate_property"} <= names
    assert len(names) >= 40


# ---------------------------------------------------------------------------
# Telling the forms apart

DETECTION = [
    ("/fooservice : z4m cms\n", "text"),
    ("/fooservice\n", "text"),
    ("/fooservice :\n", "text"),  # (an error later: missing type)
    ("/10.0.0.1:8080\n", "text"),
    ("/[::1]:8080 : t\n", "text"),
    ("/a:b : t\n", "text"),
    ("# /a:\n\n   \n/a\n  x: 1\n", "text"),
    ("x = 1\n", "text"),
    ("threads: 3\n", "text"),
    ("", "text"),
    ("# only a comment\n", "text"),
    ("/fooservice:\n", "yaml"),
    ("/fooservice: {}\n", "yaml"),
    ("/fooservice:\t{}\n", "yaml"),
    ("/a:b: {}\n", "yaml"),
    ("  /indented:\n", "yaml"),
    ("# c\n/fooservice:\n  threads: 3\n", "yaml"),
    ("'/fooservice':\n", "yaml"),
    ('"/fooservice": {}\n', "yaml"),
    ("---\n/a: {}\n", "yaml"),
    ("%YAML 1.1\n---\n/a: {}\n", "yaml"),
    ('{"/a": {}}\n', "yaml"),
    ("? /a\n: {}\n", "yaml"),
]


@pytest.mark.parametrize("text, expected", DETECTION)
def test_detect_format(text, expected):
    assert detect_format(text) == expected
    assert detect_format(text.encode()) == expected


def test_detection_drives_parse_tree():
    assert parse_tree("/a:\n  x: 1\n").children["a"].properties == {"x": 1}
    assert parse_tree("/a : x\n").children["a"].properties == {"type": "x"}
    # The YAML habit in a text file's first line is read as YAML, and explained:
    error = parse_error("/a: my type\n")
    assert error.lineno == 1 and "for a node type write 'type: ...'" in str(error)


def test_explicit_parsers_ignore_detection():
    assert parse_yaml("/a:\n").children["a"] == Node("a")
    error = parse_error("/a:\n", parse_text)
    assert error.lineno == 1 and "invalid node name 'a:'" in str(error)


@settings(deadline=None)
@given(st.text(max_size=40))
def test_property_arbitrary_text_parses_or_raises_tree_error(text):
    for parser in (parse_tree, parse_text, parse_yaml):
        try:
            parser(text)
        except TreeError as e:
            breaks = sum(text.count(c) for c in "\n\r\x85\u2028\u2029")
            assert e.lineno is None or 1 <= e.lineno <= breaks + 1


@pytest.mark.parametrize("text", ["- a: 1\n- b: 2\n", "-\n", "# a list\n- /svc\n"])
def test_a_yaml_list_at_the_top_says_a_yaml_tree_must_be_a_mapping(text):
    with pytest.raises(TreeError, match="YAML tree must be a mapping"):
        parse_tree(text)


def test_a_yaml_file_name_means_yaml_whatever_the_first_line():
    with pytest.raises(TreeError, match="YAML tree must be a mapping") as info:
        parse_tree("42\n", filename="tree.yaml")
    assert info.value.filename == "tree.yaml" and info.value.lineno == 1
    assert detect_format("- = 1\n") == "text"  # a text property named "-"
