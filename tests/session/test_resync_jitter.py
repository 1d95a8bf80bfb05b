"""A fleet's resync, spread out (``resync_jitter``), counted by the server (``mntr``).

A server of this module's own counts the requests: the reads of the views' namespace
(``zk_cnt_resync_read_per_namespace``: getData, getChildren, exists below /resync),
every read-type request (``zk_cnt_readlatency``, SetWatches included) and every packet
(``zk_packets_received``).  Figures are printed (``pytest -s``); the assertions are
generous: no exact timing.
"""

from __future__ import annotations

import threading
import time

import pytest
from kazoo.protocol.states import KazooState

import zkservices
from zkservices._os.fourletter import four_letter_word
from zkservices._session import viewset as viewset_module
from zkservices.testing import ZooKeeperServer, drop_connection, expire_session

from _util import kazoo_client, stop, wait_for

ROOT = "/resync"
READS = "zk_cnt_resync_read_per_namespace"  # reads of nodes below ROOT
COUNTERS = (READS, "zk_cnt_readlatency", "zk_packets_received")
N_SESSIONS = 10
N_VIEWS = 50
WINDOW = 0.1
JITTER = 5.0


@pytest.fixture(scope="module")
def server():
    with ZooKeeperServer(name="resync") as server:  # every four-letter word allowed
        yield server


@pytest.fixture
def tree(server):
    """The nodes the views follow, fresh for each test; a writer session (another client)."""
    writer = kazoo_client(server.connection_string)
    writer.delete(ROOT, recursive=True)
    transaction = writer.transaction()
    transaction.create(ROOT)
    for i in range(N_VIEWS):
        transaction.create(f"{ROOT}/n{i}", b'{"v": 0}')
    assert not any(isinstance(r, Exception) for r in transaction.commit())
    yield writer
    stop(writer)


def counters(server) -> dict[str, int]:
    values = {}
    for line in four_letter_word(server.host, server.port, "mntr").splitlines():
        key, _, value = line.partition("\t")
        if key in COUNTERS:
            values[key] = int(float(value))
    return {key: values.get(key, 0) for key in COUNTERS}


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {key: after[key] - before[key] for key in COUNTERS}


class Sampler:
    """``mntr`` every WINDOW seconds on a thread: the namespace reads in each window."""

    def __init__(self, server) -> None:
        self.server = server
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        wait_for(lambda: self.samples, what="a first sample")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), counters(self.server)[READS]))
            self._stop.wait(WINDOW)

    def busiest(self, n: int) -> int:
        """The most reads in ``n`` windows in a row."""
        windows = self.windows()
        return max(sum(windows[i:i + n]) for i in range(max(1, len(windows) - n + 1))) if windows else 0

    def windows(self) -> list[int]:
        """Reads per window, from the first window with reads to the last one."""
        rates = [b - a for (_, a), (_, b) in zip(self.samples, self.samples[1:])]
        busy = [i for i, n in enumerate(rates) if n]
        return rates[busy[0]:busy[-1] + 1] if busy else []


def sessions(server, n: int, **options):
    """``n`` sessions on ROOT, each with a view of every node and a registration."""
    zks = [zkservices.ZooKeeper(server.connection_string + ROOT, session_timeout=10, **options) for _ in range(n)]
    views = []
    for i, zk in enumerate(zks):
        views.append([zk.properties(f"/n{k}") for k in range(N_VIEWS)])
        zk.register_server("/providers", f"10.0.0.{i + 1}:80")
    return zks, views


def close(zks) -> None:
    for zk in zks:
        zk.close()


def registrations(writer) -> set[str]:
    return set(writer.get_children(f"{ROOT}/providers"))


def all_see(views, value: int) -> bool:
    return all(view.get("v") == value for session in views for view in session)


def test_a_reconnection_that_keeps_the_session_reads_nothing(server, tree):
    # resync_jitter set: it delays nothing here (the session is kept)
    zks, views = sessions(server, N_SESSIONS, resync_jitter=60)
    try:
        ids = [zk.core.session_id for zk in zks]
        for zk in zks:
            zk.core.worker.barrier()
        before = counters(server)
        for zk in zks:
            drop_connection(zk)
        for zk in zks:
            wait_for(lambda zk=zk: zk.connected and zk.core.wait_recovered(0), what="reconnected")
        # every view re-armed (nothing to re-arm is left): a change reaches them all at once
        tree.set(f"{ROOT}/n7", b'{"v": 1}')
        wait_for(lambda: all(session[7]["v"] == 1 for session in views), timeout=20,
                 what="the change after the reconnection seen (not delayed by resync_jitter)")
        after = counters(server)
        figures = delta(before, after)
        print(f"\n{N_SESSIONS} sessions x {N_VIEWS} views, connection dropped and kept: {figures}")
        assert [zk.core.session_id for zk in zks] == ids
        # no view read: the namespace reads are the one changed node and each session's
        # registration (the registrar looks at its node again), once per session --
        # against N_SESSIONS * N_VIEWS reads had the views read
        assert N_SESSIONS <= figures[READS] <= 2 * N_SESSIONS
        # every other read-type request: a SetWatches or so per session, never one per view
        assert figures["zk_cnt_readlatency"] - figures[READS] <= 3 * N_SESSIONS
        assert len(registrations(tree)) == N_SESSIONS
        assert all(session[k]["v"] == 0 for session in views for k in range(N_VIEWS) if k != 7)
    finally:
        close(zks)


def fleet_expiry(server, writer, zks, views, value: int) -> Sampler:
    """Expire every session at once; the nodes change while they are lost (the first
    loss commits the change); return the sampler of the reads until all views see it."""
    changed = threading.Event()

    def on_lost(state):
        if state == KazooState.LOST and not changed.is_set():
            changed.set()
            transaction = writer.transaction()
            for k in range(N_VIEWS):
                transaction.set_data(f"{ROOT}/n{k}", b'{"v": %d}' % value)
            transaction.commit_async()
        return state == KazooState.LOST

    for zk in zks:
        zk.client.add_listener(on_lost)
    with Sampler(server) as sampler:
        threads = [threading.Thread(target=expire_session, args=(zk.client,)) for zk in zks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for zk in zks:
            assert zk.wait_recovered(60)
        wait_for(lambda: all_see(views, value), what="every view sees the change made during the loss")
        time.sleep(2 * WINDOW)  # the sampler's last window
    return sampler


def test_a_fleets_resync_is_spread_by_the_jitter(server, tree):
    figures = {}
    for jitter, value in ((0.0, 1), (JITTER, 2)):
        zks, views = sessions(server, N_SESSIONS, resync_jitter=jitter)
        try:
            for zk in zks:
                zk.core.worker.barrier()
            names = registrations(tree)
            assert len(names) == N_SESSIONS
            ids = [zk.core.session_id for zk in zks]
            before = counters(server)
            started = time.monotonic()
            sampler = fleet_expiry(server, tree, zks, views, value)
            took = time.monotonic() - started
            # nothing lost: every view has the change made during the loss, every
            # registration is back once (under its new session)
            assert all_see(views, value)
            assert registrations(tree) == names
            for i, zk in enumerate(zks):
                owner = tree.get(f"{ROOT}/providers/10.0.0.{i + 1}:80")[1].ephemeralOwner
                assert owner == zk.core.session_id != ids[i]
            windows = sampler.windows()
            total = delta(before, counters(server))
            figures[jitter] = (sampler.busiest(5), len(windows))
            print(f"\nresync_jitter={jitter:g}s: {N_SESSIONS} sessions x {N_VIEWS} views expired together; "
                  f"reads per {WINDOW:g}s window {windows}; peak {max(windows)}, in the busiest 0.5s "
                  f"{sampler.busiest(5)}, over {len(windows)} windows; recovered in {took:.2f}s; counters {total}")
            # each view read its changed node once (a few more for a loss racing the change)
            assert N_SESSIONS * N_VIEWS <= total[READS] <= 2 * N_SESSIONS * N_VIEWS
        finally:
            close(zks)
    # generous: the herd reads nearly everything within half a second; spread over
    # 5 s, half a second sees a few sessions' reads (each session re-reads at once)
    (peak_herd, span_herd), (peak_spread, span_spread) = figures[0.0], figures[JITTER]
    assert peak_spread < peak_herd
    assert span_spread > span_herd


def test_registrations_come_back_before_the_delay_and_views_keep_their_content(server, tree, monkeypatch):
    monkeypatch.setattr(viewset_module, "resync_delay", lambda jitter: 3.0)  # the longest the jitter allows, say
    with zkservices.ZooKeeper(server.connection_string + ROOT, resync_jitter=3.5) as zk:
        views = [zk.properties(f"/n{k}") for k in range(N_VIEWS)]
        kids = zk.children("/")
        zk.register_server("/providers", "10.0.0.1:80")
        changed = threading.Event()

        def on_lost(state):
            if state == KazooState.LOST:
                transaction = tree.transaction()
                for k in range(N_VIEWS):
                    transaction.set_data(f"{ROOT}/n{k}", b'{"v": 3}')
                transaction.create(f"{ROOT}/during")
                transaction.commit_async().rawlink(lambda result: changed.set())
                return True

        zk.client.add_listener(on_lost)
        lost_at = time.monotonic()
        session = expire_session(zk.client)
        assert changed.wait(10)
        # the registration is back under the new session while the views still wait
        wait_for(lambda: tree.get(f"{ROOT}/providers/10.0.0.1:80")[1].ephemeralOwner == session,
                 what="the registration restored")
        restored_in = time.monotonic() - lost_at
        still_waiting = not zk.wait_recovered(0)
        old_content = all(view["v"] == 0 for view in views) and "during" not in kids
        print(f"\nregistration restored {restored_in:.2f}s after the loss; views waiting: {still_waiting}, "
              f"with their last content: {old_content}")
        assert still_waiting and old_content
        # user calls do not wait for the delay; the view of a node created now reads at once
        assert zk.get_properties("/n0")["v"] == 3
        assert zk.properties("/n1")["v"] == 3
        assert zk.wait_recovered(30)
        # re-armed as of the old session's last zxid: the server fires the changed
        # nodes' watches, the views read them
        wait_for(lambda: all(view["v"] == 3 for view in views) and "during" in kids, what="the views re-read")
        recovered_in = time.monotonic() - lost_at
        print(f"views re-read {recovered_in:.2f}s after the loss")
        assert recovered_in >= 3.0
        tree.set(f"{ROOT}/n4", b'{"v": 4}')  # and they are armed again
        wait_for(lambda: views[4]["v"] == 4, what="a change after the re-read")


def test_resync_jitter_is_checked_before_connecting():
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="resync_jitter"):
            zkservices.ZooKeeper("127.0.0.1:1", resync_jitter=bad, timeout=0.1)
    with pytest.raises(TypeError, match="resync_jitter"):
        zkservices.ZooKeeper("127.0.0.1:1", resync_jitter="1", timeout=0.1)
