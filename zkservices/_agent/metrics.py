"""The agent's Prometheus metrics: a registry of its own, read from the running agent at each scrape.

Needs ``prometheus_client`` (the ``agent`` extra); imported only when metrics
are asked for.  The names, types and labels are AGENT.md's table; ``path``
and ``address`` are as written in the configuration.  Counters add the counts
of entries that stopped (:attr:`Agent.retired <zkservices.Agent.retired>`),
so they never go down while the agent runs.  Process metrics
(``process_*``) come from prometheus_client's own collector.
"""

from __future__ import annotations

from typing import Any, Iterator

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .agent import SESSION_STATES, Agent, feed_render_counts

__all__ = ["AgentCollector", "agent_registry"]

RENDER_RESULTS = ("written", "unchanged", "failed", "held")


class AgentCollector(Collector):
    """A prometheus_client collector of one :class:`~zkservices.Agent`."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def collect(self) -> Iterator[Any]:
        agent = self.agent
        retired = agent.retired
        state = GaugeMetricFamily("zkservices_session_state", "1 for the session's current state, 0 for the others",
                                  labels=["state"])
        current = agent.session_state
        for name in SESSION_STATES:
            state.add_metric([name], 1.0 if name == current else 0.0)
        yield state
        yield CounterMetricFamily("zkservices_session_expirations", "Sessions lost and replaced",
                                  value=agent.expirations)
        up = GaugeMetricFamily("zkservices_registration_up", "1 while registered", labels=["path", "address"])
        failures = CounterMetricFamily("zkservices_check_failures", "Failed health checks",
                                       labels=["path", "address"])
        registrations = agent.registrations
        seen = set()
        for entry in agent.config.register:
            running = registrations.get(entry)
            labels = [entry.path, entry.address]
            seen.add(tuple(labels))
            up.add_metric(labels, 1.0 if running is not None and running.registered else 0.0)
            count = running.check_failures if running is not None else 0
            failures.add_metric(labels, count + retired[("check_failures", entry.path, entry.address)])
        for key, count in retired.items():  # entries removed since: their counters stay
            if key[0] == "check_failures" and key[1:] not in seen:
                failures.add_metric(list(key[1:]), count)
        yield up
        yield failures
        providers = GaugeMetricFamily("zkservices_feed_providers", "Providers in the last published set",
                                      labels=["feed"])
        renders = CounterMetricFamily("zkservices_feed_renders", "Render outcomes", labels=["feed", "result"])
        success = GaugeMetricFamily("zkservices_feed_last_success_timestamp_seconds",
                                    "Last good render or confirmation", labels=["feed"])
        reloads = CounterMetricFamily("zkservices_feed_reloads", "Reload commands", labels=["feed", "result"])
        feeds = agent.feeds
        names = set()
        for feed_entry in agent.config.feeds:
            feed = feeds.get(feed_entry)
            name = feed_entry.name
            names.add(name)
            providers.add_metric([name], feed.providers_count if feed is not None else 0)
            counts = feed_render_counts(feed) if feed is not None else {}
            for result in RENDER_RESULTS:
                renders.add_metric([name, result], counts.get(result, 0) + retired[("renders", name, result)])
            side = feed.file_feed if feed is not None else None
            if side is not None and side.last_success is not None:
                success.add_metric([name], side.last_success)
            ok, failed = (side.reloads, side.reload_failures) if side is not None else (0, 0)
            reloads.add_metric([name, "ok"], ok + retired[("reloads", name, "ok")])
            reloads.add_metric([name, "failed"], failed + retired[("reloads", name, "failed")])
        for key, count in retired.items():
            if key[0] in ("renders", "reloads") and key[1] not in names:
                (renders if key[0] == "renders" else reloads).add_metric(list(key[1:]), count)
        yield providers
        yield renders
        yield success
        yield reloads
        config = CounterMetricFamily("zkservices_config_reloads", "SIGHUP reloads", labels=["result"])
        for result in ("ok", "failed"):
            config.add_metric([result], agent.config_reloads[result])
        yield config


def agent_registry(agent: Agent) -> CollectorRegistry:
    """A registry holding the agent's metrics and the process metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(agent))
    ProcessCollector(registry=registry)
    return registry
