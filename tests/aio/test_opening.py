"""``async with zkservices.aio.AsyncZooKeeper(...) as zk:`` opens a session and closes it
(its ephemeral nodes are gone after); ``connect()`` and wrapping an open ZooKeeper
keep working."""

from __future__ import annotations

import asyncio

import pytest

import zkservices
import zkservices.aio
from zkservices.testing import free_ports


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_async_with_opens_and_closes_a_session(zk_connection_string, zk_client):
    async def main():
        azk = zkservices.aio.AsyncZooKeeper(zk_connection_string, session_timeout=5.0)
        assert repr(azk) == "<AsyncZooKeeper not open>"
        async with azk as zk:
            assert zk is azk and zk.sync.connected
            await zk.register_server("/svc/providers", "10.0.0.1:80")
            await zk.create("/eph", b"", ephemeral=True)
            owner = zk.sync.core.session_id
            assert zk_client.exists("/svc/providers/10.0.0.1:80").ephemeralOwner == owner
            assert zk_client.exists("/eph").ephemeralOwner == owner
            assert "CONNECTED" in repr(zk)
        assert azk.sync.closed
        return owner

    run(main())
    assert zk_client.get_children("/svc/providers") == []
    assert zk_client.exists("/eph") is None


def test_calls_before_opening_say_so(zk_connection_string):
    async def main():
        azk = zkservices.aio.AsyncZooKeeper(zk_connection_string)
        with pytest.raises(RuntimeError, match="not open"):
            await azk.get("/")
        with pytest.raises(RuntimeError, match="not open"):
            azk.sync  # noqa: B018
        await azk.close()  # nothing to close
        with pytest.raises(AttributeError):
            azk.no_such_name  # noqa: B018

    run(main())


def test_options_reach_the_session(zk_connection_string, zk_client):
    async def main():
        async with zkservices.aio.AsyncZooKeeper(zk_connection_string, auth=[("digest", "alice:secret")]) as zk:
            await zk.create("/mine")

    run(main())
    acls, _ = zk_client.get_acls("/mine")
    assert any(acl.id.scheme == "digest" and acl.id.id.startswith("alice:") for acl in acls)  # alice's own


def test_connect_and_wrapping_still_work(zk, zk_connection_string):
    async def main():
        async with await zkservices.aio.connect(zk_connection_string) as opened:
            session = opened.sync.core.session_id
            async with opened as again:  # open already: the same session
                assert again.sync.core.session_id == session
        assert opened.sync.closed
        for wrapped in (zkservices.aio.AsyncZooKeeper(zk), zkservices.aio.AsyncZooKeeper(zk=zk)):
            assert wrapped.sync is zk
            assert await wrapped.exists("/") is not None
        with pytest.raises(TypeError, match="alone"):
            zkservices.aio.AsyncZooKeeper(zk, timeout=1.0)
        with pytest.raises(TypeError, match="alone"):
            zkservices.aio.AsyncZooKeeper(zk, zk=zk)
        async with zkservices.aio.AsyncZooKeeper(zk):
            pass
        assert zk.closed  # leaving the block closes the wrapped session, as before

    run(main())


def test_a_server_that_does_not_answer_is_failed_connect():
    port = free_ports(1)[0]

    async def main():
        async with zkservices.aio.AsyncZooKeeper(f"127.0.0.1:{port}", timeout=1.0):
            raise AssertionError("opened")

    with pytest.raises(zkservices.FailedConnect, match=str(port)):
        run(main())
