"""Writes that keep links intact: compare-and-set under concurrency, property-link checks, ``ln``."""

from __future__ import annotations

import threading

import pytest

from zkservices import BadPropertyLink

from _util import props, wait_for


def test_unrelated_update_works_while_another_property_link_dangles(zk, zk_client):
    zk_client.create("/cms", b'{"threads":3}')
    zk_client.create("/svc", b'{"threads =>":"../cms threads","a":1}')
    data = zk.properties("/svc")
    zk_client.delete("/cms")
    wait_for(lambda: "bad" == _read(data, "threads"), what="link dangles")
    data.update(a=2)
    assert props(zk_client, "/svc") == {"threads =>": "../cms threads", "a": 2}
    with pytest.raises(BadPropertyLink):
        data.update({"threads =>": "../nowhere threads"})


def _read(data, key):
    try:
        return data[key]
    except BadPropertyLink:
        return "bad"


def test_write_that_breaks_a_property_link_is_still_refused(zk, zk_client):
    zk_client.create("/svc", b'{"b":1,"a =>":". b"}')
    data = zk.properties("/svc")
    assert data["a"] == 1
    with pytest.raises(BadPropertyLink):
        del data["b"]  # would leave 'a =>' dangling
    assert props(zk_client, "/svc") == {"b": 1, "a =>": ". b"}


def test_ln_on_a_node_with_a_dangling_property_link(zk, zk_client):
    zk_client.create("/cms", b'{"threads":3}')
    zk_client.create("/svc", b'{"threads =>":"../cms threads"}')
    zk_client.delete("/cms")
    zk_client.create("/real")
    zk.ln("/real", "/svc/alias")
    assert zk.resolve("/svc/alias") == "/real"


def test_many_threads_of_one_session_update_and_set_lose_nothing(zk, zk_client):
    zk_client.create("/shared", b"{}")
    data = zk.properties("/shared")
    calls = []
    data(lambda d: calls.append(dict(d)))
    errors = []
    barrier = threading.Barrier(8)

    def writer(i):
        try:
            barrier.wait()
            for j in range(10):
                data.update({f"k{i}-{j}": j})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert len(props(zk_client, "/shared")) == 80
    assert len(data) == 80  # own writes settled


# -- ZooKeeper.update_properties: the asyncio front's, in the synchronous one ----------


def test_update_properties_from_many_threads_loses_nothing_and_views_see_it(zk, zk_client):
    zk_client.create("/conf", b'{"n": 0}')
    view = zk.properties("/conf")
    barrier = threading.Barrier(6)
    errors = []

    def writer(i):
        try:
            barrier.wait()
            for j in range(5):
                zk.update_properties("/conf", **{f"k{i}-{j}": j})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert len(props(zk_client, "/conf")) == 31
    assert len(view) == 31  # the session's own view has seen its writes when the call returns
    zk.update_properties("/conf", n=1)
    assert view["n"] == 1


def test_update_properties_errors_and_links(zk, zk_client):
    from zkservices import NoNode

    zk_client.create("/real", b'{"a": 1}')
    zk_client.create("/top", b'{"alias ->": "/real"}')
    with pytest.raises(NoNode) as missing:
        zk.update_properties("/nowhere", a=1)
    assert missing.value.path == "/nowhere"
    with pytest.raises(NoNode):
        zk.update_properties("/top/alias", b=2)  # the node itself: a symbolic link is not followed
    zk.update_properties("/top/alias", **{"b =>": ". a"})  # a property link: through links, checked
    assert props(zk_client, "/real") == {"a": 1, "b =>": ". a"}
    with pytest.raises(BadPropertyLink):
        zk.update_properties("/real", **{"c =>": ". nothing"})
    zk_client.create("/raw", b"not json")
    with pytest.raises(ValueError, match="not a JSON object"):
        zk.update_properties("/raw", a=1)
