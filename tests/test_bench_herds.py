"""The herd bench (``make bench-herds``, bench/herds.py) at a tiny size, so it does not rot:
fleets of 4 sessions (zkservices, zkservices with ``resync_jitter``, Curator 5.4), 5 providers,
through a leader kill and an ensemble-wide session loss on the bench's own 3-member ensemble.
Checks that both tables have every row, that every client came back whole in both phases
(sessions kept through the kill; connected, registered again and its view re-read after the
loss) and that the counts are not trivially zero; not how fast.  Needs javac and Debian's
Curator jars, as the Curator interop tests do.  About 1-2 minutes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.zookeeper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIENTS = ["zkservices", "zkservices+jitter", "curator"]


def test_herd_bench_brings_every_client_back_whole_and_counts_the_herds(tmp_path):
    rows_file = tmp_path / "rows.json"
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "herds.py"), "-C", "4", "-P", "5", "--jitter", "1",
         "--idle", "2", "--json-to", str(rows_file)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    for title, ratios in (("Leader kill", ["zkservices/curator", "jitter/none"]),
                          ("Ensemble-wide session loss", ["zkservices/curator", "jitter/none"])):
        start = next(i for i, line in enumerate(lines) if line.startswith(title))
        assert [line.split()[0] for line in lines[start + 2:start + 7]] == CLIENTS + ratios, lines[start:start + 7]
    rows = json.loads(rows_file.read_text(encoding="utf-8"))
    assert [(row["phase"], row["client"]) for row in rows] == [
        (phase, client) for client in CLIENTS for phase in ("leader-kill", "session-loss")]
    for row in rows:
        assert row["C"] == 4 and row["P"] == 5, row
        assert row["whole"], row  # every client connected (and whole) again within the phase
        assert row["quiet_s"] is not None, row  # and the servers quiet again
        assert row["requests"] > 0 and row["idle_rate"] > 0, row  # reconnects and pings at least
        assert 0 <= row["data_reads"] <= row["requests"], row
        if row["phase"] == "leader-kill":
            assert row["sessions_kept"], row
            assert 0 < row["connected_s"] <= row["quiet_s"], row
        else:
            # every view re-read the providers (one was replaced while the fleet was stopped):
            # counted per read below the bench's node, multi-reads' reads too
            assert row["ns_reads"] >= 4 * 5, row
            assert row["bench_requests"] > 0, row  # the registration checks, left out of "requests"
            assert 0 < row["whole_s"] <= row["quiet_s"], row
            assert row["peak_rate"] >= row["peak_rate_1s"] > 0, row
            # stopped until the ensemble expired the sessions (a session's clock runs from its last
            # packet, which can come before the SIGSTOP: so not necessarily 4 s)
            assert 1 < row["expired_after_s"] <= row["stopped_s"], row
            if row["client"] == "curator":
                assert row["recovered"] is None and row["recovered_s"] is None, row  # Curator does not say
            else:
                assert row["recovered"] and 0 < row["recovered_s"] <= row["quiet_s"], row


def test_the_peak_rates_of_a_timeline():
    # the bench's own arithmetic (no servers): a herd shorter than a second counts whole
    # in the one-second peak (it gave 0 when the samples spanned less than 0.9 s: a quiet
    # run's session loss), and two samples more than a second apart count their rate
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    try:
        from herd_counters import peak_rates
    finally:
        sys.path.remove(os.path.join(ROOT, "bench"))
    assert peak_rates([]) == (0.0, 0.0)
    assert peak_rates([(0.0, 0)]) == (0.0, 0.0)
    assert peak_rates([(0.0, 0), (0.1, 10), (0.2, 30), (0.3, 30)]) == pytest.approx((200.0, 30.0))
    # 10 a second for 3 s, then 50 in 0.1 s
    line = [(t / 10, t) for t in range(31)] + [(3.1, 80)]
    short, long = peak_rates(line)
    assert short == pytest.approx(500.0) and long == pytest.approx(59.0)
    # a gap of 2 s: its 40 requests, 20 a second
    assert peak_rates([(0.0, 0), (2.0, 40)]) == pytest.approx((20.0, 20.0))
    # the peak never exceeds the largest rate between two samples
    short, long = peak_rates([(0.0, 0), (0.5, 5), (1.6, 100), (1.7, 101)])
    assert long <= short
