"""Children and Properties views on a real server; changes come from ANOTHER session."""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
import weakref

import pytest
from kazoo.exceptions import NoNodeError

import zkservices
from zkservices import BadPropertyLink, CancelWatch, ChildrenChange, LinkLoop, NodeDeleted
from zkservices.testing import expire_session

from _util import props, wait_for


def _settle(zk):
    """A write through zk itself waits until zk's views and callbacks caught up with it."""
    zk.ensure_path("/.settle")
    zk.set("/.settle", str(time.monotonic()).encode())


# -- staying current ------------------------------------------------------


def test_children_follow_another_session(zk, zk_client):
    zk_client.ensure_path("/svc")
    view = zk.children("/svc")
    assert list(view) == [] and len(view) == 0
    zk_client.create("/svc/b")
    zk_client.create("/svc/a")
    wait_for(lambda: sorted(view) == ["a", "b"], what="children a, b")
    assert "a" in view and "c" not in view and len(view) == 2
    zk_client.delete("/svc/a")
    wait_for(lambda: list(view) == ["b"], what="a removed")
    assert view.path == view.real_path == "/svc"
    assert "/svc" in repr(view)


def test_properties_follow_another_session(zk, zk_client):
    zk_client.create("/conf", b'{"threads":1}')
    data = zk.properties("/conf")
    assert data["threads"] == 1 and dict(data) == {"threads": 1}
    zk_client.set("/conf", b'{"threads":2,"x":"y"}')
    wait_for(lambda: dict(data) == {"threads": 2, "x": "y"}, what="new properties")
    assert len(data) == 2 and "x" in data and data.get("nope") is None
    with pytest.raises(KeyError):
        data["nope"]


def test_own_writes_are_visible_at_once(zk, zk_client):
    zk_client.create("/own", b"{}")
    data = zk.properties("/own")
    kids = zk.children("/own")
    data.update(a=1)
    assert dict(data) == {"a": 1}  # no waiting: the write settles the views
    zk.create("/own/c")
    assert list(kids) == ["c"]


def test_write_forms_and_encoding(zk, zk_client):
    zk_client.create("/w", b"{}")
    data = zk.properties("/w")
    data.update({"a": 1, "b": 1}, b=2)  # keywords win over the mapping
    assert zk_client.get("/w")[0] == b'{"a":1,"b":2}'
    data["c"] = "ü"
    assert zk_client.get("/w")[0] == '{"a":1,"b":2,"c":"ü"}'.encode()
    del data["a"]
    assert props(zk_client, "/w") == {"b": 2, "c": "ü"}
    data.set(threads=3)
    assert zk_client.get("/w")[0] == b'{"threads":3}'
    data.set()
    assert zk_client.get("/w")[0] == b"{}"
    with pytest.raises(KeyError):
        del data["missing"]


# -- callbacks ------------------------------------------------------------


def test_children_callback_called_at_once_and_on_each_change(zk, zk_client):
    zk_client.create("/cb/x", makepath=True)
    calls = []
    view = zk.children("/cb")

    @zk.children("/cb")
    def changed(addresses):
        calls.append(sorted(addresses))

    assert isinstance(changed, zkservices.Children)  # the decorator returns the view
    assert calls == [["x"]]  # before the registering call returned
    zk_client.create("/cb/y")
    wait_for(lambda: calls[-1] == ["x", "y"], what="y added")
    zk_client.delete("/cb/x")
    wait_for(lambda: calls[-1] == ["y"], what="x removed")
    zk_client.set("/cb", b"data change: not a children change")
    zk_client.create("/cb/z")
    wait_for(lambda: calls[-1] == ["y", "z"], what="z added")
    assert calls == [["x"], ["x", "y"], ["y"], ["y", "z"]]  # once per change, no extras
    # the other view of the same node is refreshed in its own turn on the worker
    wait_for(lambda: list(view) == ["y", "z"], what="the second view caught up")


def test_properties_callback_called_at_once_and_on_each_change(zk, zk_client):
    zk_client.create("/pcb", b'{"v":0}')
    calls = []

    @zk.properties("/pcb")
    def changed(data):
        calls.append(dict(data))

    assert isinstance(changed, zkservices.Properties)
    assert calls == [{"v": 0}]
    for v in (1, 2, 3):
        zk_client.set("/pcb", json.dumps({"v": v}).encode())
        wait_for(lambda v=v: calls[-1] == {"v": v}, what=f"v={v}")
    zk_client.set("/pcb", b'{"v":3}')  # same content, new version: not a change
    zk_client.set("/pcb", b'{"v":4}')
    wait_for(lambda: calls[-1] == {"v": 4}, what="v=4")
    assert calls == [{"v": v} for v in range(5)]


def test_children_change_for_two_argument_callbacks(zk, zk_client):
    zk_client.create("/cc/a", makepath=True)
    zk_client.create("/cc/b")
    changes = []

    @zk.children("/cc")
    def changed(view, change):
        changes.append(change)

    assert changes == [ChildrenChange(added=frozenset({"a", "b"}), removed=frozenset())]
    zk_client.create("/cc/c")
    wait_for(lambda: len(changes) == 2, what="second call")
    assert changes[1] == ChildrenChange(frozenset({"c"}), frozenset())
    zk_client.delete("/cc/a")
    wait_for(lambda: len(changes) == 3, what="third call")
    assert changes[2].added == frozenset() and changes[2].removed == frozenset({"a"})


def test_callbacks_run_in_order_on_the_worker_never_concurrently(zk, zk_client):
    zk_client.create("/order", b'{"n":0}')
    kazoo_threads = []
    zk.exists("/order", watch=lambda event: kazoo_threads.append(threading.current_thread()))
    log = []
    threads = []
    busy = threading.Lock()
    overlaps = []

    def make(name):
        def callback(data):
            if not busy.acquire(blocking=False):
                overlaps.append(name)
                return
            try:
                threads.append(threading.current_thread())
                log.append((name, data["n"]))
                time.sleep(0.002)  # widen the window a concurrent call would need
            finally:
                busy.release()
        return callback

    view = zk.properties("/order")
    for name in "ABC":
        view(make(name))
    other = zk.properties("/order")
    other(make("D"))
    for n in range(1, 11):
        zk_client.set("/order", json.dumps({"n": n}).encode())
    wait_for(lambda: ("D", 10) in log and ("C", 10) in log, what="n=10 seen by all")
    assert not overlaps
    # per view: A, B, C in registration order for every value they saw
    seen = [entry for entry in log if entry[0] in "ABC"]
    for i in range(0, len(seen), 3):
        assert [name for name, _ in seen[i:i + 3]] == ["A", "B", "C"]
        assert len({n for _, n in seen[i:i + 3]}) == 1
    # values only go forward
    for name in "ABCD":
        values = [n for who, n in log if who == name]
        assert values == sorted(set(values))
    wait_for(lambda: kazoo_threads, what="kazoo's own watch")
    worker = threads[0]
    assert all(t is worker for t in threads)
    assert worker.name.startswith("zkservices-worker")
    assert worker is not threading.main_thread()
    assert worker is not kazoo_threads[0]


def test_failing_callback_is_logged_and_removed_others_go_on(zk, zk_client, caplog):
    caplog.set_level(logging.DEBUG, logger="zkservices")
    zk_client.create("/fail", b'{"v":0}')
    good, bad_calls = [], []
    view = zk.properties("/fail")

    def bad(data):
        bad_calls.append(data["v"])
        if data["v"] == 1:
            raise RuntimeError("boom in callback")

    view(bad)
    view(lambda data: good.append(data["v"]))
    zk_client.set("/fail", b'{"v":1}')
    wait_for(lambda: good[-1:] == [1], what="v=1")
    zk_client.set("/fail", b'{"v":2}')
    wait_for(lambda: good[-1:] == [2], what="v=2")
    assert good == [0, 1, 2]
    assert bad_calls == [0, 1]  # removed after raising
    assert bad not in view.callbacks and len(view.callbacks) == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("zkservices.")]
    assert len(errors) == 1
    assert errors[0].exc_info and "boom in callback" in str(errors[0].exc_info[1])
    assert "/fail" in errors[0].getMessage()


def test_cancel_watch_removes_quietly(zk, zk_client, caplog):
    caplog.set_level(logging.DEBUG, logger="zkservices")
    zk_client.create("/cancel/a", makepath=True)
    calls, others = [], []

    def once_more(view):
        calls.append(sorted(view))
        if len(calls) == 2:
            raise CancelWatch()

    view = zk.children("/cancel")
    view(once_more)
    view(lambda v: others.append(sorted(v)))
    for name in "bcd":
        zk_client.create(f"/cancel/{name}")
        wait_for(lambda name=name: others[-1][-1:] == [name], what=f"{name} seen")
    assert len(calls) == 2
    assert once_more not in view.callbacks
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_cancel_watch_on_first_call(zk, zk_client):
    zk_client.create("/cancel1")
    calls = []

    def no_thanks(view):
        calls.append(1)
        raise CancelWatch()

    view = zk.children("/cancel1")
    view(no_thanks)  # no error
    assert view.callbacks == ()
    zk_client.create("/cancel1/x")
    wait_for(lambda: "x" in view, what="x")
    _settle(zk)
    assert calls == [1]


def test_first_call_error_propagates_and_callback_is_not_kept(zk, zk_client):
    zk_client.create("/first", b'{"a":1}')
    calls = []

    def broken(data):
        calls.append(dict(data))
        raise ZeroDivisionError("first call")

    view = zk.properties("/first")
    with pytest.raises(ZeroDivisionError):
        view(broken)
    assert view.callbacks == ()
    zk_client.set("/first", b'{"a":2}')
    wait_for(lambda: view["a"] == 2, what="a=2")
    _settle(zk)
    assert calls == [{"a": 1}]


def test_callback_needing_three_arguments_is_refused(zk, zk_client):
    zk_client.create("/three")
    with pytest.raises(TypeError):
        zk.children("/three")(lambda a, b, c: None)


def test_close_stops_updates_and_callbacks(zk, zk_client):
    zk_client.create("/closing", b'{"v":0}')
    closed_calls, open_calls = [], []
    closing = zk.properties("/closing")
    closing(lambda d: closed_calls.append(d["v"]))
    staying = zk.properties("/closing")
    staying(lambda d: open_calls.append(d["v"]))
    closing.close()
    closing.close()  # idempotent
    assert closing.closed and closing.callbacks == ()
    zk.set("/closing", b'{"v":1}')  # settles: every queued refresh and callback has run
    assert open_calls == [0, 1]
    assert closed_calls == [0]
    assert closing["v"] == 0  # frozen
    with pytest.raises(ValueError):
        closing(lambda d: None)
    with pytest.raises(ValueError):
        closing.update(v=5)
    assert props(zk_client, "/closing") == {"v": 1}


def test_closed_view_releases_kazoo_watcher(zk, zk_client):
    zk_client.create("/release")
    view = zk.children("/release")
    view(lambda v: None)
    ref = weakref.ref(view)
    view.close()
    del view
    gc.collect()
    assert ref() is None


def test_view_with_callbacks_survives_garbage_collection(zk, zk_client):
    zk_client.create("/gc")
    calls = []
    zk.children("/gc")(lambda v: calls.append(sorted(v)))  # not kept by the caller
    gc.collect()
    zk_client.create("/gc/new")
    wait_for(lambda: calls[-1:] == [["new"]], what="callback of an unreferenced view")


def test_view_without_callbacks_can_be_collected(zk, zk_client):
    zk_client.create("/gc2")
    view = zk.children("/gc2")
    pview = zk.properties("/gc2")
    refs = [weakref.ref(view), weakref.ref(pview)]
    del view, pview
    gc.collect()
    assert [r() for r in refs] == [None, None]
    # and the session goes on working after the watch fires for nobody
    zk_client.create("/gc2/x")
    assert zk.children("/gc2") is not None


# -- deletion ---------------------------------------------------------------


def test_node_deletion_and_recreation(zk, zk_client):
    zk_client.create("/del/a", b"", makepath=True)
    zk_client.set("/del", b'{"p":1}')
    kids = zk.children("/del")
    data = zk.properties("/del")
    any_args, one_arg, prop_any = [], [], []
    kids(lambda *args: any_args.append(args))
    kids(lambda view: one_arg.append(sorted(view)))
    data(lambda *args: prop_any.append(args))
    assert len(any_args[0]) == 2 and any_args[0][0] is kids  # (view, change) normally
    zk_client.delete("/del", recursive=True)
    wait_for(lambda: kids.deleted and data.deleted, what="views see the deletion")
    wait_for(lambda: any_args[-1:] == [()] and prop_any[-1:] == [()] and one_arg[-1:] == [[]],
             what="the calls after the deletion")
    assert list(kids) == [] and len(kids) == 0
    assert dict(data) == {}
    assert one_arg[-1] == []  # a callback that needs the view still gets it
    with pytest.raises(NodeDeleted):
        data.update(p=2)
    with pytest.raises(NodeDeleted):
        data.set(p=2)
    assert zk_client.exists("/del") is None  # not re-created
    # watching resumes when the node comes back
    zk_client.create("/del", b'{"p":3}')
    zk_client.create("/del/b")
    wait_for(lambda: list(kids) == ["b"] and dict(data) == {"p": 3}, what="resumed")
    assert not kids.deleted and not data.deleted
    wait_for(lambda: prop_any[-1] == (data,), what="callback after re-creation")
    data.update(q=4)
    assert props(zk_client, "/del") == {"p": 3, "q": 4}
    zk_client.create("/del/c")
    wait_for(lambda: one_arg[-1] == ["b", "c"], what="later changes")


def test_view_of_missing_node_raises(zk):
    with pytest.raises(NoNodeError):
        zk.children("/does/not/exist")
    with pytest.raises(NoNodeError):
        zk.properties("/does/not/exist")


# -- Properties data forms ----------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"null"])
def test_empty_or_null_data_reads_as_empty(zk, zk_client, raw):
    zk_client.create("/empty", raw)
    data = zk.properties("/empty")
    assert dict(data) == {} and len(data) == 0
    data.update(a=1)
    assert props(zk_client, "/empty") == {"a": 1}


@pytest.mark.parametrize("raw", [b"hello world", b"[1, 2]", b'"text"', b"\xff\xfe binary"])
def test_non_json_data_reads_as_string_value_and_is_not_merged_into(zk, zk_client, raw):
    zk_client.create("/text", raw)
    data = zk.properties("/text")
    assert list(data) == ["string_value"]
    assert data["string_value"] == raw.decode("utf-8", "replace")
    assert zk.get_properties("/text") == {"string_value": raw.decode("utf-8", "replace")}
    with pytest.raises(ValueError):
        data.update(a=1)
    with pytest.raises(ValueError):
        data["a"] = 1
    assert zk_client.get("/text")[0] == raw  # not overwritten by reads or refused writes
    data.set(a=1)
    assert zk_client.get("/text")[0] == b'{"a":1}'
    assert dict(data) == {"a": 1}


def test_watch_false_reads_once_writes_and_refuses_callbacks(zk, zk_client):
    zk_client.create("/once", b'{"a":1}')
    once = zk.properties("/once", watch=False)
    watched = zk.properties("/once")
    assert dict(once) == {"a": 1}
    with pytest.raises(TypeError):
        once(lambda d: None)
    zk_client.set("/once", b'{"a":2}')
    wait_for(lambda: watched["a"] == 2, what="watched view updated")
    _settle(zk)
    assert once["a"] == 1  # did not follow the change
    once.update(b=3)
    assert props(zk_client, "/once") == {"a": 2, "b": 3}
    assert dict(once) == {"a": 2, "b": 3}  # shows what it wrote


def test_get_properties_returns_a_plain_dict(zk, zk_client):
    zk_client.create("/cms", b'{"threads":3}')
    zk_client.create("/gp", b'{"x":1,"threads =>":"../cms"}')
    result = zk.get_properties("/gp")
    assert type(result) is dict
    assert result == {"x": 1, "threads": 3}


# -- property links -------------------------------------------------------------


def test_property_links_read_iterate_and_contain(zk, zk_client):
    zk_client.create("/cms", b'{"threads":3,"db":"main"}')
    zk_client.create("/fooservice", json.dumps({
        "own": 1,
        "threads =>": "../cms threads",
        "t2 =>": "/cms threads",
        "db =>": "../cms",
    }).encode())
    data = zk.properties("/fooservice")
    assert data["threads"] == 3 and data["t2"] == 3 and data["db"] == "main"
    assert sorted(data) == ["db", "own", "t2", "threads"]
    assert sorted(data.keys()) == ["db", "own", "t2", "threads"]
    assert data["threads =>"] == "../cms threads"
    assert "threads" in data and "threads =>" in data
    assert "threads ->" not in data
    assert dict(data.items())["threads"] == 3


def test_linked_node_changes_call_callbacks(zk, zk_client):
    zk_client.create("/cms", b'{"threads":3}')
    zk_client.create("/svc", b'{"threads =>":"../cms threads"}')
    calls = []

    @zk.properties("/svc")
    def changed(data):
        calls.append(data["threads"])

    zk_client.set("/cms", b'{"threads":4}')
    wait_for(lambda: calls[-1:] == [4], what="linked change")
    zk_client.set("/cms", b'{"threads":5,"other":1}')
    wait_for(lambda: calls[-1:] == [5], what="second linked change")
    assert calls == [3, 4, 5]


@pytest.mark.parametrize("link", ["", "   ", "a b c", "/missing", "../missing prop", "../cms nosuch", 42])
def test_bad_property_link_refused_on_write(zk, zk_client, link):
    zk_client.create("/cms", b'{"threads":3}')
    zk_client.create("/svc", b'{"a":1}')
    before = zk_client.get("/svc")
    data = zk.properties("/svc")
    with pytest.raises(BadPropertyLink):
        data.update({"threads =>": link})
    with pytest.raises(BadPropertyLink):
        data.set({"threads =>": link})
    with pytest.raises(ValueError):  # BadPropertyLink is a ValueError
        data["threads =>"] = link
    after = zk_client.get("/svc")
    assert after[0] == before[0] and after[1].version == before[1].version
    assert dict(data) == {"a": 1}


def test_bad_property_link_already_stored_raises_on_read(zk, zk_client):
    zk_client.create("/svc", b'{"a":1,"x =>":"/missing"}')
    data = zk.properties("/svc")
    assert data["a"] == 1 and "x" in data
    with pytest.raises(BadPropertyLink):
        data["x"]


def test_property_link_loop_raises_link_loop_on_read(zk, zk_client):
    zk_client.create("/la", b'{"x =>":"/lb x"}')
    zk_client.create("/lb", b'{"x =>":"/la x"}')
    zk_client.create("/self", b'{"y =>":". y"}')
    with pytest.raises(LinkLoop):
        zk.properties("/la")["x"]
    with pytest.raises(LinkLoop):
        zk.properties("/self")["y"]
    # writing a loop is refused too, leaving the node unchanged
    zk_client.create("/lc", b"{}")
    with pytest.raises(ValueError):
        zk.properties("/lc").update({"z =>": "/lc z"})
    assert zk_client.get("/lc")[0] == b"{}"


# -- symbolic links ---------------------------------------------------------------


def test_ln_and_resolve(zk, zk_client):
    zk_client.create("/real/child", makepath=True)
    zk_client.create("/dir")
    zk.ln("/real", "/dir/abs")
    zk.ln("../real", "/dir/rel")
    zk.ln(".", "/dir/self")
    zk.ln("/real/", "/dir/child")  # ends in '/': source name appended
    assert props(zk_client, "/dir") == {"abs ->": "/real", "rel ->": "../real", "self ->": ".",
                                        "child ->": "/real/child"}
    assert zk.resolve("/dir/abs") == "/real"
    assert zk.resolve("/dir/rel") == "/real"
    assert zk.resolve("/dir/rel/child") == "/real/child"
    assert zk.resolve("/dir/self/abs") == "/real"
    assert zk.resolve("/dir/child") == "/real/child"
    assert zk.resolve("/real") == "/real"
    with pytest.raises(NoNodeError):
        zk.resolve("/dir/nothing")
    with pytest.raises(NoNodeError):
        zk.resolve("/dir/abs/nothing")


def test_real_child_wins_over_link(zk, zk_client):
    zk_client.create("/other")
    zk_client.create("/d/name", makepath=True)
    zk.ln("/other", "/d/name")
    assert zk.resolve("/d/name") == "/d/name"


def test_symbolic_link_loop(zk, zk_client):
    zk_client.create("/loop", b'{"a ->":"b","b ->":"a","me ->":"me"}')
    with pytest.raises(LinkLoop):
        zk.resolve("/loop/a")
    with pytest.raises(LinkLoop):
        zk.resolve("/loop/me/x")
    with pytest.raises(LinkLoop):
        zk.children("/loop/a")


def test_views_registration_and_writes_through_a_link(zk, zk_client):
    zk_client.create("/real", b'{"a":1}')
    zk.ln("/real", "/alias")
    kids = zk.children("/alias")
    data = zk.properties("/alias")
    assert kids.path == "/alias" and kids.real_path == "/real"
    assert data["a"] == 1
    reg = zk.register_server("/alias", "10.0.0.1:1")
    assert reg.paths == ("/real/10.0.0.1:1",)
    assert zk_client.get_children("/real") == ["10.0.0.1:1"]
    assert list(kids) == ["10.0.0.1:1"]
    data.update(b=2)
    assert props(zk_client, "/real") == {"a": 1, "b": 2}
    assert zk_client.exists("/alias") is None  # no node was made for the link itself
    zk.properties("/alias/10.0.0.1:1").update(weight=5)
    assert props(zk_client, "/real/10.0.0.1:1")["weight"] == 5
    zk.unregister("/alias", "10.0.0.1:1")
    assert zk_client.get_children("/real") == []


def test_view_follows_link_to_its_new_target_when_node_deleted(zk, zk_client):
    zk_client.create("/t1", b'{"n":1}')
    zk_client.create("/t2", b'{"n":2}')
    zk.ln("/t1", "/cur")
    data = zk.properties("/cur")
    assert data["n"] == 1
    zk.ln("/t2", "/cur")
    zk_client.delete("/t1")
    wait_for(lambda: data.real_path == "/t2" and data.get("n") == 2, what="view re-resolved")
    assert not data.deleted


def test_a_slow_callback_delays_but_never_fails_a_write(zk, zk_client, caplog):
    # The write's own wait for the views is bounded: a callback that blocks the
    # worker longer than that makes the write log a warning, not fail.
    zk_client.create("/slow", b"{}")
    release = threading.Event()
    calls = []

    @zk.properties("/slow")
    def blocker(data):
        calls.append(dict(data))
        if len(calls) == 2:
            release.wait(30)

    original = zk.core.settle
    zk.core.settle = lambda timeout=0.3: original(timeout)
    try:
        with caplog.at_level(logging.WARNING, logger="zkservices.session"):
            zk.properties("/slow").update(a=1)  # the callback blocks the worker
        assert any("did not catch up" in r.getMessage() for r in caplog.records)
        assert zk_client.get("/slow")[0] == b'{"a":1}'
    finally:
        release.set()
    wait_for(lambda: calls[-1] == {"a": 1})


def test_property_link_target_deleted_and_recreated_is_followed(zk, zk_client):
    zk_client.create("/cms", b'{"threads":3}')
    zk_client.create("/svc", b'{"threads =>":"../cms threads"}')
    calls = []

    @zk.properties("/svc")
    def changed(data):
        try:
            calls.append(data["threads"])
        except BadPropertyLink:
            calls.append("bad")

    zk_client.delete("/cms")
    wait_for(lambda: calls[-1:] == ["bad"], what="link dangles")
    zk_client.create("/cms", b'{"threads":7}')
    wait_for(lambda: calls[-1:] == [7], timeout=10, what="link target re-created")
    zk_client.set("/cms", b'{"threads":8}')
    wait_for(lambda: calls[-1:] == [8], timeout=10, what="change of re-created target")


def test_deleted_then_link_retargeted(zk, zk_client):
    zk_client.create("/blue", b'{"v":"blue"}')
    zk_client.create("/green", b'{"v":"green"}')
    zk_client.create("/links", b'{"cur ->":"/blue"}')
    d = zk.properties("/links/cur")
    k = zk.children("/links/cur")
    zk_client.delete("/blue")
    wait_for(lambda: d.deleted and k.deleted, what="deleted")
    zk_client.set("/links", b'{"cur ->":"/green"}')
    wait_for(lambda: not d.deleted and d.get("v") == "green", timeout=5, what="follows retargeted link")
    wait_for(lambda: not k.deleted and k.real_path == "/green", timeout=5, what="children follows")


def test_callback_registers_another_view_from_the_worker(zk, zk_client):
    zk_client.create("/svc", b'{"a":1}')
    zk_client.create("/other", b'{"b":1}')
    inner = []
    views = []

    @zk.properties("/svc")
    def changed(d):
        if d["a"] == 2 and not views:
            v = zk.properties("/other")
            v(lambda o: inner.append(o["b"]))
            views.append(v)
            v.update(b=5)  # a write from the worker must not wait for the worker

    zk_client.set("/svc", b'{"a":2}')
    wait_for(lambda: inner[-1:] == [5], what="inner view sees its own write")
    zk_client.set("/other", b'{"b":6}')
    wait_for(lambda: inner[-1:] == [6], what="inner view follows changes")


def test_close_from_inside_a_callback(zk_connection_string, zk_client):
    zk_client.create("/svc", b'{"a":1}')
    zk = zkservices.ZooKeeper(zk_connection_string)
    reg = zk.register_server("/svc/providers", "10.0.0.1:80")
    data = zk.properties("/svc")
    seen = []

    def closer(d):
        seen.append(d.get("a"))
        if d.get("a") == 2:
            zk.close()

    data(closer)
    data(lambda d: seen.append("second"))
    zk_client.set("/svc", b'{"a":2}')
    wait_for(lambda: zk.closed, what="closed from the callback")
    wait_for(lambda: zk_client.exists(reg.paths[0]) is None, what="registration gone")
    zk.close()
    # the view was closed by the first callback: the second is not called after it
    assert seen == [1, "second", 2]
    assert not any(t.name.startswith("zkservices-worker") and t.is_alive() and str(id(zk)) in t.name
                   for t in threading.enumerate())


# -- many children -------------------------------------------------------------


def test_children_view_over_thousands_of_children_gets_every_add_and_remove(zk, zk_client):
    n = 3000
    zk_client.create("/many")
    for start in range(0, n, 1000):
        transaction = zk_client.transaction()
        for i in range(start, start + 1000):
            transaction.create(f"/many/c{i:04d}")
        assert not any(isinstance(r, Exception) for r in transaction.commit())
    view = zk.children("/many")
    known: set[str] = set()
    calls = []

    def changed(v, change):
        assert not (change.added & known) and change.removed <= known  # a true diff of what was seen
        known.difference_update(change.removed)
        known.update(change.added)
        calls.append(len(v))

    view(changed)
    assert len(known) == n and list(view) == sorted(known)
    for round_ in range(3):
        for i in range(round_ * 20, round_ * 20 + 20):
            zk_client.create(f"/many/new{i:03d}")
            zk_client.delete(f"/many/c{i:04d}")
        if round_ == 1:
            expire_session(zk)
        truth = set(zk_client.get_children("/many"))
        wait_for(lambda: known == truth, what=f"round {round_}: the view's changes add up to the server's children")
        assert list(view) == sorted(truth) and len(view) == n and "new000" in view
    assert ChildrenChange(frozenset({"a"}), frozenset()) == ChildrenChange.between(["b"], ["b", "a"])
    assert hash(ChildrenChange(added={"a"})) == hash(ChildrenChange.between((), ["a"]))
    assert repr(ChildrenChange.between(["x"], [])) == "ChildrenChange(added=frozenset(), removed=frozenset({'x'}))"
