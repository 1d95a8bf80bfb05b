"""zkservices.aio against a real server: streams of changes without blocking the loop (and the first checks of pipelined calls)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json

import pytest

import zkservices.aio
from zkservices.testing import drop_connection, expire_session

from _util import wait_for


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_children_stream_sees_registrations_from_another_session(zk_connection_string, zk_client):
    async def main():
        async with await zkservices.aio.connect(zk_connection_string) as zk:
            await zk.register_server("/svc/providers", ("10.0.0.1", 8080))
            seen = []
            async with await zk.children("/svc/providers") as providers:
                stream = providers.changes()
                seen.append(await stream.__anext__())
                await asyncio.to_thread(zk_client.create, "/svc/providers/10.0.0.2:8080", b"{}", ephemeral=True)
                seen.append(await stream.__anext__())
                await asyncio.to_thread(zk_client.delete, "/svc/providers/10.0.0.2:8080")
                seen.append(await stream.__anext__())
                await stream.aclose()
                assert providers.view.callbacks == ()  # the stream removed its callback
            return seen

    assert run(main()) == [
        ("10.0.0.1:8080",),
        ("10.0.0.1:8080", "10.0.0.2:8080"),
        ("10.0.0.1:8080",),
    ]


def test_properties_stream_and_awaitable_writes(zk_connection_string, zk_client):
    zk_client.create("/conf", b'{"threads": 1}')

    async def main():
        async with await zkservices.aio.connect(zk_connection_string) as zk:
            props = await zk.properties("/conf")
            stream = props.changes()
            first = await stream.__anext__()
            await props.update(threads=2)
            second = await stream.__anext__()
            await stream.aclose()
            assert await zk.get_properties("/conf") == {"threads": 2}
            return first, second

    assert run(main()) == ({"threads": 1}, {"threads": 2})


def test_loop_stays_responsive_and_stream_survives_expiry(zk_connection_string, zk_client):
    zk_client.ensure_path("/svc/providers")

    async def main():
        zk = await zkservices.aio.connect(zk_connection_string)
        try:
            providers = await zk.children("/svc/providers")
            stream = providers.changes()
            assert await stream.__anext__() == ()
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.001)

            task = asyncio.create_task(ticker())
            await asyncio.to_thread(expire_session, zk.sync)
            before = ticks
            await asyncio.to_thread(zk_client.create, "/svc/providers/a:1", b"{}")
            assert await stream.__anext__() == ("a:1",)
            task.cancel()
            assert before > 0  # the loop ran while the session was being expired
            await stream.aclose()
        finally:
            await zk.close()

    run(main())


def test_connect_failure_is_failed_connect():
    from zkservices.testing import free_ports

    port = free_ports(1)[0]
    with pytest.raises(zkservices.FailedConnect, match=str(port)):
        run(zkservices.aio.connect(f"127.0.0.1:{port}", timeout=1.0))


# -- pipelined calls: no executor thread per call --------------------------------------


class _NoExecutor(concurrent.futures.ThreadPoolExecutor):
    """A default executor that refuses work: proves a call did not use a thread."""

    def submit(self, fn, /, *args, **kwargs):
        raise AssertionError(f"{fn!r} ran in the executor")


def test_reads_and_writes_are_pipelined_on_the_loop(zk, zk_client):
    zk_client.create("/p/a", b'{"n": 1}', makepath=True)

    async def main():
        asyncio.get_running_loop().set_default_executor(_NoExecutor())
        azk = zkservices.aio.AsyncZooKeeper(zk)
        results = await asyncio.gather(*(azk.get_properties("/p/a") for _ in range(2000)))
        assert results == [{"n": 1}] * 2000
        assert (await azk.get("/p/a"))[0] == b'{"n": 1}'
        assert await azk.get_children("/p") == ["a"]
        assert await azk.exists("/p/missing") is None
        with pytest.raises(zkservices.NoNode):
            await azk.get("/p/missing")
        # concurrent compare-and-set writers lose nothing
        await asyncio.gather(*(azk.update_properties("/p/a", **{f"k{i}": i}) for i in range(30)))

    asyncio.run(main())
    data = json.loads(zk_client.get("/p/a")[0])
    assert data == {"n": 1, **{f"k{i}": i for i in range(30)}}


def test_pipelined_reads_wait_through_a_dropped_connection_and_an_expiry(zk, zk_client):
    zk_client.create("/p/a", b'{"n": 1}', makepath=True)

    async def main():
        azk = zkservices.aio.AsyncZooKeeper(zk)
        errors = []

        async def reader():
            for _ in range(200):
                try:
                    assert await azk.get_properties("/p/a") == {"n": 1}
                except Exception as exc:  # none expected
                    errors.append(exc)
                await asyncio.sleep(0.005)

        readers = [asyncio.ensure_future(reader()) for _ in range(5)]
        await asyncio.sleep(0.1)
        loop = asyncio.get_running_loop()
        states = []
        zk.client.add_listener(states.append)
        await loop.run_in_executor(None, drop_connection, zk)
        await loop.run_in_executor(None, lambda: wait_for(lambda: "SUSPENDED" in states and zk.connected,
                                                          what="suspended, then reconnected"))
        zk.client.remove_listener(states.append)
        await loop.run_in_executor(None, expire_session, zk)
        await asyncio.gather(*readers)
        return errors

    assert asyncio.run(main()) == []


# -- a stream and a bad property link ----------------------------------------------------

WAIT = 30.0


def test_aio_properties_stream_survives_a_bad_property_link(zk_connection_string, zk_client):
    # The stream's snapshot read every property; a broken property link raised
    # in the view's callback, which was then removed: the stream hung forever.
    zk_client.create("/conf", b'{"threads": 1}')
    zk_client.create("/other", b'{"x": 1}')

    async def main():
        async with await zkservices.aio.connect(zk_connection_string) as zk:
            props = await zk.properties("/conf")
            stream = props.changes()
            assert await stream.__anext__() == {"threads": 1}
            await asyncio.to_thread(zk_client.set, "/conf", b'{"threads": 2, "x =>": "/other"}')
            assert await asyncio.wait_for(stream.__anext__(), WAIT) == {"threads": 2, "x": 1}
            await asyncio.to_thread(zk_client.delete, "/other")
            await asyncio.to_thread(zk_client.set, "/conf", b'{"threads": 3, "x =>": "/other"}')
            state = await asyncio.wait_for(stream.__anext__(), WAIT)
            if state.get("threads") == 2:  # the deletion of /other is a change too
                assert "x" not in state
                state = await asyncio.wait_for(stream.__anext__(), WAIT)
            assert state == {"threads": 3}  # the broken link is left out
            await asyncio.to_thread(zk_client.set, "/conf", b'{"threads": 4}')
            assert await asyncio.wait_for(stream.__anext__(), WAIT) == {"threads": 4}
            await stream.aclose()

    asyncio.run(asyncio.wait_for(main(), 60))


def test_providers_stream_and_selector(zk_connection_string, zk_client):
    async def main():
        async with await zkservices.aio.connect(zk_connection_string) as zk:
            await zk.register_server("/svc/mixed", "10.0.0.1:80", format="curator", weight=1)
            seen = []
            async with await zk.providers("/svc/mixed") as providers:
                stream = providers.changes()
                seen.append(await stream.__anext__())
                await asyncio.to_thread(zk_client.create, "/svc/mixed/member_0000000001",
                                        b'{"serviceEndpoint":{"host":"10.0.0.2","port":80},"status":"ALIVE"}')
                seen.append(await stream.__anext__())
                await stream.aclose()
                selector = await zk.selector("/svc/mixed", "round-robin", error_threshold=1)
                assert {selector.get().address for _ in range(2)} == {"10.0.0.1:80", "10.0.0.2:80"}
                with pytest.raises(RuntimeError):
                    async with selector.lease() as provider:
                        raise RuntimeError("the call failed")
                assert selector.down() == {provider.name}
                selector.close()
            return seen

    seen = run(main())
    assert [sorted(p.format for p in s.values()) for s in seen] == [["curator"], ["curator", "serverset"]]
    assert all(isinstance(p, zkservices.Provider) for s in seen for p in s.values())
