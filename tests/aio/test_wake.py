"""The stream's wake (zkservices._aio.wake.Wake): the awaiting task resumes inside the
callback that sets it (a Future would resume it a turn of the loop later), and
cancellation, contexts and a wake set before it is awaited behave as with a future."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from zkservices._aio.wake import Wake


def _resumed_within_the_callback(make):
    """Whether a task awaiting ``make(loop)`` has resumed by the time the callback
    that completes it (sent from another thread) returns."""

    async def main():
        loop = asyncio.get_running_loop()
        waitable = make(loop)
        resumed = []
        seen_in_callback = []

        async def waiter():
            await waitable
            resumed.append(True)

        task = asyncio.ensure_future(waiter())
        await asyncio.sleep(0)  # the task now waits

        def complete():  # a plain callback of the loop, as a stream's delivery is
            if isinstance(waitable, Wake):
                waitable.set()
            else:
                waitable.set_result(None)
            seen_in_callback.append(bool(resumed))

        threading.Thread(target=loop.call_soon_threadsafe, args=(complete,)).start()
        await task
        return seen_in_callback

    return asyncio.run(main()) == [True]


def test_the_task_resumes_inside_the_callback_that_sets_it():
    assert _resumed_within_the_callback(Wake)
    assert not _resumed_within_the_callback(lambda loop: loop.create_future())  # a turn later


def test_a_cancelled_waiter_gets_cancelled_error_and_a_late_set_is_ignored():
    async def main():
        loop = asyncio.get_running_loop()
        wake = Wake(loop)
        task = asyncio.ensure_future(_await(wake))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert wake.cancelled() and wake.done() and "cancelled" in repr(wake)
        wake.set()  # nothing to resume: no error
        assert wake.cancelled()

    asyncio.run(main())


async def _await(wake):
    await wake


def test_a_wake_set_before_it_is_awaited_returns_at_once_and_keeps_the_context():
    var = contextvars.ContextVar("var", default="unset")

    async def main():
        loop = asyncio.get_running_loop()
        early = Wake(loop)
        early.set()
        assert await early is None and "set" in repr(early)

        late = Wake(loop)

        async def waiter():
            var.set("the task's own")
            await late
            return var.get()

        task = asyncio.ensure_future(waiter())
        await asyncio.sleep(0)
        loop.call_soon(late.set)
        assert await asyncio.wait_for(task, 5) == "the task's own"

    asyncio.run(main())


def test_wait_for_with_a_timeout_cancels_the_wake():
    async def main():
        wake = Wake(asyncio.get_running_loop())
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(_await(wake), 0.05)
        assert wake.cancelled()

    asyncio.run(main())
