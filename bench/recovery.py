"""Recovery after a session expiry against raw kazoo re-doing the work."""

from __future__ import annotations

import logging
import statistics
import time

import zkservices
from common import client, section
from zkservices.testing import expire_session

@section
def recovery(cs: str, quick: bool) -> None:
    n_regs, n_views = (100, 1000) if not quick else (50, 200)
    setup = client(cs)
    for i in range(n_views):
        setup.ensure_path(f"/bench/recovery/v{i}")
    zk = zkservices.ZooKeeper(cs)
    for i in range(n_regs):
        zk.register_server("/bench/recovery/providers", ("10.0.0.1", 10000 + i))
    views = []
    for i in range(n_views):
        view = zk.properties(f"/bench/recovery/v{i}") if i % 2 else zk.children(f"/bench/recovery/v{i}")
        views.append(view)
    timings = []
    recoveries: list[float] = []

    class Recorded(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("recovery done in"):
                recoveries.append(float(record.args[0]))  # seconds, from new session to done

    handler = Recorded(level=logging.INFO)
    session_log = logging.getLogger("zkservices.session")
    session_log.addHandler(handler)
    session_log.setLevel(logging.INFO)
    session_log.propagate = False
    for _ in range(3):
        start = time.perf_counter()
        expire_session(zk)  # returns after zk restored registrations and re-armed views
        timings.append(time.perf_counter() - start)
    session_log.removeHandler(handler)
    session_log.setLevel(logging.NOTSET)
    session_log.propagate = True
    assert len(setup.get_children("/bench/recovery/providers")) == n_regs

    # raw kazoo doing the same work one call at a time, on a fresh session
    raw = client(cs)
    start = time.perf_counter()
    for i in range(n_regs):
        raw.create(f"/bench/recovery/raw-providers/10.0.0.2:{10000 + i}", b"{}", ephemeral=True, makepath=True)
    for i in range(n_views):
        if i % 2:
            raw.get(f"/bench/recovery/v{i}", watch=lambda e: None)
        else:
            raw.get_children(f"/bench/recovery/v{i}", watch=lambda e: None)
    raw_time = time.perf_counter() - start
    best = min(timings)
    print(f"Recovery after session expiry: {n_regs} registrations restored + {n_views} views re-armed")
    print(f"  zkservices  expiry -> fully recovered: best {best * 1000:7.1f} ms, "
          f"median {statistics.median(timings) * 1000:7.1f} ms (3 runs; includes the expiry itself)")
    print(f"  zkservices  new session -> fully recovered: best {min(recoveries) * 1000:7.1f} ms, "
          f"median {statistics.median(recoveries) * 1000:7.1f} ms")
    print(f"  raw kazoo   same creates + watched reads one at a time: {raw_time * 1000:7.1f} ms")
    print(f"  ratio       {min(recoveries) / raw_time:7.2f}x (recovery alone vs raw kazoo)")
    zk.close()
    raw.stop()
    setup.stop()
