"""zkservices.aio against a real server: streams of changes without blocking the loop."""

from __future__ import annotations

import asyncio

import pytest

import zkservices.aio
from zkservices.testing import expire_session


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
