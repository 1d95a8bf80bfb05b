"""Writing trees (zkservices._tree.emit, emit_tree): layout, refusals, round trips."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkservices import TreeError
from zkservices._tree.yamlemit import emit_yaml, emit_yaml_events
from zkservices._tree import Node, detect_format, emit_tree, iter_nodes, parse_text, parse_tree, parse_yaml

from ._helpers import CONTRACT_EXAMPLE, node, tree

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


@settings(deadline=None)
@given(json_values)
def test_property_values_parse_back_from_their_json(value):
    text = emit_tree(tree(a=node("a", {"v": value})))
    assert text.startswith("/a\n  v = ") and text.endswith("\n") and text.count("\n") == 2
    assert json.loads(text[len("/a\n  v = ") :]) == value
    assert Node("a", {"v": parse_text(text).children["a"].properties["v"]}) == Node("a", {"v": value})


# ---------------------------------------------------------------------------
# Depth


def chain(depth, leaf=None):
    root = current = Node()
    for _ in range(depth):
        child = Node("n")
        current.children["n"] = child
        current = child
    current.properties.update(leaf or {})
    return root


def test_both_forms_write_trees_nested_10000_levels_deep():
    depth = 10_000
    root = chain(depth, {"x": 1})
    text = emit_tree(root)
    lines = text.split("\n")
    assert len(lines) == depth + 2 and lines[-2] == "  " * depth + "x = 1" and lines[-1] == ""
    assert lines[depth - 1] == "  " * (depth - 1) + "/n"
    yaml_text = emit_tree(root, format="yaml")
    assert yaml_text.startswith("/n:\n  /n:\n") and yaml_text.endswith("  " * depth + "x: 1\n")
    assert yaml_text.count("\n") == depth + 1


def test_deep_trees_round_trip_through_both_forms():
    root = chain(10_000, {"x": [1]})
    assert parse_text(emit_tree(root)) == root
    shallower = chain(800, {"x": [1]})  # (PyYAML's scanner takes quadratic time in the depth of block YAML)
    assert parse_yaml(emit_tree(shallower, format="yaml")) == shallower


@pytest.mark.parametrize("form", ["text", "yaml"])
def test_values_nested_too_deeply_are_refused_naming_the_node(form):
    deep = 1
    for _ in range(101):
        deep = [deep]
    loop = []
    loop.append(loop)
    for value in (deep, loop, {"k": deep}):
        with pytest.raises(ValueError, match=r"property 'x' of node /a/b: .*more than 100 levels deep"):
            emit_tree(tree(a=node("a", b=node("b", {"x": value}))), format=form)
    shallow = deep[0]
    assert parse_tree(emit_tree(tree(a=node("a", {"x": shallow})), format=form)).children["a"].properties == {
        "x": shallow
    }


# ---------------------------------------------------------------------------
# The YAML form's own line writer against PyYAML's emitter, byte for byte

# scalars at the edges of what PyYAML writes plain: indicators, ": ", " #",
# leading and trailing spaces, words it reads as other types, long keys
_EDGY_CHARS = "ab1:# -?.'\"_/[]{},&*!|>%@`=~\\<()\t\né\u2028"
_EDGY_TEXT = (st.text(alphabet=_EDGY_CHARS, max_size=10)
              | st.sampled_from(["yes", "No", "null", "~", "1:20", "0x1f", "1_000", "2001-12-14", "1e5", ".inf",
                                 "-1", "+1", "---", "...", "<<", "=", "a" * 122, "a" * 123, "a" * 127, "a" * 128, "1.5", "10.0.0.1:80"]))
_EDGY_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
                 | st.floats(allow_nan=False, allow_infinity=False) | _EDGY_TEXT)
_EDGY_VALUES = st.recursive(_EDGY_SCALARS,
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_EDGY_TEXT, inner, max_size=3),
                            max_leaves=8)


@st.composite
def edgy_trees(draw):
    root = Node()
    for name in draw(st.lists(st.text(alphabet="ab1:# -?.'_é", min_size=1, max_size=6).filter(valid_node_name),
                              min_size=1, max_size=3, unique=True)):
        if name == "zookeeper":
            continue
        child = root.children[name] = Node(name)
        child.properties.update(draw(st.dictionaries(_EDGY_TEXT.filter(lambda k: k and not k.startswith("/")
                                                                       and not_a_link_key(k)),
                                                     _EDGY_VALUES, max_size=5)))
        for inner in draw(st.lists(st.sampled_from(["x", "y", "z"]), max_size=2, unique=True)):
            grandchild = child.children[inner] = Node(inner)
            grandchild.properties.update(draw(st.dictionaries(st.sampled_from(["k", "k2"]), _EDGY_VALUES,
                                                              max_size=2)))
    return root


def _writable(root):
    try:
        emit_yaml_events(root)
    except ValueError:
        return False
    return True


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(trees(SAFE_KIT), trees(WILD_KIT), edgy_trees()))
def test_property_yaml_lines_are_pyyaml_s_own_bytes(root):
    if not _writable(root):
        with pytest.raises(ValueError):
            emit_yaml(root)
        return
    assert emit_yaml(root) == emit_yaml_events(root)
    assert emit_yaml(root, checked=True) == emit_yaml_events(root, checked=True)


def test_yaml_lines_for_scalars_pyyaml_quotes_and_nested_values():
    root = Node()
    node = root.children["svc"] = Node("svc")
    node.properties.update({"a": "yes", "b": "x: y", "c": "a\nb", "d": [1, {"e": "p\nq"}], "f": {}, "g": 1e16,
                            "h": "10.0.0.1:80", "k" * 130: 1, "i": -0.0, "j": "1:20", "l": "é"})
    node.children["empty"] = Node("empty")
    assert emit_yaml(root) == emit_yaml_events(root)
    assert emit_yaml(root) == (
        "/svc:\n"
        "  a: 'yes'\n"
        "  b: 'x: y'\n"
        "  c: 'a\n"
        "\n"
        "    b'\n"
        "  d:\n"
        "  - 1\n"
        "  - e: 'p\n"
        "\n"
        "      q'\n"
        "  f: {}\n"
        "  g: 1.0e+16\n"
        "  h: 10.0.0.1:80\n"
        "  i: -0.0\n"
        "  j: '1:20'\n"
        f"  ? {'k' * 130}\n"
        "  : 1\n"
        "  l: é\n"
        "  /empty: {}\n"
    )


@given(st.one_of(st.text(), st.text(alphabet="ab \"\\/\x7f\x1f~é\u2028"), st.integers(), st.booleans(), st.none(),
                 st.floats(allow_nan=False, allow_infinity=False)))
def test_property_value_text_is_the_encoders(value):
    # the text form's shortcut for plain strings and integers writes what the encoder writes
    from zkservices._tree.emit import _json_text

    expected = json.dumps(value, ensure_ascii=False, sort_keys=True)
    expected = re.sub("[\x85\u2028\u2029]", lambda m: f"\\u{ord(m.group()):04x}", expected)
    assert _json_text(value) == expected
