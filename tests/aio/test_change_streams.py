"""``updates()`` of the async children and providers views yields the change objects a
synchronous callback of a view receives (ChildrenChange, ProvidersChange), change for
change -- against a real server, the stream and the callback following the same node."""

from __future__ import annotations

import asyncio
import json

import zkservices
import zkservices.aio

from _util import wait_for

WAIT = 30.0


def provider(host: str, port: int) -> bytes:
    return json.dumps({"host": host, "port": port}).encode()


def follow_both(zk, path, open_view, steps):
    """Apply ``steps`` (blocking functions) one at a time; after each, wait until both
    the synchronous callback (on ``zk``'s own view of ``path``) and the async stream
    have the change.  Returns (what the callback heard, what the stream yielded)."""
    heard = []
    sync_view = getattr(zk, open_view)(path)
    sync_view(lambda view, change: heard.append(change))

    async def main():
        azk = zkservices.aio.AsyncZooKeeper(zk)
        async with await getattr(azk, open_view)(path) as view:
            stream = view.updates()
            got = [await asyncio.wait_for(stream.__anext__(), WAIT)]
            for step in steps:
                await asyncio.to_thread(step)
                got.append(await asyncio.wait_for(stream.__anext__(), WAIT))
                await asyncio.to_thread(wait_for, lambda: len(heard) == len(got), WAIT, "the callback's call")
            await stream.aclose()
            assert view.view.callbacks == ()  # the stream removed its callback
            return got

    try:
        return heard, asyncio.run(asyncio.wait_for(main(), 120))
    finally:
        sync_view.close()


def test_children_updates_are_the_callbacks_changes(zk, zk_client):
    zk_client.create("/svc/p", makepath=True)
    steps = [
        lambda: zk_client.create("/svc/p/a"),
        lambda: zk_client.create("/svc/p/b"),
        lambda: zk_client.delete("/svc/p/a"),
        lambda: zk_client.delete("/svc/p/b"),
        lambda: zk_client.delete("/svc/p"),  # deleted: the callback is told too
        lambda: zk_client.create("/svc/p"),  # back
        lambda: zk_client.create("/svc/p/c"),
    ]
    heard, got = follow_both(zk, "/svc/p", "children", steps)
    assert [change for _, change in got] == heard
    assert all(isinstance(change, zkservices.ChildrenChange) for _, change in got)
    assert [state for state, _ in got] == [(), ("a",), ("a", "b"), ("b",), (), (), (), ("c",)]
    assert heard[0] == zkservices.ChildrenChange() and heard[1] == zkservices.ChildrenChange(added={"a"})
    assert heard[3] == zkservices.ChildrenChange(removed={"a"})


def test_providers_updates_are_the_callbacks_changes(zk, zk_client):
    zk_client.create("/svc/p/10.0.0.1:80", provider("10.0.0.1", 80), makepath=True)
    steps = [
        lambda: zk_client.create("/svc/p/10.0.0.2:80", provider("10.0.0.2", 80)),
        lambda: zk_client.set("/svc/p/10.0.0.1:80", provider("10.0.0.1", 81)),
        lambda: zk_client.delete("/svc/p/10.0.0.2:80"),
    ]
    heard, got = follow_both(zk, "/svc/p", "providers", steps)
    assert [change for _, change in got] == heard
    assert heard == [
        zkservices.ProvidersChange(frozenset({"10.0.0.1:80"}), frozenset(), frozenset()),
        zkservices.ProvidersChange(frozenset({"10.0.0.2:80"}), frozenset(), frozenset()),
        zkservices.ProvidersChange(frozenset(), frozenset(), frozenset({"10.0.0.1:80"})),
        zkservices.ProvidersChange(frozenset(), frozenset({"10.0.0.2:80"}), frozenset()),
    ]
    assert [sorted(state) for state, _ in got] == [["10.0.0.1:80"], ["10.0.0.1:80", "10.0.0.2:80"],
                                                   ["10.0.0.1:80", "10.0.0.2:80"], ["10.0.0.1:80"]]
    assert got[2][0]["10.0.0.1:80"].port == 81


def test_a_consumer_behind_gets_the_latest_state_and_everything_that_changed(zk, zk_client):
    zk_client.create("/svc/p/x", makepath=True)

    async def main():
        azk = zkservices.aio.AsyncZooKeeper(zk)
        async with await azk.children("/svc/p") as children:
            stream = children.updates()
            first = await asyncio.wait_for(stream.__anext__(), WAIT)
            heard = []  # a callback added after the stream's: called after it on each change
            await asyncio.to_thread(children.view, lambda view, change: heard.append((tuple(view), change)))
            for name in ("a", "b", "c"):
                await asyncio.to_thread(zk_client.create, "/svc/p/" + name)
            await asyncio.to_thread(zk_client.delete, "/svc/p/x")
            await asyncio.to_thread(wait_for, lambda: heard[-1][0] == ("a", "b", "c"), WAIT, "every change heard")
            latest = await asyncio.wait_for(stream.__anext__(), WAIT)  # (the stream was told first)
            await stream.aclose()
            return first, latest, heard

    first, latest, heard = asyncio.run(asyncio.wait_for(main(), 60))
    assert first == (("x",), zkservices.ChildrenChange(added={"x"}))
    assert latest == (("a", "b", "c"), zkservices.ChildrenChange(added={"a", "b", "c"}, removed={"x"}))
    assert heard[0] == (("x",), zkservices.ChildrenChange(added={"x"}))
