"""Bad input is refused clearly, before anything is sent, and leaves the server as it was."""

from __future__ import annotations

import logging

import pytest
from kazoo.protocol.states import KazooState

import zkservices
from zkservices import InvalidPath, LinkLoop, ValueTooLarge
from zkservices._znode.encoding import MAX_DATA_SIZE

from _util import props, wait_for

# '/\U0001F600': Java strings hold characters beyond the BMP as surrogate pairs,
# which ZooKeeper's path validation refuses (the server answers BadArguments).
BAD_PATHS = ["relative", "", "/a//b", "/a/", "/a/./b", "/a/../b", "/a\x00b", "/a\x1fb", "/\U0001F600", 42, None]
# resolve() alone resolves these first, as zc.zk did (tests/session/test_facade.py)
DOT_SEGMENTS = ["/a/./b", "/a/../b"]


@pytest.fixture
def state_log(zk):
    """Connection states zk went through during the test (a too-large request would drop it)."""
    states = []
    zk.client.add_listener(states.append)
    yield states
    zk.client.remove_listener(states.append)


# -- invalid paths ----------------------------------------------------------------


@pytest.mark.parametrize("path", BAD_PATHS)
def test_invalid_paths_raise_invalid_path_everywhere(zk, zk_client, path):
    calls = [
        lambda: zk.children(path),
        lambda: zk.properties(path),
        lambda: zk.properties(path, watch=False),
        lambda: zk.get_properties(path),
        lambda: zk.register_server(path, "10.0.0.1:1"),
        lambda: zk.unregister(path, "10.0.0.1:1"),
        *([] if path in DOT_SEGMENTS else [lambda: zk.resolve(path)]),
        lambda: zk.ln("/target", path),
        lambda: zk.exists(path),
        lambda: zk.get(path),
        lambda: zk.get_children(path),
        lambda: zk.create(path, b""),
        lambda: zk.set(path, b""),
        lambda: zk.delete(path),
        lambda: zk.ensure_path(path),
    ]
    for i, call in enumerate(calls):
        with pytest.raises(InvalidPath) as info:
            call()
        assert isinstance(info.value, ValueError), i
        assert repr(path) in str(info.value) or str(path) in str(info.value), i
    if path in DOT_SEGMENTS:
        with pytest.raises(zkservices.NoNode):
            zk.resolve(path)  # resolved to /b or /a/b first, which do not exist
    assert zk_client.get_children("/") == []  # nothing was created
    assert zk.connected


def test_valid_unusual_paths_are_accepted(zk, zk_client):
    for path in ["/a.b", "/..a", "/a..", "/über", "/a b", "/-", "/\u4e2d\u6587"]:
        zk.create(path, b"")
        assert zk.exists(path) is not None
        assert zk.get_properties(path) == {}


# -- values that cannot be stored ---------------------------------------------------


def test_two_megabyte_value_is_refused_before_sending(zk, zk_client, state_log):
    zk_client.create("/big", b'{"a":1}')
    before = zk_client.get("/big")
    data = zk.properties("/big")
    big = "x" * (2 * 1024 * 1024)
    for write in (lambda: data.update(blob=big), lambda: data.set(blob=big), lambda: data.__setitem__("blob", big),
                  lambda: zk.properties("/big", watch=False).update(blob=big)):
        with pytest.raises(ValueTooLarge) as info:
            write()
        assert isinstance(info.value, ValueError)
        assert "/big" in str(info.value)
    after = zk_client.get("/big")
    assert after[0] == before[0] and after[1].version == before[1].version
    assert dict(data) == {"a": 1}
    # nothing reached the server: the connection was never dropped
    assert KazooState.SUSPENDED not in state_log and zk.connected


def test_two_megabyte_registration_is_refused_before_sending(zk, zk_client, state_log):
    with pytest.raises(ValueTooLarge):
        zk.register_server("/svc", "10.0.0.1:1", blob="x" * (2 * 1024 * 1024))
    assert zk_client.exists("/svc/10.0.0.1:1") is None
    assert KazooState.SUSPENDED not in state_log and zk.connected
    # and the failed registration is not resurrected later
    ok = zk.register_server("/svc", "10.0.0.1:2")
    assert zk_client.get_children("/svc") == ["10.0.0.1:2"]
    ok.unregister()


def test_value_just_under_the_limit_is_stored(zk, zk_client, state_log):
    path = "/" + "p" * 200
    zk_client.create(path, b"{}")
    data = zk.properties(path)
    overhead = len('{"blob":""}')
    data.set(blob="y" * (MAX_DATA_SIZE - overhead))
    stored, _ = zk_client.get(path)
    assert len(stored) == MAX_DATA_SIZE
    assert len(data["blob"]) == MAX_DATA_SIZE - overhead
    assert KazooState.SUSPENDED not in state_log


@pytest.mark.parametrize("bad", [
    {1: "int key"}, {"nan": float("nan")}, {"inf": float("inf")}, {"obj": object()},
    {"set": {1, 2}}, {"bytes": b"x"}, {"nested": {"k": {2: "int key"}}},
])
def test_values_that_are_not_json_are_refused(zk, zk_client, bad):
    zk_client.create("/j", b'{"a":1}')
    data = zk.properties("/j")
    with pytest.raises(ValueError):
        data.update(bad)
    with pytest.raises(ValueError):
        data.set(bad)
    assert zk_client.get("/j")[0] == b'{"a":1}'


def test_non_json_node_data(zk, zk_client):
    zk_client.create("/text", b"{}")
    data = zk.properties("/text")
    zk_client.set("/text", b"not json {")  # written by another program later
    wait_for(lambda: dict(data) == {"string_value": "not json {"}, what="string_value")
    with pytest.raises(ValueError):
        data.update(a=1)
    with pytest.raises(ValueError):
        del data["string_value"]
    assert zk_client.get("/text")[0] == b"not json {"
    data.set(a=1)
    assert props(zk_client, "/text") == {"a": 1}


def test_update_arguments(zk, zk_client):
    zk_client.create("/args", b"{}")
    data = zk.properties("/args")
    with pytest.raises(TypeError):
        data.update({"a": 1}, {"b": 2})
    with pytest.raises(TypeError):
        data(42)  # not callable
    assert zk_client.get("/args")[0] == b"{}"


# -- callbacks and links -----------------------------------------------------------------


def test_raising_children_callback_does_not_stop_the_others(zk, zk_client, caplog):
    caplog.set_level(logging.ERROR, logger="zkservices")
    zk_client.create("/cb")
    kids = zk.children("/cb")
    good = []

    def bad(view):
        if len(view):
            raise KeyError("bad callback")

    kids(bad)
    kids(lambda v: good.append(sorted(v)))
    other = zk.children("/cb")
    other_calls = []
    other(lambda v: other_calls.append(sorted(v)))
    zk_client.create("/cb/1")
    zk_client.create("/cb/2")
    wait_for(lambda: good[-1:] == [["1", "2"]] and other_calls[-1:] == [["1", "2"]], what="others go on")
    assert len(kids.callbacks) == 1 and bad not in kids.callbacks  # only the good one left
    assert any("bad callback" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_property_link_loop_of_three(zk, zk_client):
    zk_client.create("/a", b'{"x =>":"/b"}')
    zk_client.create("/b", b'{"x =>":"/c"}')
    zk_client.create("/c", b'{"x =>":"/a"}')
    data = zk.properties("/a")
    with pytest.raises(LinkLoop):
        data["x"]
    assert "x" in data and data["x =>"] == "/b"
    with pytest.raises(LinkLoop):
        zk.get_properties("/b")
    # closing the loop through a write is refused, the node unchanged
    zk_client.create("/d", b'{"y":1}')
    zk_client.create("/e", b'{"y =>":"/d"}')
    with pytest.raises(ValueError):
        zk.properties("/d").set({"y =>": "/e"})
    assert zk_client.get("/d")[0] == b'{"y":1}'


def test_failed_connect_is_not_a_value_error():
    from zkservices.testing import free_ports

    (port,) = free_ports(1)
    with pytest.raises(zkservices.FailedConnect):
        zkservices.ZooKeeper(f"127.0.0.1:{port}", timeout=0.3)


@pytest.mark.parametrize("raw", [b'{"a": NaN}', b'{"a": Infinity}', b'{"a": 1e400}', b"[" * 100000 + b"]" * 100000])
def test_nan_and_absurdly_deep_data_read_as_string_value(zk, zk_client, raw):
    zk_client.create("/odd", raw)
    data = zk.properties("/odd")
    assert dict(data) == {"string_value": raw.decode()}
    with pytest.raises(ValueError, match="not a JSON object"):
        data.update(x=1)  # never merged into, never silently overwritten
    assert zk_client.get("/odd")[0] == raw
