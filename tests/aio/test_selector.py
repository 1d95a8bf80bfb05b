"""The selector of ``zkservices.aio`` on the loop: made without blocking it (a default
executor that refuses work), it picks on the loop, follows joins and leaves, and
``async with`` closes it and its view."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time

import pytest

import zkservices
import zkservices.aio

WAIT = 30.0


class _NoExecutor(concurrent.futures.ThreadPoolExecutor):
    """A default executor that refuses work: proves a call did not use a thread."""

    def submit(self, fn, /, *args, **kwargs):
        raise AssertionError(f"{fn!r} ran in the executor")


def provider(host: str) -> bytes:
    return json.dumps({"host": host, "port": 80}).encode()


async def picks_until(selector, expected: set[str]) -> None:
    """Pick on the loop until the selector's picks are ``expected`` (it follows its view on
    the session's worker, a moment after the change)."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            seen = {selector.get().name for _ in range(2 * max(1, len(expected)))}
        except zkservices.NoProvider:
            seen = set()
        if seen == expected:
            return
        assert time.monotonic() < deadline, f"the selector picks {seen}, not {expected}"
        await asyncio.sleep(0.01)


def test_selector_picks_on_the_loop(zk, zk_client):
    zk_client.create("/svc/p/10.0.0.1:80", provider("10.0.0.1"), makepath=True)
    helpers = concurrent.futures.ThreadPoolExecutor(1)

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_default_executor(_NoExecutor())
        azk = zkservices.aio.AsyncZooKeeper(zk)
        async with await azk.selector("/svc/p", "round-robin", error_threshold=1) as selector:
            assert isinstance(selector, zkservices.Selector)
            assert selector.get().name == "10.0.0.1:80"  # there at once
            await loop.run_in_executor(helpers, zk_client.create, "/svc/p/10.0.0.2:80", provider("10.0.0.2"))
            await picks_until(selector, {"10.0.0.1:80", "10.0.0.2:80"})
            async with selector.lease() as leased:
                assert selector.inflight(leased) == 1
            with pytest.raises(RuntimeError):
                async with selector.lease() as failed:
                    raise RuntimeError("the call failed")
            assert selector.down() == {failed.name}
            await picks_until(selector, {"10.0.0.1:80", "10.0.0.2:80"} - {failed.name})  # skipped while down
            await loop.run_in_executor(helpers, zk_client.delete, "/svc/p/10.0.0.1:80")
            await loop.run_in_executor(helpers, zk_client.delete, "/svc/p/10.0.0.2:80")
            await picks_until(selector, set())
            with pytest.raises(zkservices.NoProvider):
                selector.get()
        assert selector.closed and selector.view.closed
        with pytest.raises(ValueError):
            selector.get()

    try:
        asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        helpers.shutdown()
