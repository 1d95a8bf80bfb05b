"""The agent's HTTP listener: ``/metrics``, ``/healthz`` and ``/status``; anything else is 404.

Served by the standard library's WSGI server (:mod:`wsgiref`, one thread per
request) around prometheus_client's own WSGI application for ``/metrics``:
both are well kept, need nothing beyond the ``agent`` extra, and
prometheus_client's app handles content negotiation (OpenMetrics, gzip) as
Prometheus expects.  The listener binds exactly the address configured
(``HOST:PORT``, ``[v6]:PORT``); a blank host means every address.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from socketserver import ThreadingMixIn
from typing import Any, Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from .agent import Agent
from .metrics import agent_registry
from .report import health, status

__all__ = ["AgentHTTP"]

log = logging.getLogger("zkservices.agent.http")

_REASONS = {200: "200 OK", 404: "404 Not Found", 405: "405 Method Not Allowed",
            429: "429 Too Many Requests", 503: "503 Service Unavailable"}


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class AgentHTTP:
    """Serve an agent's ``/metrics``, ``/healthz`` and ``/status`` on ``listen`` (``HOST:PORT``).

    The constructor binds (raising :class:`OSError` when it cannot);
    :meth:`start` serves on a thread of its own; :meth:`close` stops.
    :attr:`address` is the ``(host, port)`` bound (port 0 asks for any).
    """

    def __init__(self, agent: Agent, listen: str) -> None:
        host, _, port_text = listen.rpartition(":")
        host = host.strip("[]")
        port = int(port_text)  # 0: any free port (the configuration's schema allows 1-65535)
        self.agent = agent
        self.registry = agent_registry(agent)
        self._metrics = make_wsgi_app(self.registry)
        server_class = _Server6 if ":" in host else _Server
        self._server = make_server(host, port, self._app, server_class=server_class, handler_class=_QuietHandler)
        self.address = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, name="zkservices-agent-http",
                                        daemon=True)

    def start(self) -> "AgentHTTP":
        """Serve in the background; returns ``self``."""
        self._thread.start()
        log.info("listening on http://%s:%d/ (/metrics, /healthz, /status)", *self.address)
        return self

    def close(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return self._metrics(environ, start_response)
        if path not in ("/healthz", "/status"):
            return _answer(start_response, 404, "text/plain", b"not found\n")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _answer(start_response, 405, "text/plain", b"GET only\n")
        if path == "/healthz":
            code, problems = health(self.agent)
            body = ("\n".join(problems) if problems else "ok") + "\n"
            return _answer(start_response, code, "text/plain; charset=utf-8", body.encode())
        document = json.dumps(status(self.agent), indent=2) + "\n"
        return _answer(start_response, 200, "application/json", document.encode())


def _answer(start_response: Callable[..., Any], code: int, content_type: str, body: bytes) -> list[bytes]:
    start_response(_REASONS[code], [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
