"""A server's console lines: parsed, levels mapped, forwarded to logging (no server needed)."""

from __future__ import annotations

import collections
import io
import logging

from zkservices.testing.serverlog import LEVELS, LINE_PATTERN, forward_lines


def test_log4j_levels_are_mapped_not_all_info():
    # a line log4j wrote as WARN arrives as WARNING
    m = LINE_PATTERN.match("2026-11-22 02:11:09,074 - WARN  [Thread-[myid=3]-2:Cnx@401] - Cannot open channel")
    assert m and LEVELS[m.group("level")] == logging.WARNING and m.group("msg") == "Cannot open channel"


def test_forwarded_lines_keep_level_for_continuations_and_fill_the_tail(caplog):
    caplog.set_level(logging.DEBUG, logger="zkservices.server")
    output = io.BytesIO(
        b"2026-11-22 02:11:09,074 - ERROR [main:Q@1] - boom\n"
        b"\tat org.apache.Foo\n"
        b"2026-11-22 02:11:10,000 - INFO  [main:Q@2] - fine\n"
    )
    tail: collections.deque[str] = collections.deque(maxlen=2)
    forward_lines(output, name="zk9", tail=tail)
    records = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "zkservices.server"]
    assert records == [
        (logging.ERROR, "zk9: [main:Q@1] boom"),
        (logging.ERROR, "zk9: \tat org.apache.Foo"),
        (logging.INFO, "zk9: [main:Q@2] fine"),
    ]
    assert list(tail) == ["\tat org.apache.Foo", "2026-11-22 02:11:10,000 - INFO  [main:Q@2] - fine"]


def test_important_lines_keep_warn_and_above_and_exception_lines_only():
    from zkservices.testing.serverlog import important_lines

    lines = [
        "2026-12-01 10:00:00,000 - INFO  [main:X@1] - starting",
        "2026-12-01 10:00:00,001 - WARN  [w:Y@2] - Unexpected exception",
        "java.lang.NullPointerException: zkDb is null",
        "\tat org.apache.zookeeper.server.ZooKeeperServer.removeCnxn(ZooKeeperServer.java:308)",
        "2026-12-01 10:00:00,002 - INFO  [main:X@3] - serving",
        "\tat not.kept.after.Info(X.java:1)",
        "2026-12-01 10:00:00,003 - ERROR [main:Z@4] - broken",
    ]
    assert important_lines(lines) == [lines[1], lines[2], lines[6]]
    assert important_lines(lines, limit=1) == [lines[6]]
    assert important_lines(lines, min_level=logging.ERROR) == [lines[6]]


# The exact lines ZooKeeper 3.8 writes when our readiness probe (srvr) arrives
# before its database is loaded: answered, but logged as an ERROR with a trace.
PROBE_NOISE = (
    b"2026-12-01 12:13:58,101 - ERROR [NIOWorkerThread-1:ServerCnxn@601] - Error closing a command socket \n"
    b"java.lang.NullPointerException: Cannot invoke \"org.apache.zookeeper.server.ZKDatabase.removeCnxn()\"\n"
    b"\tat org.apache.zookeeper.server.ZooKeeperServer.removeCnxn(ZooKeeperServer.java:308)\n"
)


def test_the_probe_noise_of_a_starting_server_is_debug_not_error(caplog):
    caplog.set_level(logging.DEBUG, logger="zkservices.server")
    output = io.BytesIO(PROBE_NOISE + b"2026-12-01 12:13:58,200 - ERROR [main:Z@4] - broken\n")
    forward_lines(output, name="zk1", tail=collections.deque(maxlen=10))
    levels = [r.levelno for r in caplog.records if r.name == "zkservices.server"]
    assert levels == [logging.DEBUG, logging.DEBUG, logging.DEBUG, logging.ERROR]


def test_important_lines_leave_out_the_probe_noise():
    from zkservices.testing.serverlog import important_lines

    lines = PROBE_NOISE.decode().splitlines() + ["2026-12-01 12:13:58,200 - ERROR [main:Z@4] - broken"]
    assert important_lines(lines) == [lines[-1]]
