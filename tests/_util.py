"""Small helpers shared by the core integration tests (no fixtures here)."""

from __future__ import annotations

import json
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
