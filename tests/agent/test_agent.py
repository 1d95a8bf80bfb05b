"""The Agent class: a configuration's registrations and feeds on one real session, reloaded entry by entry."""

from __future__ import annotations

import json
import logging
import socket
import textwrap
import time

import pytest

from zkservices import Agent, load_agent_config

from _util import wait_for

WAIT = 30.0


def config(tmp_path, text: str):
    path = tmp_path / "agent.yaml"
    path.write_text(textwrap.dedent(text))
    return load_agent_config(str(path))


@pytest.fixture
def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


BASE = """\
register:
  - path: /web/providers
    address: "10.0.0.5:8080"
    properties: {{weight: 3}}
  - path: /web/providers
    address: "127.0.0.1:{port}"
    check: {{tcp: "127.0.0.1:{port}", interval: 0.2, rise: 1, fall: 1}}
feeds:
  - name: web
    services: [/web]
    template: json
    output: {out}
    min_wait: 0
"""


def children(zk, path):
    return sorted(zk.get_children(path)) if zk.exists(path) else []


def test_registers_feeds_and_closes(zk, tmp_path, listener):
    out = tmp_path / "web.json"
    cfg = config(tmp_path, BASE.format(port=listener, out=out))
    with Agent(cfg, zk=zk) as agent:
        assert agent.wait_ready(WAIT)
        wait_for(lambda: children(zk, "/web/providers") == ["10.0.0.5:8080", f"127.0.0.1:{listener}"], WAIT,
                 "both registered")
        wait_for(lambda: out.exists() and len(json.loads(out.read_text())) == 2, WAIT, "the feed's file")
        assert {p["port"] for p in json.loads(out.read_text())} == {8080, listener}
        assert agent.session_state == "connected" and agent.session_id == zk.core.session_id
        assert json.loads(zk.get("/web/providers/10.0.0.5:8080")[0])["weight"] == 3
    assert children(zk, "/web/providers") == []
    assert out.exists()  # a feed's file is left as it is
    assert not zk.closed  # a session handed in is left open


def test_reload_keeps_unchanged_entries_untouched(zk, tmp_path, listener, caplog):
    out, other = tmp_path / "web.json", tmp_path / "other.json"
    with_api = BASE.format(port=listener, out=out).replace(
        "register:\n", "register:\n  - path: /api/providers\n    address: '10.0.0.6:9000'\n"
        "    properties: {weight: 4}\n", 1)
    cfg = config(tmp_path, with_api)
    with Agent(cfg, zk=zk) as agent:
        assert agent.wait_ready(WAIT)
        wait_for(lambda: len(children(zk, "/web/providers")) == 2, WAIT, "registered")
        wait_for(lambda: out.exists() and len(json.loads(out.read_text())) == 2, WAIT, "rendered")
        wait_for(lambda: children(zk, "/api/providers") == ["10.0.0.6:9000"], WAIT, "api registered")
        kept_node = zk.exists(f"/web/providers/127.0.0.1:{listener}")
        registrations, feeds = agent.registrations, agent.feeds
        web_feed = next(iter(feeds.values()))
        writes = web_feed.writes
        processed = web_feed.file_feed.processed
        # the /api registration changes (weight), one is added, the feed is kept, one feed is added,
        # and the zookeeper section changes (needs a restart)
        new_text = with_api.replace("weight: 4", "weight: 5") + (
            f"  - name: other\n    services: [/web]\n    template: json\n    output: {other}\n    min_wait: 0\n")
        new_text = new_text.replace("register:\n", "zookeeper: {connection: 'elsewhere:2181'}\nregister:\n"
                                    "  - path: /db/providers\n    address: '10.0.0.7:5432'\n", 1)
        new = config(tmp_path, new_text)
        with caplog.at_level(logging.WARNING, logger="zkservices.agent"):
            counts = agent.reload(new)
        assert counts == {"kept": 3, "stopped": 1, "started": 3}
        assert any("zookeeper section changed" in r.getMessage() and r.levelno == logging.WARNING
                   for r in caplog.records)
        assert agent.config.zookeeper == cfg.zookeeper and agent.config.register == new.register
        # untouched: the same objects, the same node of the same session, no new rendering
        tcp_entry = next(e for e in new.register if e.port == listener)
        assert agent.registrations[tcp_entry] is registrations[tcp_entry]
        assert zk.exists(f"/web/providers/127.0.0.1:{listener}").czxid == kept_node.czxid
        assert agent.feeds[new.feed("web")] is web_feed
        wait_for(lambda: children(zk, "/db/providers") == ["10.0.0.7:5432"], WAIT, "added registration")
        wait_for(lambda: json.loads(zk.get("/api/providers/10.0.0.6:9000")[0]).get("weight") == 5, WAIT,
                 "the changed registration replaced")
        wait_for(lambda: other.exists(), WAIT, "added feed rendered")
        assert (web_feed.writes, web_feed.file_feed.processed) == (writes, processed)
        # removing: unregistered, the feed's file left as it is
        agent.reload(cfg)
        wait_for(lambda: children(zk, "/db/providers") == [], WAIT, "removed registration unregistered")
        assert other.exists() and new.feed("other") not in agent.feeds
        assert agent.registrations[tcp_entry] is registrations[tcp_entry]


def test_bad_input_never_costs_a_registration(zk, tmp_path, listener):
    broken = tmp_path / "broken.j2"
    broken.write_text("{{ services[0].properties.missing.deeper }}\n")
    good, bad = tmp_path / "good.json", tmp_path / "bad.out"
    text = f"""\
    register:
      - path: /ok/providers
        address: "10.0.0.7:80"
      - path: /hang/providers
        address: "10.0.0.8:80"
        check: {{command: "sleep 60", interval: 0.2, timeout: 0.3, rise: 1, fall: 1}}
    feeds:
      - name: bad
        services: [/ok]
        template: {broken}
        output: {bad}
        min_wait: 0
      - name: good
        services: [/ok]
        template: json
        output: {good}
        min_wait: 0
    """
    agent = Agent(config(tmp_path, text), zk=zk).start()
    try:
        assert agent.wait_ready(WAIT)
        wait_for(lambda: children(zk, "/ok/providers") == ["10.0.0.7:80"], WAIT, "registered despite the rest")
        wait_for(lambda: good.exists() and json.loads(good.read_text()), WAIT, "the good feed rendered")
        feeds = {e.name: f for e, f in agent.feeds.items()}
        wait_for(lambda: feeds["bad"].file_feed.last_result == "failed", WAIT, "the render failure recorded")
        assert not bad.exists()
        hang = next(r for e, r in agent.registrations.items() if e.path == "/hang/providers")
        wait_for(lambda: hang.check_failures >= 2, WAIT, "the hanging check timed out twice")
        assert not hang.registered and "timed out" in hang.check_output
        assert children(zk, "/hang/providers") == []
    finally:
        started = time.monotonic()
        agent.close(10)
    assert time.monotonic() - started < 10
    assert children(zk, "/ok/providers") == []


def test_connects_itself_and_closes_its_session(zk_connection_string, zk, tmp_path):
    cfg = config(tmp_path, f"""\
    zookeeper: {{connection: "{zk_connection_string}", session_timeout: 5}}
    register:
      - path: /own/providers
        address: "10.0.0.9:80"
    """)
    with Agent(cfg) as agent:
        assert agent.wait_ready(WAIT)
        wait_for(lambda: children(zk, "/own/providers") == ["10.0.0.9:80"], WAIT, "registered")
        own = agent.zk
        assert own is not zk
    assert own.closed
    wait_for(lambda: children(zk, "/own/providers") == [], WAIT, "gone with the session")
    with pytest.raises(RuntimeError):
        agent.start()


def test_its_own_session_takes_the_sections_read_only_and_resync_jitter(zk_connection_string, tmp_path):
    section = f'zookeeper: {{connection: "{zk_connection_string}", read_only: true, resync_jitter: 0.5}}\n'
    with Agent(config(tmp_path, section)) as agent:
        assert agent.wait_ready(WAIT)
        wait_for(lambda: agent.zk is not None, WAIT, "the session")
        own = agent.zk
        assert own.client.read_only is True and own._viewset.resync_jitter == 0.5
        assert agent.session_state == "connected" and not own.read_only  # a read-write server serves it
    # given as options, where the section says nothing
    plain = config(tmp_path, f'zookeeper: {{connection: "{zk_connection_string}"}}\n')
    with Agent(plain, read_only=True, resync_jitter=0.25) as agent:
        wait_for(lambda: agent.zk is not None, WAIT, "the session")
        assert agent.zk.client.read_only is True and agent.zk._viewset.resync_jitter == 0.25
    with Agent(plain) as agent:
        wait_for(lambda: agent.zk is not None, WAIT, "the session")
        assert agent.zk.client.read_only is False and agent.zk._viewset.resync_jitter == 0.0


def test_feeds_serve_their_snapshot_while_zookeeper_does_not_answer(zk_connection_string, zk, tmp_path):
    out, snapshot = tmp_path / "web.json", tmp_path / "web.snapshot.json"
    zk.register_server("/snap/providers", "10.0.0.1:80")

    def cfg(connection: str):
        return config(tmp_path, f"""\
        zookeeper: {{connection: "{connection}"}}
        feeds:
          - name: web
            services: [/snap]
            template: json
            output: {out}
            snapshot: {snapshot}
            min_wait: 0
        """)

    with Agent(cfg(zk_connection_string)) as agent:
        assert agent.wait_ready(WAIT)
        wait_for(lambda: snapshot.exists(), WAIT, "the snapshot saved")
    out.unlink()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nowhere = f"127.0.0.1:{s.getsockname()[1]}"
    with Agent(cfg(nowhere)) as agent:
        assert agent.wait_ready(WAIT)  # rendered from the snapshot: READY without a session
        assert agent.session_state == "lost" and agent.zk is None
        assert [p["port"] for p in json.loads(out.read_text())] == [80]
        assert agent.feeds[agent.config.feed("web")].stale
