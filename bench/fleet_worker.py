"""One process of the fan-out bench's zkservices fleet (bench/fleet.py starts a few).

    python bench/fleet_worker.py CONNECTION PROVIDERS_PATH SESSIONS EXPECTED [OPTIONS]

Opens SESSIONS zkservices sessions, each with a ``providers()`` view of
PROVIDERS_PATH, waits until every view holds EXPECTED providers and prints
``ready RSS_BYTES_PER_CLIENT TRACED_BYTES_PER_VIEW`` (the Python heap that
opening the views took, the first view left out when there are others: it
pays for imports and first-use caches).  Then, one line per change
on stdin, ``expect I add|remove|update NAME``; it answers ``armed`` at once and,
when every view has the change, ``done I T1 T2 ...``: the wall-clock time
(``time.time_ns()``) at which each session's callback first saw it.  ``quit``
closes the sessions.  The same protocol as bench/java/FleetCurator.java.

For the herd bench (bench/herds.py), options after the four arguments:
``--session-timeout S`` (default 30), ``--resync-jitter S`` (default 0), and
``--register PATH --first N``: each session also registers itself as a
provider of PATH, session ``i`` as ``10.77.X.Y:8080`` with X.Y = N + i.  Then
a stdin line ``status [+NAME|-NAME ...]`` is answered with ``status CONNECTED
VIEWS_OK RECOVERED DROPPED``: how many sessions are connected, how many views hold
exactly the EXPECTED providers ``p00000`` ... with the named ones added (+) or
taken out (-), how many sessions say their recovery from the last session
loss is complete (``wait_recovered``), and how many lost their connection
(SUSPENDED or LOST) since the last ``mark`` line (answered ``marked``).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import threading
import time
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

import zkservices  # noqa: E402

SESSION_TIMEOUT = 30.0  # seconds: pings every ~10 s, few of them in a phase's packet counts
REGISTERED_PORT = 8080


def registered_address(index: int) -> tuple[str, int]:
    """The address session ``index`` (counted over the whole fleet) registers with ``--register``."""
    return f"10.77.{index // 256 % 256}.{index % 256}", REGISTERED_PORT


def rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Fleet:
    def __init__(self, connection: str, path: str, sessions: int, expected: int, *,
                 session_timeout: float = SESSION_TIMEOUT, resync_jitter: float = 0.0,
                 register: str | None = None, first: int = 0) -> None:
        self.lock = threading.Lock()
        self.expect: tuple[int, str, str] | None = None
        self.seen: dict[int, int] = {}
        self.all_seen = threading.Event()
        before = rss()
        self.sessions = [zkservices.ZooKeeper(connection, session_timeout=session_timeout, resync_jitter=resync_jitter)
                         for _ in range(sessions)]
        self.drops = [0] * sessions
        for index, zk in enumerate(self.sessions):
            zk.client.add_listener(self._listener(index))
        self.registrations = [zk.register_server(register, registered_address(first + index))
                              for index, zk in enumerate(self.sessions)] if register else []
        self.views = []
        self.rss_before = before
        for index, zk in enumerate(self.sessions):
            # the first view warms up (imports, caches): not counted when there are others
            if index == 1 or len(self.sessions) == 1:
                self._wait(expected)
                gc.collect()
                tracemalloc.start()
                self.traced_before = tracemalloc.get_traced_memory()[0]
            view = zk.providers(path)
            view(self._callback(index))
            self.views.append(view)

    def _wait(self, expected: int) -> None:
        deadline = time.monotonic() + 120
        while not all(len(view) == expected for view in self.views):
            if time.monotonic() > deadline:
                raise SystemExit(f"views never held {expected} providers: {[len(v) for v in self.views]}")
            time.sleep(0.01)

    def loaded(self, expected: int) -> tuple[int, int]:
        """(RSS growth per session and view, Python heap per view but the first)."""
        self._wait(expected)
        gc.collect()  # as the JVM's side measures after System.gc()
        traced = tracemalloc.get_traced_memory()[0] - self.traced_before
        tracemalloc.stop()
        counted = max(1, len(self.views) - 1)
        return (rss() - self.rss_before) // len(self.sessions), traced // counted

    def _callback(self, index: int):  # type: ignore[no-untyped-def]
        def changed(view: zkservices.Providers) -> None:
            self._check(index, view, time.time_ns())
        return changed

    def _check(self, index: int, view: zkservices.Providers, now: int) -> None:
        with self.lock:
            if self.expect is None or index in self.seen:
                return
            _, kind, name = self.expect
            if has_change(view, kind, name, self.expect[0]):
                self.seen[index] = now
                if len(self.seen) == len(self.views):
                    self.all_seen.set()

    def arm(self, number: int, kind: str, name: str) -> None:
        with self.lock:
            self.expect = (number, kind, name)
            self.seen = {}
            self.all_seen.clear()

    def _listener(self, index: int):  # type: ignore[no-untyped-def]
        def listener(state: str) -> None:  # on kazoo's thread: count only
            if state in ("SUSPENDED", "LOST"):
                self.drops[index] += 1
        return listener

    def mark(self) -> None:
        self.drops_marked = list(self.drops)

    def status(self, names: set[str]) -> tuple[int, int, int, int]:
        """(sessions connected, views holding exactly ``names``, sessions recovered,
        sessions that lost their connection since :meth:`mark`)."""
        connected = sum(zk.state == "CONNECTED" for zk in self.sessions)
        right = sum(set(view) == names for view in self.views)
        recovered = sum(zk.wait_recovered(0) for zk in self.sessions)
        marked = getattr(self, "drops_marked", [0] * len(self.drops))
        dropped = sum(now > then for now, then in zip(self.drops, marked))
        return connected, right, recovered, dropped

    def close(self) -> None:
        for view in self.views:
            view.close()
        for zk in self.sessions:
            zk.close()


def has_change(view: zkservices.Providers, kind: str, name: str, number: int) -> bool:
    provider = view.get(name)
    if kind == "add":
        return provider is not None
    if kind == "remove":
        return provider is None
    return provider is not None and provider.properties.get("v") == number


def expected_names(expected: int, changes: list[str]) -> set[str]:
    """``p00000`` ... for EXPECTED providers, with ``+NAME`` added and ``-NAME`` taken out."""
    names = {f"p{i:05d}" for i in range(expected)}
    for change in changes:
        if change.startswith("+"):
            names.add(change[1:])
        elif change.startswith("-"):
            names.discard(change[1:])
    return names


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("connection")
    parser.add_argument("path")
    parser.add_argument("sessions", type=int)
    parser.add_argument("expected", type=int)
    parser.add_argument("--session-timeout", type=float, default=SESSION_TIMEOUT)
    parser.add_argument("--resync-jitter", type=float, default=0.0)
    parser.add_argument("--register")
    parser.add_argument("--first", type=int, default=0)
    args = parser.parse_args()
    expected = args.expected
    if args.register:  # the herd bench: the phases' disconnections and expiries are expected, not news
        logging.basicConfig(level=logging.CRITICAL)
    fleet = Fleet(args.connection, args.path, args.sessions, expected, session_timeout=args.session_timeout,
                  resync_jitter=args.resync_jitter, register=args.register, first=args.first)
    per_client, per_view = fleet.loaded(expected)
    print(f"ready {per_client} {per_view}", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            break
        if words[0] == "status":
            print("status", *fleet.status(expected_names(expected, words[1:])), flush=True)
            continue
        if words[0] == "mark":
            fleet.mark()
            print("marked", flush=True)
            continue
        number = int(words[1])
        fleet.arm(number, words[2], words[3])
        print("armed", flush=True)
        if not fleet.all_seen.wait(60):
            print(f"error change {number} seen by {len(fleet.seen)} of {len(fleet.views)} views", flush=True)
            return 1
        with fleet.lock:
            times = [fleet.seen[i] for i in range(len(fleet.views))]
        print("done", number, *times, flush=True)
    fleet.close()
    print("ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
