"""``reload_interval``: at most one reload per interval; files written in between coalesce into one reload.

Also the file side's outcome counters and timestamps (``unchanged``, ``write_failures``,
``last_result``, ``last_success``), which the agent reports.
"""

from __future__ import annotations

import time

import pytest

from zkservices._feed import FileFeed

from _util import wait_for

WAIT = 30.0
TEMPLATE = "value={{ value }}\n"


def lines(path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def test_writes_within_the_interval_coalesce_into_one_reload(tmp_path):
    out, reloads = tmp_path / "out.conf", tmp_path / "reloads"
    # each reload records the file it loaded: the coalesced one must load the latest
    with FileFeed(template_text=TEMPLATE, output=out, reload_command=f"cat {out} >> {reloads}",
                  reload_interval=3.0) as feed:
        feed.update({"value": 1})
        assert feed.flush(WAIT)
        assert lines(reloads) == ["value=1"]  # the first reload is not held back
        for value in (2, 3, 4):
            feed.update({"value": value})
            assert feed.flush(WAIT)
        assert feed.writes == 4
        # three writes inside the interval: no reload yet (the interval is far from over)...
        assert lines(reloads) == ["value=1"] and feed.last_error is None
        # ...then exactly one, of the latest file
        wait_for(lambda: feed.reloads >= 2, WAIT, "the coalesced reload")
        assert lines(reloads) == ["value=1", "value=4"]
        assert feed.reloads == 2


def test_a_reload_still_owed_runs_at_close(tmp_path):
    out, reloads = tmp_path / "out.conf", tmp_path / "reloads"
    feed = FileFeed(template_text=TEMPLATE, output=out, reload_command=f"cat {out} >> {reloads}",
                    reload_interval=600.0)
    feed.update({"value": 1})
    assert feed.flush(WAIT)
    feed.update({"value": 2})
    assert feed.flush(WAIT)
    assert lines(reloads) == ["value=1"]
    feed.close(WAIT)
    assert lines(reloads) == ["value=1", "value=2"]


def test_no_interval_reloads_after_every_write(tmp_path):
    out, reloads = tmp_path / "out.conf", tmp_path / "reloads"
    with FileFeed(template_text=TEMPLATE, output=out, reload_command=f"cat {out} >> {reloads}") as feed:
        for value in (1, 2, 3):
            feed.update({"value": value})
            assert feed.flush(WAIT)
        assert lines(reloads) == ["value=1", "value=2", "value=3"]


def test_negative_interval_is_refused(tmp_path):
    with pytest.raises(ValueError, match="reload_interval"):
        FileFeed(template_text=TEMPLATE, output=tmp_path / "x", reload_interval=-1)


def test_outcomes_and_timestamps(tmp_path):
    out = tmp_path / "out.conf"
    with FileFeed(template_text="{{ value.missing.deeper }}", output=out) as broken:
        broken.update({"value": {}})
        assert broken.flush(WAIT)
        assert (broken.last_result, broken.render_failures, broken.last_success) == ("failed", 1, None)
        assert broken.last_cycle is not None
    before = time.time()
    with FileFeed(template_text=TEMPLATE, output=out) as feed:
        assert feed.last_result is None
        feed.update({"value": 1})
        assert feed.flush(WAIT)
        assert (feed.last_result, feed.writes, feed.unchanged) == ("written", 1, 0)
        assert feed.last_success is not None and feed.last_success >= before - 1
        feed.update({"value": 1})
        assert feed.flush(WAIT)
        assert (feed.last_result, feed.writes, feed.unchanged) == ("unchanged", 1, 1)
    unwritable = tmp_path / "missing-dir" / "out.conf"
    with FileFeed(template_text=TEMPLATE, output=unwritable) as feed:
        feed.update({"value": 1})
        assert feed.flush(WAIT)
        assert (feed.last_result, feed.write_failures) == ("failed", 1)
        assert "cannot write" in (feed.last_error or "")
