"""``register`` (zkservices.cli.services): its log at the default verbosity, ``--timeout`` and auth."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from _util import wait_for

WAIT = 30.0


def start_register(*args, env=None):
    return subprocess.Popen([sys.executable, "-m", "zkservices", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_register_logs_each_registration_and_removal_at_info(zk_connection_string, zk_client):
    process = start_register("-z", zk_connection_string, "register", "/svc", "10.0.0.1:80", "weight=2")
    try:
        line = process.stdout.readline().strip()
        assert line == "registered /svc/10.0.0.1:80 (healthy: no health check)", line
        assert zk_client.exists("/svc/10.0.0.1:80")
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert stdout.strip() == "unregistered /svc/10.0.0.1:80 (received SIGTERM)"
    logged = [line.split(" ", 2)[2] for line in stderr.splitlines() if " zkservices.cli.register: " in line]
    assert "INFO zkservices.cli.register: registered /svc/10.0.0.1:80 (healthy: no health check)" in logged, stderr
    assert "INFO zkservices.cli.register: unregistered /svc/10.0.0.1:80 (received SIGTERM)" in logged, stderr
    assert not zk_client.exists("/svc/10.0.0.1:80")


def test_register_quiet_logs_no_info(zk_connection_string, zk_client):
    process = start_register("-q", "-z", zk_connection_string, "register", "/svc", "10.0.0.1:80")
    try:
        assert process.stdout.readline().startswith("registered ")
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert " INFO " not in stderr, stderr


def test_register_timeout_is_the_connection_wait():
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "zkservices", "register", "-z", "127.0.0.1:1", "--timeout", "1",
                             "/svc", "10.0.0.1:80"], capture_output=True, text=True, timeout=WAIT)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "zkservices register: no ZooKeeper server at 127.0.0.1:1 answered within 1s")
    assert elapsed < 10, elapsed


def test_register_check_timeout_is_the_checks_own(zk_connection_string, zk_client):
    process = start_register("-z", zk_connection_string, "register", "--check-command", "true",
                             "--check-timeout", "0.5", "--interval", "0.1", "--rise", "1", "/svc", "10.0.0.1:80")
    try:
        assert process.stdout.readline().startswith("registered /svc/10.0.0.1:80")
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    usage = subprocess.run([sys.executable, "-m", "zkservices", "register", "--check-timeout", "1", "/svc",
                            "10.0.0.1:80"], capture_output=True, text=True, timeout=WAIT)
    assert usage.returncode == 2 and "--check-timeout: only with a check" in usage.stderr


def test_register_with_auth_owns_its_node(zk_connection_string, zk_client):
    from kazoo.exceptions import NoAuthError

    process = start_register("-z", zk_connection_string, "register", "--auth", "digest:svc:pw", "/owned-svc",
                             "10.0.0.1:80")
    try:
        assert process.stdout.readline().startswith("registered /owned-svc/10.0.0.1:80")
        acl, _ = zk_client.get_acls("/owned-svc/10.0.0.1:80")
        assert any(entry.id.scheme == "digest" and entry.id.id.startswith("svc:") for entry in acl), acl
        try:
            zk_client.set("/owned-svc/10.0.0.1:80", b"{}")
            overwritten = True
        except NoAuthError:
            overwritten = False
        assert not overwritten
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    wait_for(lambda: not zk_client.exists("/owned-svc/10.0.0.1:80"), WAIT, "the registration to be removed")


def test_register_exits_promptly_on_sigterm_while_zookeeper_is_frozen(zk_server, zk_connection_string, zk_client):
    """SIGTERM during an outage: exit within a few seconds, leaving the node to the
    session's expiry (and saying so), instead of waiting for ZooKeeper."""
    process = start_register("-z", zk_connection_string, "register", "/svc", "10.0.0.1:80")
    try:
        assert process.stdout.readline().startswith("registered ")
        zk_server.pause()  # SIGSTOP: connections hang, nothing answers
        try:
            time.sleep(0.5)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=WAIT)
            took = time.monotonic() - started
        finally:
            zk_server.resume()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert took < 5.0, f"took {took:.1f}s to exit"
    assert "leaving /svc/10.0.0.1:80 to the session's expiry" in stderr, stderr
    # the node goes with the session (its timeout is 10 s)
    wait_for(lambda: zk_client.exists("/svc/10.0.0.1:80") is None, WAIT, "the node gone with its session")


@pytest.mark.parametrize("option", ["--provider-format", "--format"])  # --format: deprecated, hidden
def test_register_format_curator_writes_a_curator_instance(zk_connection_string, zk_client, option):
    import json as json_module

    process = start_register("-z", zk_connection_string, "register", option, "curator", "/services/orders",
                             "10.0.0.7:8080", "weight=3")
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("registered /services/orders/"), line
        (instance_id,) = zk_client.get_children("/services/orders")
        data = json_module.loads(zk_client.get(f"/services/orders/{instance_id}")[0])
        assert (data["name"], data["id"], data["address"], data["port"]) == ("orders", instance_id, "10.0.0.7", 8080)
        assert data["payload"] == {"@class": "java.util.LinkedHashMap", "weight": 3}
        assert "format" not in data["payload"]
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert zk_client.get_children("/services/orders") == []
    assert ("--format is deprecated; use --provider-format" in stderr) == (option == "--format"), stderr


def test_register_help_names_the_providers_node_and_hides_format():
    result = subprocess.run([sys.executable, "-m", "zkservices", "register", "--help"], capture_output=True,
                            text=True, timeout=WAIT)
    assert result.returncode == 0, result.stderr
    assert "the providers node" in result.stdout and "--provider-format" in result.stdout
    assert "--format" not in result.stdout.replace("--provider-format", "")
    both = subprocess.run([sys.executable, "-m", "zkservices", "-z", "127.0.0.1:1", "register", "--format", "curator",
                           "--provider-format", "curator", "/svc", "10.0.0.1:80"], capture_output=True, text=True,
                          timeout=WAIT)
    assert both.returncode == 2 and "--provider-format only" in both.stderr
