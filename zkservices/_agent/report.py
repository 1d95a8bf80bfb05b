"""What the agent tells operators: ``/status`` (a JSON document) and ``/healthz`` (a status code and problems).

Both are read from the running :class:`~zkservices.Agent` when asked; nothing
is cached.  Neither names an auth file's content nor a TLS key: the session
is reported by its state and id only.
"""

from __future__ import annotations

from typing import Any

from .agent import Agent

__all__ = ["status", "health"]


def status(agent: Agent) -> dict[str, Any]:
    """The ``/status`` document (AGENT.md): the session, each registration, each feed."""
    session_id = agent.session_id
    registrations = agent.registrations
    feeds = agent.feeds
    config = agent.config
    regs = []
    for entry in config.register:
        running = registrations.get(entry)
        regs.append({
            "path": entry.path,
            "address": entry.address,
            "registered": bool(running and running.registered),
            "check": {
                "ok": running.check_ok if running else None,
                "output": running.check_output if running else "not started",
            },
        })
    feed_docs = []
    for feed_entry in config.feeds:
        feed = feeds.get(feed_entry)
        side = feed.file_feed if feed else None
        feed_docs.append({
            "name": feed_entry.name,
            "output": feed_entry.output,
            "providers": feed.providers_count if feed else 0,
            "last_render": side.last_cycle if side else None,
            "last_result": side.last_result if side else None,
        })
    return {
        "session": {"state": agent.session_state, "id": f"0x{session_id:x}" if session_id is not None else None},
        "registrations": regs,
        "feeds": feed_docs,
    }


def health(agent: Agent) -> tuple[int, list[str]]:
    """``(200, [])`` when all is well; ``(429, problems)`` when degraded; ``(503, problems)``
    while the session is lost or before the first one."""
    state = agent.session_state
    problems: list[str] = []
    code = 200
    if state == "lost":
        problems.append("session: no session yet" if agent.zk is None else "session: lost")
        code = 503
    elif state != "connected":
        problems.append(f"session: {state}")
    registrations = agent.registrations
    feeds = agent.feeds
    config = agent.config
    for entry in config.register:
        running = registrations.get(entry)
        where = f"register {entry.path} {entry.address}"
        if running is None:
            problems.append(f"{where}: not running")
        elif running.check_ok is False:
            problems.append(f"{where}: check failing: {running.check_output}")
    for feed_entry in config.feeds:
        feed = feeds.get(feed_entry)
        where = f"feed {feed_entry.name}"
        if feed is None:
            problems.append(f"{where}: not running")
            continue
        for reason in feed.holding:
            if "shrink guard" in reason:
                problems.append(f"{where}: {reason}")
        if feed.file_feed.last_result == "failed" or feed.last_error:
            error = (feed.last_error or "failed").splitlines()[0]
            problems.append(f"{where}: {error}")
    if problems and code == 200:
        code = 429
    return code, problems
