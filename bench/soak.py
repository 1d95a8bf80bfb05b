"""A soak: one client process under churn, session expiries, partitions and agent reloads for N minutes.

``make soak`` (``SOAK_MINUTES``, default 30) runs it; it is not part of ``make test``
(``tests/test_bench_soak.py`` runs a 20-second smoke of this driver).  Needs root,
``ip`` and ``nft`` (a :class:`zkservices.testing.Network`).

The client is a Python process on a host of its own in a test network, beside a
ZooKeeper ensemble on hosts of their own.  In it, one ``ZooKeeper`` (4 s
session timeout) runs an ``Agent`` (a registration and a feed) and a churn
thread: registrations and unregistrations (at most 40 at a time, so the
client's state stays bounded), property updates, views opened, read and closed.  This driver, every few seconds in turn: expires the session
(``expire_session``), cuts the host from every server for 1.5 s (the session
survives) or for 7 s (past the timeout: it expires), and reloads the agent
between two configurations (a cycle takes about 20 s).  Any exception a churn call raises is recorded
and fails the run.

Every second it samples the client process's RSS, threads and open file
descriptors (``/proc/PID``), and the child samples its Python heap in use
(tracemalloc's traced memory: RSS keeps memory the allocator freed, such as the
warm-up's tracemalloc snapshot, which would hide growth up to its size).  After the warm-up (a sixth of the run, 10 s to
5 min) the median of the last fifth of the samples is compared with the median
of the first fifth after the warm-up: none may grow by more than ``--bound``
percent (default 5).  The report prints the samples' summary and tracemalloc's
top growth sites between the end of the warm-up and the end of the run; after
everything is closed, the client's open file descriptors must be back at the
count it had before it connected.  Exit status 0 when every check passed.

    python bench/soak.py --minutes 30
    python bench/soak.py --seconds 25 --bound 50 --json-to soak.json   # a smoke
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from typing import Any

from zkservices.testing import Network

SESSION_TIMEOUT = 4.0

_CHILD = """
import gc, logging, os, random, threading, time, tracemalloc, traceback
logging.getLogger('kazoo').setLevel(logging.ERROR)  # the faults are deliberate: not a line each
def open_fds():
    return len(os.listdir('/proc/self/fd'))
baseline_fds = open_fds()
tracemalloc.start(3)
from zkservices import Agent, ZooKeeper, load_agent_config
from zkservices.testing import expire_session
zk = ZooKeeper({hosts!r}, session_timeout={timeout}, wait=True)
configs = [load_agent_config(p) for p in {configs!r}]
agent = Agent(configs[0], zk=zk).start()
reloads = 0
def reload():
    global reloads
    reloads += 1
    return agent.reload(configs[reloads % 2])
stop = threading.Event()
ops = {{"register": 0, "unregister": 0, "update": 0, "view": 0}}
errors = []
def churn():
    rng = random.Random(30)
    registered = set()
    i = 0
    while not stop.is_set():
        i += 1
        roll = rng.random()
        try:
            if not registered or (roll < 0.3 and len(registered) < 40):  # at most 40: the state stays bounded
                address = f'10.3.{{(i // 250) % 250}}.{{i % 250}}:80'
                if address not in registered:
                    zk.register_server('/soak/churn/providers', address, n=i)
                    registered.add(address)
                ops["register"] += 1
            elif roll < 0.6:
                address = rng.choice(sorted(registered))
                zk.unregister('/soak/churn/providers', address)
                registered.discard(address)
                ops["unregister"] += 1
            elif roll < 0.8:
                zk.update_properties('/soak/churn', version=i)
                ops["update"] += 1
            else:
                view = zk.providers('/soak/churn/providers', missing_ok=True)
                props = zk.properties('/soak/churn', missing_ok=True)
                len(view), dict(props)
                view.close()
                props.close()
                ops["view"] += 1
        except BaseException:
            errors.append(traceback.format_exc())
            time.sleep(0.5)
        time.sleep(0.01)
worker = threading.Thread(target=churn, name='soak-churn', daemon=True)
worker.start()
heap = []  # the Python heap in use (tracemalloc), once a second: RSS keeps what the allocator freed
born = time.monotonic()
marking = threading.Lock()  # no heap sample while a snapshot is taken (it is freed after)
def sample_heap():
    while not stop.wait(1.0):
        with marking:
            heap.append((round(time.monotonic() - born, 1), tracemalloc.get_traced_memory()[0]))
threading.Thread(target=sample_heap, name='soak-heap', daemon=True).start()
def mark(name):
    # dumped, not kept: a snapshot held in memory would weigh in every later RSS sample
    with marking:
        gc.collect()
        tracemalloc.take_snapshot().dump(os.path.join({tmp!r}, name + '.tracemalloc'))
        gc.collect()
def growth(first, last, top=10):
    load = lambda name: tracemalloc.Snapshot.load(os.path.join({tmp!r}, name + '.tracemalloc'))
    with marking:
        stats = load(last).compare_to(load(first), 'lineno')
        lines = [str(s) for s in stats[:top]]
        del stats
        gc.collect()
    return lines
def finish():
    stop.set()
    worker.join(30)
    agent.close(30)
    zk.close()
    gc.collect()
    time.sleep(0.5)
    return {{"heap": heap, "baseline_fds": baseline_fds, "fds_after_close": open_fds(), "ops": ops, "errors": errors[:5],
            "error_count": len(errors), "reloads": reloads}}
"""

_CONFIG = """\
register:
  - path: /soak/agent/providers
    address: "{address}"
    properties: {{weight: {weight}}}
feeds:
  - name: soak
    services: [/soak/agent]
    template: json
    output: {out}
    min_wait: 0
"""


def _proc(pid: int) -> dict[str, float]:
    status = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.split()
    return {"rss_kib": float(status["VmRSS"][0]), "threads": float(status["Threads"][0]),
            "fds": float(len(os.listdir(f"/proc/{pid}/fd")))}


def _events(net: Network, py: Any, stop: threading.Event, counts: dict[str, int], failures: list[str]) -> None:
    """A reload, an expiry, a short cut, a long cut, in turn, 2 s apart, until ``stop``."""
    step = 0
    while not stop.wait(2.0):
        kind = ("reload", "expire", "short_cut", "long_cut")[step % 4]
        step += 1
        try:
            if kind == "expire":
                py.exec("expire_session(zk)", timeout=90)
            elif kind == "reload":
                py.exec("reload()", timeout=90)
            else:
                net.cut("client")
                try:
                    if stop.wait(1.5 if kind == "short_cut" else SESSION_TIMEOUT + 3.0):
                        pass
                finally:
                    net.heal("client")
                if not py.eval("zk.wait_recovered(90)", timeout=120):
                    failures.append(f"not recovered after a {kind}")
            counts[kind] += 1
        except Exception as exc:  # a fault the client did not survive: the run fails
            failures.append(f"{kind}: {exc!r}")
            return


def _growth(values: list[float], warmup: int) -> tuple[float, float, float]:
    after = values[warmup:]
    fifth = max(1, len(after) // 5)
    first, last = statistics.median(after[:fifth]), statistics.median(after[-fifth:])
    return first, last, (last - first) / first * 100 if first else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", "30")))
    parser.add_argument("--seconds", type=float, help="the run's length in seconds (instead of --minutes)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up (default: a sixth, 10 s to 5 min)")
    parser.add_argument("--servers", type=int, default=3, help="ensemble size (default 3; at least 2)")
    parser.add_argument("--bound", type=float, default=5.0, help="allowed growth after warm-up, percent")
    parser.add_argument("--json-to", help="write the samples and the verdict here")
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    warmup_s = args.warmup if args.warmup is not None else min(300.0, max(10.0, seconds / 6))

    with Network() as net, tempfile.TemporaryDirectory(prefix="zkservices-soak-") as tmp:
        ensemble = net.ensemble(args.servers, startup_timeout=60)
        ensemble.start()
        configs = []
        for i, (address, weight) in enumerate((("10.9.0.1:80", 1), ("10.9.0.2:80", 2))):
            path = os.path.join(tmp, f"agent{i}.yaml")
            with open(path, "w", encoding="utf-8") as f:
                f.write(_CONFIG.format(address=address, weight=weight, out=os.path.join(tmp, "soak.json")))
            configs.append(path)
        py = net.add_host("client").python()
        py.exec(_CHILD.format(hosts=ensemble.connection_string, timeout=SESSION_TIMEOUT, configs=configs, tmp=tmp),
                timeout=120)
        pid = py.eval("os.getpid()")
        counts = {"reload": 0, "expire": 0, "short_cut": 0, "long_cut": 0}
        failures: list[str] = []
        stop = threading.Event()
        events = threading.Thread(target=_events, args=(net, py, stop, counts, failures), daemon=True)
        print(f"soak: {seconds:.0f}s ({warmup_s:.0f}s warm-up), {args.servers} server(s), client pid {pid}",
              flush=True)
        samples: list[dict[str, float]] = []
        started = time.monotonic()
        events.start()
        warm = False
        while (elapsed := time.monotonic() - started) < seconds and not failures:
            samples.append(dict(_proc(pid), t=round(elapsed, 1)))
            if not warm and elapsed >= warmup_s:
                warm = True
                warmup_index = len(samples) - 1
                py.exec("mark('warm')", timeout=120)
            if len(samples) % 60 == 0:
                s = samples[-1]
                print(f"  {s['t']:6.0f}s  rss {s['rss_kib'] / 1024:6.1f} MiB  threads {s['threads']:3.0f}  "
                      f"fds {s['fds']:3.0f}  events {counts}", flush=True)
            time.sleep(max(0.0, started + len(samples) - time.monotonic()))
        stop.set()
        events.join(120)
        if not warm:
            failures.append("the run ended before the warm-up did")
            warmup_index = 0
        py.exec("mark('end')", timeout=120)
        top = py.eval("growth('warm', 'end')", timeout=120) if warm else []
        end = py.eval("finish()", timeout=120)

    verdict: dict[str, Any] = {"seconds": seconds, "warmup_seconds": warmup_s, "samples": samples,
                               "events": counts, "bound": args.bound, "growth": {}, "tracemalloc_top": top, **end}
    print(f"\n{len(samples)} samples, one a second; events {counts}; agent reloads {end['reloads']}; "
          f"churn operations {end['ops']}")
    print(f"{'':9} {'min':>9} {'median':>9} {'max':>9} {'after warm-up':>14} {'at the end':>11} {'growth':>8}")
    heap = end.pop("heap")
    heap_warm = next((i for i, (t, _) in enumerate(heap) if t >= warmup_s), len(heap) - 1)
    for i, (_, used) in enumerate(heap[:len(samples)]):
        samples[i]["heap_kib"] = used / 1024
    series = [("rss_kib", "RSS MiB", 1024, [s["rss_kib"] for s in samples], warmup_index),
              ("heap_kib", "heap MiB", 1024, [used / 1024 for _, used in heap], heap_warm),
              ("threads", "threads", 1, [s["threads"] for s in samples], warmup_index),
              ("fds", "open fds", 1, [s["fds"] for s in samples], warmup_index)]
    for key, label, scale, values, warm_at in series:
        first, last, grown = _growth(values, warm_at)
        verdict["growth"][key] = {"after_warmup": first, "end": last, "percent": grown}
        print(f"{label:9} {min(values) / scale:9.1f} {statistics.median(values) / scale:9.1f} "
              f"{max(values) / scale:9.1f} {first / scale:14.1f} {last / scale:11.1f} {grown:7.1f}%")
        if grown > args.bound:
            failures.append(f"{key} grew {grown:.1f}% after the warm-up (bound {args.bound:g}%)")
    print("\ntracemalloc: top growth sites from the end of the warm-up to the end of the run")
    for line in top:
        print(f"  {line}")
    print(f"\nopen file descriptors: {end['baseline_fds']} before connecting, {end['fds_after_close']} after closing")
    if end["fds_after_close"] > end["baseline_fds"]:
        failures.append(f"{end['fds_after_close'] - end['baseline_fds']} file descriptors left open after closing")
    if end["error_count"]:
        failures.append(f"{end['error_count']} churn calls raised; the first: {end['errors'][0]}")
    for kind, n in counts.items():
        if n == 0:
            failures.append(f"no {kind} happened")
    verdict["failures"] = failures
    if args.json_to:
        with open(args.json_to, "w", encoding="utf-8") as f:
            json.dump(verdict, f, indent=1)
    print("\nPASS" if not failures else "\nFAIL:\n  " + "\n  ".join(failures))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
