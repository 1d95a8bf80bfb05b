"""ServerSet over Curator and ServerSet directories (providers="."), every format read."""

from __future__ import annotations

import json

import pytest

import zkservices
from zkservices._feed.context import provider_entry

from _util import wait_for

AURORA = (
    b'{"serviceEndpoint":{"host":"10.0.0.3","port":31337},'
    b'"additionalEndpoints":{"http":{"host":"10.0.0.3","port":8080}},"status":"ALIVE","shard":0}'
)


def test_curator_directory(zk, zk_client):
    reg = zk.register_server("/services/orders", "10.0.0.7:8080", provider_format="curator", weight=3)
    disabled = json.loads(zk_client.get(reg.paths[0])[0])
    disabled.update(id="off", enabled=False)
    zk_client.create("/services/orders/off", json.dumps(disabled).encode())
    with zkservices.ServerSet(zk, "/services/orders", providers=".", min_fraction=0) as servers:
        # the same Provider records as zk.providers() gives (the disabled one left out)
        assert servers.providers == {reg.names[0]: zkservices.Provider(reg.names[0], "10.0.0.7", 8080, {"weight": 3},
                                                                       "curator")}
        assert servers.providers[reg.names[0]] == zk.providers("/services/orders")[reg.names[0]]
        entry = provider_entry(reg.names[0], servers.providers[reg.names[0]])
        assert entry["address"] == "10.0.0.7:8080" and entry["properties"]["weight"] == 3
        zk_client.create("/services/orders/10.0.0.9:9", b'{"host":"10.0.0.9","port":9}')  # a zkservices node
        wait_for(lambda: "10.0.0.9:9" in servers.providers, what="the new node joins")
        # a node no format recognises is left out, as zk.providers() leaves it out (feeds
        # never rendered it: it has no port)
        zk_client.create("/services/orders/junk", b"{not json")
        zk_client.create("/services/orders/10.0.0.9:10", b'{"host":"10.0.0.9","port":10}')
        wait_for(lambda: "10.0.0.9:10" in servers.providers, what="the node created after the junk node")
        assert "junk" not in servers.providers


def test_serverset_directory_and_mixed_providers_child(zk, zk_client):
    zk_client.create("/aurora/web/member_", AURORA, makepath=True, sequence=True)  # member_0000000000
    zk_client.create("/aurora/web/member_", AURORA.replace(b"ALIVE", b"STOPPING"), sequence=True)
    zk.register_server("/aurora/web", "10.0.0.4:80", provider_format="serverset", shard=1)
    with zkservices.ServerSet(zk, "/aurora/web", providers=".", min_fraction=0) as servers:
        published = servers.providers
        assert len(published) == 2 and "member_0000000001" not in published  # STOPPING
        assert published["member_0000000000"].port == 31337
        assert published["member_0000000000"].properties["additionalEndpoints"]["http"]["port"] == 8080
        assert published["member_0000000002"].properties["shard"] == 1
    # the default providers child reads every format too, zkservices nodes unchanged
    zk.register_server("/svc/providers", "10.0.0.1:80", weight=1)
    zk_client.create("/svc/providers/member_0000000001", AURORA)
    with zkservices.ServerSet(zk, "/svc") as servers:
        assert servers.providers["10.0.0.1:80"].properties["weight"] == 1
        assert "pid" in servers.providers["10.0.0.1:80"].properties
        assert servers.providers["member_0000000001"].host == "10.0.0.3"


@pytest.mark.parametrize("bad", ["", "/abs", 3])
def test_providers_must_be_relative(zk, bad):
    with pytest.raises(ValueError, match="relative"):
        zkservices.ServerSet(zk, "/svc", providers=bad, start=False)
