"""The tree format (text and YAML), without a server: parsing, errors, writing, round trips."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkservices import TreeError, _tree
from zkservices._tree import (
    Node,
    detect_format,
    emit_tree,
    iter_nodes,
    parse_text,
    parse_tree,
    parse_yaml,
)

BROKEN = Path(__file__).parent / "data" / "broken"

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


# ---------------------------------------------------------------------------
# The contract's example


def test_contract_example_parses_to_the_documented_structure():
    root = parse_tree(CONTRACT_EXAMPLE)
    assert root.name == ""
    assert list(root.children) == ["fooservice"]
    service = root.children["fooservice"]
    assert service.name == "fooservice"
    assert service.lineno == 2
    assert service.properties == {
        "type": "z4m cms",
        "threads": 3,
        "database": "/databases/main",
        "db ->": "/databases/main",
        "threads_copy =>": "../cms threads",
    }
    assert list(service.children) == ["providers"]
    providers = service.children["providers"]
    assert providers.properties == {} and providers.children == {}
    assert providers.lineno == 7


def test_contract_example_emits_sorted_and_reparses():
    root = parse_tree(CONTRACT_EXAMPLE)
    assert emit_tree(root) == (
        "/fooservice : z4m cms\n"
        '  database = "/databases/main"\n'
        "  db -> /databases/main\n"
        "  threads = 3\n"
        "  threads_copy => ../cms threads\n"
        "  /providers\n"
    )
    assert emit_tree(root, format="yaml") == (
        "/fooservice:\n"
        "  database: /databases/main\n"
        "  db ->: /databases/main\n"
        "  threads: 3\n"
        "  threads_copy =>: ../cms threads\n"
        "  type: z4m cms\n"
        "  /providers: {}\n"
    )
    for form in ("text", "yaml"):
        assert parse_tree(emit_tree(root, format=form)) == root


def test_same_tree_in_yaml_parses_equal():
    yaml_text = """\
# the contract example, as YAML
/fooservice:
  type: z4m cms
  threads: 3
  database: /databases/main
  db ->: /databases/main
  threads_copy =>: ../cms threads
  /providers:
"""
    assert detect_format(yaml_text) == "yaml"
    root = parse_tree(yaml_text)
    assert root == parse_tree(CONTRACT_EXAMPLE)
    assert root.children["fooservice"].lineno == 2
    assert root.children["fooservice"].children["providers"].lineno == 8


# ---------------------------------------------------------------------------
# Text form details


def test_python_literals_are_accepted_and_written_back_as_json():
    root = parse_text(
        "/a\n"
        "  t = True\n"
        "  f = False\n"
        "  n = None\n"
        "  s = 'single'\n"
        "  tup = (1, 2)\n"
        "  nested = {'k': (None, [True])}\n"
        "  neg = -1.5\n"
        "  big = 1_000\n"
    )
    props = root.children["a"].properties
    assert props == {
        "t": True,
        "f": False,
        "n": None,
        "s": "single",
        "tup": [1, 2],
        "nested": {"k": [None, [True]]},
        "neg": -1.5,
        "big": 1000,
    }
    assert type(props["t"]) is bool and type(props["tup"]) is list
    assert emit_tree(root) == (
        "/a\n"
        "  big = 1000\n"
        "  f = false\n"
        "  n = null\n"
        "  neg = -1.5\n"
        '  nested = {"k": [null, [true]]}\n'
        '  s = "single"\n'
        "  t = true\n"
        "  tup = [1, 2]\n"
    )


def test_values_are_never_executed(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a) or 0)
    target = tmp_path / "pwned"
    for expression in (
        "__import__('os').system('true')",
        f"open({str(target)!r}, 'w')",
        f"__import__('pathlib').Path({str(target)!r}).touch()",
        "[x for x in ().__class__.__base__.__subclasses__()]",
        "(lambda: 1)()",
    ):
        error = parse_error(f"/a\n  x = {expression}\n")
        assert error.lineno == 2
        assert "not a JSON or Python literal" in str(error)
    assert calls == []
    assert not target.exists()


def test_trailing_comments_on_property_lines():
    root = parse_text(
        "/a : my type # not a comment\n"
        "  threads = 3  # per CPU\n"
        "  flag = true # JSON spelling, comment still skipped\n"
        "  hashed = \"a # b\"\n"
        "  quoted = \"x#\" # and a comment\n"
        "  listed = [\"#\", null] # mixed\n"
        "  db -> /x # y\n"
        "  t => ../b#c\n"
    )
    props = root.children["a"].properties
    assert props == {
        "type": "my type # not a comment",
        "threads": 3,
        "flag": True,
        "hashed": "a # b",
        "quoted": "x#",
        "listed": ["#", None],
        "db ->": "/x # y",
        "t =>": "../b#c",
    }


def test_comment_lines_and_blank_lines_are_ignored_everywhere():
    root = parse_text("\n# top\n/a\n\n    # deeper comment\n  x = 1\n#\n  /b\n      # c\n")
    assert root == tree(a=node("a", {"x": 1}, b=node("b")))


def test_operators_need_blanks_around_them_so_names_may_contain_them():
    root = parse_text(
        "/a\n"
        "  a=b = 1\n"
        "  x->y -> /target\n"
        "  my prop = \"v -> w = z => q\"\n"
        "  c =d = 2\n"
        "  p=>q => ../b name\n"
    )
    assert root.children["a"].properties == {
        "a=b": 1,
        "x->y ->": "/target",
        "my prop": "v -> w = z => q",
        "c =d": 2,
        "p=>q =>": "../b name",
    }


def test_value_starting_with_an_operator_is_not_a_literal():
    error = parse_error("/a\n  e = = 3\n")
    assert error.lineno == 2
    assert "not a JSON or Python literal: = 3" in str(error)


def test_compact_zc_zk_spellings():
    root = parse_text("/a\n  threads=3\n  db->/x\n  t=>../b threads\n  y =4\n  z= 'q'\n")
    assert root.children["a"].properties == {
        "threads": 3,
        "db ->": "/x",
        "t =>": "../b threads",
        "y": 4,
        "z": "q",
    }


def test_node_names_with_colons_and_types():
    root = parse_text(
        "/providers\n"
        "  /127.0.0.1:8080\n"
        "  /[::1]:8080 : ephemeral\n"
        "  /a:b  :  t : u\n"
        "  /with space : x\n"
    )
    children = root.children["providers"].children
    assert list(children) == ["127.0.0.1:8080", "[::1]:8080", "a:b", "with space"]
    assert children["127.0.0.1:8080"].properties == {}
    assert children["[::1]:8080"].properties == {"type": "ephemeral"}
    assert children["a:b"].properties == {"type": "t : u"}
    assert children["with space"].properties == {"type": "x"}


def test_crlf_and_byte_order_mark_and_bytes_input():
    data = "\ufeff/a : t\r\n  x = \"é\"\r\n".encode()
    root = parse_tree(data)
    assert root == tree(a=node("a", {"type": "t", "x": "é"}))
    assert parse_tree(data.decode()) == root


def test_properties_may_follow_children_and_first_entry_may_be_indented():
    root = parse_text("  /a\n    /b\n      x = 1\n    y = 2\n  /c\n")
    assert root == tree(a=node("a", {"y": 2}, b=node("b", {"x": 1})), c=node("c"))


def test_type_given_as_property_line_is_allowed():
    root = parse_text('/a\n  type = "my type"\n/b\n  type = 3\n')
    assert root.children["a"].properties == {"type": "my type"}
    assert root.children["b"].properties == {"type": 3}


def test_empty_and_comment_only_input():
    for text in ("", "\n\n", "# nothing\n   # here\n", b""):
        root = parse_tree(text)
        assert root == Node() and root.children == {} and root.properties == {}


def test_lineno_recorded_for_nested_nodes():
    root = parse_text("# c\n/a\n  x = 1\n  /b\n\n    /c\n")
    a = root.children["a"]
    assert (a.lineno, a.children["b"].lineno, a.children["b"].children["c"].lineno) == (2, 4, 6)


# ---------------------------------------------------------------------------
# Errors, inline (the corpus in tests/data/broken covers more)

TEXT_ERRORS = [
    ("x = 1\n/a\n", 1, "property 'x' above the first node"),
    ("# c\n\ndb -> /x\n/a\n", 3, "symbolic link 'db' above the first node"),
    ("/a\nt => ../b\n", 2, "property link 't' at the top level"),
    ("/a\n  /b\n  /b\n", 3, "duplicate node '/b' (first defined on line 2)"),
    ("/a\n  x = 1\n  x = 2\n", 3, "duplicate property 'x' (first defined on line 2)"),
    ("/a\n  d -> /x\n  d -> /x\n", 3, "duplicate symbolic link 'd'"),
    ("/a\n  t => ../b\n  t => ../b\n", 3, "duplicate property link 't'"),
    ("/a : t\n  type = 't'\n", 2, "duplicate property 'type' (first defined on line 1)"),
    ("/a\n    /b\n  /c\n", 3, "dedent to an indentation level that was never used"),
    ("/a\n  x = 1\n    /b\n", 3, "indented under the property 'x' on line 2"),
    ("/a\n  d -> /x\n    y = 1\n", 3, "indented under the symbolic link 'd' on line 2"),
    ("/a\n  /.\n", 2, "invalid node name '.'"),
    ("/a\n  /..\n", 2, "invalid node name '..'"),
    ("/\n", 1, "empty node name"),
    ("/a/b\n", 1, "invalid node name 'a/b'"),
    ("/zookeeper\n", 1, "'/zookeeper' is reserved"),
    ("/a\n  /b\U0001F600\n", 2, "character U+1F600 is not allowed"),
    ("/a\n  /b\x7f\n", 2, "character U+007F is not allowed"),
    ("/a\n  /b: t\n", 2, "invalid node name 'b: t'"),
    ("/a\n  /b:\n", 2, "invalid node name 'b:'"),
    ("/a\n  / b\n", 2, "must not start or end with white space"),
    ("/a :\n", 1, "missing type after ' : '"),
    ("/a\n  x = foo(\n", 2, "not a JSON or Python literal: foo("),
    ("/a\n  x = {1, 2}\n", 2, "set values cannot be represented in JSON"),
    ("/a\n  x = b'raw'\n", 2, "bytes values cannot be represented in JSON"),
    ("/a\n  x = 1j\n", 2, "complex values cannot be represented in JSON"),
    ("/a\n  x = Infinity\n", 2, "not a JSON or Python literal: Infinity"),
    ("/a\n  x = [1e999]\n", 2, "inf cannot be represented in JSON"),
    ("/a\n  x = {1: 2}\n", 2, "keys must be strings"),
    ("/a\n  x =\n", 2, "property 'x' has no value"),
    ("/a\n  d ->\n", 2, "empty symbolic link target"),
    ("/a\n  t =>\n", 2, "empty property link"),
    ("/a\n  t => a b c\n", 2, "malformed property link 'a b c'"),
    ("/a\n  /b\n  . -> /x\n", 3, "must be a valid node name"),
    ("/a\n  words only\n", 2, "unrecognized line"),
    ("/a\n  key: value\n", 2, "a YAML line?"),
    ("/a\n\t/b\n", 2, "tab in the indentation"),
    ("/a\n  /b\n \t  /c\n", 3, "tab in the indentation"),
    ("/a\n\u00a0 x = 1\n", 2, "U+00A0 in the indentation"),
    ("/a\n  x = 1\x00\n", 2, "control character U+0000"),
    ("/a\n  x = \"a\rb\"\n", 2, "control character U+000D"),
]


@pytest.mark.parametrize("text, lineno, fragment", TEXT_ERRORS)
def test_text_errors_name_the_line(text, lineno, fragment):
    error = parse_error(text, filename="conf.tree")
    assert isinstance(error, ValueError)
    assert error.lineno == lineno
    assert error.filename == "conf.tree"
    assert f"conf.tree, line {lineno}: " in str(error)
    assert fragment in str(error)
    assert fragment in error.reason
    # The same through the explicit text parser.
    assert parse_error(text, parse_text).lineno == lineno


def test_error_without_filename_says_string():
    error = parse_error("/a\n  /a\n  /a\n")
    assert str(error).startswith("<string>, line 3: duplicate node '/a'")


def test_undecodable_bytes_name_their_line():
    error = parse_error(b"/a\n  x = 1\n  y = \xff\xfe\x00\n", filename="junk.tree")
    assert error.lineno == 3
    assert "junk.tree, line 3: not UTF-8 text: cannot decode byte 0xff" in str(error)
    assert parse_error(b"\xff\xfe\x00").lineno == 1
    assert parse_error(b"\xff\xfe\x00", parse_yaml).lineno == 1
    assert parse_error(b"/a\n\xc3", parse_text).lineno == 2


YAML_ERRORS = [
    ("/a:\n  x: 1\n  x: 2\n", 3, "duplicate property 'x' (first defined on line 2)"),
    ("/a:\n  /b: {}\n  /b:\n", 3, "duplicate node '/b' (first defined on line 2)"),
    ("/a: {}\n/a: {}\n", 2, "duplicate node '/a' (first defined on line 1)"),
    ("/a:\n  d ->: /x\n  d ->: /y\n", 3, "duplicate symbolic link 'd'"),
    ("/a:\n  x:\n    - {k: 1, k: 2}\n", 3, "duplicate key 'k' (first on line 3)"),
    ("/a: {}\nx: 1\n", 2, "property 'x' at the top level"),
    ("/a: {}\nd ->: /x\n", 2, "symbolic link 'd' at the top level"),
    ("--- x\n", 1, "the top level of a YAML tree must be a mapping"),
    ("/a: 3\n", 1, "node '/a' must have a mapping"),
    ("/a:\n  /b: [1]\n", 2, "node '/b' must have a mapping"),
    ("/a:\n  /b/c: {}\n", 2, "invalid node name 'b/c'"),
    ("/zookeeper:\n", 1, "'/zookeeper' is reserved"),
    ("/a:\n  x: .inf\n", 2, "cannot be represented in JSON"),
    ("/a:\n  x: [1, .nan]\n", 2, "cannot be represented in JSON"),
    ("/a:\n  when: 2020-01-01 10:00:00\n", 2, "(datetime) cannot be represented in JSON"),
    ("/a:\n  x: !!binary aGVsbG8=\n", 2, "(bytes) cannot be represented in JSON"),
    ("/a:\n  x: !!set {a, b}\n", 2, "unsupported YAML tag"),
    ("/a:\n  x: !!python/name:os.system ''\n", 2, "invalid YAML"),
    ("/a:\n  x: !custom 3\n", 2, "invalid YAML"),
    ("/a:\n  1: x\n", 2, "key '1' is a int, not a string"),
    ("/a:\n  ? [1]\n  : x\n", 2, "keys must be strings"),
    ("/a:\n  d ->: ' '\n", 2, "empty symbolic link target"),
    ("/a:\n  d ->: [1]\n", 2, "must be a string, not list"),
    ("/a:\n  t =>: ''\n", 2, "empty property link"),
    ("/a:\n  t =>: a b c\n", 2, "malformed property link"),
    ("/a:\n  ' ->': /x\n", 2, "link without a name"),
    ("/a:\n  b: &x [1, *x]\n", 2, "recursive YAML alias"),
    ("/a:\n  b: &x {k: 1}\n  /c:\n    <<: *x\n", 4, "merge keys ('<<') are not supported"),
    ("/a:\n  x: [1, 2\n  y: 3\n", 3, "invalid YAML"),
    ("/a: {}\n---\n/b: {}\n", 2, "invalid YAML"),
    ("/a:\n  x: \"\x00\"\n", 2, "invalid YAML"),
]


@pytest.mark.parametrize("text, lineno, fragment", YAML_ERRORS)
def test_yaml_errors_name_the_line(text, lineno, fragment):
    assert detect_format(text) == "yaml"
    error = parse_error(text, filename="conf.yaml")
    assert error.lineno == lineno
    assert f"conf.yaml, line {lineno}: " in str(error)
    assert fragment in str(error)
    assert parse_error(text, parse_yaml).lineno == lineno


def test_yaml_alias_bomb_is_refused():
    lines = ["/a:", "  l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        lines.append(f"  l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 10)}]")
    error = parse_error("\n".join(lines) + "\n")
    assert "aliases expand to too many values" in str(error)
    assert error.lineno is not None


def test_yaml_recursive_alias_as_node_body_is_refused():
    error = parse_error("/a: &x\n  k: 1\n  /b: *x\n")
    assert error.lineno == 1 and "recursive YAML alias" in str(error)


def test_yaml_alias_bomb_of_nodes_is_refused(monkeypatch):
    monkeypatch.setattr(_tree, "_YAML_BUDGET", 10_000)  # the default (1e6) is slow to exhaust
    lines = ["/l0: &l0 {k: 1}"]
    for level in range(1, 8):
        bodies = ", ".join(f"/n{i}: *l{level - 1}" for i in range(10))
        lines.append(f"/l{level}: &l{level} {{{bodies}}}")
    error = parse_error("\n".join(lines) + "\n")
    assert "aliases expand to too many values" in str(error)


def test_yaml_aliased_node_bodies_make_separate_nodes():
    root = parse_yaml("/a: &x\n  k: [1]\n/b: *x\n")
    assert root == tree(a=node("a", {"k": [1]}), b=node("b", {"k": [1]}))
    assert root.children["a"].properties["k"] is not root.children["b"].properties["k"]


def test_yaml_non_recursive_aliases_and_null_nodes():
    root = parse_yaml("/a:\n  x: &v {k: [1, 2]}\n  y: *v\n  /b:\n  /c: ~\n  /d: null\n  /e: {}\n")
    a = root.children["a"]
    assert a.properties == {"x": {"k": [1, 2]}, "y": {"k": [1, 2]}}
    assert a.properties["x"] is not a.properties["y"]
    assert list(a.children) == ["b", "c", "d", "e"]
    assert all(child.properties == {} for child in a.children.values())


def test_yaml_type_is_just_a_property_and_json_is_yaml():
    root = parse_tree('{"/a": {"type": 7, "/b": null, "l ->": "/x"}}')
    assert root == tree(a=node("a", {"type": 7, "l ->": "/x"}, b=node("b")))


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


# ---------------------------------------------------------------------------
# Writing

RICH = tree(
    b=node(
        "b",
        {
            "type": "svc",
            "int": -7,
            "float": 2.5,
            "zero": -0.0,
            "big": 2**70,
            "t": True,
            "f": False,
            "none": None,
            "empty_list": [],
            "empty_dict": {},
            "nested": {"z": [1, {"y": []}], "a": {"": None}},
            "quotes": "it's \"quoted\"",
            "newline": "line1\nline2\r\n",
            "hash": "# not a comment",
            "arrows": "a -> b => c = d",
            "unicode": "héllo wörld ☃ 中文 \U0001F600",
            "ctrl": "\x00\x01\t\x7f\x85\u2028",
            "yamlish": "yes",
            "numeric_string": "1.0",
            "empty": "",
            "spaces": "  padded  ",
            "db ->": "/databases/main",
            "rel ->": "../x y",
            "t2 =>": "../cms threads",
            "t3 =>": "/abs",
            "ünïcode prop": 1,
            "a=b": 2,
            "x->y": 3,
        },
        **{
            "127.0.0.1:8080": node("127.0.0.1:8080", {"pid": 1}),
            "é:8080": node("é:8080"),
            "with space": node("with space", {"type": "multi word type"}),
        },
    ),
    a=node("a", {"type": " padded type "}, c=node("c", {"type": "line\nbreak"}), d=node("d", {"type": 3})),
    e=node("e", {"type": ""}),
)


@pytest.mark.parametrize("form", ["text", "yaml"])
def test_rich_tree_round_trips(form):
    text = emit_tree(RICH, format=form)
    assert detect_format(text) == form
    again = parse_tree(text)
    assert again == RICH
    assert emit_tree(again, format=form) == text
    # JSON-level strictness of equality is part of what this checks:
    assert type(again.children["b"].properties["t"]) is bool
    assert str(again.children["b"].properties["zero"]) == "-0.0"


def test_text_output_layout():
    text = emit_tree(RICH)
    # Nothing inside a line looks like a line break to str.splitlines either.
    assert text.splitlines() == text.split("\n")[:-1]
    lines = text.splitlines()
    assert lines[0] == "/a"
    assert lines[1] == '  type = " padded type "'
    assert "  /c" in lines and '    type = "line\\nbreak"' in lines
    assert "  /d" in lines and "    type = 3" in lines
    assert "/b : svc" in lines
    assert '  arrows = "a -> b => c = d"' in lines
    assert '  a=b = 2' in lines
    assert "  db -> /databases/main" in lines
    assert "  t2 => ../cms threads" in lines
    assert '  unicode = "héllo wörld ☃ 中文 \U0001F600"' in lines
    assert '  ctrl = "\\u0000\\u0001\\t\x7f\\u0085\\u2028"' in lines
    assert '  nested = {"a": {"": null}, "z": [1, {"y": []}]}' in lines
    assert "  /127.0.0.1:8080" in lines and "  /with space : multi word type" in lines
    assert lines[-2:] == ["/e", '  type = ""']
    assert text.endswith("\n") and not text.endswith("\n\n")
    # Properties sorted, before children, children sorted, two spaces per level.
    b_start = lines.index("/b : svc")
    b_body = lines[b_start + 1 : lines.index("/e")]
    props = [line for line in b_body if re.match(r"  [^ /]", line)]
    assert b_body[: len(props)] == props
    keys = [re.split(r" (?:=|->|=>) ", line.strip(), maxsplit=1)[0] for line in props]
    full_keys = sorted(k for k in RICH.children["b"].properties if k != "type")
    assert keys == [k[:-3] if k.endswith((" ->", " =>")) else k for k in full_keys]
    children = [line.strip() for line in b_body[len(props) :]]
    assert children == ["/127.0.0.1:8080", "pid = 1", "/with space : multi word type", "/é:8080"]


def test_emit_is_deterministic_regardless_of_insertion_order():
    one = tree(
        x=node("x", {"b": 1, "a": {"z": 1, "y": 2}}, q=node("q"), p=node("p")),
        w=node("w"),
    )
    two = Node()
    two.children["w"] = Node("w")
    x = Node("x", {"a": {"y": 2, "z": 1}, "b": 1})
    x.children["p"] = Node("p")
    x.children["q"] = Node("q")
    two.children["x"] = x
    assert one == two
    for form in ("text", "yaml"):
        assert emit_tree(one, format=form) == emit_tree(two, format=form)
    assert emit_tree(one) == '/w\n/x\n  a = {"y": 2, "z": 1}\n  b = 1\n  /p\n  /q\n'


def test_empty_root_emits_nothing():
    assert emit_tree(Node()) == ""
    assert emit_tree(Node(), format="yaml") == ""


def test_empty_nodes_round_trip_in_yaml():
    root = tree(a=node("a", b=node("b")))
    assert emit_tree(root, format="yaml") == "/a:\n  /b: {}\n"
    assert parse_tree(emit_tree(root, format="yaml")) == root


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown tree format 'json'"):
        emit_tree(RICH, format="json")


@pytest.mark.parametrize(
    "key, fragment",
    [
        ("a = b", "property 'a = b'"),
        ("a =", "property 'a ='"),
        ("x -> y", "property 'x -> y'"),
        ("t => u", "property 't => u'"),
        (" lead", "property ' lead'"),
        ("trail ", "property 'trail '"),
        ("#hash", "property '#hash'"),
        ("new\nline", "property 'new\\nline'"),
        ("a = b ->", "symbolic link 'a = b'"),
        ("a = b =>", "property link 'a = b'"),
    ],
)
def test_text_form_refuses_names_it_cannot_hold_and_yaml_holds_them(key, fragment):
    value = "/x" if key.endswith((" ->", " =>")) else 1
    root = tree(svc=node("svc", sub=node("sub", {key: value})))
    with pytest.raises(ValueError) as info:
        emit_tree(root)
    message = str(info.value)
    assert "/svc/sub" in message and fragment in message and "format='yaml'" in message
    assert not isinstance(info.value, TreeError)
    yaml_text = emit_tree(root, format="yaml")
    assert parse_tree(yaml_text) == root


@pytest.mark.parametrize(
    "name",
    [" lead", "trail ", "colon:", "colon: space", "a :b:"],
)
def test_text_form_refuses_node_names_it_cannot_hold(name):
    root = tree(top=node("top", **{name: node(name, {"x": 1})}))
    with pytest.raises(ValueError) as info:
        emit_tree(root)
    assert f"/top/{name}" in str(info.value) and "format='yaml'" in str(info.value)
    assert parse_tree(emit_tree(root, format="yaml")) == root


@pytest.mark.parametrize(
    "key, value",
    [("db ->", " /x"), ("db ->", "/x\n"), ("t =>", "a\tb"), ("db ->", "/a\tb")],
)
def test_link_values_text_form(key, value):
    root = tree(top=node("top", {key: value}))
    yaml_text = emit_tree(root, format="yaml")
    assert parse_tree(yaml_text) == root
    if value != value.strip() or "\n" in value:
        with pytest.raises(ValueError, match="/top"):
            emit_tree(root)
    else:
        assert parse_tree(emit_tree(root)) == root


@pytest.mark.parametrize(
    "root, fragment",
    [
        (tree(**{"a/b": node("a/b")}), "invalid node name 'a/b'"),
        (tree(a=node("a", **{"..": node("..")})), "invalid node name '..'"),
        (tree(**{"": node("")}), "empty node name"),
        (tree(a=node("a", **{"x\x00": node("x\x00")})), "character U+0000"),
        (tree(zookeeper=node("zookeeper")), "'/zookeeper' is reserved"),
        (tree(a=node("b")), "it is named 'b'"),
        (tree(a=node("a", {"x": float("nan")})), "property 'x' of node /a: nan"),
        (tree(a=node("a", {"x": [float("inf")]})), "inf cannot be represented"),
        (tree(a=node("a", {"x": {1: 2}})), "keys must be strings"),
        (tree(a=node("a", {"x": {1, 2}})), "set values cannot be represented"),
        (tree(a=node("a", {"x": b"raw"})), "bytes values"),
        (tree(a=node("a", {"/x": 1})), "starts with '/'"),
        (tree(a=node("a", {"": 1})), "empty property name"),
        (tree(a=node("a", {" ->": "/x"})), "link without a name"),
        (tree(a=node("a", {"a -> ->": "/x"})), "itself ends with ' ->' or ' =>'"),
        (tree(a=node("a", {"x/y ->": "/x"})), "must be a valid node name"),
        (tree(a=node("a", {"d ->": ""})), "empty symbolic link target"),
        (tree(a=node("a", {"d ->": 3})), "must be a string, not int"),
        (tree(a=node("a", {"t =>": "a b c"})), "malformed property link"),
        (tree(a=node("a", {"t =>": None})), "must be a string 'PATH [NAME]'"),
        (Node("", {"x": 1}), "properties of the root node"),
    ],
)
def test_emit_refuses_what_no_form_can_hold(root, fragment):
    for form in ("text", "yaml"):
        with pytest.raises(ValueError) as info:
            emit_tree(root, format=form)
        assert fragment in str(info.value), (form, str(info.value))


def test_tuples_are_written_as_lists():
    root = tree(a=node("a", {"x": (1, (2,))}))
    assert emit_tree(root) == "/a\n  x = [1, [2]]\n"
    assert parse_tree(emit_tree(root, format="yaml")).children["a"].properties == {"x": [1, [2]]}


# ---------------------------------------------------------------------------
# Node and iter_nodes


def test_node_equality_is_structural_and_json_strict():
    assert Node("a", {"x": 1}) == Node("a", {"x": 1}, lineno=5)
    assert Node("a", {"x": 1}) != Node("b", {"x": 1})
    assert Node("a", {"x": 1}) != Node("a", {"x": True})
    assert Node("a", {"x": 1}) != Node("a", {"x": 1.0})
    assert Node("a", {"x": 0.0}) != Node("a", {"x": -0.0})
    assert Node("a", {"x": [1]}) == Node("a", {"x": (1,)})
    assert node("a", b=node("b", {"k": 1})) != node("a", b=node("b", {"k": 2}))
    assert node("a", b=node("b")) != node("a", c=node("c"))
    assert Node("a") != "a"
    with pytest.raises(TypeError):
        hash(Node("a"))


def test_node_repr():
    root = parse_text("/a : t\n  /b\n  /c\n")
    assert repr(root) == "Node('', children=['a'])"
    assert repr(root.children["a"]) == "Node('a', properties={'type': 't'}, children=['b', 'c'], lineno=1)"


def test_iter_nodes_pre_order_in_file_order():
    root = parse_text("/z\n  /b\n    /c\n  /a\n/y\n")
    assert [path for path, _ in iter_nodes(root)] == ["/z", "/z/b", "/z/b/c", "/z/a", "/y"]
    assert [n.name for _, n in iter_nodes(root)] == ["z", "b", "c", "a", "y"]
    assert [path for path, _ in iter_nodes(root, "/app/")] == [
        "/app/z",
        "/app/z/b",
        "/app/z/b/c",
        "/app/z/a",
        "/app/y",
    ]
    assert list(iter_nodes(Node())) == []


def test_deep_trees_do_not_hit_the_recursion_limit():
    depth = 3000
    text = "".join("  " * i + f"/n{i}\n" for i in range(depth))
    root = parse_text(text)
    assert len(list(iter_nodes(root))) == depth
    assert emit_tree(root) == text
    assert parse_text(emit_tree(root)) == root


# ---------------------------------------------------------------------------
# Property-based round trips

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)

SAFE_CHARS = "abcxyzABC019-_.:@éüß中€☃ "
SAFE_PROP_CHARS = SAFE_CHARS + "=->#'\"!{}[]"
WORD = st.text(alphabet="abcé中-_.019", min_size=1, max_size=6)

# The documented limits of the text form, restated independently of the module.
_OPERATOR_INSIDE = re.compile(r"\s(?:=|->|=>)(?:\s|$)")


def text_can_hold_property_name(name):
    return (
        not name.startswith(("/", "#"))
        and name == name.strip()
        and not any(ord(c) < 0x20 and c != "\t" for c in name)
        and not _OPERATOR_INSIDE.search(name)
    )


def text_can_hold_node_name(name):
    return name == name.strip() and not re.search(r":(?:\s|$)", name)


def text_can_hold_link_value(value):
    return value == value.strip() and not any(ord(c) < 0x20 and c != "\t" for c in value)


def valid_node_name(name):
    return (
        bool(name)
        and "/" not in name
        and name not in (".", "..")
        and not any(
            ord(c) <= 0x1F or 0x7F <= ord(c) <= 0x9F or 0xD800 <= ord(c) <= 0xF8FF or ord(c) >= 0xFFF0
            for c in name
        )
    )


def not_a_link_key(name):
    return not name.endswith((" ->", " =>"))


class Kit:
    def __init__(self, node_names, prop_names, link_targets, plink_values, types):
        self.node_names = node_names
        self.prop_names = prop_names
        self.link_targets = link_targets
        self.plink_values = plink_values
        self.types = types


SAFE_KIT = Kit(
    node_names=st.text(alphabet=SAFE_CHARS, min_size=1, max_size=8).filter(
        lambda n: valid_node_name(n) and text_can_hold_node_name(n)
    ),
    prop_names=st.text(alphabet=SAFE_PROP_CHARS, min_size=1, max_size=8).filter(
        lambda n: text_can_hold_property_name(n) and not_a_link_key(n)
    ),
    link_targets=st.builds(lambda parts: "/" + "/".join(parts), st.lists(WORD, max_size=3))
    | st.builds(lambda a, b: f"../{a} {b}", WORD, WORD),
    plink_values=st.builds(lambda p, n: p + n, WORD, st.none().map(lambda _: "") | WORD.map(" {}".format)),
    types=st.text(alphabet=SAFE_CHARS, min_size=1, max_size=10) | json_values,
)

_NODE_CHARS = st.characters(max_codepoint=0xD7FF, exclude_categories=("Cc", "Cs"))
_NON_BLANK = st.characters(exclude_categories=("Z", "Cc", "Cs"))
WILD_KIT = Kit(
    node_names=st.text(alphabet=_NODE_CHARS, min_size=1, max_size=8).filter(valid_node_name),
    prop_names=st.text(min_size=1, max_size=8).filter(lambda n: not n.startswith("/") and not_a_link_key(n)),
    link_targets=st.text(min_size=1, max_size=10).filter(str.strip),
    plink_values=st.builds(
        lambda a, sep, b: a + (sep + b if b else ""),
        st.text(alphabet=_NON_BLANK, min_size=1, max_size=6),
        st.sampled_from([" ", "\t", "  "]),
        st.text(alphabet=_NON_BLANK, max_size=6),
    ),
    types=st.text(max_size=10) | json_values,
)


@st.composite
def trees(draw, kit, max_depth=3):
    root = Node()

    def fill(parent, depth, top):
        names = draw(st.lists(kit.node_names, max_size=3 if depth > 1 else 2, unique=True))
        for name in names:
            if top and name == "zookeeper":
                continue
            child = Node(name)
            child.properties.update(draw(st.dictionaries(kit.prop_names, json_values, max_size=3)))
            if draw(st.booleans()):
                child.properties["type"] = draw(kit.types)
            for link in draw(st.lists(kit.node_names.filter(not_a_link_key), max_size=2, unique=True)):
                child.properties[link + " ->"] = draw(kit.link_targets)
            for plink in draw(st.lists(kit.prop_names, max_size=2, unique=True)):
                child.properties[plink + " =>"] = draw(kit.plink_values)
            parent.children[name] = child
            if depth > 1:
                fill(child, depth - 1, False)

    fill(root, max_depth, True)
    return root


def text_can_hold(root):
    for _path, n in iter_nodes(root):
        if not text_can_hold_node_name(n.name):
            return False
        for key, value in n.properties.items():
            if key.endswith((" ->", " =>")):
                if not (text_can_hold_property_name(key[:-3]) and text_can_hold_link_value(value)):
                    return False
            elif not text_can_hold_property_name(key):
                return False
    return True


PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


@PROPERTY_SETTINGS
@given(trees(SAFE_KIT))
def test_property_safe_trees_round_trip_in_text(root):
    text = emit_tree(root)
    assert detect_format(text) == "text"
    again = parse_tree(text)
    assert again == root
    assert emit_tree(again) == text


@PROPERTY_SETTINGS
@given(trees(SAFE_KIT))
def test_property_safe_trees_round_trip_in_yaml(root):
    text = emit_tree(root, format="yaml")
    assert text == "" or detect_format(text) == "yaml"
    again = parse_tree(text)
    assert again == root
    assert emit_tree(again, format="yaml") == text


@PROPERTY_SETTINGS
@given(trees(WILD_KIT))
def test_property_any_valid_tree_round_trips_in_yaml(root):
    text = emit_tree(root, format="yaml")
    again = parse_tree(text)
    assert again == root
    assert parse_yaml(text.encode()) == root


@PROPERTY_SETTINGS
@given(trees(WILD_KIT))
def test_property_text_form_round_trips_or_refuses_exactly_as_documented(root):
    if text_can_hold(root):
        text = emit_tree(root)
        assert parse_tree(text) == root
        assert parse_text(text.encode()) == root
    else:
        with pytest.raises(ValueError, match="in the text form"):
            emit_tree(root)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_property_values_parse_back_from_their_json(value):
    text = emit_tree(tree(a=node("a", {"v": value})))
    assert text.startswith("/a\n  v = ") and text.endswith("\n") and text.count("\n") == 2
    assert json.loads(text[len("/a\n  v = ") :]) == value
    assert Node("a", {"v": parse_text(text).children["a"].properties["v"]}) == Node("a", {"v": value})


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=40))
def test_property_arbitrary_text_parses_or_raises_tree_error(text):
    for parser in (parse_tree, parse_text, parse_yaml):
        try:
            parser(text)
        except TreeError as e:
            breaks = sum(text.count(c) for c in "\n\r\x85\u2028\u2029")
            assert e.lineno is None or 1 <= e.lineno <= breaks + 1
