"""zkservices.aio against raw kazoo's pipelined async calls and the sync views."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any, Awaitable, Callable

import zkservices
import zkservices.aio
from zkservices._session.multiread import refuse
from common import alternate, client, goal, observed, pct, section


async def _ticked(work: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """Run ``work()`` on the running loop beside a 1 ms ticker; (seconds, longest gap
    between two ticks -- how long the loop stalled)."""
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
    await work()
    elapsed = time.perf_counter() - started
    running = False
    await tick
    return elapsed, stalls[0]


@section
def aio_reads(cs: str, quick: bool) -> None:
    """2,000 concurrent ``await azk.get_properties(path)`` from one loop against raw
    kazoo ``get_async`` pipelined (all sent, then all awaited), interleaved, best of N;
    and the longest stall of the loop while the awaits run, beside two floors measured
    with the same ticker: raw kazoo's pipelined reads made from another thread (kazoo's
    threads holding the GIL: the loop waits for it) and 2,000 gathered coroutines that
    do nothing (asyncio's own cost of one turn that starts them all)."""
    n = 500 if quick else 2000
    rounds = 3 if quick else 9
    raw = client(cs)
    raw.ensure_path("/bench/aio")
    raw.set("/bench/aio", b'{"threads": 4, "name": "x"}')
    zk = zkservices.ZooKeeper(cs)
    azk = zkservices.aio.AsyncZooKeeper(zk)
    single_zk = zkservices.ZooKeeper(cs)  # multi-reads refused: one request per read, as with servers before 3.6
    refuse(single_zk.core.client)
    single = zkservices.aio.AsyncZooKeeper(single_zk)

    async def ours() -> None:
        await asyncio.gather(*(azk.get_properties("/bench/aio") for _ in range(n)))

    async def ours_single() -> None:
        await asyncio.gather(*(single.get_properties("/bench/aio") for _ in range(n)))

    def pipelined() -> float:
        started = time.perf_counter()
        results = [raw.get_async("/bench/aio") for _ in range(n)]
        for result in results:
            result.get()
        return time.perf_counter() - started

    async def raw_beside_loop() -> None:
        done = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()
        threading.Thread(target=lambda: (pipelined(), loop.call_soon_threadsafe(done.set_result, None))).start()
        await done

    async def nothing() -> None:
        async def noop() -> None:
            await asyncio.sleep(0)

        await asyncio.gather(*(noop() for _ in range(n)))

    asyncio.run(_ticked(ours))  # warm-up: first-call costs (imports, the sender thread) stay out
    asyncio.run(_ticked(ours_single))
    best_ours = best_raw = cpu_ours = cpu_raw = best_single = float("inf")
    stall_ours: list[float] = []
    stall_raw: list[float] = []
    stall_tasks: list[float] = []
    for _ in range(rounds):
        cpu = time.process_time()
        elapsed, stall = asyncio.run(_ticked(ours))
        cpu_ours = min(cpu_ours, time.process_time() - cpu)
        best_ours = min(best_ours, elapsed)
        stall_ours.append(stall)
        best_single = min(best_single, asyncio.run(_ticked(ours_single))[0])
        cpu = time.process_time()
        best_raw = min(best_raw, pipelined())
        cpu_raw = min(cpu_raw, time.process_time() - cpu)
        stall_raw.append(asyncio.run(_ticked(raw_beside_loop))[1])
        stall_tasks.append(asyncio.run(_ticked(nothing))[1])
    floor = max(min(stall_raw), min(stall_tasks))
    print(f"{n} concurrent reads from one asyncio loop (best of {rounds}, interleaved)")
    print(f"  zkservices.aio get_properties  {best_ours * 1000:8.1f} ms")
    print(f"  raw kazoo get_async pipelined  {best_raw * 1000:8.1f} ms")
    print(f"  speed vs raw kazoo             {best_raw / best_ours:8.2f} (goal >= 0.80; the reads of a turn "
          "go as multi-reads of up to 500)")
    print(f"  context: one request per read  {best_single * 1000:8.1f} ms, {best_raw / best_single:.2f} of raw kazoo "
          "(multi-reads refused, as by servers before 3.6)")
    print(f"  CPU of the process, best run   {cpu_ours * 1000:8.1f} ms against raw kazoo's {cpu_raw * 1000:.1f} ms: "
          f"{cpu_raw / cpu_ours:.2f} (the loop ticker included; steadier "
          "than wall time on a busy machine)")
    print(f"  longest loop stall             {min(stall_ours) * 1000:8.1f} ms best round, "
          f"{max(stall_ours) * 1000:.1f} ms worst (goal <= 50 ms)")
    print(f"  floor: raw reads from a thread {min(stall_raw) * 1000:8.1f} ms best round, "
          f"{max(stall_raw) * 1000:.1f} ms worst (the loop waiting for kazoo's GIL)")
    print(f"  floor: {n} empty coroutines   {min(stall_tasks) * 1000:8.1f} ms best round, "
          f"{max(stall_tasks) * 1000:.1f} ms worst (asyncio starting them in one turn)")
    print(f"  stall above the higher floor   {(min(stall_ours) - floor) * 1000:8.1f} ms (best rounds)")
    goal(f"aio: {n} concurrent reads, speed vs raw get_async", f"{best_raw / best_ours:.2f}", ">= 0.80",
         best_raw / best_ours >= 0.80)
    goal("aio: longest loop stall meanwhile (best round)", f"{min(stall_ours) * 1000:.1f} ms", "<= 50 ms",
         min(stall_ours) <= 0.050)
    zk.close()
    single_zk.close()
    raw.stop()


@section
def aio_latency(cs: str, quick: bool) -> None:
    """A change made by another session -> its delivery: ``async for`` over an async
    Properties view's ``changes()`` (its loop in a thread of its own) against the sync
    Properties view's callback, each view on a session of its own, interleaved."""
    writer = client(cs)
    ours_path, sync_path = "/bench/aio-latency-async", "/bench/aio-latency-sync"
    writer.ensure_path(ours_path)
    writer.ensure_path(sync_path)
    seen = threading.Event()

    sync_zk = zkservices.ZooKeeper(cs)

    def noticed(view: object) -> None:
        observed[0] = time.perf_counter()
        seen.set()

    view = sync_zk.properties(sync_path)
    view(noticed)

    async_zk = zkservices.ZooKeeper(cs)
    azk = zkservices.aio.AsyncZooKeeper(async_zk)
    loop = asyncio.new_event_loop()
    started = threading.Event()

    async def consume() -> None:
        props = await azk.properties(ours_path)
        stream = props.changes()
        await stream.__anext__()  # the current state
        started.set()
        try:
            async for _ in stream:
                observed[0] = time.perf_counter()
                seen.set()
        except asyncio.CancelledError:
            await stream.aclose()

    thread = threading.Thread(target=loop.run_until_complete, args=(consume(),), daemon=True)
    thread.start()
    started.wait(10)
    seen.clear()
    n = 50 if quick else 300

    def change(path: str) -> Callable[[int], None]:
        return lambda i: writer.set(path, json.dumps({"i": i, "at": time.time()}).encode())

    time.sleep(0.2)
    ours, sync = alternate(n, change(ours_path), change(sync_path), seen)
    a50, a99, s50, s99 = pct(ours, 50), pct(ours, 99), pct(sync, 50), pct(sync, 99)
    print("change (other session) -> delivery: aio Properties view, async for over changes(), "
          "against the sync Properties view's callback")
    print(f"  zkservices.aio async for  p50 {a50 * 1000:7.2f} ms   p99 {a99 * 1000:7.2f} ms   (n={len(ours)})")
    print(f"  sync view callback        p50 {s50 * 1000:7.2f} ms   p99 {s99 * 1000:7.2f} ms   (n={len(sync)})")
    print(f"  ratio                     p50 {a50 / s50:7.2f}x     p99 {a99 / s99:7.2f}x   (goal p50 <= 1.10x)")
    goal("aio: view change -> async for vs sync callback, p50", f"{a50 / s50:.2f}x", "<= 1.10x", a50 / s50 <= 1.10)
    for task in asyncio.all_tasks(loop):
        loop.call_soon_threadsafe(task.cancel)
    thread.join(5)
    sync_zk.close()
    async_zk.close()
    writer.stop()
