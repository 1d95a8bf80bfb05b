"""Applying plans (zkservices._tree.apply): batches a few in flight, stopping after a failed one;
re-imports planned from what the server holds."""

from __future__ import annotations

import pytest
from kazoo.exceptions import NodeExistsError

from zkservices import parse_tree
from zkservices._tree import apply as apply_module
from zkservices._tree.plan import Op

from ._server_helpers import props, snapshot


@pytest.mark.parametrize("in_flight", [1, 2, 5])
def test_batches_in_flight_import_a_tree_in_order(zk, zk_client, monkeypatch, in_flight):
    monkeypatch.setattr(apply_module, "BATCH_OPS", 3)
    monkeypatch.setattr(apply_module, "BATCHES_IN_FLIGHT", in_flight)
    text = "".join(f"/n{i}\n  i = {i}\n" + "".join(f"  /c{j}\n    j = {j}\n    /d\n" for j in range(3)) for i in range(6))
    seen = []
    changes = zk.import_tree(text, "/t", progress=lambda phase, done, total: seen.append((phase, done, total)))
    assert [c.path for c in changes][:3] == ["/t", "/t/n0", "/t/n0/c0"]
    assert len(changes) == 1 + 6 * 7
    assert parse_tree(zk.export_tree("/t", name="t")).children["t"].children == parse_tree(text).children
    writing = [done for phase, done, total in seen if phase == "writing"]
    assert writing == sorted(writing) and writing[-1] == len(changes)
    assert zk.import_tree(text, "/t") == []


@pytest.mark.parametrize("in_flight", [1, 2, 3])
def test_no_batch_is_sent_after_a_failed_one_beyond_those_in_flight(zk, zk_client, monkeypatch, in_flight):
    monkeypatch.setattr(apply_module, "BATCH_OPS", 2)
    monkeypatch.setattr(apply_module, "BATCHES_IN_FLIGHT", in_flight)
    zk_client.create("/s")
    zk_client.create("/s/n3", b"other")  # the second batch (n2, n3) fails on it
    plan = [Op("create", f"/s/n{i}", b'{"i":%d}' % i) for i in range(12)]
    applied, error = apply_module.apply_plan(zk.core, plan)
    assert isinstance(error, NodeExistsError) and "/s/n3" in str(error)
    # the batch before it applied; the failed one was rolled back as a whole; of those
    # after it only the ones already in flight when it failed may have applied
    assert [c.path for c in applied[:2]] == ["/s/n0", "/s/n1"]
    present = set(zk_client.get_children("/s"))
    assert {"n0", "n1", "n3"} <= present and "n2" not in present
    later = sorted(int(name[1:]) for name in present - {"n0", "n1", "n3"})
    assert later == list(range(4, 4 + 2 * (in_flight - 1)))
    assert [c.path for c in applied] == ["/s/n0", "/s/n1"] + [f"/s/n{i}" for i in later]
    assert zk_client.get("/s/n3")[0] == b"other"


def test_acl_changes_wait_for_every_batch(zk, zk_client, monkeypatch):
    monkeypatch.setattr(apply_module, "BATCH_OPS", 1)
    zk_client.create("/a")
    zk_client.create("/b")
    plan = [Op("create", "/a"), Op("acl", "/b", None, (), 0)]
    applied, error = apply_module.apply_plan(zk.core, plan)
    assert isinstance(error, NodeExistsError) and applied == []
    assert zk_client.get_acls("/b")[1].aversion == 0  # the ACL change was not sent


TREE = """\
/app : svc
  threads = 3
  name = "app"
  /db
    host = "10.0.0.1"
    port = 5432
  /cache
    size = 1.5
    tags = ["a", "b"]
  /workers
    /w1
      n = 1
    /w2
      n = 2
"""


def test_a_reimport_finds_every_difference_and_nothing_else(zk, zk_client):
    zk.import_tree(TREE, "/r")
    before = snapshot(zk_client, "/r")
    assert zk.import_tree(TREE, "/r", trim=True) == []
    assert snapshot(zk_client, "/r") == before  # read only: nothing written
    zk_client.set("/r/app/db", b'{"host":"10.0.0.2","port":5432}')  # changed
    zk_client.set("/r/app/cache", b'{"tags": ["a", "b"], "size": 1.50}')  # other bytes, same JSON
    zk_client.delete("/r/app/workers/w2")  # missing
    zk_client.create("/r/app/workers/w3", b'{"n":3}')  # extra
    zk_client.create("/r/app/extra/deeper", makepath=True)  # extra, with a child
    zk_client.set("/r/app", b'{"type":"svc","name":"app","threads":3}')  # reordered keys: the same
    changes = zk.import_tree(TREE, "/r", trim=True)
    assert sorted(map(str, changes)) == sorted([
        'set /r/app/db {"host":"10.0.0.1","port":5432}',
        'create /r/app/workers/w2 {"n":2}',
        "delete /r/app/workers/w3",
        "delete /r/app/extra/deeper",
        "delete /r/app/extra",
    ])
    assert zk_client.get("/r/app/cache")[0] == b'{"tags": ["a", "b"], "size": 1.50}'  # left alone
    assert zk_client.get("/r/app")[0] == b'{"type":"svc","name":"app","threads":3}'
    assert props(zk_client, "/r/app/db") == {"host": "10.0.0.1", "port": 5432}
    assert zk.import_tree(TREE, "/r", trim=True) == []


def test_a_reimport_over_data_written_by_others_compares_json_not_bytes(zk, zk_client):
    zk.import_tree("/x\n  a = 1\n  b = \"é\"\n", "/j")
    zk_client.set("/j/x", '{"b": "\\u00e9", "a": 1.0}'.encode())  # 1.0 is not 1 in JSON terms
    assert [str(c) for c in zk.import_tree("/x\n  a = 1\n  b = \"é\"\n", "/j")] == ['set /j/x {"a":1,"b":"é"}']
    zk_client.set("/j/x", '{"b": "\\u00e9", "a": 1}'.encode())  # escapes and spaces: the same JSON
    assert zk.import_tree("/x\n  a = 1\n  b = \"é\"\n", "/j") == []
