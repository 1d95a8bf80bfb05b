"""zkservices.aio against raw kazoo's pipelined async calls."""

from __future__ import annotations

import time

import zkservices.aio
from common import client, section

@section
def aio_reads(cs: str, quick: bool) -> None:
    """2,000 concurrent ``await azk.get_properties(path)`` from one loop against raw
    kazoo ``get_async`` pipelined (all sent, then all awaited), best of 3 interleaved;
    and the longest stall of the loop while the awaits run."""
    import asyncio


    n = 500 if quick else 2000
    raw = client(cs)
    raw.ensure_path("/bench/aio")
    raw.set("/bench/aio", b'{"threads": 4, "name": "x"}')
    zk = zkservices.ZooKeeper(cs)
    azk = zkservices.aio.AsyncZooKeeper(zk)

    async def ours() -> tuple[float, float]:
        stalls = [0.0]
        running = True

        async def ticker() -> None:
            last = time.perf_counter()
            while running:
                await asyncio.sleep(0.001)
                now = time.perf_counter()
                stalls[0] = max(stalls[0], now - last)
                last = now

        tick = asyncio.ensure_future(ticker())
        await asyncio.sleep(0.01)
        started = time.perf_counter()
        await asyncio.gather(*(azk.get_properties("/bench/aio") for _ in range(n)))
        elapsed = time.perf_counter() - started
        running = False
        await tick
        return elapsed, stalls[0]

    def pipelined() -> float:
        started = time.perf_counter()
        results = [raw.get_async("/bench/aio") for _ in range(n)]
        for result in results:
            result.get()
        return time.perf_counter() - started

    best_ours, best_raw, worst_stall = float("inf"), float("inf"), 0.0
    for _ in range(3):
        elapsed, stall = asyncio.run(ours())
        best_ours = min(best_ours, elapsed)
        worst_stall = max(worst_stall, stall)
        best_raw = min(best_raw, pipelined())
    print(f"{n} concurrent reads from one asyncio loop (best of 3)")
    print(f"  zkservices.aio get_properties  {best_ours * 1000:8.1f} ms")
    print(f"  raw kazoo get_async pipelined  {best_raw * 1000:8.1f} ms")
    print(f"  speed vs raw kazoo             {best_raw / best_ours:8.2f} (goal >= 0.80)")
    print(f"  longest loop stall             {worst_stall * 1000:8.1f} ms (goal <= 50 ms)")
    zk.close()
    raw.stop()
