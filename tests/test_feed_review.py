"""Review findings for feeds, commands and registrars: each test pins a bug found and fixed
(or a behaviour an operator relies on), against real servers, files and processes.

No assertion is about how long something took beyond generous upper bounds.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from kazoo.exceptions import NodeExistsError

import zkservices
import zkservices.aio
from zkservices import Feed
from zkservices._discovery import CommandCheck
from zkservices._feed import FileFeed

from _util import kazoo_client, stop, wait_for

WAIT = 30.0

TEMPLATE = """\
{% for s in services %}
{{ s.name }}:{% for p in s.providers %} {{ p.address }}{% endfor %}

{% endfor %}
"""


def read(path) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def provider(client, service: str, node: str, **data) -> str:
    host, _, port = node.rpartition(":")
    body = {"host": host, "port": int(port), **data}
    return client.create(f"{service}/providers/{node}", json.dumps(body).encode(), ephemeral=True, makepath=True)


# -- commands: background processes, quoting, failed reloads --------------------------


def test_reload_command_leaving_a_background_process_succeeds_at_once(tmp_path):
    # A reload script that (re)starts a daemon leaves a process holding the
    # command's stdout.  Waiting for end-of-file on a pipe made every such
    # reload "time out" after command_timeout and SIGKILLed the new daemon.
    out, pidfile = tmp_path / "lb.conf", tmp_path / "daemon.pid"
    reload = f"sleep 60 & echo $! > {pidfile}; echo reloaded"
    feed = FileFeed(template_text="x={{ x }}\n", output=out, reload_command=reload, command_timeout=20)
    try:
        feed.update({"x": 1})
        assert feed.flush(WAIT)
        assert feed.reloads == 1 and feed.reload_failures == 0, feed.last_error
        daemon = int(pidfile.read_text())
        os.kill(daemon, 0)  # the daemon the reload started is still running
    finally:
        feed.close()
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_command_check_with_a_background_child_passes(tmp_path):
    # The same for registrars: a check command that spawns something in the
    # background was reported "timed out" (and unregistered the server).
    pidfile = tmp_path / "child.pid"
    try:
        ok, reason = CommandCheck(f"sleep 60 & echo $! > {pidfile}; exit 0").check(10.0)
        assert ok, reason
    finally:
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.parametrize("command", ['test -s {}', 'test -s "{}"', "test -s '{}'"])
def test_check_command_placeholder_quoted_or_not_with_spaces_in_the_path(tmp_path, command):
    # "{}" or '{}' around the placeholder (a common habit) broke every check
    # for an output path with a space: the feed never wrote.
    directory = tmp_path / "lb configs"
    directory.mkdir()
    out = directory / "my upstream.conf"
    feed = FileFeed(template_text="x={{ x }}\n", output=out, check_command=command)
    try:
        feed.update({"x": 1})
        assert feed.flush(WAIT)
        assert feed.check_failures == 0, feed.last_error
        assert read(out) == "x=1\n"
    finally:
        feed.close()


def test_failed_reload_is_retried_even_when_the_file_does_not_change_again(tmp_path):
    # After a failed reload the file on disk is newer than what the load
    # balancer runs.  The next cycle found the file "up to date", cleared the
    # error and never reloaded: the balancer silently kept the old config.
    out, ok, calls = tmp_path / "lb.conf", tmp_path / "balancer-up", tmp_path / "calls"
    feed = FileFeed(template_text="x={{ x }}\n", output=out, reload_command=f"echo r >> {calls}; test -e {ok}")
    try:
        feed.update({"x": 1})
        assert feed.flush(WAIT)
        assert feed.reload_failures == 1 and feed.last_error is not None
        feed.update({"x": 1})  # the same rendering again: still owed
        assert feed.flush(WAIT)
        assert feed.last_error is not None
        ok.write_text("")
        wait_for(lambda: feed.reloads == 1, WAIT, "the reload to be retried")
        assert feed.last_error is None
        count = len(calls.read_text().split())
        time.sleep(0.3)
        assert len(calls.read_text().split()) == count  # no more retries once it succeeded
    finally:
        feed.close()


# -- ZooKeeper side -------------------------------------------------------------------


def test_providers_node_deleted_and_recreated(zk_client, zk_connection_string, tmp_path):
    out = tmp_path / "lb.conf"
    zk_client.ensure_path("/svc")
    provider(zk_client, "/svc", "10.0.0.1:80")
    provider(zk_client, "/svc", "10.0.0.2:80")
    with Feed(zk_connection_string, ["/svc"], template_text=TEMPLATE, output=out):
        wait_for(lambda: read(out) == "svc: 10.0.0.1:80 10.0.0.2:80\n", WAIT, "first rendering")
        tx = zk_client.transaction()  # the node and its children at once
        for name in zk_client.get_children("/svc/providers"):
            tx.delete(f"/svc/providers/{name}")
        tx.delete("/svc/providers")
        assert all(r is True for r in tx.commit())
        time.sleep(0.3)
        assert read(out) == "svc: 10.0.0.1:80 10.0.0.2:80\n"  # the shrink guard holds
        provider(zk_client, "/svc", "10.0.0.3:80")
        provider(zk_client, "/svc", "10.0.0.4:80")
        wait_for(lambda: read(out) == "svc: 10.0.0.3:80 10.0.0.4:80\n", WAIT, "the re-created providers")
        provider(zk_client, "/svc", "10.0.0.5:80")
        wait_for(lambda: read(out) == "svc: 10.0.0.3:80 10.0.0.4:80 10.0.0.5:80\n", WAIT, "watching resumed")


def test_two_services_one_missing_then_created(zk_client, zk_connection_string, tmp_path):
    out = tmp_path / "lb.conf"
    provider(zk_client, "/a", "10.0.0.1:80")
    with Feed(zk_connection_string, ["/a", "/b"], template_text=TEMPLATE, output=out):
        wait_for(lambda: read(out) == "a: 10.0.0.1:80\nb:\n", WAIT, "a rendering with b empty")
        provider(zk_client, "/b", "10.0.0.9:81")
        wait_for(lambda: read(out) == "a: 10.0.0.1:80\nb: 10.0.0.9:81\n", WAIT, "b once created")


def test_provider_data_not_json_or_without_host_and_port(zk_client, zk_connection_string, tmp_path):
    out = tmp_path / "lb.conf"
    zk_client.create("/svc/providers/10.0.0.1:80", b"not json", makepath=True)
    zk_client.create("/svc/providers/10.0.0.2:81", b"[1, 2]")
    zk_client.create("/svc/providers/10.0.0.3:82", b'{"weight": 2}')
    zk_client.create("/svc/providers/weird", b'{"host": ["x"], "port": {"a": 1}}')
    with Feed(zk_connection_string, ["/svc"], template_text=TEMPLATE, output=out) as feed:
        wait_for(lambda: read(out) is not None, WAIT, "a rendering")
        # "weird" has no usable host or port: left out (issue 9), the others rendered
        assert read(out) == "svc: 10.0.0.1:80 10.0.0.2:81 10.0.0.3:82\n"
        provider(zk_client, "/svc", "10.0.0.4:83")  # the feed still follows
        wait_for(lambda: "10.0.0.4:83" in (read(out) or ""), WAIT, "the feed to go on")
        assert feed.last_error is None


def test_feed_over_an_ensemble_survives_the_leader_dying(zk_ensemble, tmp_path):
    root = f"/review-{uuid.uuid4().hex[:8]}"
    client = kazoo_client(zk_ensemble.connection_string)
    out = tmp_path / "lb.conf"
    seen: list[str] = []
    try:
        provider(client, root + "/svc", "10.0.0.1:80")
        provider(client, root + "/svc", "10.0.0.2:80")
        with Feed(zk_ensemble.connection_string + root, ["/svc"], template_text=TEMPLATE, output=out,
                  on_render=seen.append):
            wait_for(lambda: read(out) == "svc: 10.0.0.1:80 10.0.0.2:80\n", WAIT, "first rendering")
            zk_ensemble.leader().kill()
            def add_third() -> bool:  # ConnectionLoss while the ensemble elects: try again
                try:
                    provider(client, root + "/svc", "10.0.0.3:80")
                except NodeExistsError:  # an earlier attempt got through
                    pass
                return True

            wait_for(add_third, WAIT, "a new leader to take a write")
            wait_for(lambda: read(out) == "svc: 10.0.0.1:80 10.0.0.2:80 10.0.0.3:80\n", WAIT, "convergence")
        assert all(text.startswith("svc: 10.0.0.1:80 10.0.0.2:80") for text in seen), seen  # never empty
    finally:
        try:
            client.delete(root, recursive=True)
        finally:
            stop(client)


# -- aio --------------------------------------------------------------------------------


def test_aio_properties_stream_survives_a_bad_property_link(zk_connection_string, zk_client):
    # The stream's snapshot read every property; a broken property link raised
    # in the view's callback, which was then removed: the stream hung forever.
    zk_client.create("/conf", b'{"threads": 1}')
    zk_client.create("/other", b'{"x": 1}')

    async def main():
        async with await zkservices.aio.connect(zk_connection_string) as zk:
            props = await zk.properties("/conf")
            stream = props.changes()
            assert await stream.__anext__() == {"threads": 1}
            await asyncio.to_thread(zk_client.set, "/conf", b'{"threads": 2, "x =>": "/other"}')
            assert await asyncio.wait_for(stream.__anext__(), WAIT) == {"threads": 2, "x": 1}
            await asyncio.to_thread(zk_client.delete, "/other")
            await asyncio.to_thread(zk_client.set, "/conf", b'{"threads": 3, "x =>": "/other"}')
            state = await asyncio.wait_for(stream.__anext__(), WAIT)
            if state.get("threads") == 2:  # the deletion of /other is a change too
                assert "x" not in state
                state = await asyncio.wait_for(stream.__anext__(), WAIT)
            assert state == {"threads": 3}  # the broken link is left out
            await asyncio.to_thread(zk_client.set, "/conf", b'{"threads": 4}')
            assert await asyncio.wait_for(stream.__anext__(), WAIT) == {"threads": 4}
            await stream.aclose()

    asyncio.run(asyncio.wait_for(main(), 60))


# -- registrars: a check that hangs -----------------------------------------------------


def test_http_check_ends_after_timeout_against_a_trickling_server():
    # The socket timeout bounds each read, not the check: a wedged server that
    # sends a byte now and then held the monitor for minutes (no later check,
    # so a dead server stayed registered).
    import socket
    import threading

    from zkservices._discovery import HttpCheck

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    done = threading.Event()

    def trickle() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(4096)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200:
                if done.is_set():
                    return
                try:
                    conn.send(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.1)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    result: list = []
    checker = threading.Thread(
        target=lambda: result.append(HttpCheck(f"http://127.0.0.1:{server.getsockname()[1]}/").check(0.5)),
        daemon=True,
    )
    try:
        checker.start()
        checker.join(WAIT)  # unfixed: 20 s of trickle; fixed: about 0.5 s
        assert result == [(False, "timed out after 0.5s")]
    finally:
        done.set()
        server.close()


# -- the feed command -------------------------------------------------------------------


def test_cli_min_wait_alone_is_capped_under_continuous_churn(zk_client, zk_connection_string, tmp_path):
    # --min-wait without --max-wait had no cap: changes arriving more often
    # than --min-wait (one flapping backend) postponed every write forever.
    # Now the default cap is 4 x --min-wait, as consul-template has it.
    template, out = tmp_path / "t.j2", tmp_path / "lb.conf"
    template.write_text(TEMPLATE)
    zk_client.create("/svc", b"{}")
    provider(zk_client, "/svc", "10.0.0.1:80")
    proc = subprocess.Popen(
        [sys.executable, "-m", "zkservices", "-z", zk_connection_string, "feed", "--template", str(template),
         "--output", str(out), "--min-wait", "0.5", "/svc"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + WAIT
        i = 0
        while not out.exists() and time.monotonic() < deadline and proc.poll() is None:
            zk_client.set("/svc", json.dumps({"i": i}).encode())  # a change every 0.1 s
            i += 1
            time.sleep(0.1)
        assert out.exists(), "never written under continuous churn"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- the demo ---------------------------------------------------------------------------


@pytest.mark.zookeeper  # the demo starts a server of its own
def test_demo_terminated_leaves_no_zookeeper_running():
    # SIGTERM killed the demo without unwinding: its ZooKeeper (in a session of
    # its own) ran on, and the temporary directories stayed.
    import re
    import socket

    proc = subprocess.Popen([sys.executable, "-m", "zkservices", "demo"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        match = re.search(r"running at (127\.0\.0\.1):(\d+)", first)
        assert match, first
        assert proc.stdout.readline().startswith("2. ")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=WAIT)
        assert proc.returncode == 128 + signal.SIGTERM

        def server_gone() -> bool:
            try:
                socket.create_connection((match.group(1), int(match.group(2))), timeout=1).close()
            except ConnectionRefusedError:
                return True
            return False

        wait_for(server_gone, WAIT, "the demo's ZooKeeper to be stopped")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
