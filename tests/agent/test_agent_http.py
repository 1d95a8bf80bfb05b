"""The agent's HTTP listener in-process, with real requests: /healthz codes and bodies, /status,
404/405, exactly the address configured, counters that survive a reload, secrets never shown."""

from __future__ import annotations

import json
import logging
import socket
import textwrap
import urllib.error
import urllib.request

import pytest

from zkservices import Agent, load_agent_config
from zkservices._agent.http import AgentHTTP

from _util import http_get, metric_sample as sample, wait_for

WAIT = 30.0


def get(url: str, method: str = "GET") -> tuple[int, str]:
    status, _, body = http_get(url, timeout=WAIT, method=method)
    return status, body




def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(tmp_path, text: str, name: str = "agent.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return load_agent_config(str(path))


def test_health_codes_status_and_other_paths(zk, tmp_path):
    dead = closed_port()
    config = load(tmp_path, f"""\
        register:
          - path: /h/providers
            address: "10.0.0.1:80"
          - path: /h/providers
            address: "127.0.0.1:{dead}"
            check: {{tcp: "127.0.0.1:{dead}", interval: 0.1, rise: 1, fall: 1}}
        """)
    agent = Agent(config, zk=zk)
    http = AgentHTTP(agent, "127.0.0.1:0").start()
    base = "http://127.0.0.1:%d" % http.address[1]
    try:
        assert get(base + "/healthz") == (503, "session: no session yet\n"
                                                "register /h/providers 10.0.0.1:80: not running\n"
                                                f"register /h/providers 127.0.0.1:{dead}: not running\n")
        agent.start()
        assert agent.wait_ready(WAIT)
        code, body = get(base + "/healthz")
        assert code == 429
        assert body == f"register /h/providers 127.0.0.1:{dead}: check failing: connect to 127.0.0.1:{dead} refused\n"
        document = json.loads(get(base + "/status")[1])
        assert document["registrations"][1] == {
            "path": "/h/providers", "address": f"127.0.0.1:{dead}", "registered": False,
            "check": {"ok": False, "output": f"connect to 127.0.0.1:{dead} refused"}}
        assert document["session"] == {"state": "connected", "id": f"0x{zk.core.session_id:x}"}
        assert get(base + "/healthz", "POST")[0] == 405
        assert get(base + "/")[0] == 404 and get(base + "/metrics/x")[0] == 404
        # the failing one removed by a reload: healthy; its failures stay counted
        metrics = get(base + "/metrics")[1]
        series = f'zkservices_check_failures_total{{address="127.0.0.1:{dead}",path="/h/providers"}}'
        failures = sample(metrics, series)
        assert failures is not None and failures >= 1
        agent.reload(load(tmp_path, 'register: [{path: /h/providers, address: "10.0.0.1:80"}]\n'))
        assert get(base + "/healthz") == (200, "ok\n")
        assert sample(get(base + "/metrics")[1], series) >= failures
    finally:
        http.close()
        agent.close(10)


def test_binds_exactly_the_address_configured(zk, tmp_path):
    agent = Agent(load(tmp_path, "register: []\n"), zk=zk)
    http = AgentHTTP(agent, "[::1]:0").start()
    try:
        port = http.address[1]
        assert get(f"http://[::1]:{port}/healthz")[0] in (200, 503)
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
    finally:
        http.close()


def test_secrets_are_neither_shown_nor_logged(zk_connection_string, zk, tmp_path, caplog):
    auth = tmp_path / "auth"
    auth.write_text("digest:alice:s3cr3t-passw0rd\n")
    config = load(tmp_path, f"""\
        zookeeper: {{connection: "{zk_connection_string}", auth_file: {auth}}}
        register:
          - path: /s/providers
            address: "10.0.0.1:80"
        """)
    with caplog.at_level(logging.DEBUG):
        agent = Agent(config)
        http = AgentHTTP(agent, "127.0.0.1:0").start()
        try:
            agent.start()
            assert agent.wait_ready(WAIT)
            wait_for(lambda: zk.exists("/s/providers/10.0.0.1:80"), WAIT, "registered with the auth")
            base = "http://127.0.0.1:%d" % http.address[1]
            answers = [get(base + p)[1] for p in ("/status", "/healthz", "/metrics")]
        finally:
            http.close()
            agent.close(10)
    assert not any("s3cr3t" in text for text in answers)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("zkservices.")
            and not r.name.startswith("zkservices.server")]  # (the ZooKeeper server's own log)
    assert ours and not any("s3cr3t" in message for message in ours)
    # kazoo's own DEBUG records are kazoo's: the library leaves its loggers alone (the
    # command redacts them on its handler: tests/agent/test_agent_run.py)
    assert "s3cr3t" not in repr(agent) + repr(config)


def test_a_lost_session_is_counted_and_everything_restored(zk_connection_string, zk, tmp_path):
    from zkservices.testing import expire_session

    out = tmp_path / "web.json"
    config = load(tmp_path, f"""\
        zookeeper: {{connection: "{zk_connection_string}"}}
        register:
          - path: /e/providers
            address: "10.0.0.1:80"
        feeds:
          - name: web
            services: [/e]
            template: json
            output: {out}
            min_wait: 0
        """)
    with Agent(config) as agent:
        http = AgentHTTP(agent, "127.0.0.1:0").start()
        base = "http://127.0.0.1:%d" % http.address[1]
        try:
            assert agent.wait_ready(WAIT)
            wait_for(lambda: get(base + "/healthz") == (200, "ok\n"), WAIT, "healthy")
            old = agent.session_id
            expire_session(agent.zk)
            wait_for(lambda: agent.expirations == 1, WAIT, "the expiration counted")
            assert agent.session_id != old
            wait_for(lambda: zk.exists("/e/providers/10.0.0.1:80") is not None
                     and zk.exists("/e/providers/10.0.0.1:80").ephemeralOwner == agent.session_id, WAIT,
                     "the registration restored in the new session")
            metrics = get(base + "/metrics")[1]
            assert sample(metrics, "zkservices_session_expirations_total") == 1
            assert sample(metrics, 'zkservices_session_state{state="connected"}') == 1
            wait_for(lambda: get(base + "/healthz") == (200, "ok\n"), WAIT, "healthy again")
        finally:
            http.close()
