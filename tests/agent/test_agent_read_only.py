"""``read_only: true`` in the agent's ``zookeeper`` section, with the partition made for real: a
3-node ensemble on hosts in network namespaces (``ZooKeeperEnsemble(read_only=True)``), the agent
connected to the first server only, and that server cut from the other two.

While the cut-off server serves the agent's session read-only, ``zkservices_session_state`` says
``connected_read_only``, ``/healthz`` answers 429 naming it and the feed keeps its set; after the
heal the agent is on a read-write server again, its registration is there and ``/healthz`` answers
200.  The agent runs in the test process (never cut off); sessions time out after 4 s.  Root only
(CI runs as root); skipped with the reason elsewhere.
"""

from __future__ import annotations

import json
import textwrap

import pytest
from kazoo.client import KazooClient

from zkservices import Agent, load_agent_config
from zkservices._agent.http import AgentHTTP
from zkservices.testing import Network, network_unavailable

from _util import http_get, metric_sample as sample, wait_for

_UNAVAILABLE = network_unavailable()
pytestmark = [
    pytest.mark.netfaults,
    pytest.mark.zookeeper,
    pytest.mark.skipif(_UNAVAILABLE is not None, reason=f"needs a test network: {_UNAVAILABLE}"),
]

WAIT = 60.0


def get(url: str) -> tuple[int, str]:
    status, _, body = http_get(url, timeout=WAIT)
    return status, body




def test_a_read_only_server_serving_the_agent_is_reported_then_healed(tmp_path):
    out = tmp_path / "web.json"
    with Network() as network:
        ensemble = network.ensemble(3, startup_timeout=60, read_only=True)
        ensemble.start()
        first, majority = ensemble.servers[0], ensemble.servers[1:]
        watcher = KazooClient(",".join(s.connection_string for s in majority))
        watcher.start(30)
        try:
            watcher.ensure_path("/ro/providers")
            watcher.create("/ro/providers/10.0.0.9:80", b"")
            path = tmp_path / "agent.yaml"
            path.write_text(textwrap.dedent(f"""\
                zookeeper: {{connection: "{first.connection_string}", session_timeout: 4, read_only: true}}
                register:
                  - path: /ro/providers
                    address: "10.0.0.1:80"
                feeds:
                  - name: web
                    services: [/ro]
                    template: json
                    output: {out}
                    min_wait: 0
                """))
            config = load_agent_config(str(path))
            assert config.zookeeper.read_only is True
            agent = Agent(config)
            http = AgentHTTP(agent, "127.0.0.1:0").start()
            base = "http://127.0.0.1:%d" % http.address[1]
            try:
                agent.start()
                assert agent.wait_ready(WAIT)
                wait_for(lambda: sorted(watcher.get_children("/ro/providers")) == ["10.0.0.1:80", "10.0.0.9:80"],
                         WAIT, "registered")
                wait_for(lambda: out.exists() and len(json.loads(out.read_text())) == 2, WAIT, "rendered")
                assert get(base + "/healthz") == (200, "ok\n")

                network.cut(first, ensemble.servers)
                try:
                    wait_for(lambda: agent.session_state == "connected_read_only", WAIT, "read-only")
                    assert agent.zk is not None and agent.zk.read_only
                    assert get(base + "/healthz") == (429, "session: connected_read_only\n")
                    metrics = get(base + "/metrics")[1]
                    assert sample(metrics, 'zkservices_session_state{state="connected_read_only"}') == 1.0
                    assert sample(metrics, 'zkservices_session_state{state="connected"}') == 0.0
                    assert sample(metrics, 'zkservices_session_state{state="suspended"}') == 0.0
                    assert json.loads(get(base + "/status")[1])["session"]["state"] == "connected_read_only"
                    assert len(json.loads(out.read_text())) == 2  # the feed kept its set
                finally:
                    network.heal(first)

                wait_for(lambda: agent.session_state == "connected", WAIT, "read-write again")
                wait_for(lambda: get(base + "/healthz") == (200, "ok\n"), WAIT, "healthy again")
                wait_for(lambda: sorted(watcher.get_children("/ro/providers")) == ["10.0.0.1:80", "10.0.0.9:80"],
                         WAIT, "registered after the heal")
                metrics = get(base + "/metrics")[1]
                assert sample(metrics, 'zkservices_session_state{state="connected"}') == 1.0
                assert sample(metrics, 'zkservices_session_state{state="connected_read_only"}') == 0.0
            finally:
                http.close()
                agent.close(5.0)
        finally:
            watcher.stop()
            watcher.close()
