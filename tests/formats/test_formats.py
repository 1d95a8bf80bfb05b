"""The provider formats, pure: exact bytes written, nodes recognised, garbage refused."""

from __future__ import annotations

import json
import os

import pytest

from zkservices._formats import (
    CuratorFormat,
    Provider,
    ServerSetFormat,
    ZkServicesFormat,
    read_provider,
    resolve_format,
)
from zkservices._formats import curator, serverset

AURORA = (
    b'{"serviceEndpoint":{"host":"10.0.0.3","port":31337},'
    b'"additionalEndpoints":{"http":{"host":"10.0.0.3","port":8080}},"status":"ALIVE","shard":0}'
)
TWITTER_COMMON = (
    b'{"additionalEndpoints": {"aurora": {"host": "host-1.example.com", "port": 9000}}, '
    b'"status": "ALIVE", "serviceEndpoint": {"host": "host-1.example.com", "port": 8000}, "shard": 3}'
)
CURATOR = (
    b'{"name":"orders","id":"3e1c3e6e-2f1a-4bd7-9a43-6c2e93fa4f1b","address":"10.0.0.7","port":8080,'
    b'"sslPort":null,"payload":{"@class":"java.util.LinkedHashMap","weight":3,"zone":"eu"},'
    b'"registrationTimeUTC":1796110968522,"serviceType":"DYNAMIC","uriSpec":null}'
)


# -- Provider ------------------------------------------------------------------


def test_provider_is_frozen_with_read_only_properties():
    p = Provider("10.0.0.1:80", "10.0.0.1", 80, {"a": 1})
    assert p.address == "10.0.0.1:80" and p.format == "zkservices" and p.enabled
    with pytest.raises(AttributeError):
        p.port = 81  # type: ignore[misc]
    with pytest.raises(TypeError):
        p.properties["a"] = 2  # type: ignore[index]
    assert p == Provider("10.0.0.1:80", "10.0.0.1", 80, {"a": 1})
    assert p != Provider("10.0.0.1:80", "10.0.0.1", 80, {"a": 2})
    assert hash(p) == hash(Provider("10.0.0.1:80", "10.0.0.1", 80, {"a": 2}))
    assert repr(p) == "<Provider 10.0.0.1:80 10.0.0.1:80 zkservices>"


def test_provider_address_for_ipv6():
    assert Provider("x", "::1", 80).address == "[::1]:80"


# -- zkservices ----------------------------------------------------------------


def test_zkservices_node():
    spec = ZkServicesFormat().node("/svc/providers", "10.0.0.1", 80, {"weight": 2})
    assert spec.name == "10.0.0.1:80" and spec.ephemeral and not spec.sequential
    assert spec.data == b'{"weight":2,"pid":%d,"host":"10.0.0.1","port":80}' % os.getpid()


@pytest.mark.parametrize(
    "name, data, expected",
    [
        ("10.0.0.1:80", b'{"host":"10.0.0.1","port":80,"pid":1,"w":2}', ("10.0.0.1", 80, {"pid": 1, "w": 2})),
        ("10.0.0.1:80", b"", ("10.0.0.1", 80, {})),  # zc.zk, no properties
        ("10.0.0.1:80", b'{"weight":1}', ("10.0.0.1", 80, {"weight": 1})),
        ("[::1]:81", b"{}", ("::1", 81, {})),
        ("anything_0001", b'{"host":"db1","port":5432,"name":"db"}', ("db1", 5432, {"name": "db"})),  # Nerve
        ("10.0.0.1:80", b"not json", ("10.0.0.1", 80, {"string_value": "not json"})),  # the name says where
        ("10.0.0.1:80", b"[1, 2]", ("10.0.0.1", 80, {"string_value": "[1, 2]"})),
    ],
)
def test_zkservices_read(name, data, expected):
    p = read_provider(name, data)
    assert p is not None and p.format == "zkservices" and p.enabled
    assert (p.host, p.port, dict(p.properties)) == expected


@pytest.mark.parametrize(
    "name, data",
    [
        ("lock", b"not json"),
        ("lock", b"[1, 2]"),
        ("10.0.0.1:80", b'{"host":"10.0.0.1","port":"x"}'),
        ("10.0.0.1:80", b'{"host":"10.0.0.1","port":70000}'),
        ("lock", b""),
        ("lock", b'{"owner":"me"}'),
        (":80", b""),
        ("lock", b"\xff\xfe"),
    ],
)
def test_zkservices_garbage(name, data):
    assert read_provider(name, data) is None


# -- Curator -------------------------------------------------------------------


def test_curator_bytes_as_curator_writes_them():
    data = curator.encode("orders", "3e1c3e6e-2f1a-4bd7-9a43-6c2e93fa4f1b", "10.0.0.7", 8080,
                          {"weight": 3, "zone": "eu"}, registration_time=1796110968522)
    assert data == CURATOR


def test_curator_options_bytes():
    # what Curator 5.4.0 wrote for the same instance (checked against the real library)
    options = CuratorFormat(ssl_port=8443, uri_spec="{scheme}://{address}:{port}/x", payload_class="java.util.HashMap")
    data = curator.encode("orders", "abc", "10.0.0.7", 8080, {"list": [1, "x"], "nested": {"k": "v"}},
                          options=options, registration_time=1)
    assert data == (
        b'{"name":"orders","id":"abc","address":"10.0.0.7","port":8080,"sslPort":8443,'
        b'"payload":{"@class":"java.util.HashMap","list":[1,"x"],"nested":{"k":"v"}},"registrationTimeUTC":1,'
        b'"serviceType":"DYNAMIC","uriSpec":{"parts":[{"value":"scheme","variable":true},'
        b'{"value":"://","variable":false},{"value":"address","variable":true},{"value":":","variable":false},'
        b'{"value":"port","variable":true},{"value":"/x","variable":false}]}}'
    )


def test_curator_escapes_and_doubles_as_jackson():
    # Curator 5.4.0 (Jackson 2.14) wrote these bytes for the same payload
    text = "a\u0001b\u001fc\n\t\"\\/\u007f\u2028\u00e9\U0001F600"
    data = curator.encode("o", "i", "::1", 1, {"s": text, "f": 1e20, "g": 0.1, "b": True, "n": None,
                                               "big": 12345678901234}, registration_time=1)
    expected = (
        '{"name":"o","id":"i","address":"::1","port":1,"sslPort":null,"payload":{"@class":"java.util.LinkedHashMap",'
        '"s":"a\\u0001b\\u001Fc\\n\\t\\"\\\\/\u007f\u2028\u00e9\\uD83D\\uDE00","f":1.0E20,"g":0.1,"b":true,"n":null,'
        '"big":12345678901234},"registrationTimeUTC":1,"serviceType":"DYNAMIC","uriSpec":null}'
    ).encode("utf-8")
    assert data == expected
    assert json.loads(data)["payload"]["s"] == text


@pytest.mark.parametrize("number, java", [(1.5e-5, "1.5E-5"), (12345678.0, "1.2345678E7"), (100.0, "100.0"),
                                          (0.001, "0.001"), (-2.5e30, "-2.5E30"), (0.0, "0.0")])
def test_java_doubles(number, java):
    assert curator.jackson_json(number) == java


def test_curator_node_spec():
    spec = CuratorFormat().node("/services/orders", "10.0.0.7", 8080, {"a": 1})
    value = json.loads(spec.data)
    assert spec.ephemeral and not spec.sequential and spec.name == value["id"]
    assert len(spec.name) == 36 and value["name"] == "orders"
    assert list(value) == ["name", "id", "address", "port", "sslPort", "payload", "registrationTimeUTC",
                           "serviceType", "uriSpec"]
    assert list(value["payload"]) == ["@class", "a"]
    static = CuratorFormat(service_type="STATIC", instance_id="web-1").node("/s/web", "h", 1, {})
    assert static.name == "web-1" and not static.ephemeral
    assert json.loads(static.data)["serviceType"] == "STATIC"


@pytest.mark.parametrize("options", [
    dict(payload_class="not a class"), dict(ssl_port=0), dict(uri_spec="{a"), dict(uri_spec="a}"),
    dict(uri_spec="{a{b}}"), dict(service_type="dynamic"), dict(instance_id="a/b"), dict(instance_id=""),
])
def test_curator_bad_options(options):
    with pytest.raises(ValueError):
        CuratorFormat(**options)


def test_curator_reserved_and_bad_properties():
    with pytest.raises(ValueError, match="@class"):
        curator.encode("o", "i", "h", 1, {"@class": "x"})
    with pytest.raises(ValueError, match="'f'"):
        curator.encode("o", "i", "h", 1, {"f": float("nan")})


def test_curator_read():
    p = read_provider("3e1c3e6e-2f1a-4bd7-9a43-6c2e93fa4f1b", CURATOR)
    assert p == Provider("3e1c3e6e-2f1a-4bd7-9a43-6c2e93fa4f1b", "10.0.0.7", 8080, {"weight": 3, "zone": "eu"},
                         "curator", True)
    value = json.loads(CURATOR)
    value.update(enabled=False, port=None, sslPort=8443, payload="plain")
    p = read_provider("x", json.dumps(value).encode())
    assert (p.port, p.enabled, dict(p.properties)) == (8443, False, {"payload": "plain"})
    value.update(payload=None)
    assert dict(read_provider("x", json.dumps(value).encode()).properties) == {}


@pytest.mark.parametrize("data", [
    b"", b"garbage", b'{"name":"o","id":"i","address":null,"port":1}', b'{"name":"o","id":"i","address":"h"}',
    b'{"name":"o","id":"i","address":"h","port":"80"}',
])
def test_curator_garbage(data):
    assert curator.read("x", data) is None
    assert read_provider("x", data) is None


# -- ServerSet -----------------------------------------------------------------


def test_serverset_aurora_bytes():
    options = ServerSetFormat(additional_endpoints={"http": 8080})
    assert serverset.encode("10.0.0.3", 31337, {"shard": 0}, options=options) == AURORA
    p = read_provider("member_0000000007", AURORA)
    assert p == Provider("member_0000000007", "10.0.0.3", 31337,
                         {"status": "ALIVE", "additionalEndpoints": {"http": {"host": "10.0.0.3", "port": 8080}},
                          "shard": 0}, "serverset", True)


def test_serverset_twitter_common_member():
    p = read_provider("member_0000000001", TWITTER_COMMON)
    assert (p.host, p.port, p.format, p.enabled, p.properties["shard"]) == ("host-1.example.com", 8000, "serverset",
                                                                            True, 3)
    assert p.properties["additionalEndpoints"]["aurora"] == {"host": "host-1.example.com", "port": 9000}


@pytest.mark.parametrize("status", ["DEAD", "STARTING", "STOPPING", "STOPPED", "WARNING"])
def test_serverset_not_alive_is_disabled(status):
    data = AURORA.replace(b"ALIVE", status.encode())
    assert read_provider("member_0000000002", data).enabled is False


def test_serverset_metadata_as_strings():
    data = serverset.encode("h", 1, {"shard": 2, "zone": "eu", "weight": 3, "tags": ["a"], "on": True})
    assert data == (b'{"serviceEndpoint":{"host":"h","port":1},"additionalEndpoints":{},"status":"ALIVE","shard":2,'
                    b'"metadata":{"zone":"eu","weight":"3","tags":"[\\"a\\"]","on":"true"}}')
    spec = ServerSetFormat(additional_endpoints={"admin": "10.0.0.9:9990"}).node("/s", "h", 1, {})
    assert spec.name == "member_" and spec.sequential and spec.ephemeral
    assert json.loads(spec.data)["additionalEndpoints"] == {"admin": {"host": "10.0.0.9", "port": 9990}}


@pytest.mark.parametrize("bad", [dict(shard="1"), dict(shard=True), dict(x=float("inf"))])
def test_serverset_bad_properties(bad):
    with pytest.raises(ValueError):
        serverset.encode("h", 1, bad)


def test_serverset_bad_options():
    with pytest.raises(ValueError):
        ServerSetFormat(status="alive")
    with pytest.raises(ValueError):
        ServerSetFormat(additional_endpoints={"x": "nope"})


@pytest.mark.parametrize("name, data", [
    ("member_0000000001", b""), ("member_0000000001", b"garbage"), ("member_0000000001", b'{"status":"ALIVE"}'),
    ("member_0000000001", b'{"serviceEndpoint":{"host":"h"}}'), ("member_0000000001", b"[]"),
    ("member_0000000001", b'{"serviceEndpoint":{"host":"h","port":1},"status":5}'),
])
def test_serverset_garbage(name, data):
    assert read_provider(name, data) is None


def test_serverset_reads_only_member_names():
    assert serverset.read("other_0001", AURORA) is None
    assert read_provider("other_0001", AURORA) is None


# -- choosing a format -----------------------------------------------------------


def test_resolve_format():
    assert resolve_format(None) == resolve_format("zkservices") == ZkServicesFormat()
    assert resolve_format("curator") == CuratorFormat()
    assert resolve_format("serverset") == ServerSetFormat()
    options = CuratorFormat(instance_id="x")
    assert resolve_format(options) is options
    with pytest.raises(ValueError, match="nerve"):
        resolve_format("nerve")


def test_mixed_directory_with_garbage_siblings():
    children = {
        "10.0.0.1:80": b'{"host":"10.0.0.1","port":80}',
        "3e1c3e6e-2f1a-4bd7-9a43-6c2e93fa4f1b": CURATOR,
        "member_0000000007": AURORA,
        "member_0000000008": b"half a member {",
        "lock": b"",
        "junk": b"\x00\x01",
    }
    found = {name: p.format for name, data in children.items() if (p := read_provider(name, data))}
    assert found == {"10.0.0.1:80": "zkservices", "3e1c3e6e-2f1a-4bd7-9a43-6c2e93fa4f1b": "curator",
                     "member_0000000007": "serverset"}


def test_provider_records_for_feeds_and_snapshots():
    from zkservices._formats import provider_from_record, provider_record

    zk_node = read_provider("10.0.0.1:80", b'{"weight":2,"pid":7,"host":"10.0.0.1","port":80}')
    assert provider_record(zk_node) == {"weight": 2, "pid": 7, "host": "10.0.0.1", "port": 80}  # the data
    member = read_provider("member_0000000001", b'{"serviceEndpoint":{"host":"10.0.0.3","port":31337},"shard":1}')
    record = provider_record(member)
    assert record == {"host": "10.0.0.3", "port": 31337, "status": "ALIVE", "additionalEndpoints": {}, "shard": 1}
    back = provider_from_record("member_0000000001", record)  # read back as a zkservices node of that data
    assert (back.host, back.port, dict(back.properties)) == ("10.0.0.3", 31337, dict(member.properties))
    assert provider_from_record("junk", {"weight": 1}) is None


@pytest.mark.parametrize("name, data, why", [
    ("10.0.0.1:80", b'{"host": "10.0.0.1", "port": "80x"}', "port '80x' is not an integer"),
    ("10.0.0.1:80", b'{"host": "10.0.0.1", "port": 0}', "port 0 is not between 1 and 65535"),
    ("10.0.0.1:80", b'{"host": "10.0.0.1", "port": "70000"}', "port 70000 is not between 1 and 65535"),
    ("x", b'{"host": "", "port": 80}', "host '' is not a hostname or IP address"),
    ("junk", b"{not json", "not a provider node any format can read"),
    ("member_0000000001", b'{"status": "ALIVE"}', "not a provider node any format can read"),
])
def test_unreadable_reason(name, data, why):
    from zkservices._formats import unreadable_reason

    assert read_provider(name, data) is None
    assert unreadable_reason(name, data) == why


def test_provider_format_argument():
    from zkservices._formats import provider_format_argument

    assert provider_format_argument(None, {}) == "zkservices"
    properties = {"format": "curator", "weight": 1}
    with pytest.warns(DeprecationWarning, match="format= is deprecated; use provider_format="):
        assert provider_format_argument(None, properties) == "curator"
    assert properties == {"weight": 1}  # never a property
    with pytest.raises(TypeError):
        provider_format_argument("serverset", {"format": "curator"})
