"""Benchmarks against a real ZooKeeper server, compared with raw kazoo in the same run.

    make bench                      # or: .venv/bin/python bench/run.py [--quick] [-k NAME]

Prints ratios (zkservices / raw kazoo) as well as times; machines here are
shared and noisy, so compare ratios from one run, not absolute times across runs.
Each section is a function in one of the modules beside this one (views,
recovery, trees, aio); ``bench/run.py -k NAME`` runs the sections whose name
contains NAME.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

import zkservices  # noqa: E402
from zkservices.testing import ZooKeeperServer  # noqa: E402

import common  # noqa: E402

MODULES = ("views", "memory", "recovery", "trees", "aio")  # in this order; each registers its sections
for _module in MODULES:
    importlib.import_module(_module)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    parser.add_argument("-k", default="", help="run sections whose name contains this")
    parser.add_argument("--connect", help="use this running server instead of starting one")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("zkservices.server").setLevel(logging.CRITICAL)  # the server's own log
    chosen = [(name, fn) for name, fn in common.SECTIONS if args.k in name]
    server = None if args.connect else ZooKeeperServer(name="bench").start()
    cs = args.connect or server.connection_string
    try:
        print(f"ZooKeeper at {cs}; python {sys.version.split()[0]}; zkservices {zkservices.__version__}")
        for name, fn in chosen:
            admin = common.client(cs)
            admin.delete("/bench", recursive=True) if admin.exists("/bench") else None
            admin.stop()
            print()
            fn(cs, args.quick)
        common.print_goals()
    finally:
        if server is not None:
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
