"""zkservices.aio's tree operations (import_tree, export_tree, delete_recursive) run
the synchronous API's tree steps on the loop: the same changes, the same exports,
the same errors as zkservices.ZooKeeper's, against a real server, with no thread."""

from __future__ import annotations

import json

import zkservices
import zkservices.aio
from zkservices._tree import apply as apply_module
from zkservices.testing import drop_connection

from _util import blocking, props, run_without_executor

TREE = """\
/app
  threads = 4
  name = 'demo'
  /db
    host = 'db1'
    port = 5432
  /web
    workers =>  ../db port
    /static
/other
  x = 1
"""


def changes(items, prefix=""):
    """Changes as text, with ``prefix`` taken off their paths (to compare two places)."""
    return [str(change).replace(prefix, "", 1) for change in items]


def outcome(call):
    try:
        return "ok", call()
    except Exception as exc:
        return type(exc).__name__, str(exc)


async def aoutcome(awaitable):
    try:
        return "ok", await awaitable
    except Exception as exc:
        return type(exc).__name__, str(exc)


def test_import_export_and_delete_on_the_loop_as_the_sync_api_does(zk, zk_client):
    zk_client.ensure_path("/sync")
    zk_client.ensure_path("/async")
    planned = zk.import_tree(TREE, "/sync", dry_run=True)
    made = zk.import_tree(TREE, "/sync")
    zk_client.create("/sync/app/web/eph", b"{}", ephemeral=True)
    reports = []

    async def main(helpers):
        azk = zkservices.aio.AsyncZooKeeper(zk)
        got = {"planned": await azk.import_tree(TREE, "/async", dry_run=True)}
        got["made"] = await azk.import_tree(TREE, "/async", progress=lambda *a: reports.append(a))
        await blocking(helpers, lambda: zk_client.create("/async/app/web/eph", b"{}", ephemeral=True))
        got["again"] = await azk.import_tree(TREE, "/async")  # nothing left to do
        got["export"] = await azk.export_tree("/async", name="top")
        got["yaml"] = await azk.export_tree("/async/app", format="yaml", ephemeral=True)
        got["delete planned"] = await azk.delete_recursive("/async/app", dry_run=True)
        got["deleted"] = await azk.delete_recursive("/async/app")  # the ephemeral node and its parents stay
        return got

    got = run_without_executor(main)
    assert changes(got["planned"], "/async") == changes(planned, "/sync")
    assert changes(got["made"], "/async") == changes(made, "/sync")
    assert len(made) == 5 and got["again"] == []
    assert reports and reports[-1] == ("writing", 5, 5)
    assert got["export"] == zk.export_tree("/sync", name="top")
    assert got["yaml"] == zk.export_tree("/sync/app", format="yaml", ephemeral=True)
    assert props(zk_client, "/async/app/web")["workers =>"] == "../db port"
    sync_planned = zk.delete_recursive("/sync/app", dry_run=True)
    assert changes(got["delete planned"], "/async") == changes(sync_planned, "/sync")
    assert changes(got["deleted"], "/async") == changes(zk.delete_recursive("/sync/app"), "/sync")
    assert changes(got["deleted"], "/async") == ["delete /app/db", "delete /app/web/static"]
    assert zk_client.get_children("/async/app") == ["web"] == zk_client.get_children("/sync/app")
    assert zk_client.exists("/async/app/web/eph")


def test_errors_on_the_loop_are_the_sync_api_errors(zk, zk_client):
    zk_client.create("/conf", json.dumps({"threads": 2, "a ->": "/nowhere", "l ->": "m", "m ->": "l"}).encode())
    zk_client.create("/conf/node", b"{}")
    calls = {
        "bad link": (lambda z: z.import_tree("/x\n  t => /conf nonesuch\n", "/t1"), None),
        "link out of the tree": (lambda z: z.import_tree("/x\n  t => /conf threads\n", "/t2", dry_run=True), None),
        "bad tree": (lambda z: z.import_tree("/x\n  = 1\n", "/t3"), None),
        "bad trim": (lambda z: z.import_tree("/x\n", "/t4", trim="yes"), None),
        "missing export": (lambda z: z.export_tree("/nothing"), None),
        "bad format": (lambda z: z.export_tree("/conf", format="xml"), None),
        "bad name": (lambda z: z.export_tree("/conf", name="a/b"), None),
        "looping export": (lambda z: z.export_tree("/conf/l/x"), None),
        "missing delete": (lambda z: z.delete_recursive("/nothing"), None),
        "dangling link delete": (lambda z: z.delete_recursive("/conf/a/b"), None),
        "import through a dangling link": (lambda z: z.import_tree("/x\n", "/conf/a/deep", dry_run=True), None),
    }

    async def main(helpers):
        azk = zkservices.aio.AsyncZooKeeper(zk)
        return {name: await aoutcome(call(azk)) for name, (call, _) in calls.items()}

    got = run_without_executor(main)
    for name, (call, _) in calls.items():
        assert got[name] == outcome(lambda: call(zk)), name
    assert got["bad link"][0] == "TreeError" and got["bad tree"][0] == "TreeError"
    assert got["link out of the tree"][0] == "ok" and got["missing export"][0] == "NoNode"
    assert got["looping export"][0] == "LinkLoop" and got["bad trim"][0] == "TypeError"
    assert [str(c) for c in got["import through a dangling link"][1]] == ["create /nowhere", "create /nowhere/deep",
                                                                         "create /nowhere/deep/x"]


def test_a_big_tree_goes_in_pipelined_batches_and_reads_back_the_same(zk, zk_client, monkeypatch):
    monkeypatch.setattr(apply_module, "BATCH_OPS", 50)  # several transactions in flight
    text = "".join(f"/n{i}\n  i = {i}\n" + "".join(f"  /c{j}\n    v = {j}\n" for j in range(4)) for i in range(150))

    async def main(helpers):
        azk = zkservices.aio.AsyncZooKeeper(zk)
        made = await azk.import_tree(text, "/big")
        return made, await azk.export_tree("/big", name="x"), await azk.export_tree("/big/n149/c3")

    made, exported, leaf = run_without_executor(main)
    assert len(made) == 1 + 150 * 5  # /big, then the tree (more than a chunk of reads, many transactions)
    assert exported == zk.export_tree("/big", name="x")
    assert zkservices.parse_tree(exported) == zkservices.parse_tree("/x\n" + "".join(
        "  " + line + "\n" for line in text.splitlines()))
    assert leaf == "/c3\n  v = 3\n"


def test_a_conflicting_writer_makes_the_awaited_import_plan_again(zk, zk_client, monkeypatch):
    monkeypatch.setattr(apply_module, "BATCH_OPS", 2)
    zk.import_tree("/a\n  v = 1\n")
    real_applying = apply_module.applying
    plans = []

    def applying(plan, default_acl, progress=None):
        plans.append([str(op.change) for op in plan])
        if len(plans) == 1:  # another client gets in between our read and our write
            zk_client.create("/b/c", b'{"other":1}', makepath=True)
            zk_client.set("/a", b'{"v":0}')
        return real_applying(plan, default_acl, progress)

    monkeypatch.setattr(apply_module, "applying", applying)

    async def main(helpers):
        return await zkservices.aio.AsyncZooKeeper(zk).import_tree("/a\n  v = 2\n/b\n  /c\n    mine = 1\n/d\n")

    made = run_without_executor(main)
    assert plans[0] == ['set /a {"v":2}', "create /b", 'create /b/c {"mine":1}', "create /d"]
    assert plans[1] == ['set /a {"v":2}', 'set /b/c {"mine":1}', "create /d"] == [str(c) for c in made]
    assert props(zk_client, "/a") == {"v": 2} and props(zk_client, "/b/c") == {"mine": 1}


def test_tree_operations_wait_through_a_dropped_connection(zk, zk_client):
    zk.import_tree(TREE, "/before")
    exported_sync = zk.export_tree("/before")
    planned = zk.delete_recursive("/before", dry_run=True)

    async def main(helpers):
        azk = zkservices.aio.AsyncZooKeeper(zk)
        drop_connection(zk)
        exported = await azk.export_tree("/before")
        drop_connection(zk)
        made = await azk.import_tree(TREE, "/after")
        drop_connection(zk)
        deleted = await azk.delete_recursive("/before")
        return exported, made, deleted

    exported, made, deleted = run_without_executor(main)
    assert exported == exported_sync
    assert len(made) == 1 + 5 and zk.export_tree("/after") == exported_sync.replace("/before", "/after", 1)
    assert changes(deleted) == changes(planned) and len(deleted) == 6
    assert not zk_client.exists("/before")
