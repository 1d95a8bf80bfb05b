"""zkservices.aio awaits every round trip on the loop: registrations, views, links,
writes -- with a default executor that refuses work, against a real server, through
a dropped connection and a session expiry."""

from __future__ import annotations

import asyncio
import json

import pytest
from kazoo.exceptions import ConnectionLoss

import zkservices
import zkservices.aio
from zkservices.testing import drop_connection, expire_session

from _util import blocking, lose_first_read_below, run_without_executor, wait_for

WAIT = 30.0


def owner(client, path):
    stat = client.exists(path)
    return None if stat is None else stat.ephemeralOwner


# -- registrations -------------------------------------------------------------------


def test_register_and_unregister_without_the_executor(zk, zk_client):
    async def main(helpers):
        azk = zkservices.aio.AsyncZooKeeper(zk)
        plain = await azk.register_server("/svc/a/providers", "10.0.0.1:80", weight=3)
        curator = await azk.register_server("/svc/b", "10.0.0.2:81", format=zkservices.CuratorFormat(instance_id="i1"))
        member = await azk.register_server("/svc/c", "10.0.0.3:82", format="serverset", shard=2)
        assert plain.active and plain.names == ("10.0.0.1:80",)
        assert curator.names == ("i1",)
        assert len(member.names) == 1 and member.names[0].startswith("member_")
        assert len(zk.registrar) == 3
        data = json.loads(zk_client.get("/svc/a/providers/10.0.0.1:80")[0])
        assert data["weight"] == 3 and data["host"] == "10.0.0.1" and data["port"] == 80
        assert owner(zk_client, "/svc/a/providers/10.0.0.1:80") == zk.core.session_id
        assert json.loads(zk_client.get("/svc/b/i1")[0])["address"] == "10.0.0.2"
        assert json.loads(zk_client.get(member.paths[0])[0])["shard"] == 2

        await azk.unregister("/svc/a/providers", "10.0.0.1:80")
        assert not plain.active
        await azk.unregister_registration(curator)
        await azk.unregister_registration(curator)  # idempotent
        assert zk_client.exists("/svc/a/providers/10.0.0.1:80") is None
        assert zk_client.exists("/svc/b/i1") is None
        assert len(zk.registrar) == 1
        member.unregister()  # the synchronous handle works on it too
        assert zk_client.get_children("/svc/c") == []
        assert len(zk.registrar) == 0

    run_without_executor(main)


def test_register_through_a_link_and_refusals(zk, zk_client):
    zk_client.create("/top", json.dumps({"svc ->": "/real/svc"}).encode())

    async def main(helpers):
        azk = zkservices.aio.AsyncZooKeeper(zk)
        registration = await azk.register_server("/top/svc", "10.0.0.1:80")
        assert registration.real_path == "/real/svc"  # the dangling link got its target created
        assert zk_client.exists("/real/svc/10.0.0.1:80") is not None
        with pytest.raises(ValueError, match="port"):
            await azk.register_server("/top/other", "10.0.0.1:nope")
        with pytest.raises(ValueError):
            await azk.register_server("/top/other", "10.0.0.1:80", format="nonesuch")
        with pytest.raises(zkservices.InvalidPath):
            await azk.register_server("top", "10.0.0.1:80")
        assert zk_client.exists("/top/other") is None  # nothing written for refused input
        # unregistering a node this session did not register resolves the path first
        zk_client.create("/real/svc/10.0.0.9:9", b"{}")
        await azk.unregister("/top/svc", "10.0.0.9:9")
        assert zk_client.get_children("/real/svc") == ["10.0.0.1:80"]
        with pytest.raises(zkservices.NoNode):
            await azk.unregister("/nowhere", "10.0.0.9:9")

    run_without_executor(main)


def test_a_node_of_another_session_is_replaced(zk, zk_client):
    zk_client.create("/svc/10.0.0.1:80", b'{"old": true}', ephemeral=True, makepath=True)

    async def main(helpers):
        azk = zkservices.aio.AsyncZooKeeper(zk)
        await azk.register_server("/svc", "10.0.0.1:80")
        assert owner(zk_client, "/svc/10.0.0.1:80") == zk.core.session_id
        assert "old" not in json.loads(zk_client.get("/svc/10.0.0.1:80")[0])

    run_without_executor(main)


def test_aio_registrations_are_restored_after_expiry(zk, zk_client):
    async def main(helpers):
        azk = zkservices.aio.AsyncZooKeeper(zk)
        await azk.register_server("/svc/a", "10.0.0.1:80")
        member = await azk.register_server("/svc/s", "10.0.0.1:81", format="serverset")
        old_session, old_member = zk.core.session_id, member.paths[0]
        await blocking(helpers, expire_session, zk)
        assert await azk.wait_recovered(WAIT)
        assert zk.core.session_id != old_session
        assert owner(zk_client, "/svc/a/10.0.0.1:80") == zk.core.session_id
        assert member.paths != (old_member,)  # a new member, and the handle follows it
        assert zk_client.get_children("/svc/s") == [member.names[0]]
        assert owner(zk_client, member.paths[0]) == zk.core.session_id

    run_without_executor(main)


def test_curator_directory_check_waits_through_a_lost_read(zk, zk_client, zk_server, monkeypatch):
    # as the synchronous check: a sibling's read lost with the connection is read again
    zk.register_server("/services/mixed", "10.0.0.7:8080", format="curator")
    zk.register_server("/services/plain", "10.0.0.9:80", format="serverset")

    async def main(helpers):
        azk = zkservices.aio.AsyncZooKeeper(zk)
        lost = lose_first_read_below(monkeypatch, zk, zk_server, "/services/mixed")
        with pytest.raises(ValueError, match="Curator"):
            await azk.register_server("/services/mixed", "10.0.0.8:80", enabled="yes")
        assert len(lost) == 1 and isinstance(lost[0].exception, ConnectionLoss)
        lost = lose_first_read_below(monkeypatch, zk, zk_server, "/services/plain")
        await azk.register_server("/services/plain", "10.0.0.8:80", enabled="yes")
        assert len(lost) == 1 and isinstance(lost[0].exception, ConnectionLoss)

    run_without_executor(main)
    assert len(zk_client.get_children("/services/mixed")) == 1
    assert "10.0.0.8:80" in zk_client.get_children("/services/plain")


def test_registrations_through_a_dropped_connection_and_an_expiry(zk, zk_client):
    zk_client.ensure_path("/svc")

    async def main(helpers):
        azk = zkservices.aio.AsyncZooKeeper(zk)

        async def register(i):
            await asyncio.sleep(0.01 * i)
            fmt = "serverset" if i % 2 else "zkservices"
            return await azk.register_server(f"/svc/s{i % 4}", f"10.0.1.{i}:80", format=fmt)

        tasks = [asyncio.ensure_future(register(i)) for i in range(40)]
        await asyncio.sleep(0.05)
        states = []
        zk.client.add_listener(states.append)
        await blocking(helpers, drop_connection, zk)
        await blocking(helpers, lambda: wait_for(lambda: "SUSPENDED" in states and zk.connected,
                                                 what="suspended, then reconnected"))
        zk.client.remove_listener(states.append)
        await blocking(helpers, expire_session, zk)
        registrations = await asyncio.gather(*tasks)
        assert await azk.wait_recovered(WAIT)
        return registrations

    registrations = run_without_executor(main)
    session = zk.core.session_id
    members = {}
    for i in range(4):
        for name in zk_client.get_children(f"/svc/s{i}"):
            path = f"/svc/s{i}/{name}"
            assert owner(zk_client, path) == session, path
            data = json.loads(zk_client.get(path)[0])
            address = name if not name.startswith("member_") else data["serviceEndpoint"]["host"]
            members.setdefault(address, []).append(path)
    # exactly one node per registered address, none left over from an unseen create
    expected = {f"10.0.1.{i}" if i % 2 else f"10.0.1.{i}:80" for i in range(40)}
    assert set(members) == expected
    assert all(len(paths) == 1 for paths in members.values()), members
    assert all(r.active and len(r.paths) == 1 for r in registrations)
    assert sorted(p for r in registrations for p in r.paths) == sorted(p for ps in members.values() for p in ps)


# -- links and writes -------------------------------------------------------------------


def _links_tree(client):
    client.create("/real/node", json.dumps({"a": 1, "t =>": "/conf threads", "u =>": "../../conf"}).encode(),
                  makepath=True)
    client.set("/real", json.dumps({"alias ->": "node"}).encode())
    client.create("/top", json.dumps({"r ->": "/real"}).encode())
    client.create("/conf", json.dumps({"threads": 4, "u": "x"}).encode())
    client.create("/bad", json.dumps({"b =>": "/missing"}).encode())
    client.create("/loop", json.dumps({"p =>": "/loop q", "q =>": "/loop p"}).encode())
    client.create("/cycle", json.dumps({"x ->": "y", "y ->": "x"}).encode())


def _outcome(fn):
    try:
        return ("ok", fn())
    except Exception as exc:
        return (type(exc), str(exc))


async def _aoutcome(coro):
    try:
        return ("ok", await coro)
    except Exception as exc:
        return (type(exc), str(exc))


def test_links_are_followed_on_the_loop_as_the_sync_api_does(zk, zk_client):
    _links_tree(zk_client)
    paths = ["/real/node", "/top/r/node", "/top/r/alias", "/real/alias", "/conf", "/bad", "/loop", "/cycle/x",
             "/missing", "/top/nope", "/top/r/./node", "/top/r/../top"]

    async def main(helpers):
        azk = zkservices.aio.AsyncZooKeeper(zk)
        got = {}
        for path in paths:
            got[path] = (await _aoutcome(azk.get_properties(path)), await _aoutcome(azk.resolve(path)))
        return got

    got = run_without_executor(main)
    for path in paths:
        assert got[path] == (_outcome(lambda: zk.get_properties(path)), _outcome(lambda: zk.resolve(path))), path
    assert got["/top/r/alias"][0] == ("ok", {"a": 1, "t": 4, "u": "x"})
    assert got["/top/r/alias"][1] == ("ok", "/real/node")


def test_writes_with_links_on_the_loop(zk, zk_client):
    _links_tree(zk_client)

    async def main(helpers):
        azk = zkservices.aio.AsyncZooKeeper(zk)
        await azk.update_properties("/real/node", b=2)  # existing links: checked
        assert await azk.get_properties("/real/node") == {"a": 1, "t": 4, "u": "x", "b": 2}
        with pytest.raises(zkservices.BadPropertyLink):
            await azk.update_properties("/conf", **{"z =>": "/missing"})
        await azk.update_properties("/conf", **{"z =>": "/real/node a"})
        assert (await azk.get_properties("/conf"))["z"] == 1
        props = await azk.properties("/top/r/alias")
        await props.update({"c": 3}, d=4)
        await props.set(a=5, **{"t =>": "/conf threads"})
        assert dict(props.view) == {"a": 5, "t": 4}  # settled: the view saw its own write
        with pytest.raises(zkservices.BadPropertyLink):
            await props.update(**{"w =>": "/conf nonesuch"})
        with pytest.raises(TypeError):
            await props.update({}, {})
        await props.close()
        with pytest.raises(ValueError, match="closed"):
            await props.update(a=6)

    run_without_executor(main)
    assert json.loads(zk_client.get("/real/node")[0]) == {"a": 5, "t =>": "/conf threads"}


# -- views ------------------------------------------------------------------------------


def test_views_open_and_stream_without_the_executor(zk, zk_client):
    zk_client.create("/svc/providers", b"{}", makepath=True)
    zk_client.create("/conf", b'{"n": 1}')

    async def main(helpers):
        azk = zkservices.aio.AsyncZooKeeper(zk)
        children = await azk.children("/svc/providers")
        props = await azk.properties("/conf")
        providers = await azk.providers("/svc/providers")
        selector = await azk.selector("/svc/providers", "round-robin")
        assert "AsyncChildren" in repr(children) and "/svc/providers" in repr(children)
        kids, confs, provs = children.changes(), props.changes(), providers.changes()
        assert await kids.__anext__() == ()
        assert await confs.__anext__() == {"n": 1}
        assert await provs.__anext__() == {}
        await azk.register_server("/svc/providers", "10.0.0.1:80")
        assert await asyncio.wait_for(kids.__anext__(), WAIT) == ("10.0.0.1:80",)
        assert list(await asyncio.wait_for(provs.__anext__(), WAIT)) == ["10.0.0.1:80"]
        assert selector.get().address == "10.0.0.1:80"
        await props.update(n=2)
        assert await asyncio.wait_for(confs.__anext__(), WAIT) == {"n": 2}
        for stream in (kids, confs, provs):
            await stream.aclose()
        assert children.view.callbacks == () and props.view.callbacks == ()
        selector.close()
        for view in (children, props, providers):
            await view.close()
            assert view.closed
        with pytest.raises(zkservices.NoNode):
            await azk.children("/nowhere")
        with pytest.raises(ValueError):
            await azk.selector("/svc/providers", "nonesuch")

    run_without_executor(main)


def test_aio_views_are_rearmed_after_expiry(zk, zk_client):
    zk_client.create("/conf", b'{"n": 1}')

    async def main(helpers):
        azk = zkservices.aio.AsyncZooKeeper(zk)
        async with await azk.properties("/conf") as props:
            stream = props.changes()
            assert await stream.__anext__() == {"n": 1}
            await blocking(helpers, expire_session, zk)
            assert await azk.wait_recovered(WAIT)
            await blocking(helpers, zk_client.set, "/conf", b'{"n": 2}')
            assert await asyncio.wait_for(stream.__anext__(), WAIT) == {"n": 2}
            await stream.aclose()

    run_without_executor(main)


def test_calls_wait_through_a_dropped_connection(zk, zk_client):
    zk_client.create("/conf", b'{"n": 1}')
    zk_client.create("/top", b'{"c ->": "/conf"}')

    async def main(helpers):
        azk = zkservices.aio.AsyncZooKeeper(zk)
        states = []
        zk.client.add_listener(states.append)
        await blocking(helpers, drop_connection, zk)
        results = await asyncio.gather(
            azk.get_properties("/top/c"), azk.resolve("/top/c"), azk.children("/top"),
            azk.update_properties("/conf", m=2), azk.register_server("/svc", "10.0.0.1:80"),
        )
        await blocking(helpers, lambda: wait_for(lambda: "SUSPENDED" in states, what="suspended"))
        zk.client.remove_listener(states.append)
        return results

    props, real, children, _, registration = run_without_executor(main)
    assert props in ({"n": 1}, {"n": 1, "m": 2})
    assert real == "/conf" and registration.active
    assert json.loads(zk_client.get("/conf")[0]) == {"n": 1, "m": 2}
    assert zk_client.exists("/svc/10.0.0.1:80") is not None


def test_wait_recovered_and_repr(zk):
    async def main(helpers):
        azk = zkservices.aio.AsyncZooKeeper(zk)
        assert await azk.wait_recovered(1.0)
        assert repr(azk).startswith("<AsyncZooKeeper <ZooKeeper")
        assert "AsyncBridge" in repr(azk._ops.bridge)

    run_without_executor(main)


def test_calls_after_close_raise_session_closed(zk_connection_string):
    async def main():
        azk = await zkservices.aio.connect(zk_connection_string)
        await azk.close()
        for call in (azk.get_properties("/"), azk.children("/"), azk.register_server("/svc", "10.0.0.1:80"),
                     azk.resolve("/")):
            with pytest.raises(zkservices.SessionClosed):
                await call

    asyncio.run(asyncio.wait_for(main(), 60))


def test_a_slow_composite_call_does_not_lose_the_reads_behind_it(zk, zk_client):
    # ensure_path_async is several requests inside kazoo (a plain call, not piped);
    # reads sent after it in the same turn complete, each with its own result
    zk_client.create("/conf", b'{"n": 1}')

    async def main(helpers):
        azk = zkservices.aio.AsyncZooKeeper(zk)
        bridge = azk._ops.bridge
        deep = "/deep" + "/d" * 30
        results = await asyncio.gather(bridge.call(zk.client.ensure_path_async, deep),
                                       *(azk.get_properties("/conf") for _ in range(50)))
        assert results[1:] == [{"n": 1}] * 50
        assert zk_client.exists(deep) is not None

    run_without_executor(main)


def test_many_concurrent_reads_each_get_their_own_node(zk, zk_client):
    # more than a turn's hand-over (250) in flight: replies reach the loop in
    # batches, and each must still reach the await that asked for it
    n = 500
    transaction = zk_client.transaction()
    for i in range(n):
        transaction.create(f"/n{i}", b'{"i": %d}' % i)
    assert not any(isinstance(r, Exception) for r in transaction.commit())

    async def main(helpers):
        azk = zkservices.aio.AsyncZooKeeper(zk)
        order = list(range(n))[::-1]
        results = await asyncio.gather(*(azk.get_properties(f"/n{i}") for i in order),
                                       azk.get_properties("/n0"))
        return order, results

    order, results = run_without_executor(main)
    assert [r["i"] for r in results[:-1]] == order and results[-1] == {"i": 0}


def test_missing_ok_views_on_the_loop_fill_once_the_node_appears(zk, zk_client):
    async def main(helpers):
        azk = zkservices.aio.AsyncZooKeeper(zk)
        children = await azk.children("/later/providers", missing_ok=True)
        props = await azk.properties("/later", missing_ok=True)
        providers = await azk.providers("/later/providers", missing_ok=True)
        for view in (children, props, providers):
            assert view.view.deleted
        kids, confs, provs = children.changes(), props.changes(), providers.changes()
        assert await kids.__anext__() == ()
        assert await confs.__anext__() == {}
        assert await provs.__anext__() == {}
        await azk.create("/later", b'{"n": 1}')
        assert await asyncio.wait_for(confs.__anext__(), WAIT) == {"n": 1}
        await azk.register_server("/later/providers", "10.0.0.1:80")
        assert await asyncio.wait_for(kids.__anext__(), WAIT) == ("10.0.0.1:80",)
        assert list(await asyncio.wait_for(provs.__anext__(), WAIT)) == ["10.0.0.1:80"]
        for stream in (kids, confs, provs):
            await stream.aclose()
        for view in (children, props, providers):
            await view.close()
        with pytest.raises(zkservices.NoNode):  # without missing_ok, as before
            await azk.providers("/nowhere")

    run_without_executor(main)
