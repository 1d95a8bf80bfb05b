"""Fixtures of the discovery tests; makes ``_netutil.py`` (their helpers) importable."""

from __future__ import annotations

import os
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from _netutil import Backend, FlipServer  # noqa: E402


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
