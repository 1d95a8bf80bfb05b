"""A running feed as an operator sees it: its log lines, its quiescence across a backend's
session restores, and how long ``run_once`` waits.  Real ZooKeeper, real sessions."""

from __future__ import annotations

import logging
import socket
import time

import pytest

import zkservices
from zkservices import Feed, FeedError
from zkservices._discovery import save_snapshot
from zkservices._feed.feed import DEFAULT_MIN_WAIT
from zkservices.testing import expire_session

from _feedutil import read
from _util import wait_for


WAIT = 30.0

TEMPLATE = """\
{% for s in services %}
service {{ s.name }} balance={{ s.properties.get('balance', 'none') }} count={{ s.providers | length }}
{% for p in s.providers %}
  server {{ p.address }}
{% endfor %}
{% endfor %}
"""


def count(text: str) -> int:
    return int(text.split("count=", 1)[1].split()[0])


def dead_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def test_each_write_and_reload_is_logged_with_what_changed(zk, zk_connection_string, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="zkservices.feed")
    zk.create("/svc", b'{"balance": "roundrobin"}')
    out = tmp_path / "lb.conf"
    with Feed(zk_connection_string, "/svc", template_text=TEMPLATE, output=out, reload_command="true",
              min_fraction=0) as feed:
        wait_for(lambda: feed.reloads == 1, WAIT, "the first write and reload")
        a = zk.register_server("/svc/providers", "10.0.0.1:80")
        wait_for(lambda: feed.reloads == 2, WAIT, "a's write and reload")
        zk.register_server("/svc/providers", "10.0.0.2:80")
        wait_for(lambda: feed.reloads == 3, WAIT, "b's write and reload")
        a.unregister()
        wait_for(lambda: feed.reloads == 4, WAIT, "a's leave")
        zk.properties("/svc").update(balance="leastconn")
        wait_for(lambda: feed.reloads == 5, WAIT, "the property change")

    def lines(what: str) -> list[str]:
        return [r.getMessage().split(f"{what} {out}", 1)[1] for r in caplog.records
                if r.levelno == logging.INFO and f"{what} {out}" in r.getMessage()]

    wrote = [line.split("): ", 1)[1] for line in lines("wrote")]
    assert wrote == [
        "/svc: 0 provider(s)",
        "/svc: added 10.0.0.1:80",
        "/svc: added 10.0.0.2:80",
        "/svc: removed 10.0.0.1:80",
        "/svc: properties changed: balance",
    ]
    assert [line.split("succeeded): ", 1)[1] for line in lines("reloaded after writing")] == wrote


@pytest.mark.parametrize("min_wait", [0.0, None], ids=["min_wait=0", "default min_wait"])
def test_a_backends_session_restore_never_renders_a_partial_set(zk_connection_string, tmp_path, min_wait):
    helper = zkservices.ZooKeeper(zk_connection_string)
    out = tmp_path / "lb.conf"
    rendered: list[int] = []
    try:
        for i in range(1, 4):
            helper.register_server("/svc/providers", f"10.0.0.{i}:80")
        kw = {} if min_wait is None else {"min_wait": min_wait}
        # min_fraction=0: no shrink guard to hide what the feed sees
        with Feed(zk_connection_string, "/svc", template_text=TEMPLATE, output=out, min_fraction=0,
                  on_render=lambda text: rendered.append(count(text)), **kw) as feed:
            assert feed.file_feed.min_wait == (DEFAULT_MIN_WAIT if min_wait is None else 0.0)
            wait_for(lambda: rendered and rendered[-1] == 3, WAIT, "the three backends")
            for _ in range(4):
                expire_session(helper)
                wait_for(lambda: "count=3" in (read(out) or "") and not feed.file_feed.pending, WAIT,
                         "the restored registrations")
                assert feed.flush(WAIT)
        assert set(rendered) <= {0, 3}, rendered
        assert rendered[-1] == 3
    finally:
        helper.close()


def test_the_default_min_wait_takes_in_a_restore_of_several_services(zk_connection_string, tmp_path):
    """Three services restored in three transactions: one rendering with everything, not three."""
    helper = zkservices.ZooKeeper(zk_connection_string)
    out = tmp_path / "lb.conf"
    rendered: list[str] = []
    paths = ["/a", "/b", "/c"]
    try:
        for path in paths:
            for i in range(1, 3):
                helper.register_server(f"{path}/providers", f"10.0.0.{i}:80")
        with Feed(zk_connection_string, paths, template_text=TEMPLATE, output=out, force=True,
                  on_render=rendered.append) as feed:
            wait_for(lambda: rendered and rendered[-1].count("count=2") == 3, WAIT, "the first rendering")
            for _ in range(3):
                expire_session(helper)
                wait_for(lambda: (read(out) or "").count("count=2") == 3 and not feed.file_feed.pending, WAIT,
                         "the restored registrations")
        for text in rendered:
            counts = sorted(int(part.split()[0]) for part in text.split("count=")[1:])
            assert counts in ([0, 0, 0], [2, 2, 2]), rendered
    finally:
        helper.close()


def test_run_once_waits_timeout_seconds_not_one_more(tmp_path):
    dead = dead_address()
    started = time.monotonic()
    with pytest.raises(FeedError, match="did not answer within 2s and there is no snapshot"):
        Feed(dead, "/svc", template_text=TEMPLATE, output=tmp_path / "lb.conf", timeout=2.0).run_once()
    took = time.monotonic() - started
    assert 1.9 <= took < 2.9, took  # it used to be timeout + 1 (3 s and more)

    # with a snapshot: served once the timeout has passed, at once
    snapshot = tmp_path / "snapshot.json"
    save_snapshot(snapshot, "/svc", {"balance": "first"}, {"10.0.0.1:80": {"host": "10.0.0.1", "port": 80}})
    started = time.monotonic()
    text = Feed(dead, "/svc", template_text=TEMPLATE, output=tmp_path / "lb.conf", snapshot=snapshot,
                timeout=1.0).run_once()
    took = time.monotonic() - started
    assert "balance=first count=1" in text and "10.0.0.1:80" in text
    assert 0.9 <= took < 1.9, took
