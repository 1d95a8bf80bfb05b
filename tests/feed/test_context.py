"""The template context: provider and service entries."""

from __future__ import annotations

import zkservices
from zkservices._feed import provider_entry, service_entry

from _feedutil import context


def test_provider_entry_from_data_and_from_name():
    assert provider_entry("10.0.0.1:8080", {"host": "10.0.0.1", "port": 8080, "weight": 2}) == {
        "name": "10.0.0.1:8080",
        "host": "10.0.0.1",
        "port": 8080,
        "address": "10.0.0.1:8080",
        "properties": {"host": "10.0.0.1", "port": 8080, "weight": 2},
    }
    # host/port from the data win over the name
    entry = provider_entry("whatever", {"host": "db.example.com", "port": "5432"})
    assert (entry["host"], entry["port"], entry["address"]) == ("db.example.com", 5432, "db.example.com:5432")
    # parsed from the name when the data has none
    entry = provider_entry("[2001:db8::1]:9000", {})
    assert (entry["host"], entry["port"], entry["address"]) == ("2001:db8::1", 9000, "[2001:db8::1]:9000")
    assert entry["properties"] == {}
    entry = provider_entry("web1:80", None)
    assert (entry["host"], entry["port"]) == ("web1", 80)
    entry = provider_entry("no-port", {})
    assert (entry["host"], entry["port"], entry["address"]) == ("no-port", None, "no-port")


def test_build_context_sorts_providers_and_names_services():
    ctx = context(3)
    assert [s["name"] for s in ctx["services"]] == ["fooservice", "barservice"]  # argument order
    foo = ctx["services"][0]
    assert foo["path"] == "/prod/fooservice"
    assert foo["properties"] == {"balance": "leastconn"}
    assert [p["name"] for p in foo["providers"]] == ["10.0.0.1:8080", "10.0.0.3:8080", "[2001:db8::1]:9000"]
    assert ctx["services"][1]["properties"] == {}
    assert service_entry("/", None, None)["name"] == ""
    # a list of entries is accepted too, and sorted
    entries = [provider_entry("b:2", {}), provider_entry("a:1", {})]
    assert [p["name"] for p in service_entry("/s", {}, entries)["providers"]] == ["a:1", "b:2"]


def test_provider_entry_from_a_provider_record():
    """ServerSet.providers holds Provider records: each becomes the entry its node's data gave."""
    zk_node = zkservices.Provider("10.0.0.1:80", "10.0.0.1", 80, {"weight": 2, "pid": 7})
    assert provider_entry("10.0.0.1:80", zk_node) == provider_entry(
        "10.0.0.1:80", {"weight": 2, "pid": 7, "host": "10.0.0.1", "port": 80})
    curator = zkservices.Provider("c1", "10.0.0.7", 8080, {"weight": 3}, "curator")
    entry = provider_entry("c1", curator)
    assert (entry["address"], entry["properties"]) == ("10.0.0.7:8080", {"host": "10.0.0.7", "port": 8080, "weight": 3})
    assert list(entry["properties"]) == ["host", "port", "weight"]
    entries = service_entry("/svc", {}, {"c1": curator, "10.0.0.1:80": zk_node})["providers"]
    assert [e["name"] for e in entries] == ["10.0.0.1:80", "c1"]
