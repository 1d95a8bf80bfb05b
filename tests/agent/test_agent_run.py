"""``zkservices agent CONFIG`` as a real process against a real ZooKeeper: systemd notification on a
real unix datagram socket, real HTTP requests, ``promtool check metrics``, SIGHUP reloads (also while
checks and renders are in flight) and SIGTERM (also while ZooKeeper does not answer)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from _util import http_get, metric_sample as sample, wait_for

WAIT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Systemd:
    """The notify socket a service manager would hold: messages are collected as they come."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._closed = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except (socket.timeout, OSError):
                continue

    def wait(self, message: str, count: int = 1) -> None:
        wait_for(lambda: self.messages.count(message) >= count, WAIT, f"{message} x{count} (got {self.messages})")

    def close(self) -> None:
        self._closed = True
        self.sock.close()


class AgentProcess:
    def __init__(self, connection_string: str, config: str, env: dict | None = None,
                 options: tuple[str, ...] = ()) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zkservices", *options, "-z", connection_string, "agent", config],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})},
        )
        self.stderr: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))

    def send(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(signum)
        code = self.proc.wait(WAIT)
        took = time.monotonic() - started
        self._reader.join(WAIT)
        return code, took

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def processes():
    made: list[AgentProcess] = []

    def run(*args, **kw) -> AgentProcess:
        process = AgentProcess(*args, **kw)
        made.append(process)
        return process

    yield run
    for process in made:
        process.kill()


@pytest.fixture
def systemd(tmp_path):
    manager = Systemd(str(tmp_path / "notify.sock"))
    yield manager
    manager.close()


def get(url: str) -> tuple[int, str, str]:
    return http_get(url, timeout=WAIT)




def config_text(port: int, out, extra_register: str = "", extra_feed: str = "") -> str:
    return f"""\
listen: "127.0.0.1:{port}"
register:
  - path: /web/providers
    address: "10.0.0.5:8080"
  - path: /web/providers
    address: "10.0.0.6:8080"
    check: {{command: "sleep 0.2", interval: 0.1, timeout: 5, rise: 1, fall: 1}}
{extra_register}feeds:
  - name: web
    services: [/web]
    template: json
    output: {out}
    check_command: "sleep 0.2; test -s {{}}"
    min_wait: 0
{extra_feed}"""


def test_runs_reports_reloads_and_stops(zk_connection_string, zk, tmp_path, processes, systemd):
    port = free_port()
    out, path = tmp_path / "web.json", tmp_path / "agent.yaml"
    path.write_text(config_text(port, out))
    agent = processes(zk_connection_string, str(path),
                      env={"NOTIFY_SOCKET": systemd.path, "WATCHDOG_USEC": "400000"})
    systemd.wait("READY=1")
    base = f"http://127.0.0.1:{port}"
    # READY=1 says every first check has run (the contract); each create follows its check on
    # the registration's own thread, so the test waits for the agent to report both registered
    wait_for(lambda: all(r["registered"] for r in json.loads(get(base + "/status")[2])["registrations"]), WAIT,
             "both registrations reported")
    assert sorted(zk.get_children("/web/providers")) == ["10.0.0.5:8080", "10.0.0.6:8080"]
    wait_for(lambda: out.exists() and len(json.loads(out.read_text())) == 2, WAIT, "the feed rendered")
    systemd.wait("WATCHDOG=1", 2)

    assert get(base + "/healthz")[::2] == (200, "ok\n")
    code, kind, body = get(base + "/status")
    assert (code, kind) == (200, "application/json")
    document = json.loads(body)
    assert document["session"]["state"] == "connected"
    # the session id as ZooKeeper prints it: the owner of the agent's ephemeral nodes
    assert document["session"]["id"].startswith("0x")
    assert int(document["session"]["id"], 16) == zk.exists("/web/providers/10.0.0.5:8080").ephemeralOwner
    assert [(r["path"], r["address"], r["registered"]) for r in document["registrations"]] == [
        ("/web/providers", "10.0.0.5:8080", True), ("/web/providers", "10.0.0.6:8080", True)]
    assert document["registrations"][0]["check"] == {"ok": True, "output": "no check"}
    assert [(f["name"], f["output"], f["providers"], f["last_result"]) for f in document["feeds"]] == [
        ("web", str(out), 2, "written")]
    assert get(base + "/nope")[0] == 404
    code, _, metrics = get(base + "/metrics")
    assert code == 200
    for line in ['zkservices_session_state{state="connected"} 1.0',
                 'zkservices_session_state{state="lost"} 0.0',
                 'zkservices_registration_up{address="10.0.0.5:8080",path="/web/providers"} 1.0',
                 'zkservices_feed_providers{feed="web"} 2.0',
                 'zkservices_config_reloads_total{result="ok"} 0.0',
                 "zkservices_session_expirations_total 0.0"]:
        assert line in metrics.splitlines(), line
    assert sample(metrics, 'zkservices_feed_renders_total{feed="web",result="written"}') >= 1
    assert sample(metrics, 'zkservices_feed_renders_total{feed="web",result="failed"}') == 0
    assert "process_resident_memory_bytes" in metrics
    assert "zkservices_feed_last_success_timestamp_seconds{feed=\"web\"}" in metrics
    promtool = subprocess.run(["promtool", "check", "metrics"], input=metrics, capture_output=True, text=True,
                              timeout=WAIT)
    assert promtool.returncode == 0, promtool.stdout + promtool.stderr

    kept = zk.exists("/web/providers/10.0.0.5:8080")
    writes_before = out.stat().st_mtime_ns
    # SIGHUP while checks (0.2 s commands every 0.1 s) run, with an added registration
    path.write_text(config_text(port, out, extra_register='  - path: /api/providers\n    address: "10.0.0.9:9000"\n'))
    agent.send(signal.SIGHUP)
    systemd.wait("RELOADING=1")
    systemd.wait("READY=1", 2)
    wait_for(lambda: zk.exists("/api/providers/10.0.0.9:9000"), WAIT, "the added registration")
    assert zk.exists("/web/providers/10.0.0.5:8080").czxid == kept.czxid
    assert out.stat().st_mtime_ns == writes_before  # the unchanged feed was not rendered again
    assert 'zkservices_config_reloads_total{result="ok"} 1.0' in get(base + "/metrics")[2].splitlines()

    # a provider change starts a render (its check command takes 0.2 s): SIGHUP in flight
    zk.register_server("/web/providers", "10.0.0.7:8080")
    path.write_text(config_text(port, out))  # /api removed again
    agent.send(signal.SIGHUP)
    wait_for(lambda: zk.exists("/api/providers/10.0.0.9:9000") is None, WAIT, "the removed registration gone")
    wait_for(lambda: len(json.loads(out.read_text())) == 3, WAIT, "the render in flight completed")
    assert sorted(zk.get_children("/web/providers")) == ["10.0.0.5:8080", "10.0.0.6:8080", "10.0.0.7:8080"]

    # a configuration that fails: nothing changes, an ERROR line names the problem
    path.write_text(config_text(port, out).replace('address: "10.0.0.5:8080"', 'address: "10.0.0.5"'))
    agent.send(signal.SIGHUP)
    wait_for(lambda: any("ERROR" in line and "register[0].address" in line for line in agent.stderr), WAIT,
             "the ERROR line")
    wait_for(lambda: 'zkservices_config_reloads_total{result="failed"} 1.0' in get(base + "/metrics")[2], WAIT,
             "failed reload counted")
    assert zk.exists("/web/providers/10.0.0.5:8080").czxid == kept.czxid
    assert get(base + "/healthz")[0] == 200

    code, took = agent.stop(signal.SIGTERM)
    assert code == 0, agent.stderr[-10:]
    assert took < 5.0 + 3.0  # the contract's 5 s, plus an interpreter's exit on a busy machine
    systemd.wait("STOPPING=1")
    assert sorted(zk.get_children("/web/providers")) == ["10.0.0.7:8080"]
    assert not [line for line in agent.stderr if "Traceback" in line], agent.stderr
    assert out.exists()


def test_a_render_failure_is_reported_and_costs_no_registration(zk_connection_string, zk, tmp_path, processes):
    port = free_port()
    broken = tmp_path / "broken.j2"
    broken.write_text("{{ services[0].properties.missing.deeper }}\n")
    path = tmp_path / "agent.yaml"
    path.write_text(f"""\
listen: "127.0.0.1:{port}"
register:
  - path: /b/providers
    address: "10.0.0.5:8080"
feeds:
  - name: broken
    services: [/b]
    template: {broken}
    output: {tmp_path / 'broken.out'}
    min_wait: 0
""")
    agent = processes(zk_connection_string, str(path))
    wait_for(lambda: get(f"http://127.0.0.1:{port}/healthz")[0] == 429, WAIT, "degraded")
    code, _, body = get(f"http://127.0.0.1:{port}/healthz")
    assert body.startswith("feed broken: ") and "missing" in body
    wait_for(lambda: zk.exists("/b/providers/10.0.0.5:8080"), WAIT, "registered all the same")
    # the failure is counted last, after the result /healthz reports
    failed = 'zkservices_feed_renders_total{feed="broken",result="failed"}'
    wait_for(lambda: (sample(get(f"http://127.0.0.1:{port}/metrics")[2], failed) or 0) >= 1, WAIT,
             "the render failure counted")
    assert json.loads(get(f"http://127.0.0.1:{port}/status")[2])["feeds"][0]["last_result"] == "failed"
    assert agent.stop(signal.SIGINT)[0] == 0


def test_sigterm_while_zookeeper_does_not_answer(zk_connection_string, zk_server, zk, tmp_path, processes):
    path = tmp_path / "agent.yaml"
    port = free_port()
    path.write_text(f'listen: "127.0.0.1:{port}"\nregister:\n  - path: /z/providers\n    address: "10.0.0.5:80"\n')
    agent = processes(zk_connection_string, str(path))
    wait_for(lambda: zk.exists("/z/providers/10.0.0.5:80"), WAIT, "registered")
    zk_server.stop()
    wait_for(lambda: get(f"http://127.0.0.1:{port}/healthz")[0] in (429, 503), WAIT, "the agent sees it")
    code, took = agent.stop(signal.SIGTERM)
    assert code == 0 and took < 5.0 + 3.0, (code, took, agent.stderr[-5:])

    # never connected at all: stops as promptly
    nowhere = processes(f"127.0.0.1:{free_port()}", str(path))
    wait_for(lambda: get(f"http://127.0.0.1:{port}/healthz")[0] == 503, WAIT, "no session yet")
    assert get(f"http://127.0.0.1:{port}/healthz")[2].splitlines() == [
        "session: no session yet", "register /z/providers 10.0.0.5:80: not running"]
    code, took = nowhere.stop(signal.SIGTERM)
    assert code == 0 and took < 5.0 + 3.0
    zk_server.start()
    wait_for(lambda: zk.connected, WAIT, "the test's session back")


def test_a_listen_address_in_use_exits_1_before_registering(zk_connection_string, zk, tmp_path, processes):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        path = tmp_path / "agent.yaml"
        path.write_text(f'listen: "127.0.0.1:{port}"\nregister:\n  - path: /l/providers\n    address: "10.0.0.5:80"\n')
        agent = processes(zk_connection_string, str(path))
        assert agent.proc.wait(WAIT) == 1
        agent._reader.join(WAIT)
    assert any(f"cannot listen on 127.0.0.1:{port}" in line for line in agent.stderr), agent.stderr
    assert zk.exists("/l/providers") is None


def test_credentials_stay_out_of_the_commands_debug_log(zk_connection_string, zk, tmp_path, processes):
    """kazoo logs its Auth packets at DEBUG: the command's handler redacts them (``-vv``)."""
    auth = tmp_path / "auth"
    auth.write_text("digest:alice:s3cr3t-passw0rd\n")
    path = tmp_path / "agent.yaml"
    path.write_text(f'zookeeper: {{auth_file: "{auth}"}}\n'
                    'register:\n  - path: /r/providers\n    address: "10.0.0.5:80"\n')
    agent = processes(zk_connection_string, str(path), options=("-vv",))
    wait_for(lambda: zk.exists("/r/providers/10.0.0.5:80"), WAIT, "registered with the auth")
    assert agent.stop()[0] == 0
    assert any("Auth(scheme='digest', auth=<redacted>)" in line for line in agent.stderr), agent.stderr[-20:]
    assert not any("s3cr3t" in line for line in agent.stderr)


def test_a_changed_listen_section_needs_a_restart_and_the_rest_is_applied(zk_connection_string, zk, tmp_path,
                                                                          processes):
    port, moved = free_port(), free_port()
    out, path = tmp_path / "web.json", tmp_path / "agent.yaml"
    path.write_text(config_text(port, out))
    agent = processes(zk_connection_string, str(path))
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: get(base + "/healthz")[::2] == (200, "ok\n"), WAIT, "running and healthy")
    wait_for(lambda: zk.exists("/web/providers/10.0.0.5:8080"), WAIT, "registered")
    kept = zk.exists("/web/providers/10.0.0.5:8080")

    # SIGHUP with another listen address and an added registration
    path.write_text(config_text(moved, out, extra_register='  - path: /api/providers\n    address: "10.0.0.9:9000"\n'))
    agent.send(signal.SIGHUP)
    # the old listener still answers, and reports the new configuration; nothing listens on the new address.
    # (The agent's own report is what the test waits for: the node is there a moment before the
    # agent hears its create answered, and the reload is counted after it has started its entries.)
    reported = ['zkservices_config_reloads_total{result="ok"} 1.0',
                'zkservices_registration_up{address="10.0.0.9:9000",path="/api/providers"} 1.0']
    wait_for(lambda: all(line in get(base + "/metrics")[2].splitlines() for line in reported), WAIT,
             "the reload and the added registration reported")
    assert zk.exists("/api/providers/10.0.0.9:9000")
    assert zk.exists("/web/providers/10.0.0.5:8080").czxid == kept.czxid
    # the WARNING was logged before the reload was counted; the test reads the agent's stderr on a thread of its own
    wait_for(lambda: any("WARNING" in line and "listen" in line for line in agent.stderr), WAIT, "the WARNING")
    warnings = [line for line in agent.stderr if "WARNING" in line and "listen" in line]
    assert len(warnings) == 1 and "restart" in warnings[0], agent.stderr
    document = json.loads(get(base + "/status")[2])
    assert [(r["path"], r["address"]) for r in document["registrations"]][-1] == ("/api/providers", "10.0.0.9:9000")
    wait_for(lambda: get(base + "/healthz")[::2] == (200, "ok\n"), WAIT, "healthy after the reload")
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", moved)) != 0

    code, _ = agent.stop(signal.SIGTERM)
    assert code == 0, agent.stderr[-10:]
    assert not [line for line in agent.stderr if "Traceback" in line], agent.stderr
