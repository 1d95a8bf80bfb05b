"""``zkservices agent --check CONFIG``: validate without a server; exit 0, or 2 with one line per problem."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap

import pytest

from zkservices import AgentConfigError, load_agent_config
from zkservices.cli.agent import agent_session
from zkservices.cli.session import SessionOptions

GOOD = """\
listen: "127.0.0.1:9150"
register:
  - path: /services/web/providers
    address: ":8080"
    properties: {weight: 3}
    check: {http: "http://127.0.0.1:8080/health"}
  - path: /services/web/providers
    address: "10.0.0.5:8081"
feeds:
  - services: [/services/web]
    template: prometheus
    output: web.json
"""


def agent(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    # No server anywhere: a connection attempt would fail (port 1 refuses).
    environment = {**os.environ, "ZKSERVICES_CONNECTION": "127.0.0.1:1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "zkservices", *args], capture_output=True, text=True,
                          timeout=60, env=environment)


def test_a_valid_configuration_exits_0_with_a_summary(tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_text(GOOD)
    result = agent("agent", "--check", str(path))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"{path}: ok: 2 registrations, 1 feed (1 file)\n"
    directory = tmp_path / "agent.d"
    directory.mkdir()
    (directory / "a.yaml").write_text(GOOD.replace("web.json", "../web.json"))
    (directory / "b.yaml").write_text("register: [{path: /db/providers, address: '10.0.0.5:5432'}]\n")
    result = agent("agent", "--check", str(directory))
    assert result.returncode == 0 and result.stdout == f"{directory}: ok: 3 registrations, 1 feed (2 files)\n"


def test_an_invalid_configuration_exits_2_with_one_line_per_problem(tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_text(GOOD.replace('address: "10.0.0.5:8081"', 'address: "10.0.0.5"\n    bogus_key: 1')
                    .replace("template: prometheus", "template: missing.j2"))
    result = agent("agent", "--check", str(path))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        f"{path}: register[1].address: address '10.0.0.5': expected 'host:port'",
        f"{path}: register[1].bogus_key: unknown key",
        f"{path}: feeds[0].template: cannot read template {tmp_path}/missing.j2: No such file or directory",
    ]
    missing = agent("agent", "--check", str(tmp_path / "nope.yaml"))
    assert (missing.returncode, missing.stderr) == (2, f"{tmp_path / 'nope.yaml'}: no such file or directory\n")


def test_running_an_invalid_configuration_exits_2_as_check_does(tmp_path):
    # (the agent itself now runs: tests/agent/test_agent_run.py; before it starts, CONFIG is checked alike)
    path = tmp_path / "agent.yaml"
    path.write_text(GOOD.replace('address: "10.0.0.5:8081"', 'address: "10.0.0.5"'))
    result = agent("agent", str(path))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [f"{path}: register[1].address: address '10.0.0.5': expected 'host:port'"]
    assert "--check" in agent("agent", "--help").stdout


def _args(config: str, **given) -> argparse.Namespace:
    return argparse.Namespace(config=config, session=SessionOptions(**given))


def test_global_connection_options_fill_what_the_file_leaves_out(tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_text("register: []\n")
    session = agent_session(load_agent_config(path), _args(str(path), connection_string="zkcli:2181",
                                                           auth=(("digest", "cli:secret"),)))
    assert session.options.connection_string == "zkcli:2181"
    assert session.options.auth == (("digest", "cli:secret"),) and session.options.tls is None
    assert session.session_timeout == 10.0 and session.resync_jitter == 0.0
    assert session.read_only is False

    auth = tmp_path / "auth"
    auth.write_text("# the agent's\ndigest:agent:s3cret\n")
    path.write_text(f"zookeeper: {{connection: 'zkfile:2181/prod', session_timeout: 4, resync_jitter: 3, "
                    f"read_only: true, auth_file: {auth}}}\n")
    session = agent_session(load_agent_config(path), _args(str(path), connection_string="zkcli:2181",
                                                           auth=(("digest", "cli:secret"),)))
    assert session.options.connection_string == "zkfile:2181/prod"
    assert session.options.auth == (("digest", "agent:s3cret"),) and session.session_timeout == 4.0
    assert session.resync_jitter == 3.0 and session.read_only is True


def test_a_bad_auth_file_is_a_problem_that_shows_no_secret(tmp_path):
    auth = tmp_path / "auth"
    auth.write_text("digest:agent:s3cret\nnot-a-credential-s3cret\n")
    path = tmp_path / "agent.yaml"
    path.write_text(f"zookeeper: {{auth_file: {auth}}}\n")
    with pytest.raises(AgentConfigError) as caught:
        agent_session(load_agent_config(path), _args(str(path), connection_string="zk:2181"))
    (problem,) = caught.value.problems
    assert (problem.file, problem.location) == (str(path), "zookeeper.auth_file")
    assert problem.message.startswith(f"{auth}, line 2: expected SCHEME:CREDENTIALS")
    result = agent("agent", "--check", str(path))
    assert result.returncode == 2 and "s3cret" not in result.stderr + result.stdout
    assert result.stderr == f"{path}: zookeeper.auth_file: {problem.message}\n"


def test_tls_files_are_checked_as_a_session_takes_them(tmp_path):
    from zkservices.testing.certs import make_certificates

    certs = make_certificates(str(tmp_path / "certs"))
    path = tmp_path / "agent.yaml"
    # the file's CA, the command line's client certificate and key
    path.write_text(f"zookeeper: {{tls: {{ca: {certs.ca_file}}}}}\n")
    result = agent("--tls-cert", certs.client_cert_file, "--tls-key", certs.client_key_file,
                   "agent", "--check", str(path))
    assert result.returncode == 0, result.stderr
    session = agent_session(load_agent_config(path), _args(str(path), connection_string="zk:2281",
                                                           tls=certs.client_tls))
    tls = session.options.tls
    assert (tls.ca, tls.cert, tls.key) == (certs.ca_file, certs.client_cert_file, certs.client_key_file)

    path.write_text(f"zookeeper: {{tls: {{ca: {certs.client_key_file}}}}}\n")  # a key is no CA certificate
    result = agent("agent", "--check", str(path))
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"{path}: zookeeper.tls: ") and "PRIVATE KEY" not in line
    path.write_text(textwrap.dedent(f"""\
        zookeeper:
          tls: {{cert: {certs.client_cert_file}, key: {certs.server_key_file}}}
        """))
    result = agent("agent", "--check", str(path))
    assert result.returncode == 2 and result.stderr.startswith(f"{path}: zookeeper.tls: "), result.stderr


def test_a_session_problem_names_the_file_of_the_zookeeper_section(tmp_path):
    directory = tmp_path / "agent.d"
    directory.mkdir()
    (directory / "10-register.yaml").write_text("register: [{path: /s/providers, address: '10.0.0.5:1'}]\n")
    auth = tmp_path / "auth"
    auth.write_text("nonsense\n")
    (directory / "20-zookeeper.yaml").write_text(f"zookeeper: {{auth_file: {auth}}}\n")
    result = agent("agent", "--check", str(directory))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{directory / '20-zookeeper.yaml'}: zookeeper.auth_file: {auth}, line 1: ")
