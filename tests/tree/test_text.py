"""The text form (zkservices._tree.text): grammar, values, errors naming the line."""

from __future__ import annotations

import os

import pytest

from zkservices._tree import Node, emit_tree, parse_text, parse_tree, parse_yaml

from ._helpers import CONTRACT_EXAMPLE, node, parse_error, tree

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


# ---------------------------------------------------------------------------
# Depth: nodes nest without limit, values at most MAX_VALUE_DEPTH levels


def test_a_text_tree_nested_10000_levels_deep_parses():
    depth = 10_000
    text = "".join(" " * i + "/n\n" for i in range(depth)) + " " * depth + "x = 1\n"
    root = parse_text(text)
    node, levels = root, 0
    while node.children:
        node, levels = node.children["n"], levels + 1
    assert levels == depth
    assert node.properties == {"x": 1} and node.lineno == depth


@pytest.mark.parametrize("depth", [101, 1_000, 10_000])
@pytest.mark.parametrize("opening, closing", [("[", "]"), ('{"k": ', "}")])
def test_values_nested_too_deeply_are_refused_naming_the_line(depth, opening, closing):
    value = opening * depth + "1" + closing * depth
    error = parse_error(f"/a\n  ok = 1\n  x = {value}\n/b\n", filename="deep.tree")
    assert error.lineno == 3 and error.filename == "deep.tree"
    assert "more than 100 levels deep" in str(error)
    # a trailing comment does not change that
    assert parse_error(f"/a\n  x = {value}  # deep\n").lineno == 2


def test_values_nested_100_levels_deep_are_accepted_and_written_back():
    value = "[" * 100 + "1" + "]" * 100
    root = parse_text(f"/a\n  x = {value}\n")
    assert emit_tree(root) == f"/a\n  x = {value}\n"
    for form in ("text", "yaml"):
        assert parse_tree(emit_tree(root, format=form)) == root
