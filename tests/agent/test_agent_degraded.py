"""The agent degraded for real, seen through its HTTP listener: ``/healthz`` 429 naming the problem
and the metrics saying it while the session is suspended (the server frozen with SIGSTOP) and while
a feed's shrink guard holds its last set (most providers removed at once); 200 again after."""

from __future__ import annotations

import json
import textwrap

import pytest

from zkservices import Agent, load_agent_config
from zkservices._agent.http import AgentHTTP

from _util import http_get, metric_sample as sample, wait_for

WAIT = 30.0


def get(url: str) -> tuple[int, str]:
    status, _, body = http_get(url, timeout=WAIT)
    return status, body




def load(tmp_path, text: str):
    path = tmp_path / "agent.yaml"
    path.write_text(textwrap.dedent(text))
    return load_agent_config(str(path))


@pytest.fixture
def serve():
    """Start an agent with its HTTP listener on a free port; both closed after the test."""
    made: list[tuple[Agent, AgentHTTP]] = []

    def start(agent: Agent) -> str:
        http = AgentHTTP(agent, "127.0.0.1:0").start()
        made.append((agent, http))
        agent.start()
        return "http://127.0.0.1:%d" % http.address[1]

    yield start
    for agent, http in made:
        http.close()
        agent.close(5.0)


def test_healthz_429_while_the_session_is_suspended_then_200(zk_connection_string, zk_server, zk, tmp_path, serve):
    cfg = load(tmp_path, f"""\
        zookeeper: {{connection: "{zk_connection_string}", session_timeout: 3}}
        register:
          - path: /sus/providers
            address: "10.0.0.1:80"
        """)
    agent = Agent(cfg)
    base = serve(agent)
    assert agent.wait_ready(WAIT)
    wait_for(lambda: get(base + "/healthz") == (200, "ok\n"), WAIT, "healthy")

    zk_server.pause()  # nothing answers: pings time out, the session is suspended
    try:
        wait_for(lambda: agent.session_state == "suspended", WAIT, "suspended")
        code, body = get(base + "/healthz")
        assert (code, body) == (429, "session: suspended\n")
        metrics = get(base + "/metrics")[1]
        assert sample(metrics, 'zkservices_session_state{state="suspended"}') == 1.0
        assert sample(metrics, 'zkservices_session_state{state="connected"}') == 0.0
        assert json.loads(get(base + "/status")[1])["session"]["state"] == "suspended"
    finally:
        zk_server.resume()

    # the same session again or, when it expired meanwhile, a new one with the registration restored
    wait_for(lambda: get(base + "/healthz") == (200, "ok\n"), WAIT, "healthy again")
    wait_for(lambda: zk.get_children("/sus/providers") == ["10.0.0.1:80"], WAIT, "registered")
    metrics = get(base + "/metrics")[1]
    assert sample(metrics, 'zkservices_session_state{state="connected"}') == 1.0
    assert sample(metrics, 'zkservices_session_state{state="suspended"}') == 0.0


def test_healthz_429_and_held_renders_while_a_shrink_guard_holds(zk, tmp_path, serve):
    out = tmp_path / "web.json"
    addresses = [f"10.0.0.{i}:80" for i in range(1, 5)]
    for address in addresses:
        zk.register_server("/guarded/providers", address)
    cfg = load(tmp_path, f"""\
        feeds:
          - name: web
            services: [/guarded]
            template: json
            output: {out}
            min_wait: 0
            min_fraction: 0.5
        """)
    agent = Agent(cfg, zk=zk)
    base = serve(agent)
    assert agent.wait_ready(WAIT)
    wait_for(lambda: out.exists() and len(json.loads(out.read_text())) == 4, WAIT, "rendered with 4")
    assert get(base + "/healthz") == (200, "ok\n")
    held = 'zkservices_feed_renders_total{feed="web",result="held"}'
    assert sample(get(base + "/metrics")[1], held) == 0.0

    # three of the four providers go at once: 1 < 0.5 x 4, the guard keeps the 4
    transaction = zk.client.transaction()
    for address in addresses[1:]:
        transaction.delete(f"/guarded/providers/{address}")
    assert all(result is True for result in transaction.commit())

    wait_for(lambda: get(base + "/healthz")[0] == 429, WAIT, "degraded by the guard")
    code, body = get(base + "/healthz")
    (line,) = body.splitlines()
    assert line.startswith("feed web: /guarded: shrink guard: 1 of 4 provider(s)"), line
    wait_for(lambda: (sample(get(base + "/metrics")[1], held) or 0) >= 1, WAIT, "a held render counted")
    metrics = get(base + "/metrics")[1]
    assert sample(metrics, 'zkservices_feed_providers{feed="web"}') == 4.0
    assert len(json.loads(out.read_text())) == 4  # the file keeps the last set
    held_before = sample(metrics, held)

    # the set recovers: published, healthy again; the counter never goes down
    for address in addresses[1:3]:
        zk.register_server("/guarded/providers", address)
    wait_for(lambda: get(base + "/healthz") == (200, "ok\n"), WAIT, "healthy again")
    wait_for(lambda: len(json.loads(out.read_text())) == 3, WAIT, "the recovered set rendered")
    metrics = get(base + "/metrics")[1]
    assert sample(metrics, 'zkservices_feed_providers{feed="web"}') == 3.0
    assert sample(metrics, held) >= held_before


def test_an_unwritable_output_and_a_failing_reload_cost_nothing_else(zk, tmp_path, serve):
    """Two feeds go wrong -- one's output directory is gone (a file now stands in its
    place: unwritable, also for root), one's reload command fails -- and each is
    reported (``/healthz``, the metrics, ``/status``) while the registration and the
    third feed go on."""
    zk.register_server("/web/providers", "10.0.0.1:80")
    gone, good, reloaded = tmp_path / "gone", tmp_path / "good.json", tmp_path / "reloaded.json"
    gone.mkdir()
    cfg = load(tmp_path, f"""\
        register:
          - path: /agent/providers
            address: "10.0.0.9:80"
        feeds:
          - {{name: broken, services: [/web], template: json, output: {gone / "out.json"}, min_wait: 0}}
          - {{name: good, services: [/web], template: json, output: {good}, min_wait: 0}}
          - {{name: reloady, services: [/web], template: json, output: {reloaded}, min_wait: 0,
              reload_command: "exit 3"}}
        """)
    gone.rmdir()
    gone.write_text("not a directory\n")  # the output's directory went away after the check
    agent = Agent(cfg, zk=zk)
    base = serve(agent)
    wait_for(lambda: zk.exists("/agent/providers/10.0.0.9:80"), WAIT, "the registration")
    wait_for(lambda: good.exists() and len(json.loads(good.read_text())) == 1, WAIT, "the good feed rendered")
    wait_for(lambda: reloaded.exists(), WAIT, "the reloady feed written")

    def degraded() -> bool:
        code, body = get(base + "/healthz")
        return code == 429 and "feed broken" in body and "feed reloady" in body

    wait_for(degraded, WAIT, "both problems on /healthz")
    body = get(base + "/healthz")[1]
    assert "feed good" not in body and "/agent/providers" not in body, body

    # /healthz reports a failure as soon as its result is set; it is counted last, and the
    # registration reports itself up once its create is answered: the test waits for each
    def reported() -> bool:
        metrics = get(base + "/metrics")[1]
        status = json.loads(get(base + "/status")[1])
        return ((sample(metrics, 'zkservices_feed_renders_total{feed="broken",result="failed"}') or 0) >= 1
                and (sample(metrics, 'zkservices_feed_reloads_total{feed="reloady",result="failed"}') or 0) >= 1
                and sample(metrics, 'zkservices_registration_up{address="10.0.0.9:80",path="/agent/providers"}')
                == 1.0 and {f["name"]: f for f in status["feeds"]}["good"]["last_result"] is not None)

    wait_for(reported, WAIT, "the failures counted, the registration up and the good feed's result")
    status = json.loads(get(base + "/status")[1])
    feeds = {feed["name"]: feed for feed in status["feeds"]}
    assert feeds["broken"]["last_result"] == "failed"
    assert feeds["good"]["last_result"] in ("written", "unchanged")
    # the rest goes on: a new provider reaches the good feed
    zk.register_server("/web/providers", "10.0.0.2:80")
    wait_for(lambda: len(json.loads(good.read_text())) == 2, WAIT, "the good feed following")
    assert zk.exists("/agent/providers/10.0.0.9:80")
