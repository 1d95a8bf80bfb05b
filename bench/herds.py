"""Election and expiry herds: a fleet through a leader kill and an ensemble-wide session loss,
zkservices against Curator 5.4.

    make bench-herds                      # C=20 P=50
    make bench-herds C=100 P=100          # or: .venv/bin/python bench/herds.py -C 100 -P 100

On a real 3-member ensemble (``zkservices.testing.ZooKeeperEnsemble``), in one
run, three fleets in turn, each of C client sessions:

- ``zkservices``: C sessions spread over a few Python processes
  (bench/fleet_worker.py), each with a ``providers()`` view of a service of P
  providers (Curator's format, as bench/fleet.py writes them) and registered
  itself (``register_server``) as a provider of a second service;
- ``zkservices+jitter``: the same with ``resync_jitter`` (``--jitter``, 2 s);
- ``curator``: C CuratorFrameworks in one JVM (bench/java/FleetCurator.java),
  each with a ``ServiceCache`` of such a service and an instance registered
  with ``ServiceDiscovery.registerService``.

Every session has the short session timeout ``--session-timeout`` (4 s; the
ensemble's tickTime is 200 ms, so 4 s is also the most it grants).  Each
fleet goes through two phases:

1. **Leader kill, sessions kept.**  The leader is killed (SIGKILL); the other
   two elect a new one and every client reconnects within its session.
   Measured from just before the kill until every client is connected with
   its view right and the servers are quiet again.  Then the killed member is
   restarted (not measured).  That the sessions were kept is checked: the
   registration nodes have the same ephemeral owners before and after.  The
   providers do not change meanwhile, so a client that re-reads a provider's
   data re-reads what it already has: the goal is 0 data reads.
2. **Ensemble-wide session loss.**  Every fleet process (its whole process
   group) is stopped (SIGSTOP) until the ensemble has expired every session
   (the registrations are gone: checked with the bench's own kazoo client), a
   provider is replaced meanwhile (``p00000`` deleted, ``q00000`` created, so a
   view is right only once it has re-read), then SIGCONT.  Measured from the
   SIGCONT until every client is whole (connected, its registration back,
   its view holding exactly the expected providers) and the servers are quiet.

What is counted, summed over the running members (``mntr``, sampled every
~100 ms by a thread):

- requests: the growth of ``zk_cnt_request_throttle_queue_time_ms``: the
  request throttler times every request a member takes in (pings, session
  creations, SetWatches, reads, writes; checked on 3.8: a kazoo session's
  connect, pings and calls each counted once, 4lw words not at all), in a
  counter of the member's process that survives its role changes; less the
  bench's own requests (its registration checks in phase 2).  Left out: the
  handshake of a reconnection that keeps its session (not a request).  The
  JSON also has "packets", the growth of ``zk_packets_received`` less the
  ``mntr`` words: that counter restarts at 0 whenever a member changes role (a
  new ZooKeeperServer in the same JVM), so what a member took between the last
  sample and a role change is lost from it.  "above idle" subtracts the
  fleet's idle rate (pings, and the bench client's pings in phase 2; measured
  for ``--idle`` seconds, 4, before the phase) times the phase's duration: what the event cost;
- peak rate: the largest growth of requests between two samples (~0.1 s), and
  over a sliding second, per second;
- data reads: the growth of ``zk_response_packet_cache_hits`` plus
  ``..._misses``: every successful getData reply goes through that cache (3
  getData calls gave hits 2 + misses 1 on ZooKeeper 3.8).  A getData inside a
  multi-read (zkservices gathers reads without a watch into them on 3.6+
  servers) is not a getData reply and is not in this count: "ns reads" is
  ``zk_cnt_bench-herds_read_per_namespace`` (every read below the bench's
  top-level node: getData, getChildren, exists, and each read of a multi-read:
  a multi-read of 20 getData counted 20 there and none in the cache on 3.8),
  less the bench's own;
- times (wall clock, seconds from the kill / SIGCONT, polled every ~0.1 s):
  until every client is connected (and whole, in phase 2), and until quiet:
  the requests of the last second at most 1.5 times the idle rate (plus 2).
  For zkservices also until every session says its recovery is complete
  (``wait_recovered``); a Curator ServiceCache does not say when it has re-read
  after a session loss, so that column is n/a for Curator, and only "quiet"
  bounds its re-read.

Left out: client CPU and memory; the ensemble's own traffic (elections,
syncs: not client packets); what happens at C in the thousands (the machine
has 2 cores); a Curator client's choices on SIGCONT are Curator's own (it
finds its session expired, declares it LOST and builds a new one; nothing
here steers that).  The numbers come from one machine running everything, so
times and rates are rough; counts are exact but for pings.

``--json-to FILE`` writes the rows as JSON (the smoke test reads it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

from fleet import Member, compile_curator, fill, provider_data, split  # noqa: E402
from fleet_worker import registered_address  # noqa: E402
from herd_counters import NAMESPACE, SAMPLE, Counters  # noqa: E402
from kazoo.client import KazooClient  # noqa: E402

import zkservices  # noqa: E402
from zkservices.testing import ZooKeeperEnsemble  # noqa: E402

BASE = "/" + NAMESPACE
REPLACED, REPLACEMENT = "p00000", "q00000"


class Bench:
    """The bench's own kazoo client, its requests counted (they are left out of the phases')."""

    def __init__(self, connection: str) -> None:
        self.connection, self.calls = connection, 0
        self.client: KazooClient | None = None

    def __enter__(self) -> KazooClient:
        self.client = KazooClient(hosts=self.connection, timeout=30)
        self.client.start(timeout=60)
        return self.client

    def __exit__(self, *exc: object) -> None:
        assert self.client is not None
        self.client.stop()
        self.client.close()

    def children(self, path: str) -> set[str]:
        assert self.client is not None
        self.calls += 1
        return set(self.client.get_children(path))

    def owners(self, path: str) -> dict[str, int]:
        assert self.client is not None
        return {name: self.client.exists(f"{path}/{name}").ephemeralOwner for name in self.client.get_children(path)}


class Fleet:
    """One side's fleet processes, with what they are expected to hold."""

    def __init__(self, label: str, commands: list[list[str]], clients: int, providers: int,
                 registered: set[str], registry: str, service: str) -> None:
        self.label, self.clients, self.providers = label, clients, providers
        self.registered, self.registry, self.service = registered, registry, service
        self.members = [Member(command) for command in commands]
        self.changes: list[str] = []
        for member in self.members:
            words = member.next()
            assert words[0] == "ready", words

    def status(self) -> tuple[int, int, int, int]:
        """(connected, views right, recovered (-1: unknown), dropped since :meth:`mark`) summed
        over the members."""
        for member in self.members:
            member.send(" ".join(["status", *self.changes]))
        total = [0, 0, 0, 0]
        for member in self.members:
            words = member.next(60)
            assert words[0] == "status" and len(words) == 5, words
            for i in range(4):
                total[i] = -1 if total[i] < 0 or int(words[i + 1]) < 0 else total[i] + int(words[i + 1])
        return total[0], total[1], total[2], total[3]

    def mark(self) -> None:
        """From now on, count the clients that lose their connection."""
        for member in self.members:
            member.send("mark")
        for member in self.members:
            assert member.next(60) == ["marked"]

    def signal(self, sig: int) -> None:
        for member in self.members:
            os.killpg(member.process.pid, sig)

    def close(self) -> None:
        for member in self.members:
            member.close()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout}s waiting for {what}")
        time.sleep(SAMPLE)


def idle_rate(ensemble: ZooKeeperEnsemble, bench: Bench, seconds: float) -> float:
    counters = Counters(ensemble.servers, lambda: bench.calls)
    time.sleep(seconds)
    counters.stop()
    return counters.requests() / (counters.timeline[-1][0] - counters.timeline[0][0])


def quiet(counters: Counters, idle: float, limit: float) -> bool:
    """Wait (until ``limit``, a monotonic time) for a second with no more than the idle rate's requests."""
    time.sleep(1.0)
    while time.monotonic() < limit:
        rate = counters.rate_last(1.0)
        if rate is not None and rate <= 1.5 * idle + 2:
            return True
        time.sleep(SAMPLE)
    return False


def totals(counters: Counters, idle: float, clients: int, started: float) -> dict[str, Any]:
    seconds = counters.timeline[-1][0] - started
    requests = counters.requests()
    return {"requests": requests, "packets": counters.packets(), "per_client": requests / clients, "above_idle": requests - idle * seconds,
            "data_reads": counters.data_reads(), "ns_reads": counters.namespace_reads(), "idle_rate": idle,
            "bench_requests": counters.own_requests()}


def leader_kill(ensemble: ZooKeeperEnsemble, fleet: Fleet, bench: Bench, timeout: float,
                idle_seconds: float) -> dict[str, Any]:
    with bench:
        before = bench.owners(fleet.registry)
    idle = idle_rate(ensemble, bench, idle_seconds)
    counters = Counters(ensemble.servers, lambda: bench.calls)
    leader = ensemble.leader()
    fleet.mark()
    started = time.monotonic()
    leader.kill()
    n = fleet.clients
    connected_at = None
    while time.monotonic() < started + timeout:
        connected, right, _, dropped = fleet.status()
        if dropped == n and connected == n and right == n:  # each noticed the kill, and is back
            connected_at = time.monotonic() - started
            break
        time.sleep(SAMPLE)
    was_quiet = quiet(counters, idle, started + timeout)
    quiet_at = time.monotonic() - started
    counters.stop()
    row = {"phase": "leader-kill", "client": fleet.label, "C": n, "P": fleet.providers,
           **totals(counters, idle, n, started), "connected_s": connected_at, "quiet_s": quiet_at if was_quiet else None,
           "whole": connected_at is not None}
    leader.start()
    ensemble.wait_serving()
    with bench:
        row["sessions_kept"] = bench.owners(fleet.registry) == before
    wait_for(lambda: fleet.status()[0] == n, timeout, "the fleet to be connected after the restart")
    return row


def session_loss(ensemble: ZooKeeperEnsemble, fleet: Fleet, bench: Bench, writer: KazooClient,
                 timeout: float, idle_seconds: float) -> dict[str, Any]:
    n = fleet.clients
    with bench:
        idle = idle_rate(ensemble, bench, idle_seconds)
        fleet.mark()
        fleet.signal(signal.SIGSTOP)
        stopped = time.monotonic()
        try:
            wait_for(lambda: not bench.children(fleet.registry), timeout, "the ensemble to expire the fleet's sessions")
            expired_after = time.monotonic() - stopped
            service = f"{BASE}/{fleet.service}"
            writer.delete(f"{service}/{REPLACED}")
            writer.create(f"{service}/{REPLACEMENT}", provider_data(fleet.service, REPLACEMENT, 99999))
            fleet.changes = [f"-{REPLACED}", f"+{REPLACEMENT}"]
            counters = Counters(ensemble.servers, lambda: bench.calls)
            started = time.monotonic()
        finally:
            fleet.signal(signal.SIGCONT)
        stopped_for = time.monotonic() - stopped
        whole_at = recovered_at = None
        registered, recovered = False, 0
        while time.monotonic() < started + timeout:
            registered = registered or bench.children(fleet.registry) == fleet.registered
            connected, right, recovered, dropped = fleet.status()
            back = dropped == n and connected == n and right == n  # each noticed the loss, and is back
            if recovered_at is None and recovered == n and back:
                recovered_at = time.monotonic() - started
            if registered and back:
                whole_at = time.monotonic() - started
                if recovered < 0 or recovered_at is not None:
                    break
            time.sleep(SAMPLE)
        was_quiet = quiet(counters, idle, started + timeout)
        quiet_at = time.monotonic() - started
        counters.stop()
    short, long = counters.peaks()
    return {"phase": "session-loss", "client": fleet.label, "C": n, "P": fleet.providers,
            **totals(counters, idle, n, started), "peak_rate": short, "peak_rate_1s": long,
            "stopped_s": stopped_for, "expired_after_s": expired_after, "whole_s": whole_at,
            "recovered_s": recovered_at, "quiet_s": quiet_at if was_quiet else None,
            "whole": whole_at is not None, "recovered": recovered_at is not None if recovered >= 0 else None}


def fleet_commands(label: str, args: argparse.Namespace, cs: str, classpath: str, service: str,
                   registry: str) -> tuple[list[list[str]], set[str]]:
    clients, providers, timeout = args.clients, args.providers, args.session_timeout
    if label == "curator":
        return ([["java", "-XX:+UseSerialGC", "-cp", classpath, "FleetCurator", cs, BASE, service, str(clients),
                  str(providers), f"timeout={int(timeout * 1000)}", f"register={registry}", "first=0"]],
                {f"c{i}" for i in range(clients)})
    commands, first = [], 0
    for count in split(clients, max(1, min(args.processes, clients // 5))):
        commands.append([sys.executable, os.path.join(HERE, "fleet_worker.py"), cs, f"{BASE}/{service}", str(count),
                         str(providers), "--session-timeout", str(timeout), "--register", f"{BASE}/{registry}",
                         "--first", str(first), "--resync-jitter", str(args.jitter if label.endswith("jitter") else 0)])
        first += count
    return commands, {"%s:%d" % registered_address(i) for i in range(clients)}


def cell(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def ratio(a: Any, b: Any) -> str:
    return f"{a / b:.2f}x" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > 0 and b > 0 else "n/a"


PHASE_COLUMNS = {
    "leader-kill": [("requests", "requests"), ("per_client", "req/client"), ("above_idle", "above idle"),
                    ("data_reads", "data reads"), ("ns_reads", "ns reads"), ("connected_s", "connected s"),
                    ("quiet_s", "quiet s"), ("sessions_kept", "kept")],
    "session-loss": [("requests", "requests"), ("per_client", "req/client"), ("above_idle", "above idle"),
                     ("peak_rate", "peak/s 0.1s"), ("peak_rate_1s", "peak/s 1s"), ("data_reads", "data reads"),
                     ("ns_reads", "ns reads"), ("whole_s", "whole s"), ("recovered_s", "recovered s"),
                     ("quiet_s", "quiet s")],
}


def print_phase(phase: str, rows: list[dict[str, Any]]) -> None:
    columns = PHASE_COLUMNS[phase]
    table = [["client", "C", "P", *(title for _, title in columns)]]
    for row in rows:
        table.append([row["client"], str(row["C"]), str(row["P"]), *(cell(row[key]) for key, _ in columns)])
    by = {row["client"]: row for row in rows}
    pairs = [("zkservices", "curator", "zkservices/curator"), ("zkservices+jitter", "zkservices", "jitter/none")]
    for ours, theirs, title in pairs:
        if ours in by and theirs in by:
            table.append([title, "", "", *(ratio(by[ours][key], by[theirs][key]) if key != "sessions_kept" else ""
                                           for key, _ in columns)])
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        print("  ".join(c.rjust(w) for c, w in zip(line, widths)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-C", "--clients", type=int, default=int(os.environ.get("C") or 20), help="sessions per fleet (20)")
    parser.add_argument("-P", "--providers", type=int, default=int(os.environ.get("P") or 50), help="providers (50)")
    parser.add_argument("--processes", type=int, default=4, help="at most this many Python processes per zkservices fleet, 5 sessions or more each (4)")
    parser.add_argument("--session-timeout", type=float, default=4.0, help="every fleet session's timeout, seconds (4)")
    parser.add_argument("--jitter", type=float, default=2.0, help="resync_jitter of the second zkservices fleet, seconds (2)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a phase may take before it is reported unfinished (120)")
    parser.add_argument("--idle", type=float, default=4.0, help="seconds over which the idle rate is measured before each phase (4)")
    parser.add_argument("--json-to", help="also write the rows to this file as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("zkservices").setLevel(logging.CRITICAL)
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    rows: list[dict[str, Any]] = []
    with ZooKeeperEnsemble(3, startup_timeout=120) as ensemble, tempfile.TemporaryDirectory(prefix="bench-herds-") as classes:
        cs = ensemble.connection_string
        print(f"ZooKeeper {'.'.join(map(str, ensemble.version or ()))} x3 at {cs}; python {sys.version.split()[0]}; "
              f"zkservices {zkservices.__version__}; Curator 5.4; C={args.clients} P={args.providers} "
              f"session timeout {args.session_timeout:g} s, resync_jitter {args.jitter:g} s", flush=True)
        classpath = compile_curator(classes)
        writer = KazooClient(hosts=cs, timeout=30)
        writer.start(timeout=60)
        bench = Bench(cs)
        try:
            for label, short in (("zkservices", "z"), ("zkservices+jitter", "zj"), ("curator", "c")):
                service, registry = f"{short}-svc", f"{short}-reg"
                fill(writer, service, args.providers, base=BASE)
                commands, registered = fleet_commands(label, args, cs, classpath, service, registry)
                fleet = Fleet(label, commands, args.clients, args.providers, registered, f"{BASE}/{registry}", service)
                try:
                    with bench:
                        wait_for(lambda: bench.children(fleet.registry) == registered, args.timeout,
                                 f"{label}'s registrations")
                    rows.append(leader_kill(ensemble, fleet, bench, args.timeout, args.idle))
                    print(f"  {label}: leader kill done", flush=True)
                    rows.append(session_loss(ensemble, fleet, bench, writer, args.timeout, args.idle))
                    print(f"  {label}: session loss done", flush=True)
                finally:
                    fleet.close()
        finally:
            writer.stop()
            writer.close()
    for phase, title in (("leader-kill", "Leader kill, sessions kept: from the kill until every client is "
                          "connected and the servers are quiet"),
                         ("session-loss", "Ensemble-wide session loss: from SIGCONT until every client is whole "
                          "and the servers are quiet")):
        print()
        print(title)
        print_phase(phase, [row for row in rows if row["phase"] == phase])
    print()
    print("requests: client requests (pings included; JSON: packets too); above idle: less the idle rate times the phase's duration; "
          "data reads: getData replies; ns reads: every read request below the bench's node; times in s; "
          "recovered: every session says its recovery is complete (n/a: Curator does not say). "
          "One busy 2-core machine: times and rates are rough.")
    if args.json_to:
        with open(args.json_to, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
