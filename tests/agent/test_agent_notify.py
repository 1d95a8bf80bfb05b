"""systemd notification: datagrams on a real unix socket the test binds (a path, and the abstract namespace)."""

from __future__ import annotations

import os
import socket
import threading

from zkservices._agent.notify import Notifier



def bound(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(30)
    return sock


def test_messages_reach_the_socket(tmp_path):
    path = str(tmp_path / "notify")
    with bound(path) as sock:
        notifier = Notifier({"NOTIFY_SOCKET": path})
        assert notifier.enabled
        for message in ("READY=1", "RELOADING=1", "READY=1", "STOPPING=1"):
            notifier.send(message)
        assert [sock.recv(100).decode() for _ in range(4)] == ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"]
        notifier.close()


def test_abstract_socket():
    name = f"zkservices-test-{os.getpid()}-{threading.get_ident()}"
    with bound("\0" + name) as sock:
        Notifier({"NOTIFY_SOCKET": "@" + name}).send("READY=1")
        assert sock.recv(100) == b"READY=1"


def test_without_notify_socket_nothing_happens():
    notifier = Notifier({})
    assert not notifier.enabled
    notifier.send("READY=1")
    notifier.start_watchdog(lambda: True)
    notifier.close()


def test_a_missing_socket_is_logged_not_raised(tmp_path, caplog):
    Notifier({"NOTIFY_SOCKET": str(tmp_path / "nobody")}).send("READY=1")
    assert "cannot notify systemd" in caplog.text


def test_watchdog_pings_while_healthy_only(tmp_path):
    path = str(tmp_path / "notify")
    with bound(path) as sock:
        healthy = threading.Event()
        healthy.set()
        notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000"})
        assert notifier.watchdog_interval == 0.05
        notifier.start_watchdog(healthy.is_set)
        assert sock.recv(100) == b"WATCHDOG=1"
        healthy.clear()
        sock.settimeout(0.05)
        drained = 0
        try:  # at most one ping was under way when health went
            while True:
                sock.recv(100)
                drained += 1
        except socket.timeout:
            pass
        assert drained <= 1
        sock.settimeout(0.5)  # ten watchdog intervals without a ping
        try:
            got = sock.recv(100)
        except socket.timeout:
            got = None
        assert got is None
        healthy.set()
        sock.settimeout(30)
        assert sock.recv(100) == b"WATCHDOG=1"
        notifier.close()


def test_watchdog_for_another_pid_is_not_ours(tmp_path):
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "n"), "WATCHDOG_USEC": "100000", "WATCHDOG_PID": "1"})
    assert notifier.watchdog_interval is None
