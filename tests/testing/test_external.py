"""ExternalServer: a server given by address, usable but not controllable (no server needed)."""

from __future__ import annotations

import pytest

from zkservices.testing import ExternalServer, ServerError, free_ports, srvr


def test_external_server_refuses_control_and_has_a_lifecycle():
    port = free_ports(1)[0]
    with ExternalServer(f"127.0.0.1:{port}") as server:
        assert (server.host, server.port) == ("127.0.0.1", port)
        assert server.running and not server.paused and server.log_tail() == ""
        assert server.mode is None  # nothing listens there
        assert repr(server) == f"<ExternalServer 127.0.0.1:{port}>"
        for method in (server.start, server.stop, server.kill, server.pause, server.resume, server.restart):
            with pytest.raises(ServerError, match="cannot be controlled"):
                method()
    assert server.closed and not server.running


def test_free_ports_differ_and_srvr_on_a_closed_port_is_empty():
    ports = free_ports(5)
    assert len(set(ports)) == 5
    assert srvr("127.0.0.1", ports[0], timeout=1) == {}
