"""The ensemble's counters for bench/herds.py: what its members' ``mntr`` says the
clients sent, summed over the members and sampled by a thread (see herds.py's docstring
for what each counter is and why)."""

from __future__ import annotations

import threading
import time
from typing import Callable

from zkservices._os.fourletter import four_letter_word
from zkservices.testing import ZooKeeperServer

NAMESPACE = "bench-herds"
SAMPLE = 0.1  # seconds between mntr samples
REQUESTS = "zk_cnt_request_throttle_queue_time_ms"  # every request submitted: the throttler times each
COUNTERS = (REQUESTS, "zk_packets_received", "zk_response_packet_cache_hits", "zk_response_packet_cache_misses",
            f"zk_cnt_{NAMESPACE}_read_per_namespace")


def mntr(server: ZooKeeperServer) -> dict[str, int] | None:
    """The counters this bench reads from ``server``; None when it does not serve."""
    host, port = server.connection_string.rsplit(":", 1)
    try:
        text = four_letter_word(host, int(port), "mntr", timeout=5)
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition("\t")
        if key in COUNTERS:
            values[key] = int(float(value))
    return values if "zk_packets_received" in values else None


class Counters:
    """The clients' requests, data reads and namespace reads summed over the running members
    since construction, sampled every ``SAMPLE`` seconds by a thread; a counter that went
    down restarted (a role change or a restart) and counts from 0."""

    def __init__(self, servers: list[ZooKeeperServer], own: Callable[[], int]) -> None:
        self.servers, self.own = servers, own
        self.own_start = own()
        self.last: dict[str, dict[str, int]] = {}
        self.growth = {key: 0 for key in COUNTERS}
        self.asks = 0  # mntr words answered, but each member's first (its own packet is in the base)
        self.timeline: list[tuple[float, int]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sample()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.wait(SAMPLE):
            self.sample()

    def sample(self) -> None:
        for server in self.servers:
            if not server.running or server.paused:
                continue
            values = mntr(server)
            if values is None:
                continue
            with self.lock:
                before = self.last.setdefault(server.name, {})
                first = not before  # the base: its counters are not growth
                if not first:
                    self.asks += 1
                for key, now in values.items():  # a counter missing from one answer keeps its last value
                    then = before.get(key)
                    if then is not None:
                        self.growth[key] += now - then if now >= then else now
                    elif not first:  # a counter that appears later (a namespace's first read) starts at 0
                        self.growth[key] += now
                    before[key] = now
        with self.lock:
            self.timeline.append((time.monotonic(), self.requests()))

    def own_requests(self) -> int:
        return self.own() - self.own_start

    def requests(self) -> int:
        """Client requests so far, less the bench's own."""
        return self.growth[REQUESTS] - self.own_requests()

    def packets(self) -> int:
        """Client packets so far, less the mntr words and the bench's own requests (short of
        what a member took between its last sample and a role change: its count restarts)."""
        return self.growth["zk_packets_received"] - self.asks - self.own_requests()

    def data_reads(self) -> int:
        return self.growth["zk_response_packet_cache_hits"] + self.growth["zk_response_packet_cache_misses"]

    def namespace_reads(self) -> int:
        return self.growth[f"zk_cnt_{NAMESPACE}_read_per_namespace"] - self.own_requests()

    def rate_last(self, seconds: float) -> float | None:
        """Requests per second over the last ``seconds`` (None before that much was sampled)."""
        with self.lock:
            end_t, end = self.timeline[-1]
            for t, value in reversed(self.timeline):
                if end_t - t >= seconds:
                    return (end - value) / (end_t - t)
        return None

    def peaks(self) -> tuple[float, float]:
        """(the largest rate between two samples, the most requests in one second), per second."""
        with self.lock:
            line = list(self.timeline)
        return peak_rates(line)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.sample()


def peak_rates(line: list[tuple[float, int]]) -> tuple[float, float]:
    """From a timeline of ``(monotonic time, requests so far)``: the largest rate between two
    samples, and the most requests in one second (a sliding window; two samples more than a
    second apart -- a member slow to answer ``mntr`` -- count their rate).  Requests in a
    herd shorter than a second count whole: the window's count, per second."""
    short = max(((b - a) / (tb - ta) for (ta, a), (tb, b) in zip(line, line[1:]) if tb > ta), default=0.0)
    long, j = 0.0, 0
    for i, (t, value) in enumerate(line):
        while t - line[j][0] > 1.0:
            j += 1
        long = max(long, float(value - line[j][1]))  # the samples within the second up to t
        if i and j == i and t > line[i - 1][0]:  # the previous sample is more than a second back
            long = max(long, (value - line[i - 1][1]) / (t - line[i - 1][0]))
    return short, long
