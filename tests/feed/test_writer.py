"""The file writer (FileFeed): quiescence, checks, atomic writes and reloads, with real files and commands."""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time

import pytest

from zkservices._feed import FeedTemplateError, FileFeed


WAIT = 30.0  # generous upper bound for anything asynchronous


COUNTER_TEMPLATE = "value={{ value }}\n"


def lines(path) -> list[str]:
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def test_feed_burst_within_min_wait_gives_one_write_and_one_reload(tmp_path):
    out = tmp_path / "out.conf"
    reloads = tmp_path / "reloads"
    with FileFeed(
        template_text=COUNTER_TEMPLATE,
        output=out,
        reload_command=f"echo reloaded >> {reloads}",
        min_wait=2.0,
    ) as feed:
        for i in range(20):
            feed.update({"value": i})
        assert feed.flush(WAIT)
        assert out.read_text() == "value=19\n"
        assert (feed.writes, feed.reloads) == (1, 1)
        assert lines(reloads) == ["reloaded"]
        assert feed.last_error is None
    assert set(os.listdir(tmp_path)) == {"out.conf", "reloads"}


def test_feed_max_wait_caps_quiescence(tmp_path):
    out = tmp_path / "out.conf"
    with FileFeed(template_text=COUNTER_TEMPLATE, output=out, min_wait=2.0, max_wait=0.3) as feed:
        # Updates keep coming faster than min_wait: only max_wait lets a write through.
        deadline = time.monotonic() + WAIT
        i = 0
        while feed.writes == 0 and time.monotonic() < deadline:
            feed.update({"value": i})
            i += 1
            time.sleep(0.05)
        assert feed.writes >= 1
        assert out.read_text().startswith("value=")


def test_feed_reloads_once_per_effective_change(tmp_path):
    out = tmp_path / "out.conf"
    reloads = tmp_path / "reloads"
    with FileFeed(
        template_text="value={{ value }}\n",
        output=out,
        reload_command=f'echo "$ZKSERVICES_FEED_OUTPUT" >> {reloads}',
    ) as feed:
        feed.update({"value": "a"})
        assert feed.flush(WAIT)
        assert lines(reloads) == [str(out)]  # the first write reloads too
        feed.update({"value": "a"})  # same text
        feed.update({"value": "a", "ignored": 1})  # different context, same text
        assert feed.flush(WAIT)
        assert lines(reloads) == [str(out)]
        feed.update({"value": "b"})
        assert feed.flush(WAIT)
        assert out.read_text() == "value=b\n"
        assert len(lines(reloads)) == 2
        assert (feed.writes, feed.reloads) == (2, 2)


def test_feed_file_already_up_to_date_is_not_written_or_reloaded(tmp_path):
    out = tmp_path / "out.conf"
    out.write_text("value=1\n")
    inode = os.stat(out).st_ino
    reloads = tmp_path / "reloads"
    with FileFeed(template_text=COUNTER_TEMPLATE, output=out, reload_command=f"echo x >> {reloads}") as feed:
        feed.update({"value": 1})
        assert feed.flush(WAIT)
        assert (feed.writes, feed.reloads) == (0, 0)
        assert feed.last_rendered == "value=1\n"
    assert os.stat(out).st_ino == inode
    assert not reloads.exists()


def test_feed_check_command_failure_keeps_old_file(tmp_path, caplog):
    out = tmp_path / "out.conf"
    reloads = tmp_path / "reloads"
    seen = tmp_path / "seen"
    # The check sees the candidate both as {} and as $ZKSERVICES_FEED_CANDIDATE.
    check = (
        f'test {{}} = "$ZKSERVICES_FEED_CANDIDATE" && cat {{}} >> {seen} && '
        "grep -q good {} || { echo 'config invalid: no good' >&2; exit 4; }"
    )
    with caplog.at_level(logging.WARNING, logger="zkservices.feed"):
        with FileFeed(
            template_text="state={{ state }}\n",
            output=out,
            check_command=check,
            reload_command=f"echo x >> {reloads}",
        ) as feed:
            feed.update({"state": "good"})
            assert feed.flush(WAIT)
            assert out.read_text() == "state=good\n"
            feed.update({"state": "bad"})
            assert feed.flush(WAIT)
            assert out.read_text() == "state=good\n"
            assert feed.check_failures == 1
            assert (feed.writes, feed.reloads) == (1, 1)
            assert "exit 4: config invalid: no good" in feed.last_error
            assert feed.last_rendered == "state=bad\n"
            feed.update({"state": "good again"})
            assert feed.flush(WAIT)
            assert out.read_text() == "state=good again\n"
            assert (feed.writes, feed.reloads) == (2, 2)
    assert lines(seen) == ["state=good", "state=bad", "state=good again"]
    assert set(os.listdir(tmp_path)) == {"out.conf", "reloads", "seen"}  # no candidate left
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("exit 4: config invalid: no good" in m and "check command" in m for m in warnings)


def test_feed_check_candidate_keeps_suffix_and_mode(tmp_path):
    out = tmp_path / "haproxy.cfg"
    out.write_text("old\n")
    os.chmod(out, 0o640)
    seen = tmp_path / "seen"
    with FileFeed(
        template_text="new\n",
        output=out,
        check_command=f"stat -c '%a' {{}} > {seen}; basename {{}} >> {seen}",
    ) as feed:
        feed.update({})
        assert feed.flush(WAIT)
    mode, name = lines(seen)
    assert mode == "640"
    assert name.startswith(".haproxy.") and name.endswith(".tmp.cfg")
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640
    assert out.read_text() == "new\n"


def test_feed_reload_failure_is_logged_at_error(tmp_path, caplog):
    out = tmp_path / "out.conf"
    with caplog.at_level(logging.ERROR, logger="zkservices.feed"):
        with FileFeed(template_text=COUNTER_TEMPLATE, output=out, reload_command="echo nope >&2; exit 7") as feed:
            feed.update({"value": 1})
            assert feed.flush(WAIT)
            assert (feed.writes, feed.reloads, feed.reload_failures) == (1, 0, 1)
            assert "exit 7: nope" in feed.last_error
    assert any(r.levelno == logging.ERROR and "exit 7: nope" in r.getMessage() for r in caplog.records)


def test_feed_render_error_keeps_old_file_and_worker_alive(tmp_path, caplog):
    out = tmp_path / "out.conf"
    with caplog.at_level(logging.ERROR, logger="zkservices.feed"):
        with FileFeed(template_text="first={{ services[0].name }}\n", output=out, template_name="t.j2") as feed:
            feed.update({"services": [{"name": "a"}]})
            assert feed.flush(WAIT)
            feed.update({"services": []})
            assert feed.flush(WAIT)
            assert out.read_text() == "first=a\n"
            assert feed.render_failures == 1
            assert feed.last_error.startswith("t.j2, line 1: ")
            feed.update({"services": [{"name": "b"}]})
            assert feed.flush(WAIT)
            assert out.read_text() == "first=b\n"
            assert feed.last_error is None
    assert any("t.j2, line 1" in r.getMessage() for r in caplog.records)


def test_feed_syntax_error_raises_at_construction(tmp_path):
    with pytest.raises(FeedTemplateError, match=r"^t\.j2, line 1: "):
        FileFeed(template_text="{% if %}", output=tmp_path / "x", template_name="t.j2")


def test_feed_dry_run_writes_nothing(tmp_path):
    out = tmp_path / "out.conf"
    with FileFeed(
        template_text=COUNTER_TEMPLATE, output=out, dry_run=True, reload_command=f"touch {tmp_path / 'r'}"
    ) as feed:
        feed.update({"value": 42})
        assert feed.flush(WAIT)
        assert feed.last_rendered == "value=42\n"
        assert (feed.writes, feed.reloads) == (0, 0)
        assert "dry-run" in repr(feed)
    assert os.listdir(tmp_path) == []


def test_feed_flush_now_skips_quiescence_and_close_renders_pending(tmp_path):
    out = tmp_path / "out.conf"
    feed = FileFeed(template_text=COUNTER_TEMPLATE, output=out, min_wait=3600)
    feed.update({"value": 1})
    assert feed.flush(0.2) is False  # still waiting for quiescence
    assert feed.pending
    assert feed.flush(WAIT, now=True)
    assert out.read_text() == "value=1\n"
    feed.update({"value": 2})
    feed.close(WAIT)  # renders what is pending instead of waiting an hour
    assert out.read_text() == "value=2\n"
    assert "closed" in repr(feed)
    feed.update({"value": 3})  # ignored after close
    assert feed.flush(WAIT)
    assert out.read_text() == "value=2\n"
    feed.close()  # idempotent


def test_feed_readers_always_see_a_complete_file(tmp_path):
    out = tmp_path / "services.json"
    template = '{{ {"generation": generation, "services": services} | tojson }}\n'
    errors: list[str] = []
    reads = 0
    stop = threading.Event()

    def reader() -> None:
        nonlocal reads
        while not stop.is_set():
            try:
                with open(out) as f:
                    text = f.read()
            except FileNotFoundError:
                continue
            try:
                json.loads(text)
            except ValueError as exc:
                errors.append(f"{exc}: {text[:80]!r}")
            reads += 1

    with FileFeed(template_text=template, output=out) as feed:
        feed.update({"generation": -1, "services": []})
        assert feed.flush(WAIT)
        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        try:
            for i in range(200):
                # Vary the size so a torn write would show as broken JSON.
                services = [{"name": f"s{j}", "providers": ["10.0.0.1:80"] * (i % 7)} for j in range(i % 13)]
                feed.update({"generation": i, "services": services})
            assert feed.flush(WAIT)
        finally:
            stop.set()
            thread.join(WAIT)
        assert feed.writes >= 2
    assert errors == []
    assert reads > 0
    assert json.loads(out.read_text())["generation"] == 199
    assert os.listdir(tmp_path) == ["services.json"]


def test_feed_validates_options(tmp_path):
    with pytest.raises(ValueError):
        FileFeed(template_text="x", output=tmp_path / "o", min_wait=-1)
    feed = FileFeed(template_text="x", output=tmp_path / "o", name="lb")
    try:
        assert repr(feed).startswith("<FileFeed lb output=")
    finally:
        feed.close()


def test_feed_write_error_is_recorded_and_feed_goes_on(tmp_path, caplog):
    out = tmp_path / "not-yet" / "out.conf"
    with caplog.at_level(logging.ERROR, logger="zkservices.feed"):
        with FileFeed(template_text=COUNTER_TEMPLATE, output=out) as feed:
            feed.update({"value": 1})
            assert feed.flush(WAIT)
            assert feed.writes == 0
            assert feed.last_error.startswith(f"cannot write {out}")
            (tmp_path / "not-yet").mkdir()
            feed.update({"value": 2})
            assert feed.flush(WAIT)
            assert out.read_text() == "value=2\n"
            assert feed.last_error is None
    assert any(r.levelno == logging.ERROR and "cannot write" in r.getMessage() for r in caplog.records)


def test_feed_starts_its_worker_with_the_first_update(tmp_path):
    def workers() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name == "zkservices-feed lazy.conf" and t.is_alive()]

    feed = FileFeed(template_text=COUNTER_TEMPLATE, output=tmp_path / "lazy.conf")
    try:
        assert workers() == [] and feed.flush(WAIT) and not feed.pending
        feed.update({"value": 1})
        assert feed.flush(WAIT) and workers() == ["zkservices-feed lazy.conf"]
        assert feed.processed == 1
    finally:
        feed.close(WAIT)
    assert workers() == [] and feed.closed
    unused = FileFeed(template_text=COUNTER_TEMPLATE, output=tmp_path / "never.conf")
    unused.close()
    assert os.listdir(tmp_path) == ["lazy.conf"]


def test_feed_on_render_sees_each_new_text(tmp_path):
    texts: list[str] = []
    with FileFeed(template_text=COUNTER_TEMPLATE, output=tmp_path / "o", dry_run=True, on_render=texts.append) as feed:
        for value in (1, 1, 2):
            feed.update({"value": value})
            assert feed.flush(WAIT, now=True)
    assert texts == ["value=1\n", "value=2\n"]


def test_failed_commands_show_the_last_twenty_lines_of_their_output(tmp_path, caplog):
    out = tmp_path / "out.conf"
    # the line that says what is wrong is not the last one
    noisy = "for i in $(seq 1 30); do echo \"line $i\" >&2; done; echo 'summary: 1 error' >&2; exit 3"
    with caplog.at_level(logging.WARNING, logger="zkservices.feed"):
        with FileFeed(template_text=COUNTER_TEMPLATE, output=out, check_command=noisy) as feed:
            feed.update({"value": 1})
            assert feed.flush(WAIT)
            error = feed.last_error
            assert feed.check_failures == 1 and not out.exists()
    assert error.startswith(f"check command {noisy!r} failed (exit 3: summary: 1 error); its output (last 20 of 31 lines):\n")
    shown = error.split("\n")[1:]
    assert shown == [f"  line {i}" for i in range(12, 31)] + ["  summary: 1 error"]
    assert any("line 12" in r.getMessage() and "line 30" in r.getMessage() for r in caplog.records)

    with caplog.at_level(logging.ERROR, logger="zkservices.feed"):
        with FileFeed(template_text=COUNTER_TEMPLATE, output=out, reload_command="echo one; echo two >&2; exit 5") as feed:
            feed.update({"value": 2})
            assert feed.flush(WAIT)
            error = feed.last_error
    assert error == "reload command 'echo one; echo two >&2; exit 5' failed (exit 5: two); its output:\n  one\n  two"
    # a single line is shown once, in the parentheses
    with FileFeed(template_text=COUNTER_TEMPLATE, output=tmp_path / "o2", check_command="echo nope >&2; false") as feed:
        feed.update({"value": 3})
        assert feed.flush(WAIT)
        assert feed.last_error == "check command 'echo nope >&2; false' failed (exit 1: nope)"


def test_writes_and_reloads_are_logged_naming_the_file_and_the_changes(tmp_path, caplog):
    out = tmp_path / "out.conf"
    template = ("{% for s in services %}{{ s.name }} {{ s.properties.get('balance') }} "
                "{{ s.providers | map(attribute='name') | join(',') }}\n{% endfor %}")

    def ctx(props, *names):
        return {"services": [{"path": "/svc", "name": "svc", "properties": props, "stale": False,
                              "providers": [{"name": n, "properties": {}} for n in names]}]}

    with caplog.at_level(logging.INFO, logger="zkservices.feed"):
        with FileFeed(template_text=template, output=out, reload_command="true") as feed:
            for context in (ctx({}, "a:1", "b:2"), ctx({}, "b:2", "c:3"), ctx({"balance": "rr"}, "b:2", "c:3")):
                feed.update(context)
                assert feed.flush(WAIT)
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    wrote = [m for m in infos if f"wrote {out}" in m]
    reloaded = [m for m in infos if f"reloaded after writing {out}" in m]
    assert [m.split(": ", 1)[1].split(": ", 1)[1] for m in wrote] == [
        "/svc: 2 provider(s): a:1, b:2",
        "/svc: added c:3, removed a:1",
        "/svc: properties added: balance",
    ]
    assert len(reloaded) == 3 and reloaded[1].endswith("/svc: added c:3, removed a:1")


# -- commands: background processes, quoting, failed reloads --------------------------

import signal  # noqa: E402

from _feedutil import read  # noqa: E402
from _util import wait_for  # noqa: E402


def test_reload_command_leaving_a_background_process_succeeds_at_once(tmp_path):
    # A reload script that (re)starts a daemon leaves a process holding the
    # command's stdout.  Waiting for end-of-file on a pipe made every such
    # reload "time out" after command_timeout and SIGKILLed the new daemon.
    out, pidfile = tmp_path / "lb.conf", tmp_path / "daemon.pid"
    reload = f"sleep 60 & echo $! > {pidfile}; echo reloaded"
    feed = FileFeed(template_text="x={{ x }}\n", output=out, reload_command=reload, command_timeout=20)
    try:
        feed.update({"x": 1})
        assert feed.flush(WAIT)
        assert feed.reloads == 1 and feed.reload_failures == 0, feed.last_error
        daemon = int(pidfile.read_text())
        os.kill(daemon, 0)  # the daemon the reload started is still running
    finally:
        feed.close()
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.parametrize("command", ['test -s {}', 'test -s "{}"', "test -s '{}'"])
def test_check_command_placeholder_quoted_or_not_with_spaces_in_the_path(tmp_path, command):
    # "{}" or '{}' around the placeholder (a common habit) broke every check
    # for an output path with a space: the feed never wrote.
    directory = tmp_path / "lb configs"
    directory.mkdir()
    out = directory / "my upstream.conf"
    feed = FileFeed(template_text="x={{ x }}\n", output=out, check_command=command)
    try:
        feed.update({"x": 1})
        assert feed.flush(WAIT)
        assert feed.check_failures == 0, feed.last_error
        assert read(out) == "x=1\n"
    finally:
        feed.close()


def test_failed_reload_is_retried_even_when_the_file_does_not_change_again(tmp_path):
    # After a failed reload the file on disk is newer than what the load
    # balancer runs.  The next cycle found the file "up to date", cleared the
    # error and never reloaded: the balancer silently kept the old config.
    out, ok, calls = tmp_path / "lb.conf", tmp_path / "balancer-up", tmp_path / "calls"
    feed = FileFeed(template_text="x={{ x }}\n", output=out, reload_command=f"echo r >> {calls}; test -e {ok}")
    try:
        feed.update({"x": 1})
        assert feed.flush(WAIT)
        assert feed.reload_failures == 1 and feed.last_error is not None
        feed.update({"x": 1})  # the same rendering again: still owed
        assert feed.flush(WAIT)
        assert feed.last_error is not None
        ok.write_text("")
        wait_for(lambda: feed.reloads == 1, WAIT, "the reload to be retried")
        assert feed.last_error is None
        count = len(calls.read_text().split())
        time.sleep(0.3)
        assert len(calls.read_text().split()) == count  # no more retries once it succeeded
    finally:
        feed.close()



class _Steps(logging.Handler):
    """At each log line of the feed (on its worker, synchronously): the feed's counts,
    last_error and the files beside the output -- what a reader could see then."""

    COUNTS = ("writes", "unchanged", "reloads", "reload_failures", "check_failures", "render_failures")

    def __init__(self, feed, folder):
        super().__init__(logging.DEBUG)
        self.feed, self.folder, self.seen = feed, folder, []

    def emit(self, record):
        feed = self.feed
        self.seen.append((record.getMessage(), {name: getattr(feed, name) for name in self.COUNTS},
                          feed.last_error, sorted(os.listdir(self.folder))))


KINDS = {"wrote": (": wrote ",), "reloaded after": (": reloaded after",),
         "check command": (": check command", "failed"), "reload command": (": reload command", "failed")}


def test_each_step_is_counted_after_its_outcome(tmp_path):
    # A count is what readers poll (tests, /status, the metrics): when it moves, the
    # step's outcome is complete.  Each step's log line (the last but the count) sees
    # the file in place or the refused candidate gone, last_error set or cleared, and
    # the count not yet moved.  (A hog run saw check_failures == 1 with the refused
    # candidate still beside the file.)
    out = tmp_path / "out.conf"
    reloads = tmp_path / "reloads"
    feed = FileFeed(template_text=COUNTER_TEMPLATE, output=out, min_wait=0,
                    check_command="! grep -q value=13 {}",
                    reload_command=f"echo r >> {reloads}; test ! -e {tmp_path / 'refuse'}")
    steps = _Steps(feed, tmp_path)
    logger = logging.getLogger("zkservices.feed")
    logger.addHandler(steps)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        with feed:
            feed.update({"value": 1})  # written, reloaded
            assert feed.flush(WAIT)
            feed.update({"value": 13})  # refused by the check
            assert feed.flush(WAIT)
            (tmp_path / "refuse").touch()
            feed.update({"value": 2})  # written, its reload fails
            assert feed.flush(WAIT)
            (tmp_path / "refuse").unlink()
            feed.update({"value": 2})  # unchanged: the owed reload runs again, succeeds
            assert feed.flush(WAIT, now=True)
            wait_for(lambda: feed.reloads == 2, WAIT, "the owed reload")
    finally:
        logger.removeHandler(steps)
        logger.setLevel(level)
    by_kind = {}
    for message, counts, error, files in steps.seen:
        kind = next((k for k, words in KINDS.items() if all(w in message for w in words)), None)
        if kind is not None:
            by_kind.setdefault(kind, []).append((counts, error, files))
    (first, *later) = by_kind["wrote"]
    assert first[0]["writes"] == 0 and first[1] is None and "out.conf" in first[2]
    assert [c["writes"] for c, _, _ in later] == [1]
    # the refusal: the candidate is gone, the error set, the count still to come
    [(counts, error, files)] = by_kind["check command"]
    assert counts["check_failures"] == 0 and "check command" in error
    assert [f for f in files if f.startswith(".")] == [], files
    # the failed reload: its error set, the count still to come
    [(counts, error, _)] = by_kind["reload command"]
    assert counts["reload_failures"] == 0 and "reload command" in error
    # each successful reload: the error cleared, the count still to come
    assert [(c["reloads"], e) for c, e, _ in by_kind["reloaded after"]] == [(0, None), (1, None)]
    assert (feed.writes, feed.reloads, feed.reload_failures, feed.check_failures) == (2, 2, 1, 1)
    assert feed.last_error is None


def test_a_context_not_shaped_like_a_feeds_is_written_and_reloaded(tmp_path, caplog):
    # A FileFeed takes any context; the change line of its log describes what is shaped
    # like a feed's and leaves the rest out (it raised on a provider given as a string,
    # after the write and before the reload, which never ran).
    out, reloads = tmp_path / "out.txt", tmp_path / "reloads"
    contexts = ([{"name": "a", "providers": ["10.0.0.1:80"]}], "text", [["x"], None],
                [{"path": "/a", "providers": {"a": 1}, "properties": ["p"]}],
                [{"path": "/a", "providers": [{"name": "n"}, 7], "properties": {"k": 1}}])
    with FileFeed(template_text="{{ services | tojson }}\n", output=out, min_wait=0,
                  reload_command=f"echo r >> {reloads}") as feed:
        for services in contexts:
            feed.update({"services": services})
            assert feed.flush(WAIT)
    assert (feed.writes, feed.reloads, feed.last_error) == (5, 5, None)
    assert lines(reloads) == ["r"] * 5
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
