"""Subcommands of the ``zkservices`` command line (registered on import)."""

from __future__ import annotations

import argparse

from .cli import command, _no_arguments

__all__: list[str] = []


@command("demo", "start a local ZooKeeper and show zkservices at work (needs no connection string)")(_no_arguments)
def demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return run_demo()
