"""The shipped templates with the real load balancers: ``nginx -t`` and ``haproxy -c``.

Both templates are rendered by real feeds from a real ZooKeeper -- with
providers, without providers and with an injection corpus -- and every result
is validated by the real validators, through the very check commands the
template headers suggest.  scripts/bootstrap (``make test``) installs Debian's
nginx and haproxy: a missing one is a failure here, not a skip.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess

import pytest

import zkservices
from zkservices import Feed, FeedError
from zkservices._feed import example_template

from _feedutil import read
from _util import wait_for


WAIT = 30.0
EXAMPLES = os.path.join(os.path.dirname(zkservices.__file__), "examples")
NGINX_TEMPLATE = "nginx-upstream.conf.j2"
HAPROXY_TEMPLATE = "haproxy-backend.cfg.j2"


def binary(name: str) -> str:
    """The load balancer's path: on PATH, or in Debian's /usr/sbin (not on a user's PATH)."""
    found = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if found is None:
        pytest.fail(f"{name} is not installed: run scripts/bootstrap --test (or apt-get install {name})")
    return found


def documented_check(template: str) -> str:
    """The --check-command the template's header suggests (the first one)."""
    found = re.search(r"--check-command '(.*)' \\$", example_template(template), re.M)
    assert found, f"{template} suggests no --check-command"
    return found.group(1)


def nginx_check() -> str:
    return documented_check(NGINX_TEMPLATE).replace("nginx -t", f"{binary('nginx')} -t")


def haproxy_check() -> str:
    """The header's stand-alone suggestion: the shipped minimal wrapper plus the candidate."""
    text = example_template(HAPROXY_TEMPLATE)
    found = re.search(r"'(haproxy -c -f \.\.\./examples/haproxy-check\.cfg -f \{\})'", text)
    assert found, "the HAProxy template names no stand-alone check"
    command = found.group(1).replace(".../examples/", EXAMPLES + "/")
    return command.replace("haproxy -c", f"{binary('haproxy')} -c")


CHECKS = {NGINX_TEMPLATE: nginx_check, HAPROXY_TEMPLATE: haproxy_check}


def validate(template: str, path) -> subprocess.CompletedProcess:
    """Run the template's check command on ``path`` (as the feed runs it on a candidate)."""
    from zkservices._feed.writer import substitute_path

    return subprocess.run(substitute_path(CHECKS[template](), os.fspath(path)), shell=True,
                          capture_output=True, text=True, timeout=60)


def server_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("server")]


def provider(client, service: str, node: str, **data) -> None:
    """A provider node as a registrar (or an attacker with write access) writes it: JSON data."""
    client.create(f"{service}/providers/{node}", json.dumps(data).encode(), makepath=True)


def feed(connection: str, template: str, out, **kw) -> Feed:
    return Feed(connection, ["/svc", "/other"], template_text=example_template(template), template_name=template,
                output=out, check_command=CHECKS[template](), min_fraction=0, **kw)


@pytest.fixture(params=[NGINX_TEMPLATE, HAPROXY_TEMPLATE])
def template(request) -> str:
    return request.param


# -- the validators themselves -----------------------------------------------------------


def test_the_validators_are_installed_and_refuse_a_bad_file(tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("upstream svc {\n    server 10.0.0.1:80 weight=heavy;\n}\n")
    result = validate(NGINX_TEMPLATE, bad)
    assert result.returncode != 0 and "weight" in result.stderr, result
    bad.write_text("backend svc\n    server a 10.0.0.1:80 chekc\n")
    result = validate(HAPROXY_TEMPLATE, bad)
    assert result.returncode != 0 and "chekc" in (result.stdout + result.stderr), result
    bad.write_text("backend svc\n    server a 10.0.0.1:80 check\n")
    result = validate(HAPROXY_TEMPLATE, bad)
    assert result.returncode == 0, result


def test_the_suggested_check_command_checks_the_candidate_not_the_old_file(zk_client, zk_connection_string, template,
                                                                           tmp_path):
    """The old suggestion (``nginx -t``) checked the file in place; the candidate is a dotfile next to it."""
    zk_client.create("/svc/providers", makepath=True)
    out = tmp_path / "lb.conf"
    feed(zk_connection_string, template, out).run_once()
    good = read(out)
    assert good is not None and validate(template, out).returncode == 0
    broken = Feed(zk_connection_string, "/svc", template_text="this is {{ 'not' }} a configuration;\n",
                  output=out, check_command=CHECKS[template]())
    with pytest.raises(FeedError, match="check command .* failed"):
        broken.run_once()
    assert broken.check_failures == 1
    assert read(out) == good
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")], "a temporary file was left behind"


# -- with and without providers ------------------------------------------------------------


def test_without_providers_the_output_passes_the_validator(zk_client, zk_connection_string, template, tmp_path):
    zk_client.create("/svc", b'{"balance": "roundrobin"}')
    zk_client.create("/svc/providers")
    out = tmp_path / "lb.conf"
    f = feed(zk_connection_string, template, out)
    f.run_once()
    assert f.check_failures == 0 and f.writes == 1
    text = read(out)
    if template == NGINX_TEMPLATE:
        assert server_lines(text) == ["server 127.0.0.1:65535 down;", "server 127.0.0.1:65535 down;"]
    else:
        assert server_lines(text) == [] and "backend svc" in text and "backend other" in text
    result = validate(template, out)
    assert result.returncode == 0, result


def test_with_providers_the_output_passes_the_validator(zk_client, zk_connection_string, template, tmp_path):
    zk_client.create("/svc", b'{"balance": "leastconn"}')
    provider(zk_client, "/svc", "10.0.0.1:8080", host="10.0.0.1", port=8080, weight=3)
    provider(zk_client, "/svc", "10.0.0.2:8080", host="10.0.0.2", port=8080)
    provider(zk_client, "/svc", "[2001:db8::1]:9000")  # host and port from the name
    provider(zk_client, "/other", "127.0.0.1:9001", host="127.0.0.1", port=9001, weight="2")
    out = tmp_path / "lb.conf"
    f = feed(zk_connection_string, template, out)
    f.run_once()
    assert f.check_failures == 0 and f.writes == 1
    if template == NGINX_TEMPLATE:
        expected = ["server 10.0.0.1:8080 weight=3;", "server 10.0.0.2:8080;", "server [2001:db8::1]:9000;",
                    "server 127.0.0.1:9001 weight=2;"]
    else:
        expected = ["server 10.0.0.1:8080 10.0.0.1:8080 check weight 3", "server 10.0.0.2:8080 10.0.0.2:8080 check",
                    "server 2001:db8::1:9000 2001:db8::1:9000 check", "server 127.0.0.1:9001 127.0.0.1:9001 check weight 2"]
        assert "balance leastconn" in read(out)
    assert server_lines(read(out)) == expected
    result = validate(template, out)
    assert result.returncode == 0, result


# -- injection ------------------------------------------------------------------------------

#: node name -> (data, what the warning says)
CORPUS = {
    "10.0.0.9:80": ({"host": "10.0.0.9:80;\n}\nserver { listen 8081; }", "port": 80}, "control character (U+000A)"),
    "10.0.0.10:80": ({"host": "10.0.0.10", "port": 80, "weight": "1\n    server evil 6.6.6.6:80"},
                     "property 'weight' holds a control character (U+000A)"),
    "10.0.0.11:80": ({"host": "10.0.0.11", "port": 80, "weight": "1; server evil 6.6.6.6:80"},
                     "not a single safe token"),
    "10.0.0.12:80": ({"host": "10.0.0.12", "port": 80, "weight": "1}"}, "not a single safe token"),
    "10.0.0.13:80": ({"host": "10.0.0.13\x00", "port": 80}, "control character (U+0000)"),
    "10.0.0.14:80": ({"host": "10.0.0.14 6.6.6.6", "port": 80}, "is not a hostname or IP address"),
    "10.0.0.15:80": ({"host": "10.0.0.15", "port": "80x"}, "port '80x' is not an integer"),
    "10.0.0.16:80": ({"host": "10.0.0.16", "port": 70000}, "port 70000 is not between 1 and 65535"),
    "10.0.0.17:80": ({"host": "10.0.0.17", "port": 80, "weight": "3 backup"}, "not a single safe token"),
    "10.0.0.18:80": ({"host": "10.0.0.18", "port": 80, "meta": {"notes": ["fine", "bad\r\n"]}},
                     "control character (U+000D)"),
    "10.0.0.19:80": ({"host": "10.0.0.19", "port": 80, "weight": "#"}, "not a single safe token"),
    "10.0.0.20:80": ({"host": "10.0.0.20", "port": 80, "weight": "\"2\""}, "not a single safe token"),
}


def test_injection_corpus_is_left_out_with_warnings(zk_client, zk_connection_string, template, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="zkservices.feed")
    zk_client.create("/svc", b'{"balance": "roundrobin"}')
    provider(zk_client, "/svc", "10.0.0.1:80", host="10.0.0.1", port=80, weight=2)
    provider(zk_client, "/svc", "10.0.0.2:80", host="10.0.0.2", port=80)
    for node, (data, _) in CORPUS.items():
        provider(zk_client, "/svc", node, **data)
    provider(zk_client, "/other", "10.0.1.1:81", host="10.0.1.1", port=81)
    out = tmp_path / "lb.conf"
    seen: list[str] = []
    with feed(zk_connection_string, template, out, on_render=seen.append) as f:
        if template == NGINX_TEMPLATE:
            good = ["server 10.0.0.1:80 weight=2;", "server 10.0.0.2:80;", "server 10.0.1.1:81;"]
        else:
            good = ["server 10.0.0.1:80 10.0.0.1:80 check weight 2", "server 10.0.0.2:80 10.0.0.2:80 check",
                    "server 10.0.1.1:81 10.0.1.1:81 check"]
        wait_for(lambda: read(out) is not None and server_lines(read(out)) == good, WAIT, f"{out} with the good servers")
        text = read(out)
        assert f.check_failures == 0 and f.last_error is None
        for needle in ("6.6.6.6", "8081", "evil", "backup", "listen"):
            assert needle not in text
        result = validate(template, out)
        assert result.returncode == 0, result

        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        for node, (_, reason) in CORPUS.items():
            mine = [w for w in warnings if f"/svc/providers/{node} left out" in w]
            assert len(mine) == 1, (node, warnings)
            assert reason in mine[0], (reason, mine[0])

        # more renderings (a good provider changes): the bad nodes are not warned about again
        renders = len(seen)
        zk_client.set("/svc/providers/10.0.0.2:80", json.dumps({"host": "10.0.0.2", "port": 80, "weight": 5}).encode())
        wait_for(lambda: len(seen) > renders, WAIT, "another rendering")
        assert f.flush(WAIT)
        again = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert again == warnings
        # a bad node's new version is warned about (once)
        zk_client.set("/svc/providers/10.0.0.16:80", json.dumps({"host": "10.0.0.16", "port": 0}).encode())
        wait_for(lambda: any("10.0.0.16:80 left out: port 0" in r.getMessage() for r in caplog.records), WAIT,
                 "a warning for the new version")
        # and a bad node that is repaired comes in
        zk_client.set("/svc/providers/10.0.0.16:80", json.dumps({"host": "10.0.0.16", "port": 80}).encode())
        wait_for(lambda: "10.0.0.16:80" in (read(out) or ""), WAIT, "the repaired provider")
        assert f.check_failures == 0
    assert validate(template, out).returncode == 0


@pytest.mark.parametrize("balance", ["roundrobin\n    server evil 6.6.6.6:80", "roundrobin; server evil 6.6.6.6:80"])
def test_a_bad_service_property_keeps_the_last_good_file(zk_client, zk_connection_string, tmp_path, balance, caplog):
    caplog.set_level(logging.ERROR, logger="zkservices.feed")
    zk_client.create("/svc", b'{"balance": "roundrobin"}')
    provider(zk_client, "/svc", "10.0.0.1:80", host="10.0.0.1", port=80)
    out = tmp_path / "lb.conf"
    f = feed(zk_connection_string, HAPROXY_TEMPLATE, out)
    f.run_once()
    good = read(out)
    assert "balance roundrobin" in good
    zk_client.set("/svc", json.dumps({"balance": balance}).encode())
    again = feed(zk_connection_string, HAPROXY_TEMPLATE, out)
    with pytest.raises(FeedError) as info:
        again.run_once()
    assert "service /svc: property 'balance'" in str(info.value)
    assert again.file_feed.data_failures == 1 and again.writes == 0
    assert read(out) == good
    assert any("service /svc: property 'balance'" in r.getMessage() for r in caplog.records)
    # the running feed goes on: fixed, it renders again
    with feed(zk_connection_string, HAPROXY_TEMPLATE, out) as running:
        wait_for(lambda: running.file_feed.data_failures == 1, WAIT, "the refusal")
        assert read(out) == good
        zk_client.set("/svc", json.dumps({"balance": "leastconn"}).encode())
        wait_for(lambda: "balance leastconn" in (read(out) or ""), WAIT, "the fixed property")
        wait_for(lambda: running.last_error is None, WAIT, "the cycle to finish without error")
    assert validate(HAPROXY_TEMPLATE, out).returncode == 0
