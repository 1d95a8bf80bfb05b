"""Benchmarks against a real ZooKeeper server, compared with raw kazoo in the same run.

    make bench                      # or: .venv/bin/python bench/run.py [--quick] [-k NAME]

Prints ratios (zkservices / raw kazoo) as well as times; machines here are
shared and noisy, so compare ratios from one run, not absolute times across runs.
Each section is a function in one of the modules beside this one (views,
memory, recovery, trees, aio, agent) and runs in a Python process of its own, against
the same server (``--in-process``: all in this one); ``bench/run.py -k NAME``
runs the sections whose name contains NAME.  The run ends with a summary of
the goals: met or MISS, as measured.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

import zkservices  # noqa: E402
from zkservices.testing import ZooKeeperServer  # noqa: E402

import common  # noqa: E402

MODULES = ("views", "memory", "recovery", "trees", "aio", "agent")  # in this order; each registers its sections
for _module in MODULES:
    importlib.import_module(_module)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    parser.add_argument("-k", default="", help="run sections whose name contains this")
    parser.add_argument("--connect", help="use this running server instead of starting one")
    parser.add_argument("--in-process", action="store_true",
                        help="run every section in this process (default: each in a fresh one)")
    parser.add_argument("--goals-to", help=argparse.SUPPRESS)  # a section's process: its goals, as JSON lines
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("zkservices.server").setLevel(logging.CRITICAL)  # the server's own log
    # a section's own process names it exactly; otherwise -k matches part of the name
    chosen = [(name, fn) for name, fn in common.SECTIONS
              if (name == args.k if args.goals_to is not None else args.k in name)]
    server = None if args.connect else ZooKeeperServer(name="bench").start()
    cs = args.connect or server.connection_string
    try:
        if args.goals_to is None:
            print(f"ZooKeeper at {cs}; python {sys.version.split()[0]}; zkservices {zkservices.__version__}")
        for name, fn in chosen:
            admin = common.client(cs)
            admin.delete("/bench", recursive=True) if admin.exists("/bench") else None
            admin.stop()
            print(flush=True)
            if args.in_process or args.goals_to is not None:
                fn(cs, args.quick)
            else:
                _run_alone(name, cs, args.quick)
        if args.goals_to is not None:
            with open(args.goals_to, "a", encoding="utf-8") as out:
                for row in common.GOALS:
                    out.write(json.dumps(row) + "\n")
        else:
            common.print_goals()
    finally:
        if server is not None:
            server.close()
    return 0


def _run_alone(name: str, cs: str, quick: bool) -> None:
    """One section in a fresh Python process on the same server: what an earlier
    section left in this process (a heap of 100,000 nodes, threads) must not weigh
    on the next one's figures."""
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", encoding="utf-8") as goals:
        command = [sys.executable, os.path.abspath(__file__), "--connect", cs, "-k", name, "--goals-to", goals.name]
        if quick:
            command.append("--quick")
        done = subprocess.run(command)
        if done.returncode != 0:
            raise SystemExit(f"bench section {name} failed (exit code {done.returncode})")
        common.GOALS.extend(tuple(json.loads(line)) for line in goals if line.strip())


if __name__ == "__main__":
    sys.exit(main())
