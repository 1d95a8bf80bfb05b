"""Fixtures of the discovery tests."""

from __future__ import annotations

import pytest

from _netutil import Backend, FlipServer


@pytest.fixture
def flip_server():
    server = FlipServer()
    server.start()
    yield server
    if server._sock is not None:
        server.stop()


@pytest.fixture
def backends(tmp_path):
    made: list[Backend] = []

    def make(kind: str = "tcp") -> Backend:
        backend = Backend(kind, str(tmp_path))
        made.append(backend)
        return backend

    yield make
    for backend in made:
        if backend.proc is not None:
            backend.kill()
