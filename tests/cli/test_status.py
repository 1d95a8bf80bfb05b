"""``zkservices status SERVICE`` against a real server: providers in every format, properties, ACL, warnings."""

from __future__ import annotations

import json

from kazoo.security import make_acl, make_digest_acl

from zkservices import ServerSetFormat

from ._helpers import cli

NERVE = {"host": "10.0.0.9", "port": 9, "name": "nerve"}


def setup(zk, zk_client) -> dict:
    """/svc with properties; /svc/providers behind an ACL, holding a provider in each format, a
    disabled ServerSet member, a persistent Nerve-style node and a node no format reads."""
    zk_client.create("/svc", json.dumps({"balance": "roundrobin", "weight": 2}).encode())
    acl = [make_acl("world", "anyone", read=True, create=True, delete=True),
           make_digest_acl("admin", "secret", all=True)]
    zk_client.create("/svc/providers", acl=acl)
    names = {
        "zkservices": zk.register_server("/svc/providers", "10.0.0.1:80", weight=3).names[0],
        "curator": zk.register_server("/svc/providers", "10.0.0.2:80", provider_format="curator", zone="eu").names[0],
        "serverset": zk.register_server("/svc/providers", "10.0.0.3:80", provider_format="serverset").names[0],
        "dead": zk.register_server("/svc/providers", "10.0.0.4:80", provider_format=ServerSetFormat(status="DEAD")).names[0],
    }
    zk_client.create("/svc/providers/10.0.0.9:9", json.dumps(NERVE).encode())
    zk_client.create("/svc/providers/junk", b"{not json")
    return names


def test_status_json_names_every_provider_its_format_owner_and_age(zk, zk_client, zk_connection_string):
    names = setup(zk, zk_client)
    result = cli(zk_connection_string, "status", "/svc", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert set(status) == {"path", "providers", "properties", "acl", "warnings"}
    assert status["path"] == "/svc"
    assert status["properties"] == {"balance": "roundrobin", "weight": 2}
    session = f"0x{zk.client.client_id[0]:x}"
    by_name = {p["name"]: p for p in status["providers"]}
    assert [p["name"] for p in status["providers"]] == sorted(by_name)
    for p in status["providers"]:
        assert set(p) == {"name", "host", "port", "format", "enabled", "owner", "age"}
        assert 0 <= p["age"] < 120
    expected = {
        names["zkservices"]: ("10.0.0.1", 80, "zkservices", True, session),
        names["curator"]: ("10.0.0.2", 80, "curator", True, session),
        names["serverset"]: ("10.0.0.3", 80, "serverset", True, session),
        names["dead"]: ("10.0.0.4", 80, "serverset", False, session),
        "10.0.0.9:9": ("10.0.0.9", 9, "zkservices", True, None),  # persistent: no owner
    }
    assert {n: (p["host"], p["port"], p["format"], p["enabled"], p["owner"]) for n, p in by_name.items()} == expected
    # as ZooKeeper shows it to a session without the digest (3.8 and later: "admin:x")
    digest = zk_client.get_acls("/svc/providers")[0][1].id.id
    assert digest.startswith("admin:")
    assert status["acl"] == [
        {"scheme": "world", "id": "anyone", "perms": "cdr"},
        {"scheme": "digest", "id": digest, "perms": "cdrwa"},
    ]
    assert status["warnings"] == ["/svc/providers/junk: no provider format can read this node"]


def test_status_text_is_one_screen(zk, zk_client, zk_connection_string):
    names = setup(zk, zk_client)
    result = cli(zk_connection_string, "status", "/svc")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "service /svc"
    assert lines[1:4] == ["properties (2):", '  balance = "roundrobin"', "  weight = 2"]
    assert lines[4] == "providers at /svc/providers (5):"
    assert lines[5].split() == ["NAME", "ADDRESS", "FORMAT", "ENABLED", "OWNER", "AGE"]
    rows = {line.split()[0]: line.split() for line in lines[6:11]}
    session = f"0x{zk.client.client_id[0]:x}"
    assert rows[names["dead"]][1:5] == ["10.0.0.4:80", "serverset", "no", session]
    assert rows[names["curator"]][1:5] == ["10.0.0.2:80", "curator", "yes", session]
    assert rows["10.0.0.9:9"][1:5] == ["10.0.0.9:9", "zkservices", "yes", "(persistent)"]
    assert all(row[5].endswith("s") for row in rows.values())
    digest = zk_client.get_acls("/svc/providers")[0][1].id.id
    assert lines[11:14] == ["acl of the providers node:", "  world:anyone cdr", f"  digest:{digest} cdrwa"]
    assert lines[14:] == ["warnings (1):", "  /svc/providers/junk: no provider format can read this node"]


def test_status_of_a_curator_directory_and_without_providers(zk, zk_client, zk_connection_string):
    reg = zk.register_server("/orders", "10.0.0.7:8080", provider_format="curator")
    status = json.loads(cli(zk_connection_string, "status", "/orders", "--providers", ".", "--json").stdout)
    assert [(p["name"], p["format"]) for p in status["providers"]] == [(reg.names[0], "curator")]
    assert status["warnings"] == [] and status["properties"] == {}
    # the default: the providers child, missing here
    status = json.loads(cli(zk_connection_string, "status", "/orders", "--json").stdout)
    assert status["providers"] == [] and status["acl"] == []
    assert status["warnings"] == ["/orders/providers does not exist: the service has no providers"]


def test_status_of_a_missing_service_exits_1_naming_it(zk_connection_string):
    result = cli(zk_connection_string, "status", "/nope/svc")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == "zkservices status: no such service node: /nope/svc\n"
    bad = cli(zk_connection_string, "status", "/nope", "--providers", "/abs")
    assert bad.returncode == 1 and "--providers must be a path relative to SERVICE" in bad.stderr


def test_hostile_node_data_does_not_reach_the_terminal_raw(zk_client, zk_connection_string):
    zk_client.create("/evil", json.dumps({"\x1b[2Jkey": "\x1b[31mred"}).encode())
    zk_client.create("/evil/providers/10.0.0.1:1", json.dumps({"host": "10.0.0.1", "port": 1}).encode(),
                     makepath=True)
    result = cli(zk_connection_string, "status", "/evil")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert '"\\u001b[2Jkey" = "\\u001b[31mred"' in result.stdout
