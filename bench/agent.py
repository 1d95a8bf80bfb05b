"""The fleet agent's footprint: 100 registrations and 20 feeds in one ``zkservices agent`` process
(RSS, CPU at idle, render latency after a change) beside 100 separate ``zkservices register``
processes' RSS (``--quick``: 20 of each kind of registration, 5 feeds)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from common import client, goal, pct, section

#: The agent's RSS should be well under what separate processes cost: a fraction of theirs.
GOAL_RSS_FRACTION = 0.25


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench agent: timed out waiting for {what}")
        time.sleep(0.002)  # (polls the render's file: the latency's resolution)


def _read(path: str) -> list:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return answer.status == 200
    except OSError:
        return False


@section
def agent(cs: str, quick: bool) -> None:
    """One agent with many registrations and feeds beside one process per registration."""
    registrations, feeds, changes = (20, 5, 5) if quick else (100, 20, 20)
    workdir = tempfile.mkdtemp(prefix="zkservices-bench-agent-")
    backend = socket.socket()
    backend.bind(("127.0.0.1", 0))
    backend.listen(128)
    backend_port = backend.getsockname()[1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        http_port = s.getsockname()[1]
    lines = [f'listen: "127.0.0.1:{http_port}"', "register:"]
    for i in range(registrations):
        lines += [f"  - path: /bench/agent/s{i % feeds}/providers",
                  f'    address: "10.0.{i // 250}.{i % 250}:80"',
                  f'    check: {{tcp: "127.0.0.1:{backend_port}", interval: 2}}']
    lines.append("feeds:")
    for f in range(feeds):
        lines += [f"  - name: f{f}", f"    services: [/bench/agent/s{f}]", "    template: json",
                  f"    output: {workdir}/f{f}.json", "    min_wait: 0"]
    config = os.path.join(workdir, "agent.yaml")
    with open(config, "w") as out:
        out.write("\n".join(lines) + "\n")
    command = [sys.executable, "-m", "zkservices", "-q", "-z", cs]
    proc = subprocess.Popen(command + ["agent", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    writer = client(cs)
    try:
        _wait(lambda: _healthy(http_port), 120, "the agent's first checks and renders")
        time.sleep(2.0)  # let start-up settle before measuring idle
        rss = _rss_kib(proc.pid)
        idle_for = 5.0 if quick else 20.0
        cpu0 = _cpu_seconds(proc.pid)
        time.sleep(idle_for)
        idle = (_cpu_seconds(proc.pid) - cpu0) / idle_for * 100
        latencies = []
        target = os.path.join(workdir, "f0.json")
        for n in range(changes):
            address = f"10.9.0.{n + 1}:80"
            started = time.perf_counter()
            writer.create(f"/bench/agent/s0/providers/{address}", b"{}", ephemeral=True)
            _wait(lambda: any(f"{p['host']}:{p['port']}" == address for p in _read(target)), 30,
                  f"the render of {address} into {target}")
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        writer.stop()
        backend.close()
    print(f"agent: {registrations} registrations (tcp checks every 2 s), {feeds} feeds, one process")
    print(f"  RSS {rss / 1024:.1f} MiB; CPU at idle {idle:.2f}% of one core over {idle_for:g}s")
    print(f"  render after a change: median {pct(latencies, 50):.1f} ms, max {max(latencies):.1f} ms "
          f"({changes} changes, min_wait 0)")

    separate = []
    try:
        for i in range(registrations):
            separate.append(subprocess.Popen(
                command + ["register", "/bench/agent/sep/providers", f"10.1.{i // 250}.{i % 250}:80"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        watcher = client(cs)
        _wait(lambda: watcher.exists("/bench/agent/sep/providers") is not None
              and len(watcher.get_children("/bench/agent/sep/providers")) == registrations, 600,
              "the separate registrations")
        watcher.stop()
        total = sum(_rss_kib(p.pid) for p in separate)
    finally:
        for p in separate:
            p.send_signal(signal.SIGTERM)
        for p in separate:
            p.wait(30)
    print(f"{registrations} separate register processes: RSS {total / 1024:.1f} MiB in all "
          f"({total / 1024 / registrations:.1f} MiB each)")
    fraction = rss / total
    goal(f"agent RSS / {registrations} register processes", f"{fraction:.3f}", f"< {GOAL_RSS_FRACTION}",
         fraction < GOAL_RSS_FRACTION)
