"""Small helpers shared by the core integration tests (no fixtures here)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time
from typing import Any, Callable

from kazoo.client import KazooClient


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``predicate`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
            last_exc = None
        except Exception as exc:  # e.g. a read racing a reconnect: try again
            last_exc = exc
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_exc!r})" if last_exc else ""))


def kazoo_client(connection_string: str, **kw: Any) -> KazooClient:
    """A started plain KazooClient (another session than the one under test)."""
    client = KazooClient(hosts=connection_string, timeout=kw.pop("timeout", 10.0), **kw)
    client.start(timeout=30)
    return client


def stop(client: KazooClient) -> None:
    try:
        client.stop()
    finally:
        client.close()


def props(client: KazooClient, path: str) -> dict:
    """The node's data decoded as JSON (for checking what really is on the server)."""
    data, _ = client.get(path)
    return json.loads(data) if data else {}


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def wait_gone(pid: int, timeout: float = 30.0) -> bool:
    """Wait until process ``pid`` is gone; whether it went within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def lose_first_read_below(monkeypatch: Any, zk: Any, server: Any, directory: str) -> list[Any]:
    """Make the first ``get_async`` of a node below ``directory`` that this thread (the
    test's, or its event loop's) sends on ``zk``'s kazoo client fail with ConnectionLoss,
    for real: the server is frozen (SIGSTOP, so nothing can answer), the read is queued,
    the connection is dropped under it (kazoo fails what it had queued or sent), then
    the server resumes.  Every other read goes through untouched -- also the session's
    own from its threads (re-tracking registrations after a reconnection).  Returns the
    list of the lost reads' kazoo results (filled when it happens: at most one)."""
    from zkservices.testing import drop_connection

    client = zk.core.client
    get_async = client.get_async
    below = directory.rstrip("/") + "/"
    thread = threading.get_ident()
    lost: list[Any] = []

    def get_then_drop(path: str, *args: Any, **kwargs: Any) -> Any:
        if lost or not path.startswith(below) or threading.get_ident() != thread:
            return get_async(path, *args, **kwargs)
        server.pause()  # (returns once the server is stopped: nothing can answer)
        try:
            result = get_async(path, *args, **kwargs)
            lost.append(result)
            drop_connection(zk)
        finally:
            server.resume()
        return result

    monkeypatch.setattr(client, "get_async", get_then_drop)
    return lost


# -- asyncio tests ----------------------------------------------------------------------


class _NoExecutor(concurrent.futures.ThreadPoolExecutor):
    """A default executor that refuses work: proves a call did not use a thread."""

    def submit(self, fn, /, *args, **kwargs):
        raise AssertionError(f"{fn!r} ran in the executor")


def run_without_executor(main):
    """Run ``main(helpers)`` on a loop whose default executor refuses work; blocking
    steps of the test itself go to ``helpers`` (a pool of its own)."""
    helpers = concurrent.futures.ThreadPoolExecutor(2)

    async def wrapper():
        asyncio.get_running_loop().set_default_executor(_NoExecutor())
        return await asyncio.wait_for(main(helpers), 60)

    try:
        return asyncio.run(wrapper())
    finally:
        helpers.shutdown()


async def blocking(helpers, fn, *args):
    return await asyncio.get_running_loop().run_in_executor(helpers, fn, *args)


def http_get(url: str, *, timeout: float, method: str = "GET") -> tuple[int, str, str]:
    """``(status, content type, body)`` of one HTTP request; an error status is an answer too."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=timeout) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()


def metric_sample(metrics: str, series: str) -> float | None:
    """The value of one series (``name{labels}``) in a Prometheus exposition, ``None`` when absent."""
    for line in metrics.splitlines():
        if line.startswith(series + " "):
            return float(line.split(" ")[1])
    return None
