"""Fan-out: C sessions watching one service of P providers, zkservices against Curator 5.4.

    make bench-fleet                      # C=10,100 P=10,100 M=12
    make bench-fleet C=10 P=10,100 M=12   # or: .venv/bin/python bench/fleet.py -C 10 -P 10,100 -M 12

For every C and P, on one ZooKeeper server and in one run: C zkservices
sessions (spread over a few Python processes, bench/fleet_worker.py) each hold
a ``providers()`` view of a Curator service directory of P providers; then C
Curator ``ServiceCache`` objects (each on its own CuratorFramework, all in one JVM,
bench/java/FleetCurator.java) watch a second directory with the same
providers.  A writer session makes the same M changes to each (add, update,
remove in turn; a removal takes out the provider added two changes before).
Per side it reports:

- requests per change per client: the growth of the server's
  ``zk_packets_received`` (``mntr``) from before a change until the clients
  are quiet after it, less the writer's request and the ``mntr`` words
  themselves, divided by C; averaged over the M changes, and by kind of change
  (pings count too, but sessions of 30 s ping every ~10 s, rarely in a change);
- the time from the writer's acknowledgement to each view's callback seeing
  the change (wall clock, one machine), p50 / p99 / max over every client
  and change;
- memory per view: Python heap (tracemalloc) or JVM heap (after GC) grown by
  opening the views, and the process's RSS growth per client (session and view).

Then the ratios zkservices / Curator.  ``--json-to FILE`` writes the rows as JSON
(the smoke test reads it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from kazoo.client import KazooClient  # noqa: E402

import zkservices  # noqa: E402
from zkservices._formats import curator as curator_format  # noqa: E402
from zkservices._os.fourletter import four_letter_word  # noqa: E402
from zkservices.testing import ZooKeeperServer  # noqa: E402

JAVA_DIR = "/usr/share/java"
#: the Curator 5.4 client the interop tests compile against (tests/formats/test_curator_interop.py)
JARS = [
    "curator-x-discovery", "curator-framework", "curator-client", "curator-recipes", "jackson-databind",
    "jackson-core", "jackson-annotations", "guava", "zookeeper", "zookeeper-jute", "slf4j-api", "slf4j-nop",
]
SOURCE = os.path.join(HERE, "java", "FleetCurator.java")
BASE = "/bench-fleet"
KINDS = ("add", "update", "remove")
COLUMNS = ("client", "C", "P", "M", "req/change/client", "p50 ms", "p99 ms", "max ms", "heap B/view",
           "RSS B/client")


def compile_curator(into: str) -> str:
    """The classpath of FleetCurator, compiled into ``into``."""
    missing = [j for j in JARS if not os.path.exists(os.path.join(JAVA_DIR, j + ".jar"))]
    javac = shutil.which("javac")
    if missing or not javac:
        raise SystemExit(f"the Curator fleet needs {', '.join(missing) or 'javac'} (run scripts/bootstrap --test)")
    classpath = ":".join(os.path.join(JAVA_DIR, j + ".jar") for j in JARS)
    subprocess.run([javac, "-d", into, "-cp", classpath, SOURCE], check=True, timeout=180)
    return f"{classpath}:{into}"


class Member:
    """A fleet process speaking the line protocol of fleet_worker.py / FleetCurator.java."""

    def __init__(self, command: list[str]) -> None:
        self.name = " ".join(command[:4])
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        encoding="utf-8", start_new_session=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put("<exited>")

    def next(self, timeout: float = 180.0) -> list[str]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise SystemExit(f"fleet member {self.name} did not answer in {timeout}s") from None
        if line.startswith(("error", "<exited>")):
            raise SystemExit(f"fleet member failed: {line}")
        return line.split()

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        try:
            self.send("quit")
            self.process.wait(60)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, 9)
            self.process.wait(10)


class Packets:
    """The server's ``zk_packets_received`` (``mntr``), less the ``mntr`` words this sends:
    each is a packet received too."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port, self.asked = host, port, 0
        self.start = self._ask()

    def _ask(self) -> int:
        self.asked += 1
        for line in four_letter_word(self.host, self.port, "mntr", timeout=10).splitlines():
            key, _, value = line.partition("\t")
            if key == "zk_packets_received":
                return int(value)
        raise SystemExit("the server's mntr has no zk_packets_received (4lw.commands.whitelist?)")

    def settled(self, within: float = 3.0) -> int:
        """Packets since construction once the clients are quiet (no packet but
        this one's in 50 ms, or ``within`` seconds passed): what a change's
        re-reads and re-arms cost comes in after the callbacks that time it."""
        last = self._ask()
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = self._ask()
            if now - last == 1:
                break
            last = now
        return now - self.start - (self.asked - 1)


def provider_data(service: str, name: str, index: int, version: int | None = None) -> bytes:
    properties: dict[str, Any] = {"zone": "eu", "weight": 1}
    if version is not None:
        properties["v"] = version
    return curator_format.encode(service, name, f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}",
                                 8080, properties, registration_time=1796110968522)


def fill(writer: KazooClient, service: str, providers: int, *, base: str = BASE) -> None:
    """Create ``service``'s P providers below ``base`` (pipelined)."""
    path = f"{base}/{service}"
    writer.ensure_path(path)
    pending = [writer.create_async(f"{path}/p{i:05d}", provider_data(service, f"p{i:05d}", i))
               for i in range(providers)]
    for result in pending:
        result.get()


def run_changes(writer: KazooClient, service: str, members: list[Member], changes: int,
                host: str, port: int, providers: int) -> tuple[dict[str, list[int]], list[float], list[float]]:
    """The M changes to ``service``: (the server packets each change cost, by kind, less
    the writer's request; latencies from the writer's acknowledgement; latencies from
    just before the writer's request; seconds)."""
    path = f"{BASE}/{service}"
    latencies: list[float] = []
    from_send: list[float] = []
    by_kind: dict[str, list[int]] = {kind: [] for kind in KINDS}
    packets = Packets(host, port)
    counted = packets.settled()
    for number in range(changes):
        kind = KINDS[number % 3]
        name = {"add": f"n{number:05d}", "update": "p00000", "remove": f"n{number - 2:05d}"}[kind]
        for member in members:
            member.send(f"expect {number} {kind} {name}")
        for member in members:
            assert member.next() == ["armed"]
        acked: list[int] = []
        sent = time.time_ns()
        if kind == "add":
            result = writer.create_async(f"{path}/{name}", provider_data(service, name, providers + number))
        elif kind == "update":
            result = writer.set_async(f"{path}/{name}", provider_data(service, name, 0, version=number))
        else:
            result = writer.delete_async(f"{path}/{name}")
        result.rawlink(lambda _: acked.append(time.time_ns()))  # on kazoo's completion thread
        result.get()
        acknowledged = min(acked + [time.time_ns()])  # whichever saw the reply first
        for member in members:
            words = member.next()
            assert words[:2] == ["done", str(number)], words
            latencies += [(int(t) - acknowledged) / 1e9 for t in words[2:]]
            from_send += [(int(t) - sent) / 1e9 for t in words[2:]]
        now = packets.settled()
        by_kind[kind].append(now - counted - 1)  # less the writer's request
        counted = now
    return by_kind, latencies, from_send


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def split(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` near-equal shares."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def one_side(label: str, commands: list[list[str]], writer: KazooClient, service: str, clients: int,
             providers: int, changes: int, host: str, port: int) -> dict[str, Any]:
    members = [Member(command) for command in commands]
    try:
        readies = [member.next() for member in members]
        counts = [int(c[-2]) for c in commands]  # each member's sessions (its command's SESSIONS EXPECTED)
        assert all(r[0] == "ready" for r in readies) and sum(counts) == clients, (readies, counts)
        rss = sum(int(r[1]) * n for r, n in zip(readies, counts)) / clients
        heap = sum(int(r[2]) * n for r, n in zip(readies, counts)) / clients
        by_kind, latencies, from_send = run_changes(writer, service, members, changes, host, port, providers)
    finally:
        for member in members:
            member.close()
    per_client = {kind: sum(counts) / (len(counts) * clients) for kind, counts in by_kind.items() if counts}
    requests = sum(sum(counts) for counts in by_kind.values()) / (changes * clients)
    return {"client": label, "C": clients, "P": providers, "M": changes, "requests": requests,
            "by_kind": per_client,
            "p50": pct(latencies, 50), "p99": pct(latencies, 99), "max": max(latencies),
            "send_p50": pct(from_send, 50), "send_p99": pct(from_send, 99), "send_max": max(from_send),
            "heap": heap, "rss": rss, "views_converged": len(latencies) == clients * changes,
            "latencies": len(latencies)}


def fmt(row: dict[str, Any]) -> list[str]:
    return [row["client"], str(row["C"]), str(row["P"]), str(row["M"]), f"{row['requests']:.2f}",
            f"{row['p50'] * 1000:.2f}", f"{row['p99'] * 1000:.2f}", f"{row['max'] * 1000:.2f}",
            f"{row['heap']:.0f}", f"{row['rss']:.0f}"]


def ratio_row(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    def r(key: str) -> str:
        both_positive = ours[key] > 0 and theirs[key] > 0  # a view can see a change before the writer's reply
        return f"{ours[key] / theirs[key]:.2f}x" if both_positive else "n/a"
    return ["ratio", str(ours["C"]), str(ours["P"]), str(ours["M"]), r("requests"), r("p50"), r("p99"), r("max"),
            r("heap"), r("rss")]


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(COLUMNS[i]), *(len(row[i]) for row in rows)) for i in range(len(COLUMNS))]
    print("  ".join(c.rjust(w) for c, w in zip(COLUMNS, widths)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))


def numbers(text: str) -> list[int]:
    return [int(x) for x in text.replace(" ", ",").split(",") if x]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-C", "--clients", default=os.environ.get("C") or "10,100", help="client counts (10,100)")
    parser.add_argument("-P", "--providers", default=os.environ.get("P") or "10,100", help="provider counts")
    parser.add_argument("-M", "--changes", type=int, default=int(os.environ.get("M") or 12), help="changes (12)")
    parser.add_argument("--processes", type=int, default=4, help="at most this many Python processes for the zkservices fleet, 5 sessions or more each (4)")
    parser.add_argument("--connect", help="a running server (host:port, no chroot) instead of starting one")
    parser.add_argument("--json-to", help="also write the rows to this file as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("zkservices.server").setLevel(logging.CRITICAL)
    server = None if args.connect else ZooKeeperServer(name="bench-fleet").start()
    cs = args.connect if server is None else server.connection_string
    host, port_text = cs.split(",")[0].rsplit(":", 1)
    port = int(port_text)
    out: list[dict[str, Any]] = []
    table: list[list[str]] = []
    try:
        print(f"ZooKeeper at {cs}; python {sys.version.split()[0]}; zkservices {zkservices.__version__}; "
              f"Curator 5.4 ServiceCache", flush=True)
        with tempfile.TemporaryDirectory(prefix="bench-fleet-") as classes:
            classpath = compile_curator(classes)
            writer = KazooClient(hosts=cs)
            writer.start()
            try:
                if writer.exists(BASE):
                    writer.delete(BASE, recursive=True)
                for clients in numbers(args.clients):
                    for providers in numbers(args.providers):
                        ours_service, theirs_service = f"z-{clients}-{providers}", f"c-{clients}-{providers}"
                        fill(writer, ours_service, providers)
                        fill(writer, theirs_service, providers)
                        python = [[sys.executable, os.path.join(HERE, "fleet_worker.py"), cs,
                                   f"{BASE}/{ours_service}", str(n), str(providers)]
                                  for n in split(clients, max(1, min(args.processes, clients // 5)))]
                        ours = one_side("zkservices", python, writer, ours_service, clients, providers,
                                        args.changes, host, port)
                        java = [["java", "-XX:+UseSerialGC", "-cp", classpath, "FleetCurator", cs, BASE,
                                 theirs_service, str(clients), str(providers)]]
                        theirs = one_side("curator", java, writer, theirs_service, clients, providers,
                                          args.changes, host, port)
                        out += [ours, theirs]
                        table += [fmt(ours), fmt(theirs), ratio_row(ours, theirs)]
                        print(f"  C={clients} P={providers}: done", flush=True)
            finally:
                writer.stop()
                writer.close()
        print()
        print("Fan-out: per change, zkservices providers() views against Curator ServiceCaches "
              "(ratio = zkservices / Curator)")
        print_table(table)
        print()
        print("Server requests per client, by change (" + " / ".join(KINDS) + ")")
        for row in out:
            kinds = " / ".join(f"{row['by_kind'].get(kind, float('nan')):.2f}" for kind in KINDS)
            print(f"  {row['client']:>10s}  C={row['C']} P={row['P']}:  {kinds}")
        if args.json_to:
            with open(args.json_to, "w", encoding="utf-8") as f:
                json.dump(out, f, indent=1)
    finally:
        if server is not None:
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
