"""zkservices.aio's register_server takes provider_format= (format=: its deprecated spelling)."""

from __future__ import annotations

import asyncio
import json

import pytest

import zkservices.aio


def test_aio_register_server_provider_format(zk, zk_client):
    async def main():
        azk = zkservices.aio.AsyncZooKeeper(zk)
        member = await azk.register_server("/svc/s", "10.0.0.1:81", provider_format="serverset", shard=2)
        with pytest.warns(DeprecationWarning, match="format= is deprecated; use provider_format=") as caught:
            curator = await azk.register_server("/svc/c", "10.0.0.2:82", format="curator")
        assert caught[0].filename == __file__
        with pytest.raises(TypeError, match="provider_format= only"):
            await azk.register_server("/svc/c", "10.0.0.3:83", provider_format="curator", format="curator")
        return member, curator

    member, curator = asyncio.run(main())
    assert member.format == "serverset" and member.names[0].startswith("member_")
    assert json.loads(zk_client.get(member.paths[0])[0])["shard"] == 2
    assert curator.format == "curator" and zk_client.get_children("/svc/c") == list(curator.names)
