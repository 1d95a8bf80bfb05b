"""The agent with the real neighbours it serves: a real Prometheus scrapes its ``/metrics`` and reads
its ``prometheus`` feed through ``file_sd_configs``; its haproxy and nginx feeds pass a real ``haproxy -c`` and ``nginx -t``.

Prometheus is Debian's package (scripts/bootstrap --test installs it, as it installs haproxy and nginx).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import textwrap
import urllib.parse
import urllib.request

import pytest

import zkservices
from zkservices import Agent, load_agent_config
from zkservices._agent.http import AgentHTTP

from _util import wait_for

WAIT = 60.0
EXAMPLES = os.path.join(os.path.dirname(zkservices.__file__), "examples")


def binary(name: str) -> str:
    found = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if found is None:
        pytest.fail(f"{name} is not installed: run scripts/bootstrap --test")
    return found


def nginx_check() -> str:
    """The check command the shipped nginx template's header suggests, with the installed nginx."""
    with open(os.path.join(EXAMPLES, "nginx-upstream.conf.j2"), encoding="utf-8") as f:
        found = re.search(r"--check-command '(.*)' \\$", f.read(), re.M)
    assert found, "the nginx template suggests no check command"
    return found.group(1).replace("nginx -t", f"{binary('nginx')} -t")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(port: int, path: str, **query: str) -> dict:
    url = f"http://127.0.0.1:{port}/api/v1/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


@pytest.fixture
def prometheus(tmp_path):
    made: list[subprocess.Popen] = []

    def start(config: str) -> int:
        port = free_port()
        path = tmp_path / "prometheus.yml"
        path.write_text(config)
        made.append(subprocess.Popen(
            [binary("prometheus"), f"--config.file={path}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prometheus.log", "w"),
        ))
        return port

    yield start
    for proc in made:
        proc.terminate()
        proc.wait(30)


def test_prometheus_scrapes_the_agent_and_reads_its_file_sd(zk, tmp_path, prometheus):
    http_port = free_port()
    targets, balancer, upstream = tmp_path / "targets.json", tmp_path / "web.cfg", tmp_path / "web.conf"
    haproxy = binary("haproxy")
    path = tmp_path / "agent.yaml"
    path.write_text(textwrap.dedent(f"""\
        listen: "127.0.0.1:{http_port}"
        register:
          - path: /web/providers
            address: "127.0.0.1:{http_port}"
            properties: {{zone: eu-1, weight: 3}}
            check: {{http: "http://127.0.0.1:{http_port}/healthz", interval: 0.5, rise: 1, fall: 2}}
        feeds:
          - name: targets
            services: [/web]
            template: prometheus
            output: {targets}
            min_wait: 0
          - name: haproxy
            services: [/web]
            template: haproxy
            output: {balancer}
            check_command: "{haproxy} -c -f {EXAMPLES}/haproxy-check.cfg -f {{}}"
            min_wait: 0
          - name: nginx
            services: [/web]
            template: nginx
            output: {upstream}
            check_command: NGINX_CHECK
            min_wait: 0
    """).replace("NGINX_CHECK", json.dumps(nginx_check())))
    agent = Agent(load_agent_config(str(path)), zk=zk)
    http = AgentHTTP(agent, f"127.0.0.1:{http_port}").start()
    try:
        agent.start()
        assert agent.wait_ready(WAIT)
        # the registration's check is the agent's own /healthz: registered once it answers 200
        wait_for(lambda: zk.exists(f"/web/providers/127.0.0.1:{http_port}"), WAIT, "registered")
        wait_for(lambda: targets.exists() and json.loads(targets.read_text())[0]["targets"], WAIT, "file_sd written")
        wait_for(lambda: balancer.exists() and f"127.0.0.1:{http_port}" in balancer.read_text(), WAIT,
                 "haproxy configuration written (it passed haproxy -c)")
        wait_for(lambda: upstream.exists() and f"127.0.0.1:{http_port}" in upstream.read_text(), WAIT,
                 "nginx configuration written (it passed nginx -t)")
        feeds = {e.name: f for e, f in agent.feeds.items()}
        assert feeds["haproxy"].check_failures == 0 and feeds["haproxy"].last_error is None
        assert feeds["nginx"].check_failures == 0 and feeds["nginx"].last_error is None
        port = prometheus(textwrap.dedent(f"""\
            global: {{scrape_interval: 1s, evaluation_interval: 1s}}
            scrape_configs:
              - job_name: agent
                static_configs: [{{targets: ["127.0.0.1:{http_port}"]}}]
              - job_name: fleet
                file_sd_configs: [{{files: ["{targets}"], refresh_interval: 1s}}]
        """))

        def fleet_up() -> bool:
            active = api(port, "targets")["data"]["activeTargets"]
            fleet = [t for t in active if t["labels"]["job"] == "fleet"]
            return len(fleet) == 1 and fleet[0]["health"] == "up"

        wait_for(fleet_up, WAIT, "Prometheus scraping the file_sd target")
        fleet = next(t for t in api(port, "targets")["data"]["activeTargets"] if t["labels"]["job"] == "fleet")
        assert fleet["labels"]["instance"] == f"127.0.0.1:{http_port}"
        assert fleet["labels"]["zone"] == "eu-1" and fleet["labels"]["weight"] == "3"

        def connected() -> list:
            return api(port, "query", query='zkservices_session_state{job="agent",state="connected"}')["data"]["result"]

        wait_for(lambda: connected() and connected()[0]["value"][1] == "1", WAIT, "the agent's metrics in Prometheus")
        up = api(port, "query", query='zkservices_registration_up{job="agent"}')["data"]["result"]
        assert [(r["metric"]["path"], r["metric"]["address"], r["value"][1]) for r in up] == [
            ("/web/providers", f"127.0.0.1:{http_port}", "1")]
    finally:
        http.close()
        agent.close(10)
