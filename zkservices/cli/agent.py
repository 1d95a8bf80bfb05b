"""``agent [--check] CONFIG``: run (or validate) a fleet agent's configuration (a YAML file or a directory of them).

Decisions:

- ``zkservices agent CONFIG`` validates exactly as ``--check`` does (an
  invalid configuration exits 2, nothing registered, no file written), then
  runs the agent (see :mod:`zkservices.cli.agentrun`).
- ``--check`` needs no server: it reads the files, validates them with the
  same code a running agent will use, and checks what the host must provide
  (template, auth and certificate files readable, output directories present).
  Exit 0 with one summary line on stdout, or 2 with one line per problem on
  stderr: ``FILE: KEY.PATH: what is wrong``.
- The global connection options (``-z``, ``--auth``, ``--auth-file``,
  ``--tls-*``, and their environment variables) fill what the file's
  ``zookeeper`` section leaves out, setting by setting; the file wins where
  both say something.  The result is checked as a session would take it (the
  connection string, the auth file's lines, the certificates).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from .args import command
from .session import SessionOptions, read_auth_file

__all__ = ["AgentSession", "agent_session"]


@dataclass(frozen=True)
class AgentSession:
    """How the agent connects: the session options, the session timeout, the
    views' resync jitter (``ZooKeeper(resync_jitter=...)``) and whether a
    read-only server may serve the session (``ZooKeeper(read_only=...)``)."""

    options: SessionOptions
    session_timeout: float
    resync_jitter: float = 0.0
    read_only: bool = False


def agent_session(config: Any, args: argparse.Namespace) -> AgentSession:
    """The configuration's ``zookeeper`` section, completed from the command line's session options.

    :raises AgentConfigError: the merged settings do not make a session (a bad
        auth file line, certificates that do not fit).
    """
    from .._session import TLS
    from ..errors import AgentConfigError, ConfigProblem

    section = config.zookeeper
    given: SessionOptions = args.session
    where = section.file or args.config
    problems = []
    auth = given.auth
    if section.auth_file is not None:
        try:
            auth = tuple(read_auth_file(section.auth_file))
        except ValueError as exc:
            problems.append(ConfigProblem(where, "zookeeper.auth_file", str(exc).replace("--auth-file ", "")))
    tls = given.tls
    files = section.tls
    if files is not None:
        ca = files.ca or (tls.ca if tls else None)
        cert, key = (files.cert, files.key) if files.cert else ((tls.cert, tls.key) if tls else (None, None))
        try:
            tls = TLS(ca=ca, cert=cert, key=key)
        except ValueError as exc:
            problems.append(ConfigProblem(where, "zookeeper.tls", str(exc)))
    if problems:
        raise AgentConfigError(problems)
    options = SessionOptions(section.connection or given.connection_string, auth, tls)
    timeout = section.session_timeout if section.session_timeout is not None else 10.0
    jitter = section.resync_jitter if section.resync_jitter is not None else 0.0
    return AgentSession(options, timeout, jitter, bool(section.read_only))


def _agent_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true",
                        help="validate CONFIG and exit (0: valid; 2: one line per problem on stderr); "
                             "no server is needed")
    parser.add_argument("config", metavar="CONFIG",
                        help="a YAML file, or a directory whose .yaml files are read in name order and merged")


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


@command("agent", "run the fleet agent (registrations, feeds, /metrics) from CONFIG, or --check it")(
    _agent_arguments
)
def agent(args: argparse.Namespace) -> int:
    from .._agent import AgentConfigError, load_agent_config

    try:
        config = load_agent_config(args.config)
        session = agent_session(config, args)
    except AgentConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    if not args.check:
        from .agentrun import run_agent

        return run_agent(args, config, session, check_session=agent_session)
    print(
        f"{args.config}: ok: {_count(len(config.register), 'registration')}, {_count(len(config.feeds), 'feed')}"
        f" ({_count(len(config.files), 'file')})"
    )
    return 0
