"""A Python interpreter running on a network host: a child process the test drives line by line.

A client "host" of :class:`~zkservices.testing.Network` runs its code in a
child process started inside the host's network namespace (``ip netns exec
NS python -c ...``), so every socket it opens (kazoo's, a feed's) is the
host's and its network faults apply to it, while the test process itself stays
outside.  A separate process rather than a fork: forking a test process that
runs threads (kazoo's, the servers' log readers) is unsafe, and a process of
its own is what a real host is.  The test sends Python source over the child's
stdin and reads JSON answers, one line each (:meth:`HostPython.exec`,
:meth:`HostPython.eval`); what the code prints goes to the test's stderr.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import threading
from typing import Any, Sequence

from ..errors import FaultError

__all__ = ["HostError", "HostPython"]

log = logging.getLogger("zkservices.testing")

# The child: answers each request line ({"op": "exec"|"eval", "code": ...}) with one JSON line on
# the stdout it had at start; the code's own prints go to stderr.
_CHILD = r"""
import json, os, sys, traceback
answers = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr
scope = {"__name__": "__host__"}
for line in sys.stdin:
    request = json.loads(line)
    try:
        if request["op"] == "exec":
            exec(compile(request["code"], "<host>", "exec"), scope)
            value = None
        else:
            value = eval(compile(request["code"], "<host>", "eval"), scope)
        try:
            answer = json.dumps({"value": value})
        except (TypeError, ValueError) as exc:
            raise TypeError(f"the result is not JSON: {value!r} ({exc})") from None
    except BaseException as exc:
        kind = type(exc)
        answer = json.dumps({"error": f"{kind.__module__}.{kind.__qualname__}", "message": str(exc),
                             "traceback": traceback.format_exc()})
    answers.write(answer + "\n")
"""


class HostError(FaultError):
    """Code run by :class:`HostPython` raised: :attr:`type` is the exception's
    qualified name (``"kazoo.exceptions.ConnectionLoss"``), :attr:`traceback` the child's."""

    def __init__(self, type: str, message: str, traceback: str) -> None:
        super().__init__(f"{type}: {message}")
        self.type = type
        self.message = message
        self.traceback = traceback


class HostPython:
    """A Python interpreter in a child process, optionally inside a network namespace.

    One lifecycle: constructing it starts the child (with the test's own
    interpreter, and the directory the ``zkservices`` package was imported
    from first on its path); :meth:`close` ends it, for good; a context
    manager closes it.  The code shares one global scope across calls::

        py.exec("from zkservices import ZooKeeper; zk = ZooKeeper(hosts, session_timeout=4)")
        py.eval("sorted(zk.children('/'))")

    :param prefix: the command put in front of ``python`` (``["ip", "netns", "exec", NS]``).
    :param name: the name in logs and reprs.
    :param env: extra environment variables for the child.
    """

    def __init__(self, *, prefix: Sequence[str] = (), name: str = "host", env: dict[str, str] | None = None) -> None:
        self.name = name
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        child_env = dict(os.environ, **(env or {}))
        child_env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, child_env.get("PYTHONPATH")) if p)
        child_env["PYTHONUNBUFFERED"] = "1"
        self._process = subprocess.Popen(
            [*prefix, sys.executable, "-c", _CHILD],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_env, text=True, start_new_session=True)
        self._answers: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name=f"zkservices-{name}-answers", daemon=True)
        self._reader.start()
        log.info("started Python on host %s (pid %d)", name, self._process.pid)

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._answers.put(line)
        self._answers.put(None)

    @property
    def running(self) -> bool:
        """True while the child process runs."""
        return self._process.poll() is None

    def _request(self, op: str, code: str, timeout: float | None) -> Any:
        with self._lock:
            if not self.running:
                raise FaultError(f"Python on host {self.name} is not running (exit code {self._process.returncode})")
            assert self._process.stdin is not None
            self._process.stdin.write(json.dumps({"op": op, "code": code}) + "\n")
            self._process.stdin.flush()
            try:
                line = self._answers.get(timeout=timeout)
            except queue.Empty:
                self.close()
                raise FaultError(f"Python on host {self.name} did not answer within {timeout}s "
                                 f"(the child was ended): {code[:200]!r}") from None
            if line is None:
                self._answers.put(None)
                raise FaultError(f"Python on host {self.name} exited (code {self._process.wait()})")
        answer = json.loads(line)
        if "error" in answer:
            raise HostError(answer["error"], answer["message"], answer["traceback"])
        return answer["value"]

    def exec(self, code: str, *, timeout: float | None = 60.0) -> None:
        """Run statements in the child.

        :raises HostError: the code raised (the child lives on).
        :raises FaultError: no answer within ``timeout`` seconds (the child is
            then ended) or the child is gone.
        """
        self._request("exec", code, timeout)

    def eval(self, code: str, *, timeout: float | None = 60.0) -> Any:
        """The value of an expression in the child, carried as JSON (tuples come back as lists).

        :raises HostError: the code raised, or its value is not JSON.
        :raises FaultError: as for :meth:`exec`.
        """
        return self._request("eval", code, timeout)

    def close(self, *, timeout: float = 10.0) -> None:
        """End the child (idempotent): stdin closed, then SIGTERM, then SIGKILL."""
        if self._process.stdin is not None and not self._process.stdin.closed:
            try:
                self._process.stdin.close()
            except OSError:
                pass
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout)
        self._reader.join(timeout)
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> HostPython:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"running pid={self._process.pid}" if self.running else "closed"
        return f"<HostPython {self.name} {state}>"
