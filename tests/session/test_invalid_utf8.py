"""Data that looks like a JSON object but is not UTF-8 is not JSON: it reads as
``string_value`` everywhere, is never merged into, and survives a tree round trip."""

from __future__ import annotations

import pytest

from zkservices._znode.encoding import decode, is_json_object

BAD = b'{"a": "\xff"}'


def test_decode_reads_invalid_utf8_as_a_string_value():
    assert decode(BAD) == {"string_value": '{"a": "\ufffd"}'}
    assert not is_json_object(BAD)


def test_views_update_and_export_agree_on_invalid_utf8(zk, zk_client):
    zk_client.create("/bad", BAD)
    assert dict(zk.properties("/bad")) == {"string_value": '{"a": "\ufffd"}'}
    assert zk.get_properties("/bad") == {"string_value": '{"a": "\ufffd"}'}
    with pytest.raises(ValueError, match="not a JSON object"):
        zk.properties("/bad").update(b=1)
    assert zk_client.get("/bad")[0] == BAD
    exported = zk.export_tree("/bad")
    assert "string_value" in exported
    zk.import_tree(exported, "/")
    assert zk_client.get("/bad")[0] == BAD, "a round trip changed the bytes"
