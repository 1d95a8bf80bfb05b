"""``zkservices demo``: the README's first command.

For now it starts a real local ZooKeeper, connects, shows that it is alive and
cleans up; the narrated demo (registrations, feed, faults) comes with the
feed issue.
"""

from __future__ import annotations

import sys
from typing import TextIO

from kazoo.client import KazooClient

from .testing import ZooKeeperServer


def run_demo(out: TextIO | None = None) -> int:
    out = out or sys.stdout
    print("starting a local ZooKeeper server ...", file=out, flush=True)
    with ZooKeeperServer(name="demo") as server:
        print(f"ZooKeeper {server.srvr().get('Zookeeper version', '?').split(',')[0]} "
              f"serving on {server.connection_string} (mode: {server.mode})", file=out)
        client = KazooClient(hosts=server.connection_string)
        client.start(timeout=30)
        try:
            client.create("/demo/alive", b"yes", makepath=True)
            print(f"connected, session 0x{client.client_id[0]:x}; "
                  f"/demo/alive = {client.get('/demo/alive')[0].decode()}", file=out)
        finally:
            client.stop()
            client.close()
    print("the narrated demo is not yet written; server stopped and cleaned up", file=out)
    return 0
