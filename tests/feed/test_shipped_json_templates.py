"""The shipped ``prometheus`` (file_sd) and ``json`` templates, rendered by real feeds from a real ZooKeeper.

Provider data is written by whoever can write a provider node, so the corpus
holds property names and values made to break JSON or to hijack Prometheus's
own labels; the output must stay the data, exactly.  The prometheus output is
validated by the real ``promtool check config`` (it parses the file_sd files a
configuration names); scripts/bootstrap --test installs Debian's prometheus
package for it: a missing promtool is a failure here, not a skip.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from zkservices import Feed, Provider, ServerSetFormat
from zkservices._feed.context import build_context, service_entry
from zkservices._feed.render import render, shipped_template
from zkservices._feed.shipped import file_sd, label_name

HOSTILE_NAME = 'a-b"}]'
HOSTILE_VALUE = 'x"},{"targets":["6.6.6.6:1"],"labels":{"z":"\\u0000'
SHARED = {
    "zone": "eu-1",
    "__address__": "6.6.6.6:1",
    HOSTILE_NAME: HOSTILE_VALUE,
    "9lives": 1.5,
    "ünï code": "ok ✓",
    "flag": True,
    "nested": {"a": [1, "</script>"]},
}


def node(client, path: str, **data) -> None:
    client.create(path, json.dumps(data).encode(), makepath=True)


@pytest.fixture
def services(zk, zk_client):
    """/web: two zkservices providers sharing most properties; /api: Curator, ServerSet (one disabled);
    /empty: no providers node at all."""
    node(zk_client, "/web/providers/10.0.0.1:80", host="10.0.0.1", port=80, pid=11, weight=3, **SHARED)
    node(zk_client, "/web/providers/10.0.0.2:80", host="10.0.0.2", port=80, pid=12, weight=5, **SHARED)
    zk_client.create("/web/providers/[2001:db8::7]:81", b"")  # zc.zk style: the name says where
    curator = zk.register_server("/api/providers", "10.0.1.1:8080", provider_format="curator", zone="us")
    serverset = zk.register_server("/api/providers", "10.0.1.2:8080", provider_format="serverset", shard=2)
    zk.register_server("/api/providers", "10.0.1.3:8080", provider_format=ServerSetFormat(status="DEAD"))
    zk_client.create("/empty")
    return {"curator": curator.names[0], "serverset": serverset.names[0]}


def run(connection: str, template: str, out) -> str:
    Feed(connection, ["/web", "/api", "/empty"], template_text=shipped_template(template), template_name=template,
         output=out, min_fraction=0).run_once()
    return out.read_text()


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is not installed: run scripts/bootstrap --test (or apt-get install prometheus)")
    return found


def promtool_check(sd_file, tmp_path) -> subprocess.CompletedProcess:
    config = tmp_path / "prometheus.yml"
    config.write_text(f"scrape_configs:\n  - job_name: zk\n    file_sd_configs: [{{files: ['{sd_file}']}}]\n")
    return subprocess.run([promtool(), "check", "config", str(config)], capture_output=True, text=True, timeout=60)


def test_promtool_refuses_what_the_template_must_never_write(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"targets": ["10.0.0.1:80"], "labels": {"a-b": "x"}}]')
    result = promtool_check(bad, tmp_path)
    assert result.returncode != 0 and "not a valid label name" in result.stdout + result.stderr, result
    bad.write_text('[{"targets": ["10.0.0.1:80"], "labels": {"zone": 3}}]')
    assert promtool_check(bad, tmp_path).returncode != 0


def test_prometheus_target_groups_one_per_service(zk_connection_string, services, tmp_path):
    out = tmp_path / "targets.json"
    groups = json.loads(run(zk_connection_string, "prometheus", out))
    assert groups[0] == {
        "targets": ["10.0.0.1:80", "10.0.0.2:80", "[2001:db8::7]:81"],
        "labels": {"service": "/web"},  # the zc.zk node has no properties: none is shared by all three
    }
    assert groups[1]["targets"] == ["10.0.1.1:8080", "10.0.1.2:8080"]  # the DEAD member is left out
    assert groups[1]["labels"] == {"service": "/api"}
    assert groups[2] == {"targets": [], "labels": {"service": "/empty"}}
    result = promtool_check(out, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_labels_are_shared_properties_under_valid_names(zk_client, zk_connection_string, services,
                                                                   tmp_path):
    zk_client.delete("/web/providers/[2001:db8::7]:81")
    out = tmp_path / "targets.json"
    web = json.loads(run(zk_connection_string, "prometheus", out))[0]
    assert web == {
        "targets": ["10.0.0.1:80", "10.0.0.2:80"],
        "labels": {  # weight differs, pid is never a label, booleans and nested values are not labels
            "service": "/web",
            "zone": "eu-1",
            "_address__": "6.6.6.6:1",
            "a_b___": HOSTILE_VALUE,
            "_9lives": "1.5",
            "_n__code": "ok ✓",
        },
    }
    text = out.read_text()
    assert text.isascii() and "\\u2713" in text  # escaped, not pasted
    result = promtool_check(out, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_json_lists_every_provider_with_its_format(zk_connection_string, services, tmp_path):
    out = tmp_path / "providers.json"
    providers = json.loads(run(zk_connection_string, "json", out))
    web = [p for p in providers if p["service"] == "/web"]
    assert web == [
        {"service": "/web", "name": "10.0.0.1:80", "host": "10.0.0.1", "port": 80, "format": "zkservices",
         "enabled": True, "properties": {"pid": 11, "weight": 3, **SHARED}},
        {"service": "/web", "name": "10.0.0.2:80", "host": "10.0.0.2", "port": 80, "format": "zkservices",
         "enabled": True, "properties": {"pid": 12, "weight": 5, **SHARED}},
        {"service": "/web", "name": "[2001:db8::7]:81", "host": "2001:db8::7", "port": 81, "format": "zkservices",
         "enabled": True, "properties": {}},
    ]
    api = [p for p in providers if p["service"] == "/api"]
    assert [(p["name"], p["format"], p["host"], p["port"]) for p in api] == sorted([
        (services["curator"], "curator", "10.0.1.1", 8080),
        (services["serverset"], "serverset", "10.0.1.2", 8080),
    ])
    assert next(p for p in api if p["format"] == "curator")["properties"] == {"zone": "us"}
    assert len(providers) == 5  # /empty has none


def test_hostile_values_cannot_break_out_of_the_json():
    context = build_context([{"path": "/s", "providers": {
        "10.0.0.1:80": {"host": "10.0.0.1", "port": 80, HOSTILE_NAME: HOSTILE_VALUE, '"': "\\", "}{": "]["},
    }}], with_format=True)
    for name, expected in (
        ("json", [{"service": "/s", "name": "10.0.0.1:80", "host": "10.0.0.1", "port": 80, "format": "zkservices",
                   "enabled": True, "properties": {HOSTILE_NAME: HOSTILE_VALUE, '"': "\\", "}{": "]["}}]),
        ("prometheus", [{"targets": ["10.0.0.1:80"],
                         "labels": {"service": "/s", "a_b___": HOSTILE_VALUE}}]),  # '"', '}{': no name left
    ):
        text = render(shipped_template(name), context, template_name=name)
        assert json.loads(text) == expected, name


def test_a_feeds_context_says_each_providers_format():
    curator = Provider("c1", "10.0.0.7", 8080, {"weight": 3}, "curator")
    entry = service_entry("/s", {}, {"c1": curator, "10.0.0.1:80": {"host": "10.0.0.1", "port": 80}},
                          with_format=True)
    assert [(p["name"], p["format"], p["enabled"]) for p in entry["providers"]] == [
        ("10.0.0.1:80", "zkservices", True), ("c1", "curator", True)]
    assert "format" not in service_entry("/s", {}, {"c1": curator})["providers"][0]  # as before


def test_label_names():
    valid = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
    for name, expected in [("zone", "zone"), ("a-b.c", "a_b_c"), ("9x", "_9x"), ("__address__", "_address__"),
                           ("___", None), ("", None), ("ü", None), ("_x", "_x"), ("__meta_x", "_meta_x")]:
        assert label_name(name) == expected, name
        assert expected is None or (valid.match(expected) and not expected.startswith("__"))
    # a property named like the service label, or two names made alike: the first wins, service always
    groups = file_sd([{"path": "/s", "providers": [
        {"address": "h:1", "properties": {"service": "evil", "a-b": "1", "a.b": "2"}}]}])
    assert groups == [{"targets": ["h:1"], "labels": {"service": "/s", "a_b": "1"}}]
