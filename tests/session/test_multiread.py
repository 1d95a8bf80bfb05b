"""Plain reads gathered into multi-reads (zkservices._session.multiread, through a Burst):
each read's own outcome, exactly as kazoo's own call gives it, order kept with writes
between reads, watched reads left alone, and a server that does not know the request
answered by sending the reads one by one -- against a real server."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest
from kazoo.exceptions import NoAuthError, NoNodeError
from kazoo.security import make_digest_acl

import zkservices
from zkservices._session import multiread
from zkservices._session.bridge import AsyncBridge
from zkservices._session.multiread import MULTI_READ_AT_MOST, MultiRead
from zkservices._session.pipe import Burst, Pipe, Slot


class RecordingPipe(Pipe):
    """A real pipe that also notes the kinds of request each flush hands to kazoo."""

    def __init__(self, client):
        super().__init__(client)
        self.flushed = []

    def flush(self, burst):
        pairs = list(burst)
        self.flushed.append([type(request).__name__ for request, _ in pairs])
        super().flush(pairs)


def _outcome(slot):
    assert slot.wait(30)
    try:
        return ("value", slot.get())
    except Exception as exc:
        return ("error", type(exc))


def _kazoo_outcome(call, *args):
    try:
        return ("value", call(*args))
    except Exception as exc:
        return ("error", type(exc))


def test_reads_in_a_burst_go_as_one_request_and_answer_as_kazoo_does(zk, zk_client):
    zk_client.create("/a", b"A")
    zk_client.create("/a/x", b"")
    zk_client.create("/b", b'{"port": 80}')
    zk_client.create("/null")  # empty data
    client = zk.client  # in the test's chroot: the multi-read's paths carry it
    reads = [(client.get_async, "/a"), (client.get_children_async, "/a"), (client.get_async, "/missing"),
             (client.get_children_async, "/missing"), (client.get_async, "/b"), (client.get_async, "/null"),
             (client.get_children_async, "/"), (client.get_async, "/a/x")]
    pipe = RecordingPipe(client)
    burst = Burst(pipe)
    slots = [burst.call(start, path) for start, path in reads]
    burst.flush()
    assert pipe.flushed == [["MultiRead"]]
    sync = {client.get_async: client.get, client.get_children_async: client.get_children}
    assert [_outcome(slot) for slot in slots] == [_kazoo_outcome(sync[start], path) for start, path in reads]
    assert _outcome(slots[2]) == ("error", NoNodeError)
    assert sorted(_outcome(slots[6])[1]) == ["a", "b", "null"]


def test_a_refused_read_fails_alone(zk, zk_client):
    zk_client.create("/secret", b"s", acl=[make_digest_acl("alice", "secret", all=True)])
    zk_client.create("/open", b"o")
    burst = Burst(Pipe(zk.client))
    slots = [burst.call(zk.client.get_async, path) for path in ("/open", "/secret", "/open")]
    burst.flush()
    outcomes = [_outcome(slot) for slot in slots]
    assert outcomes[0][1][0] == b"o" and outcomes[2][1][0] == b"o"
    assert outcomes[1] == ("error", NoAuthError)
    assert not slots[1].error.args  # as kazoo's own: callers name the node themselves


def test_order_is_kept_with_writes_between_reads(zk, zk_client):
    zk_client.create("/a", b"1")
    zk_client.create("/b", b"1")
    pipe = RecordingPipe(zk.client)
    burst = Burst(pipe)
    client = zk.client
    before = [burst.call(client.get_async, "/a"), burst.call(client.get_async, "/b")]
    written = burst.call(client.set_async, "/a", b"2")
    exists = burst.call(client.exists_async, "/a")  # not a multi-read operation: its own request
    after = [burst.call(client.get_async, "/a"), burst.call(client.get_async, "/b")]
    made = burst.send(client.create_async, ("/c", b"3"), {}, None)  # a plain call: the burst goes first
    lone = burst.call(client.get_async, "/c")
    burst.flush()
    assert pipe.flushed == [["MultiRead", "SetData", "Exists", "MultiRead"], ["GetData"]]
    assert made.get(timeout=30) == "/c"
    assert [_outcome(s)[1][0] for s in before] == [b"1", b"1"]
    assert _outcome(written)[1].version == 1 and _outcome(exists)[1].version == 1
    assert [_outcome(s)[1][0] for s in after] == [b"2", b"1"]
    assert _outcome(lone)[1][0] == b"3"


def test_watched_reads_are_sent_on_their_own_and_their_watch_fires(zk, zk_client):
    zk_client.create("/w", b"1")
    fired = threading.Event()
    pipe = RecordingPipe(zk.client)
    burst = Burst(pipe)
    first = burst.call(zk.client.get_async, "/w")
    watched = burst.send(zk.client.get_async, ("/w",), {"watch": lambda event: fired.set()}, Slot())
    last = burst.call(zk.client.get_async, "/w")
    burst.flush()
    assert pipe.flushed == [["GetData", "GetData", "GetData"]]
    assert all(_outcome(s)[1][0] == b"1" for s in (first, watched, last))
    zk_client.set("/w", b"2")
    assert fired.wait(10)


def test_more_reads_than_one_request_holds(zk, zk_client):
    transaction = zk_client.transaction()
    count = MULTI_READ_AT_MOST + 7
    for i in range(count):
        transaction.create(f"/n{i}", str(i).encode())
    assert all(r is not None and not isinstance(r, Exception) for r in transaction.commit())
    pipe = RecordingPipe(zk.client)
    burst = Burst(pipe)
    slots = [burst.call(zk.client.get_async, f"/n{i}") for i in range(count)]
    burst.flush()
    assert pipe.flushed == [["MultiRead", "MultiRead"]]
    assert [_outcome(s)[1][0] for s in slots] == [str(i).encode() for i in range(count)]


def test_large_nodes_in_one_reply(zk, zk_client):
    big = [bytes([65 + i]) * 900_000 for i in range(4)]
    for i, data in enumerate(big):
        zk_client.create(f"/big{i}", data)
    burst = Burst(Pipe(zk.client))
    slots = [burst.call(zk.client.get_async, f"/big{i}") for i in range(4)]
    burst.flush()
    assert [_outcome(s)[1][0] for s in slots] == big


def test_a_server_that_does_not_know_the_request(zk_connection_string, zk_client, monkeypatch, caplog):
    # A request type the server does not know is answered UNIMPLEMENTED (and the
    # connection closed), as servers before 3.6 answer a multi-read: the client is
    # marked, the reads go again one by one (or are retried), and the export is whole.
    for name in ("a/b", "a/c", "d/e", "f"):
        zk_client.ensure_path(f"/t/{name}")
    zk_client.set("/t/a", b'{"x": 1}')
    with zkservices.ZooKeeper(zk_connection_string) as zk:
        expected = zk.export_tree("/t")
        monkeypatch.setattr(MultiRead, "type", 99)
        with caplog.at_level(logging.INFO, logger="zkservices.session"):
            assert zk.export_tree("/t") == expected
        assert not multiread.multi_reads(zk.core.client)
        assert "does not know multi-reads" in caplog.text
        pipe = RecordingPipe(zk.core.client)
        burst = Burst(pipe)
        slots = [burst.call(zk.core.client.get_async, p) for p in ("/t", "/t/a")]
        burst.flush()
        assert pipe.flushed == [["GetData", "GetData"]]  # from now on, one request each
        assert _outcome(slots[1])[1][0] == b'{"x": 1}'
        assert zk.import_tree(expected, "/") == []  # unchanged, read one request each


def test_trees_read_the_same_with_or_without_multi_reads(zk_connection_string, zk_client):
    text = "".join(f"/s{i}\n  port = {i}\n" + "".join(f"  /m{j} : x\n    w = {j}\n" for j in range(3))
                   for i in range(30))
    with zkservices.ZooKeeper(zk_connection_string) as zk, zkservices.ZooKeeper(zk_connection_string) as plain:
        zk.import_tree(text, "/")
        multiread.refuse(plain.core.client)
        for form in ("text", "yaml"):
            assert plain.export_tree("/", format=form) == zk.export_tree("/", format=form)
        assert plain.import_tree(text, "/") == [] == zk.import_tree(text, "/")


def test_concurrent_aio_reads_each_get_their_own_outcome(zk, zk_client):
    for i in range(300):
        zk_client.create(f"/r{i}", str(i).encode())
    bridge = AsyncBridge(zk.core)

    async def main():
        calls = [bridge.send(zk.client.get_async, f"/r{i}" if i % 7 else f"/gone{i}") for i in range(600)]
        return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = asyncio.run(asyncio.wait_for(main(), 60))
    for i, outcome in enumerate(outcomes):
        if i % 7 == 0 or i >= 300:
            assert isinstance(outcome, NoNodeError), (i, outcome)
        else:
            assert outcome[0] == str(i).encode()


@pytest.mark.parametrize("count", [0, 1, 2])
def test_multi_read_request_bytes(count):
    # the request's own bytes: header, path, no watch, for each read; the end marker
    from kazoo.protocol.serialization import GetChildren, GetData
    requests = [GetData(f"/p{i}", None) if i % 2 else GetChildren(f"/p{i}", None) for i in range(count)]
    raw = MultiRead(requests).serialize()
    assert raw.endswith(b"\xff\xff\xff\xff\x01\xff\xff\xff\xff")
    assert len(raw) == 9 + sum(9 + 4 + len(r.path) + 1 for r in requests)
    assert "MultiRead(%d reads)" % count == repr(MultiRead(requests))


def _tree_text(services, members):
    return "".join(f"/s{i}\n  port = {i}\n" + "".join(f"  /m{j}\n    host = \"10.0.{i}.{j}\"\n    w = {j}\n"
                                                         for j in range(members))
                   for i in range(services))


def test_exports_go_on_through_dropped_connections_and_an_expiry(zk_connection_string):
    # a multi-read in flight when the connection goes fails as a whole (ConnectionLoss or
    # SessionExpired for every read of it); the export starts over and comes out whole
    from zkservices.testing import drop_connection, expire_session

    text = _tree_text(40, 60)  # ~2,500 nodes: several multi-reads per export
    with zkservices.ZooKeeper(zk_connection_string) as zk:
        zk.import_tree(text, "/")
        expected = zk.export_tree("/")
        faults = [lambda: drop_connection(zk)] * 4 + [lambda: expire_session(zk)]
        for i, fault in enumerate(faults):
            exported = []
            reader = threading.Thread(target=lambda: exported.append(zk.export_tree("/")))
            reader.start()
            threading.Event().wait(0.005 * i)  # at another point of the export each time
            fault()
            reader.join(60)
            assert not reader.is_alive(), "the export hung"
            assert exported == [expected]
        assert multiread.multi_reads(zk.core.client)  # a lost connection is not a refusal


def test_multi_reads_on_a_follower_of_an_ensemble(zk_ensemble):
    import uuid

    root = f"/multiread-{uuid.uuid4().hex[:8]}"
    leader = zk_ensemble.leader()
    follower = next(s for s in zk_ensemble.servers if s is not leader)
    text = _tree_text(10, 20)
    with zkservices.ZooKeeper(leader.connection_string) as admin:
        admin.core.client.ensure_path(root)
    with zkservices.ZooKeeper(leader.connection_string + root) as writer, \
            zkservices.ZooKeeper(follower.connection_string + root) as reader:
        writer.import_tree(text, "/")
        reader.core.client.sync("/")
        assert reader.export_tree("/") == writer.export_tree("/")
        assert reader.import_tree(text, "/") == []
        pipe = RecordingPipe(reader.core.client)
        burst = Burst(pipe)
        slots = [burst.call(reader.core.client.get_async, f"/s{i}") for i in range(10)]
        burst.flush()
        assert pipe.flushed == [["MultiRead"]]
        assert [_outcome(slot)[1][0] for slot in slots] == [
            reader.core.client.get(f"/s{i}")[0] for i in range(10)]
        assert b'"port"' in _outcome(slots[3])[1][0]
