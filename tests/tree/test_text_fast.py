"""The text parser's fast path gives exactly what the line-by-line rules give: trees, errors, node data.

The oracle is the parser as it was before the fast path (``_reference_text``);
``parse_text_encoded``'s data must be what ``encode`` writes for each node.
"""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkservices import TreeError
from zkservices._tree import emit_tree, iter_nodes
from zkservices._tree import text as text_module
from zkservices._tree.text import line_pattern, parse_text, parse_text_encoded
from zkservices._znode.encoding import encode

from ._helpers import BROKEN, CONTRACT_EXAMPLE
from ._reference_text import reference_parse_text
from .test_emit import SAFE_KIT, WILD_KIT, text_can_hold, trees
from .test_text import TEXT_ERRORS

SETTINGS = settings(
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


@pytest.fixture(params=[True, False], ids=["possessive", "plain"])
def pattern(request, monkeypatch):
    """Both spellings of the fast path's pattern (Python 3.11+ uses the possessive one)."""
    try:
        compiled = line_pattern(request.param)
    except Exception:  # pragma: no cover - Python before 3.11 has no possessive quantifiers
        pytest.skip("this Python's re has no possessive quantifiers")
    monkeypatch.setattr(text_module, "_LINE", compiled)
    return compiled


def outcome(parser, text):
    """What ``parser`` makes of ``text``: the tree with its line numbers, or the error."""
    try:
        root = parser(text, filename="t.tree")
    except TreeError as e:
        return ("error", str(e), e.lineno)
    except (ValueError, TypeError) as e:  # pragma: no cover - would be a difference too
        return ("other", type(e).__name__, str(e))
    return ("tree", root, [(path, node.lineno, json.dumps(node.properties)) for path, node in iter_nodes(root)])


def assert_same(text):
    expected = outcome(reference_parse_text, text)
    got = outcome(parse_text, text)
    assert got == expected, text
    if expected[0] == "tree":
        root, datas = parse_text_encoded(text)
        assert root == expected[1]
        nodes = list(iter_nodes(root))
        assert len(datas) == len(nodes)
        for (path, node), data in zip(nodes, datas):
            if data is not None:
                assert data == encode(node.properties, path=path), (path, text)


CORPUS = [
    CONTRACT_EXAMPLE,
    "",
    "\n",
    "# only a comment\n\n",
    "/a\n",
    "/a",
    "/a : t\n  x = 1\n  y = \"s\"\n  z = true\n  n = null\n  f = false\n",
    "/a\n  i = 0\n  j = -12\n  k = 123456789012345678\n  l = 1234567890123456789012\n  m = -0\n  o = 007\n",
    "/a\n  f = 1.5\n  g = -0.0\n  h = 1e5\n  e = 1E-3\n  z = 1.50\n  big = 1e999\n",
    "/a\n  s = \"\"\n  t = \"a # b\"\n  u = \"é中☃\"\n  v = \"tab\there\"\n  w = \"\\u00e9\"\n",
    "/a\n  x = 1  \n  y = \"s\"   \n  z = true\t\n",
    "/a\n  x = 1  # comment\n  y = true  # c\n  z = \"a\" # c\n",
    "/a\n  x =  1\n  y  = 2\n  z=3\n  w = 'py'\n  v = (1, 2)\n  u = None\n  t = True\n",
    "/a\n  x = [1, 2]\n  y = {\"k\": [1, {\"z\": null}]}\n",
    "/a\n  db -> /x\n  t => ../b c\n  /b\n    q = 1\n",
    "/a\n  /b\n  x = 1\n  /c\n    y = 2\n  z = 3\n",
    "  /indented\n    x = 1\n  /second\n",
    "/a\r\n  x = 1\r\n  /b : t\r\n",
    "\ufeff/a\n  x = 1\n",
    "/a : z4m cms\n/b :  spaced type  \n/c  :  t\n/d : t : u\n/e :b\n/f :\n",
    "/10.0.0.1:8080\n  host = \"10.0.0.1\"\n/[::1]:80\n/a:b\n",
    "/a\n  \"q = 1\n  a\"b = 2\n  a\\b = 3\n  #x = 4\n  a=b = 5\n  = = 6\n  -> = 7\n  x/y = 8\n",
    "/a\n  x = 1\n  x = 2\n",
    "/a : t\n  type = \"t\"\n",
    "/a\n  /b\n  /b\n",
    "/a\n  x = 1\n    /b\n",
    "/a\n    /b\n  /c\n",
    "x = 1\n/a\n",
    "/a\nx = 1\n",
    "/.\n",
    "/a\n  /..\n",
    "/zookeeper\n",
    "/a\n  /zookeeper\n",
    "/a\n  x = \"unterminated\n",
    "/a\n  x = \"py \\x41 escape\"\n",
    "/a\n  x = foo\n",
    "/a\n  x = 1\x00\n",
    "/a\n\t/b\n",
    "/a\n  / b\n",
    "/a\n  /b:\n",
    "/a\n  /b\x7f\n",
    "/a\n  x = 1\n  y = 2\n   z = 3\n",
    "/a\n  x = 1\n\n  # c\n  y = 2\n/b\n  z = 3\n",
]


@pytest.mark.parametrize("text", CORPUS)
def test_the_fast_path_agrees_with_the_line_by_line_rules_on_the_corpus(pattern, text):
    assert_same(text)


@pytest.mark.parametrize("text, lineno, fragment", TEXT_ERRORS)
def test_the_fast_path_agrees_on_every_documented_error(pattern, text, lineno, fragment):
    assert_same(text)


def test_the_fast_path_agrees_on_the_broken_files(pattern):
    files = sorted(BROKEN.glob("*.tree"))
    assert files
    for path in files:
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue  # (decoding is shared; test_text covers it)
        assert_same(text)


@SETTINGS
@given(trees(SAFE_KIT))
def test_property_emitted_trees_parse_alike(root):
    assert_same(emit_tree(root))


@SETTINGS
@given(trees(WILD_KIT))
def test_property_wild_trees_parse_alike(root):
    if text_can_hold(root):
        assert_same(emit_tree(root))


_LINE_PIECES = st.sampled_from(
    ["/a", "/b", "/a : t", "/x:1", "x = 1", "y = \"s\"", "z = true", "w = 1.5", "v = [1]", "u = 'p'",
     "t -> /x", "p => ../a b", "# c", "", "x = 1 # c", "/.", "/zookeeper", "type = \"t\"", "q = -0",
     "k = 1e999", "s = \"a\\\"b\"", "bad line", "x =", "/a :", "key: v"]
)


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 6), _LINE_PIECES,
                          st.sampled_from(["", " ", "\t", "\r", "  "])), max_size=14))
def test_property_random_line_soups_parse_alike(lines):
    text = "".join(" " * indent + piece + tail + "\n" for indent, piece, tail in lines)
    assert_same(text)


@SETTINGS
@given(st.text(alphabet=string.printable + "é\u2028\x85\xa0", max_size=80))
def test_property_any_text_parses_alike(text):
    assert_same(text)


def test_a_text_nested_10000_levels_deep_parses_alike_and_encodes():
    text = "".join(" " * i + f"/n{i}\n" + " " * (i + 1) + f"v = {i}\n" for i in range(10_000))
    root, datas = parse_text_encoded(text)
    assert root == reference_parse_text(text)
    assert datas[0] == b'{"v":0}' and datas[-1] == b'{"v":9999}' and len(datas) == 10_000


def test_the_data_of_plain_values_is_their_own_text_and_others_are_encoded():
    text = '/a : t\n  s = "x"\n  i = -5\n  c = null\n  f = 1.50\n  l = [1,  2]\n  /b\n/c : has "quote"\n'
    root, datas = parse_text_encoded(text)
    assert datas == [b'{"type":"t","s":"x","i":-5,"c":null,"f":1.5,"l":[1,2]}', b"{}", b'{"type":"has \\"quote\\""}']
