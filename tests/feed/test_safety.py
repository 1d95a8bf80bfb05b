"""What reaches a template: provider checks, the token filter, the checker (no server)."""

from __future__ import annotations

import logging

import pytest

from zkservices import FeedError, FeedTemplateError
from zkservices._feed import build_context, provider_entry, render
from zkservices._feed.safety import ContextChecker, control_character, provider_problem, token


def problem(name: str, data: dict | None = None) -> str | None:
    return provider_problem(provider_entry(name, data))


@pytest.mark.parametrize("name, data", [
    ("10.0.0.1:80", {}),
    ("10.0.0.1:80", {"host": "10.0.0.1", "port": "80"}),  # a port as a string of digits is an integer
    ("[2001:db8::1]:9000", {}),
    ("x", {"host": "fe80::1%eth0", "port": 1}),
    ("web-1.example.com:65535", {}),
    ("web_1:1", {}),
    ("x", {"host": "db.example.com.", "port": 5432, "weight": 3, "tags": ["a b", {"c": "d e"}]}),
])
def test_good_providers(name, data):
    assert problem(name, data) is None


@pytest.mark.parametrize("name, data, reason", [
    ("x", {"host": "10.0.0.9:80;\n}\nserver { listen 8081; }", "port": 80},
     "host holds a control character (U+000A) in '10.0.0.9:80;\\n}"),
    ("10.0.0.1:80", {"weight": "1\n    server evil 6.6.6.6:80"}, "property 'weight' holds a control character (U+000A)"),
    ("10.0.0.1:80", {"host": "10.0.0.1\x00"}, "host holds a control character (U+0000)"),
    ("10.0.0.1:80", {"note": "tab\there"}, "property 'note' holds a control character (U+0009)"),
    ("10.0.0.1:80", {"note": "del\x7f"}, "(U+007F)"),
    ("10.0.0.1:80", {"note": "nel\x85"}, "(U+0085)"),
    ("10.0.0.1:80", {"note": "ls\u2028"}, "(U+2028)"),
    ("10.0.0.1:80", {"meta": {"a": ["ok", "b\r"]}}, "property 'meta'['a'][1] holds a control character (U+000D)"),
    ("10.0.0.1:80", {"bad\nkey": 1}, "property 'bad\\nkey' (its name) holds a control character"),
    ("x y:80", {}, "host 'x y' is not a hostname or IP address"),
    ("x", {"host": "a b", "port": 80}, "host 'a b' is not a hostname or IP address"),
    ("x", {"host": "10.0.0.300", "port": 80}, "is not a hostname or IP address"),
    ("x", {"host": "-web", "port": 80}, "is not a hostname or IP address"),
    ("x", {"host": "a;b", "port": 80}, "is not a hostname or IP address"),
    ("x", {"host": "a" * 64, "port": 80}, "is not a hostname or IP address"),
    ("x", {"host": ["x"], "port": 80}, "is not a hostname or IP address"),
    ("x", {"host": "fe80::1%a;b", "port": 80}, "bad IPv6 scope"),
    ("10.0.0.1:80", {"port": "80x"}, "port '80x' is not an integer"),
    ("10.0.0.1:80", {"port": 70000}, "port 70000 is not between 1 and 65535"),
    ("10.0.0.1:80", {"port": 0}, "port 0 is not between 1 and 65535"),
    ("10.0.0.1:80", {"port": True}, "port True is not an integer"),
    ("10.0.0.1:80", {"port": 80.5}, "port 80.5 is not an integer"),
    ("no-port", {}, "no port"),
])
def test_bad_providers(name, data, reason):
    found = problem(name, data)
    assert found is not None and reason in found, found


def test_control_character():
    assert control_character("fine") is None
    assert control_character({"a": [1, "x\ny"]}, "property ") == "property 'a'[1] holds a control character (U+000A) in 'x\\ny'"


@pytest.mark.parametrize("value", [5, 2.5, "roundrobin", "10.0.0.1:80", "[::1]:80", "hdr(host)", "a-b_c.d/e@f%g+h=i,j~k"])
def test_token_passes_single_safe_words(value):
    assert token(value) == str(value)


@pytest.mark.parametrize("value", ["", "1 backup", "1;", "}", "{", "#", "'", '"', "$x", "a\\b", "1\n", "\x00", "é",
                                   None, True, [1], {"a": 1}])
def test_token_refuses_everything_else_naming_the_value(value):
    with pytest.raises(FeedTemplateError) as info:
        token(value)
    assert info.value.refused and info.value.value == value
    assert repr(value)[:20] in str(info.value)


def test_token_in_a_template_names_template_line_and_value():
    with pytest.raises(FeedTemplateError) as info:
        render("ok\nweight {{ w | token }}\n", {"w": "1 backup"}, template_name="lb.j2")
    err = info.value
    assert str(err).startswith("lb.j2, line 2: token: '1 backup' is not a single safe token")
    assert err.refused and err.value == "1 backup" and err.lineno == 2


TEMPLATE = "{% for s in services %}{{ s.name }}:{% for p in s.providers %} {{ p.properties.get('w', 1) | token }}{% endfor %}\n{% endfor %}"


def context(**providers) -> dict:
    return build_context([{"path": "/svc", "properties": {"balance": "rr"}, "providers": providers}])


def checked_render(checker: ContextChecker, ctx: dict) -> str:
    return checker.render(ctx, lambda c: render(TEMPLATE, c, template_name="t.j2"))


def test_checker_leaves_out_bad_providers_and_warns_once_per_version(caplog):
    caplog.set_level(logging.WARNING, logger="zkservices.feed")
    checker = ContextChecker("lb.conf")
    good = {"host": "10.0.0.1", "port": 80, "w": 2}
    ctx = context(**{"10.0.0.1:80": good, "10.0.0.2:80": {"port": 70000}, "10.0.0.3:80": {"w": "3 backup"}})
    for _ in range(3):
        assert checked_render(checker, ctx) == "svc: 2"

    def warnings():
        # only the checker's: another test's client still trying a dead port may log (kazoo's logger)
        return [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING and r.name.startswith("zkservices.feed")]

    assert warnings() == [
        "feed lb.conf: provider /svc/providers/10.0.0.2:80 left out: port 70000 is not between 1 and 65535",
        "feed lb.conf: provider /svc/providers/10.0.0.3:80 left out: t.j2, line 1: token: '3 backup' is not a "
        "single safe token (it holds ' '; allowed: A-Z a-z 0-9 . _ - : / @ % + = , ~ ( ) [ ])",
    ]
    # a new version of a bad node: warned about again; the same again: not
    ctx = context(**{"10.0.0.1:80": good, "10.0.0.2:80": {"port": 0}, "10.0.0.3:80": {"w": "3 backup"}})
    checked_render(checker, ctx)
    checked_render(checker, ctx)
    assert len(warnings()) == 3 and "port 0" in warnings()[2]
    # repaired, then bad again (same data as before): warned about again
    checked_render(checker, context(**{"10.0.0.1:80": good, "10.0.0.2:80": {}}))
    checked_render(checker, context(**{"10.0.0.1:80": good, "10.0.0.2:80": {"port": 0}}))
    assert len(warnings()) == 4
    # check() gives the context the template sees
    assert [p["name"] for p in checker.check(ctx)["services"][0]["providers"]] == ["10.0.0.1:80", "10.0.0.3:80"]
    assert "ContextChecker lb.conf" in repr(checker)


def test_checker_refuses_bad_service_properties():
    checker = ContextChecker("lb.conf")
    ctx = build_context([{"path": "/svc", "properties": {"balance": "rr\nserver evil"}}])
    with pytest.raises(FeedError, match=r"^service /svc: property 'balance' holds a control character \(U\+000A\)"):
        checker.check(ctx)
    ctx = build_context([{"path": "/svc", "properties": {"opts": {"x": ["\x00"]}}}])
    with pytest.raises(FeedError, match=r"property 'opts'\['x'\]\[0\] holds a control character \(U\+0000\)"):
        checker.check(ctx)
    # a service value the token filter refuses
    template = "{% for s in services %}balance {{ s.properties.balance | token }}\n{% endfor %}"
    ctx = build_context([{"path": "/svc", "properties": {"balance": "rr; x"}}])
    with pytest.raises(FeedError, match=r"^service /svc: property 'balance': t.j2, line 1: token: 'rr; x'"):
        checker.render(ctx, lambda c: render(template, c, template_name="t.j2"))
    # a refused value that comes from neither: the template error as it is
    with pytest.raises(FeedTemplateError, match="'a b'"):
        checker.render(ctx, lambda c: render("{{ 'a b' | token }}", c, template_name="t.j2"))
