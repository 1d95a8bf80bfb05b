"""``zkservices demo``: the README's first command.

Starts a real local ZooKeeper, three tiny HTTP backends registered with
health checks, and a feed that renders an nginx upstream file; then narrates
what happens when a backend dies, when it comes back, when a service property
changes and when the registering session expires, printing the rendered file
each time.  Leaves nothing running.
"""

from __future__ import annotations

import http.server
import os
import signal
import sys
import tempfile
import threading
import time
from typing import Callable, TextIO

TEMPLATE = """\
{% for service in services %}
# {{ service.path }}: {{ service.providers | length }} healthy backend(s)
upstream {{ service.name }} {
{% for p in service.providers %}
    server {{ p.address }} weight={{ p.properties.weight | default(1) }} max_fails={{ service.properties.max_fails }};
{% else %}
    server 127.0.0.1:65535 down;  # no healthy backend
{% endfor %}
}
{% endfor %}
"""

SERVICE = "/demo/web"


class Backend:
    """A tiny HTTP server answering 200, started and stopped on one port."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = 0
        self._server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> None:
        name = self.name

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = f"hello from {name}\n".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name=f"demo-{name}", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


def _wait(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def run_demo(out: TextIO | None = None) -> int:
    # SIGTERM (``timeout``, a CI job cancelled) and SIGHUP (the terminal closed)
    # killed the process without unwinding: its ZooKeeper server (a process of
    # its own session) kept running and the temporary directories stayed.  As
    # SystemExit they go through the clean-up below, as Ctrl-C does.  The
    # exception can surface as another one (kazoo's request path has a bare
    # ``except:`` that turns it into ConnectionClosedError), so the signal
    # received decides the outcome, not the exception seen.
    received: list[int] = []

    def interrupted(signum: int, frame: object) -> None:
        received.append(signum)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            previous[signum] = signal.signal(signum, interrupted)
    try:
        result = _run_demo(out)
        if received:  # the signal's exception was swallowed on the way: it still decides
            raise SystemExit(128 + received[0]) if received[0] != signal.SIGINT else KeyboardInterrupt
        return result
    except BaseException:
        if not received:
            raise
        if received[0] == signal.SIGINT:
            raise KeyboardInterrupt from None
        raise SystemExit(128 + received[0]) from None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run_demo(out: TextIO | None = None) -> int:
    from .. import Feed, HealthCheckedRegistration, ZooKeeper
    from .._discovery import HttpCheck
    from ..testing import ZooKeeperServer, expire_session

    out = out or sys.stdout

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    def show(path: str, title: str) -> None:
        say(f"--- {title}: {path}")
        say(_read(path).rstrip())
        say("---")

    backends = [Backend(f"backend-{i}") for i in (1, 2, 3)]
    registrations: list = []
    with tempfile.TemporaryDirectory(prefix="zkservices-demo-") as workdir, \
            ZooKeeperServer(name="demo") as server:
        say(f"1. A real ZooKeeper server is running at {server.connection_string}.")
        output = os.path.join(workdir, "upstream.conf")
        zk = ZooKeeper(server.connection_string)
        feed_zk = ZooKeeper(server.connection_string)
        feed = None
        try:
            zk.ensure_path(SERVICE + "/providers")
            zk.properties(SERVICE).set(max_fails=3)
            for backend in backends:
                backend.start()
                registration = HealthCheckedRegistration(
                    zk, SERVICE + "/providers", ("127.0.0.1", backend.port),
                    check=HttpCheck(backend.url), interval=0.2, timeout=1.0, rise=1, fall=2,
                    backend=backend.name,
                )
                registration.start()
                registrations.append(registration)
            say("2. Three HTTP backends started; each registers itself while its health check passes:")
            _wait(lambda: len(zk.get_children(SERVICE + "/providers")) == 3)
            for name in sorted(zk.get_children(SERVICE + "/providers")):
                say(f"     {SERVICE}/providers/{name}")

            feed = Feed(feed_zk, [SERVICE], template_text=TEMPLATE, output=output, min_wait=0.2, max_wait=2.0)
            feed.start()
            _wait(lambda: _read(output).count("server 127.0.0.1:") == 3)
            say("3. A feed renders an nginx upstream from the live servers and the service's properties.")
            show(output, "rendered")

            def step(title: str, action: Callable[[], None], done: Callable[[str], bool]) -> None:
                before = _read(output)
                action()
                ok = _wait(lambda: _read(output) != before and done(_read(output)))
                say(title + ("" if ok else "  (the file did not change in time!)"))
                show(output, "rendered")

            dead = backends[1]
            step(f"4. {dead.name} dies (its HTTP server stops); after two failed checks it unregisters "
                 "and the feed drops it:",
                 dead.stop, lambda text: f":{dead.port} " not in text)
            step(f"5. {dead.name} comes back on the same port; one good check re-registers it:",
                 dead.start, lambda text: f":{dead.port} " in text)
            step("6. An operator changes a service property (max_fails=5); the feed follows:",
                 lambda: zk.properties(SERVICE).update(max_fails=5), lambda text: "max_fails=5" in text)

            before = _read(output)
            old = zk.client.client_id[0]
            new = expire_session(zk)
            say(f"7. The backends' ZooKeeper session expires (0x{old:x} -> 0x{new:x}); zkservices "
                "re-creates every registration under the new session:")
            for name in sorted(zk.get_children(SERVICE + "/providers")):
                stat = zk.exists(f"{SERVICE}/providers/{name}")
                owner = stat.ephemeralOwner if stat is not None else 0
                say(f"     {name} owned by session 0x{owner:x}")
            time.sleep(0.5)  # give a wrong re-render the chance to happen
            say("   The rendered file is " + ("unchanged." if _read(output) == before else "CHANGED (unexpected)."))
        finally:
            for registration in registrations:
                registration.stop()
            if feed is not None:
                feed.close()
            for backend in backends:
                backend.stop()
            feed_zk.close()
            zk.close()
    say("8. Everything is stopped: registrations, feed, backends, ZooKeeper; temporary files removed.")
    say("   (The library's own account of all this is in the log lines on stderr; -v shows more.)")
    return 0
