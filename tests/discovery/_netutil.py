"""Helpers of the discovery tests: free ports, a TCP server that starts and stops, backend processes."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

from _util import wait_for

WAIT = 30.0


def free_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FlipServer:
    """A tiny real TCP server on a fixed port that can be started and stopped."""

    def __init__(self) -> None:
        self.port = free_port()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(16)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept, args=(sock,), daemon=True)
        self._thread.start()

    def _accept(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.close()

    def stop(self) -> None:
        assert self._sock is not None
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._sock = None
        assert self._thread is not None
        self._thread.join(WAIT)


TCP_LISTENER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
while True:
    conn, _ = s.accept()
    conn.close()
"""


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
        return True
    except OSError:
        return False


class Backend:
    """A real backend process on a fixed loopback port, killed and restarted at will."""

    def __init__(self, kind: str, cwd: str) -> None:
        self.kind = kind
        self.cwd = cwd
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Backend":
        if self.kind == "http":
            argv = [sys.executable, "-m", "http.server", str(self.port), "--bind", "127.0.0.1"]
        else:
            argv = [sys.executable, "-c", TCP_LISTENER, str(self.port)]
        self.proc = subprocess.Popen(argv, cwd=self.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.proc.poll() is None and accepts(self.port), WAIT, f"{self.kind} backend on {self.port}")
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"
