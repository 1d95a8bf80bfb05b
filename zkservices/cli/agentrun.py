"""``zkservices agent CONFIG``: run the fleet agent until SIGTERM or SIGINT; SIGHUP reloads CONFIG.

Decisions:

- **Threads.**  The main thread only waits for signals (their handlers just
  queue them).  Reloads run one at a time on a thread of their own: a reload
  that waits for ZooKeeper (an entry unregistering) never delays SIGTERM.
- **SIGHUP** reads CONFIG with the very loader ``--check`` uses.  A
  configuration that fails changes nothing: one ERROR line per problem and
  ``zkservices_config_reloads_total{result="failed"}`` goes up.  systemd hears
  ``RELOADING=1`` before and ``READY=1`` after.
- **SIGTERM / SIGINT** (exit 0): ``STOPPING=1``, the listener stops, the
  agent unregisters, stops its feeds and closes its session within
  :data:`STOP_SECONDS`; should that hang (a ZooKeeper that does not answer)
  the process exits anyway, its ephemeral nodes going with the session.
- **READY=1** once every registration's first check has run and every feed
  has rendered once (or fallen back to its snapshot).
- Logging: INFO of the agent's loggers is shown at the default verbosity
  (a daemon saying what it does); auth files and keys are never logged.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import signal
import sys
import threading
from typing import Any, Callable

from .logs import show_info

__all__ = ["run_agent", "STOP_SECONDS"]

log = logging.getLogger("zkservices.agent")

#: Seconds SIGTERM may take in all (AGENT.md: exit within 5 s).
STOP_SECONDS = 4.0


def run_agent(args: argparse.Namespace, config: Any, session: Any, *,
              check_session: Callable[[Any, argparse.Namespace], Any]) -> int:
    """Run ``config`` (already validated) until a stop signal; the exit status.

    ``check_session(config, args)`` is ``agent --check``'s check of the session settings
    (the command passes it in: this module does not import the command's)."""
    from .._agent import Agent
    from .._agent.notify import Notifier

    show_info(args, "zkservices.agent", "zkservices.selfreg", "zkservices.feed")
    agent = Agent(
        config,
        connection_string=session.options.connection_string,
        session_timeout=session.session_timeout,
        auth=session.options.auth,
        tls=session.options.tls,
        read_only=session.read_only,
        resync_jitter=session.resync_jitter,
    )
    http: Any = None
    if config.listen is not None:
        from .._agent.http import AgentHTTP

        try:
            http = AgentHTTP(agent, config.listen)
        except OSError as exc:
            print(f"zkservices agent: cannot listen on {config.listen}: {exc}", file=sys.stderr)
            return 1
    events: queue.Queue[int] = queue.Queue()
    previous = {signum: signal.signal(signum, lambda signum, frame: events.put(signum))
                for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)}
    notifier = Notifier()
    reloads: queue.Queue[bool] = queue.Queue()
    announced = threading.Event()  # READY=1 sent: a reload's READY=1 only after the first
    try:
        agent.start()
        if http is not None:
            http.start()
        threading.Thread(target=_announce_ready, args=(agent, notifier, announced), name="zkservices-agent-ready",
                         daemon=True).start()
        notifier.start_watchdog(lambda: agent.session_state in ("connected", "connected_read_only"))
        threading.Thread(target=_reloader, args=(args, agent, notifier, reloads, announced, check_session),
                         name="zkservices-agent-reload",
                         daemon=True).start()
        while True:
            try:
                signum = events.get(timeout=1.0)
            except queue.Empty:
                continue
            if signum == signal.SIGHUP:
                log.info("received SIGHUP: reloading %s", args.config)
                reloads.put(True)
                continue
            log.info("received %s: stopping", signal.Signals(signum).name)
            break
    finally:
        notifier.send("STOPPING=1")
        if http is not None:
            http.close()
        closer = threading.Thread(target=agent.close, args=(STOP_SECONDS,), name="zkservices-agent-close",
                                  daemon=True)
        closer.start()
        closer.join(STOP_SECONDS + 0.5)
        notifier.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if closer.is_alive():
            log.warning("stopping took longer than %gs; exiting (the session's nodes go with it)", STOP_SECONDS)
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
    return 0


def _announce_ready(agent: Any, notifier: Any, announced: threading.Event) -> None:
    if agent.wait_ready():
        log.info("ready: every check has run and every feed has rendered")
        notifier.send("READY=1")
        announced.set()


def _reloader(args: argparse.Namespace, agent: Any, notifier: Any, reloads: queue.Queue[bool],
              announced: threading.Event, agent_session: Callable[[Any, argparse.Namespace], Any]) -> None:
    from .._agent import AgentConfigError, load_agent_config

    while True:
        reloads.get()
        notifier.send("RELOADING=1")
        try:
            config = load_agent_config(args.config)
            agent_session(config, args)
        except AgentConfigError as exc:
            agent.config_reloads["failed"] += 1
            for problem in exc.problems:
                log.error("configuration reload failed, the running configuration is kept: %s", problem)
        except Exception as exc:  # never let the reloader die
            agent.config_reloads["failed"] += 1
            log.error("configuration reload failed, the running configuration is kept: %s: %s",
                      type(exc).__name__, exc)
        else:
            try:
                agent.reload(config)
                agent.config_reloads["ok"] += 1
            except Exception:
                agent.config_reloads["failed"] += 1
                log.exception("configuration reload failed")
        if announced.is_set():
            notifier.send("READY=1")
