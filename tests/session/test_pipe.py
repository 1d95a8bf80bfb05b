"""The pipe hands a turn's requests to kazoo with one wake-up (zkservices._session.pipe),
as the asyncio bridge uses it: order kept with plain calls between piped ones, the
chroot applied by kazoo's own code, bad arguments and a closed client answered, and
plain calls only where kazoo's internals are missing -- against a real server."""

from __future__ import annotations

import asyncio
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionClosedError, NoNodeError

import zkservices
import zkservices.aio
from zkservices._session import pipe as pipe_module
from zkservices._session.bridge import AsyncBridge
from zkservices._session.pipe import Pipe


class _Result:
    """A piped request's result for a thread that waits (what kazoo's connection thread sets)."""

    def __init__(self):
        self.done = threading.Event()
        self.outcome = None

    def set(self, value=None):
        self.outcome = ("value", value)
        self.done.set()

    def set_exception(self, exception):
        self.outcome = ("error", exception)
        self.done.set()


def test_a_burst_is_answered_in_full_and_in_the_chroot(zk, zk_client):
    # zk's client has a chroot of the test's own: the request is built by kazoo's code
    zk_client.create("/a", b"in the chroot")
    pipe = Pipe(zk.client)
    assert pipe.usable and "usable" in repr(pipe)
    calls = [(zk.client.get_async, ("/a",)), (zk.client.exists_async, ("/missing",)),
             (zk.client.get_children_async, ("/",)), (zk.client.get_async, ("/missing",)),
             (zk.client.set_async, ("/a", b"changed")), (zk.client.get_async, ("/a",))]
    results = [_Result() for _ in calls]
    pipe.flush((pipe.build(start, args, {}, result), result) for (start, args), result in zip(calls, results))
    for result in results:
        assert result.done.wait(10)
    outcomes = [result.outcome for result in results]
    assert outcomes[0][1][0] == b"in the chroot"
    assert outcomes[1] == ("value", None)
    assert outcomes[2] == ("value", ["a"])
    assert outcomes[3][0] == "error" and isinstance(outcomes[3][1], NoNodeError)
    assert outcomes[4][1].version == 1
    assert outcomes[5][1][0] == b"changed"


def test_which_calls_are_piped(zk):
    pipe = Pipe(zk.client)
    assert pipe.pipes(zk.client.get_async) and pipe.pipes(zk.client.delete_async)
    assert not pipe.pipes(zk.client.create_async)  # kazoo chains its result: a plain call
    assert not pipe.pipes(zk.client.ensure_path_async)
    assert not pipe.pipes(KazooClient("127.0.0.1:1").get_async)  # another client's call


def test_bad_arguments_fail_their_own_call_only(zk, zk_client):
    zk_client.create("/a", b"1")
    bridge = AsyncBridge(zk.core)

    async def main():
        return await asyncio.gather(bridge.send(zk.client.get_async, "/a"),
                                    bridge.send(zk.client.get_async, 42),  # kazoo: TypeError
                                    bridge.send(zk.client.set_async, "/a", "not bytes"),
                                    bridge.send(zk.client.get_async, "/a"), return_exceptions=True)

    first, bad, bad_set, last = asyncio.run(asyncio.wait_for(main(), 30))
    assert first[0] == b"1" and last[0] == b"1"
    assert isinstance(bad, TypeError) and isinstance(bad_set, TypeError)


def test_plain_calls_between_piped_ones_keep_the_order(zk, zk_client):
    # create_async is a plain call: the reads made before it in the same turn go first,
    # those after it see its node
    bridge = AsyncBridge(zk.core)

    async def main():
        return await asyncio.gather(bridge.send(zk.client.exists_async, "/n"),
                                    bridge.send(zk.client.create_async, "/n", b"x"),
                                    bridge.send(zk.client.get_async, "/n"),
                                    bridge.send(zk.client.delete_async, "/n"),
                                    bridge.send(zk.client.exists_async, "/n"))

    before, created, (data, _), deleted, after = asyncio.run(asyncio.wait_for(main(), 30))
    assert before is None and created == "/n" and data == b"x" and deleted is True and after is None


def test_without_the_internals_every_call_is_plain(zk, zk_client, monkeypatch):
    monkeypatch.setattr(pipe_module.Pipe, "usable", property(lambda self: False))
    zk_client.create("/a", b'{"n": 1}')
    azk = zkservices.aio.AsyncZooKeeper(zk)
    assert "plain calls" in repr(azk._ops.bridge)

    async def main():
        return await asyncio.gather(*(azk.get_properties("/a") for _ in range(300)))

    assert asyncio.run(asyncio.wait_for(main(), 30)) == [{"n": 1}] * 300


def test_a_burst_in_flight_when_the_session_closes_is_answered(zk_connection_string, zk_client):
    # every await ends (its value, or SessionClosed): none is left waiting for kazoo
    zk_client.create("/a", b'{"n": 1}')

    async def main():
        azk = await zkservices.aio.connect(zk_connection_string)
        reads = [asyncio.ensure_future(azk.get_properties("/a")) for _ in range(3000)]
        await asyncio.sleep(0)  # the first requests are handed over
        await azk.close()
        return await asyncio.gather(*reads, return_exceptions=True)

    outcomes = asyncio.run(asyncio.wait_for(main(), 30))
    assert len(outcomes) == 3000
    assert all(o == {"n": 1} or isinstance(o, zkservices.SessionClosed) for o in outcomes), \
        {type(o) for o in outcomes}


def test_a_closed_client_fails_a_burst_at_once(zk_connection_string):
    zk = zkservices.ZooKeeper(zk_connection_string)
    client = zk.client
    zk.close()
    pipe = Pipe(client)
    results = [_Result() for _ in range(3)]
    pipe.flush((pipe.build(client.get_async, ("/",), {}, result), result) for result in results)
    for result in results:
        assert result.done.is_set()
        assert result.outcome[0] == "error" and isinstance(result.outcome[1], ConnectionClosedError)


def test_loops_in_two_threads_share_one_bridge(zk, zk_client):
    # each loop's turns build and hand over their own requests; every read gets its own node
    for i in range(50):
        zk_client.create(f"/n{i}", b'{"i": %d}' % i)
    azk = zkservices.aio.AsyncZooKeeper(zk)
    results = {}

    def run(name):
        async def main():
            return await asyncio.gather(*(azk.get_properties(f"/n{i % 50}") for i in range(1000)))

        results[name] = asyncio.run(asyncio.wait_for(main(), 30))

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [r["i"] for r in results["a"]] == [i % 50 for i in range(1000)]
    assert results["b"] == results["a"]


@pytest.mark.parametrize("chroot", ["", "/", "/a", "/a/b/", "//a//b"])
@given(path=st.one_of(st.sampled_from(["/", "/x", "/x/", "//x", "/x/./y", "/x/../y", "/.x", "x", "/x//y", "/é/ü"]),
                      st.lists(st.text(alphabet="ab./é", min_size=0, max_size=3), max_size=4).map("/".join),
                      st.lists(st.text(alphabet="ab.", min_size=1, max_size=3), max_size=4)
                      .map(lambda parts: "/" + "/".join(parts))))
def test_property_reads_are_built_as_kazoo_builds_them(chroot, path):
    # the shortcut for plain reads gives the very request kazoo's own method gives
    client = KazooClient("127.0.0.1:1" + chroot)
    pipe = Pipe(client)
    for start in (client.get_async, client.exists_async, client.get_children_async):
        try:
            expected = pipe.build_with_kazoo(start, (path,), {}, None)
        except ValueError as exc:  # kazoo refuses ".." and "." components
            with pytest.raises(type(exc)):
                pipe.build(start, (path,), {}, None)
            continue
        assert pipe.build(start, (path,), {}, None) == expected
        assert type(pipe.build(start, (path,), {}, None)) is type(expected)


def test_a_burst_queued_as_kazoo_replaces_its_queue_is_failed_not_lost(zk_connection_string, zk_client):
    # kazoo, on a session loss: sets the state, fails what its queue holds, then
    # replaces the queue.  A burst appended in between sits in the old queue, never
    # sent nor failed.  The loss is made to land exactly there: the queue's extend
    # does what kazoo's thread would do at that moment (as on a real expiry, where
    # the window is a few bytecodes wide).
    from collections import deque

    from kazoo.exceptions import SessionExpiredError
    from kazoo.protocol.states import KeeperState

    zk_client.create("/a", b"1")
    client = KazooClient(zk_connection_string)
    client.start()
    try:
        class LossDuringExtend(deque):
            def extend(self, pairs):
                client._queue = deque()  # kazoo's _reset, after its _notify_pending found nothing
                super().extend(pairs)

        client._queue = LossDuringExtend()
        pipe = Pipe(client)
        results = [_Result() for _ in range(3)]
        pipe.flush((pipe.build(client.get_async, ("/a",), {}, result), result) for result in results)
        for result in results:
            assert result.done.wait(5), "a request of the burst was lost"
            assert result.outcome[0] == "error" and isinstance(result.outcome[1], SessionExpiredError)
        assert client.get("/a")[0] == b"1"  # the client goes on with the new queue

        class ExpiryDuringExtend(deque):  # the state is set first, the queue not yet failed
            def extend(self, pairs):
                client._state = KeeperState.EXPIRED_SESSION
                super().extend(pairs)

        client._queue = ExpiryDuringExtend()
        results = [_Result() for _ in range(2)]
        pipe.flush((pipe.build(client.get_async, ("/a",), {}, result), result) for result in results)
        for result in results:
            assert result.done.wait(5)
            assert isinstance(result.outcome[1], SessionExpiredError)
        assert not client._queue  # taken back, not left for a later session
    finally:
        client._state = KeeperState.CONNECTED
        client._queue = deque()
        client.stop()
        client.close()
