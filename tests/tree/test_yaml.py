"""The YAML form (zkservices._tree.yaml): the walker, its errors, aliases."""

from __future__ import annotations

import pytest

from zkservices._tree import detect_format, parse_tree, parse_yaml
from zkservices._tree import yaml as yaml_form

from ._helpers import CONTRACT_EXAMPLE, node, parse_error, tree

# ---------------------------------------------------------------------------
# Reading


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
    monkeypatch.setattr(yaml_form, "YAML_BUDGET", 10_000)  # the default (1e6) is slow to exhaust
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


# ---------------------------------------------------------------------------
# Depth: nodes nest without limit, values at most MAX_VALUE_DEPTH levels


def test_a_yaml_tree_nested_10000_levels_deep_parses():
    depth = 10_000
    text = "{" + "/n: {" * depth + "x: 1" + "}" * depth + "}\n"
    root = parse_tree(text)
    node, levels = root, 0
    while node.children:
        node, levels = node.children["n"], levels + 1
    assert levels == depth and node.properties == {"x": 1}


def test_a_block_yaml_tree_nested_deeply_parses_with_its_lines():
    depth = 1_000
    text = "".join("  " * i + "/n:\n" for i in range(depth)) + "  " * depth + "x: 1\n"
    node = parse_yaml(text)
    for level in range(1, depth + 1):
        node = node.children["n"]
        assert node.lineno == level
    assert node.properties == {"x": 1}


@pytest.mark.parametrize("depth", [101, 1_000, 10_000])
@pytest.mark.parametrize("opening, closing", [("[", "]"), ("{k: ", "}")])
def test_yaml_values_nested_too_deeply_are_refused_naming_the_line(depth, opening, closing):
    value = opening * depth + "1" + closing * depth
    error = parse_error(f"/a:\n  ok: 1\n  x: {value}\n/b: {{}}\n", filename="deep.yaml")
    assert error.lineno == 3 and error.filename == "deep.yaml"
    assert "more than 100 levels deep" in str(error)


def test_yaml_values_nested_too_deeply_through_aliases_are_refused():
    lines = ["/a:", "  v0: &v0 [1]"]
    for level in range(1, 120):
        lines.append(f"  v{level}: &v{level} [*v{level - 1}]")
    error = parse_error("\n".join(lines) + "\n")
    assert "more than 100 levels deep" in str(error) and error.lineno is not None


def test_yaml_values_nested_100_levels_deep_are_accepted():
    root = parse_yaml("/a:\n  x: " + "[" * 100 + "1" + "]" * 100 + "\n")
    value = root.children["a"].properties["x"]
    for _ in range(100):
        value = value[0]
    assert value == 1
