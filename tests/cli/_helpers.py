"""Helpers for the CLI tests: running ``python -m zkservices``, a tree file, snapshots of the server's nodes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


BROKEN = Path(__file__).parent.parent / "data" / "broken"

TREE = """\
/fooservice : z4m cms
  threads = 3
  database = "/databases/main"
  db -> /databases/main
  threads_copy => ../cms threads
  /providers
/cms
  threads = 5
"""


def cli(connection, *args, input=None, timeout=60, env=None):
    """Run ``python -m zkservices -z CONNECTION ARGS...``; return the CompletedProcess."""
    command = [sys.executable, "-m", "zkservices"]
    if connection is not None:
        command += ["-z", connection]
    return subprocess.run(
        command + list(args), input=input, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def run(connection, *args, input=None):
    command = [sys.executable, "-m", "zkservices"]
    if connection is not None:
        command += ["-z", connection]
    return subprocess.run(command + list(args), input=input, capture_output=True, text=True, timeout=60)


def one_line(stderr):
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def snapshot(client, path="/"):
    out = {}
    pending = [path]
    while pending:
        p = pending.pop()
        data, stat = client.get(p)
        out[p] = (data, stat.mzxid, stat.pzxid, stat.version)
        pending.extend(f"{p.rstrip('/')}/{c}" for c in client.get_children(p))
    return out


def unused_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

