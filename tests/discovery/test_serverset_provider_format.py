"""``ServerSet.provider_format``: the format each published provider's node is in."""

from __future__ import annotations

import zkservices

from _util import wait_for


def test_each_provider_says_its_format(zk, zk_client):
    names = {
        "zkservices": zk.register_server("/svc/providers", "10.0.0.1:80").names[0],
        "curator": zk.register_server("/svc/providers", "10.0.0.2:80", format="curator").names[0],
        "serverset": zk.register_server("/svc/providers", "10.0.0.3:80", format="serverset").names[0],
    }
    zk_client.create("/svc/providers/junk", b"{not json")
    with zkservices.ServerSet(zk, "/svc", min_fraction=0) as servers:
        wait_for(lambda: len(servers) == 4, what="every node read")
        assert {fmt: servers.provider_format(name) for fmt, name in names.items()} == {
            "zkservices": "zkservices", "curator": "curator", "serverset": "serverset"}
        assert servers.provider_format("junk") is None  # passed on, but no format reads it
        assert servers.provider_format("10.9.9.9:1") is None
        zk_client.delete(f"/svc/providers/{names['curator']}")
        wait_for(lambda: names["curator"] not in servers, what="the Curator instance leaves")
        assert servers.provider_format(names["curator"]) is None
        # a node rewritten in another format is read again
        zk_client.set("/svc/providers/junk", b'{"host": "10.0.0.4", "port": 4}')
        wait_for(lambda: servers.provider_format("junk") == "zkservices", what="junk becomes a provider")


def test_before_start_nothing_is_known(zk):
    servers = zkservices.ServerSet(zk, "/svc", start=False)
    assert servers.provider_format("10.0.0.1:80") is None
    servers.close()
