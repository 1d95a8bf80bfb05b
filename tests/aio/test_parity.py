"""The asyncio front and the synchronous one offer the same operations with the same
results: every scenario below runs once through ``zkservices.ZooKeeper`` (below
``/sync``) and once through ``zkservices.aio.AsyncZooKeeper`` (below ``/aio``), on one
session of a real server, and both the calls' outcomes (results and errors) and the
trees they leave must be equal."""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from typing import Any, Callable

import pytest
from kazoo.exceptions import BadVersionError, NodeExistsError, NotEmptyError
from kazoo.protocol.states import ZnodeStat

import zkservices
import zkservices.aio

# -- the parity table -------------------------------------------------------------------

#: The operations both fronts must offer (issue #19): awaitable in the asyncio front.
PARITY = (
    "create", "set", "get", "exists", "delete", "get_children", "ensure_path", "ln",
    "register_server", "unregister", "update_properties", "resolve", "properties",
    "children", "providers", "selector", "close",
)

#: Public names of ZooKeeper the asyncio front does not offer, and why.
SYNC_ONLY = {
    "client": "the kazoo client underneath: AsyncZooKeeper.sync.client",
    "connection_string": "session state: AsyncZooKeeper.sync",
    "state": "session state: AsyncZooKeeper.sync",
    "connected": "session state: AsyncZooKeeper.sync",
    "read_only": "session state: AsyncZooKeeper.sync",
    "closed": "session state: AsyncZooKeeper.sync",
    "register": "zc.zk's alias of register_server",
    # not (yet) in the asyncio front: zc.zk's tree helpers beyond import/export/delete
    "is_ephemeral": "not yet awaitable: (await zk.exists(path)).ephemeralOwner != 0 does it",
    "print_tree": "prints to stdout: print(await zk.export_tree(path))",
    "walk": "a generator of blocking reads: export_tree reads a tree in pipelined batches",
}

#: Public names of AsyncZooKeeper the synchronous front does not offer, and why.
AIO_ONLY = {
    "unregister_registration": "Registration.unregister() awaited (the handle's own method blocks)",
}

#: Parameters only the synchronous calls take: kazoo watchers (the asyncio front watches through views).
SYNC_ONLY_PARAMETERS = {"get": {"watch"}, "exists": {"watch"}, "get_children": {"watch"}}

#: Parameters after a sync-only one are keyword-only in the asyncio front: a positional
#: argument means the same in both fronts or fails in one.
KEYWORD_ONLY_IN_AIO = {"get_children": {"include_data"}}


def _public(cls: type) -> set[str]:
    """The methods and properties of ``cls`` (its instances' attributes, such as
    ``ZooKeeper.core`` or ``AsyncZooKeeper.sync``, are not operations)."""
    return {name for name in dir(cls) if not name.startswith("_")}


def test_the_parity_table():
    sync, aio = zkservices.ZooKeeper, zkservices.aio.AsyncZooKeeper
    for name in PARITY:
        assert hasattr(sync, name), f"ZooKeeper.{name} is missing"
        assert hasattr(aio, name), f"AsyncZooKeeper.{name} is missing"
        assert inspect.iscoroutinefunction(getattr(aio, name)), f"AsyncZooKeeper.{name} is not awaitable"
    # a public name in one front and not the other is in the table of exceptions, with its reason
    assert _public(sync) - _public(aio) == set(SYNC_ONLY)
    assert _public(aio) - _public(sync) == set(AIO_ONLY)


@pytest.mark.parametrize("name", sorted(_public(zkservices.ZooKeeper) & _public(zkservices.aio.AsyncZooKeeper)))
def test_both_fronts_take_the_same_arguments(name):
    sync = getattr(zkservices.ZooKeeper, name)
    aio = getattr(zkservices.aio.AsyncZooKeeper, name)
    if not callable(sync):
        return
    sync_params = [p for p in inspect.signature(sync).parameters.values()
                   if p.name not in SYNC_ONLY_PARAMETERS.get(name, ())]
    aio_params = list(inspect.signature(aio).parameters.values())
    keyword_only = KEYWORD_ONLY_IN_AIO.get(name, ())
    assert [(p.name, p.KEYWORD_ONLY if p.name in keyword_only else p.kind, p.default) for p in sync_params] == [
        (p.name, p.kind, p.default) for p in aio_params]


# -- running one scenario through each front -------------------------------------------


class Front:
    """Calls one front's operations from a plain thread; records each outcome (its
    result or error, with the scenario's root written as ``ROOT``)."""

    def __init__(self, root: str, call: Callable[..., Any]) -> None:
        self.root = root
        self._call = call
        self.outcomes: list[Any] = []

    def p(self, relative: str) -> str:
        return self.root + relative

    def __call__(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            result = self._call(name, *args, **kwargs)
        except Exception as exc:  # the same type, naming the same node
            self.outcomes.append((name, "raised", type(exc), self._plain(getattr(exc, "path", None))))
            return exc
        plain = self._plain(result)
        if name == "get_children":  # in no particular order
            plain = sorted(plain) if isinstance(plain, list) else (sorted(plain[0]), plain[1])
        self.outcomes.append((name, "returned", plain))
        return result

    def _plain(self, value: Any) -> Any:
        """``value`` comparable between the fronts: the root as ROOT, stats by their counts."""
        if isinstance(value, str):
            return value.replace(self.root, "ROOT")
        if isinstance(value, ZnodeStat):
            return ("stat", value.version, value.cversion, value.numChildren, value.ephemeralOwner)
        if isinstance(value, (list, tuple)):
            return type(value)(self._plain(v) for v in value)
        if isinstance(value, dict):
            return {self._plain(k): self._plain(v) for k, v in value.items()}
        if isinstance(value, bytes):
            return self._plain(value.decode("utf-8", "replace")).encode()
        if isinstance(value, zkservices.Registration):
            return ("registration", self._plain(value.names), self._plain(value.paths), value.active)
        if isinstance(value, zkservices.aio.AsyncChildren | zkservices.aio.AsyncProperties
                      | zkservices.aio.AsyncProviders):
            value = value.view
        if isinstance(value, zkservices.Properties):
            return ("properties", self._plain(dict(value)), value.watching)
        if isinstance(value, zkservices.Children):
            return ("children", list(value))
        if isinstance(value, zkservices.Providers):
            return ("providers", {name: (p.host, p.port, p.format) for name, p in value.items()})
        if isinstance(value, zkservices.Selector):
            return ("selector", value.strategy, value.error_threshold, value.down_for,
                    sorted(p.name for p in value.view.values()))
        return value


def tree(client, root: str) -> dict[str, Any]:
    """Every node below ``root``: its data (root written as ROOT) and whether it is ephemeral."""
    out = {}

    def visit(path):
        data, stat = client.get(path)
        out[path[len(root):] or "/"] = (data.decode().replace(root, "ROOT"), bool(stat.ephemeralOwner))
        for child in sorted(client.get_children(path)):
            visit(path + "/" + child)

    visit(root)
    return out


def run_both(zk, zk_client, scenario: Callable[[Front], None]) -> tuple[Front, Front]:
    """``scenario`` through the synchronous front below /sync, then through the asyncio
    front below /aio (called from a thread while the loop runs: the scenario is the same
    code); both on the session ``zk``."""
    for root in ("/sync", "/aio"):
        zk_client.create(root)
    sync = Front("/sync", lambda name, *a, **kw: getattr(zk, name)(*a, **kw))
    scenario(sync)

    async def main():
        azk = zkservices.aio.AsyncZooKeeper(zk)
        loop = asyncio.get_running_loop()
        on_loop = threading.get_ident()

        async def call(name, *args, **kwargs):
            assert threading.get_ident() == on_loop
            return await getattr(azk, name)(*args, **kwargs)

        front = Front("/aio", lambda name, *a, **kw: asyncio.run_coroutine_threadsafe(
            call(name, *a, **kw), loop).result(60))
        await asyncio.to_thread(scenario, front)
        return front

    aio = asyncio.run(asyncio.wait_for(main(), 120))
    assert aio.outcomes == sync.outcomes
    assert tree(zk_client, "/aio") == tree(zk_client, "/sync")
    return sync, aio


# -- the scenarios --------------------------------------------------------------------


def test_create(zk, zk_client):
    def scenario(do):
        do("create", do.p("/a"), b"one")
        do("create", do.p("/a"), b"again")  # exists
        do("create", do.p("/missing/b"), b"")  # NoNode naming the parent
        do("create", do.p("/deep/er/c"), b"x", makepath=True)
        do("create", do.p("/a/seq-"), b"", sequence=True)
        do("create", do.p("/a/seq-"), b"", sequence=True)
        do("create", do.p("/a/eph"), b"e", ephemeral=True)
        do("create", do.p("/bad//path"), b"")
        do("create", do.p("/a/"), b"")
        do("get", do.p("/a/eph"))

    sync, _ = run_both(zk, zk_client, scenario)
    kinds = [o[2] if o[1] == "raised" else None for o in sync.outcomes]
    assert kinds == [None, NodeExistsError, zkservices.NoNode, None, None, None, None, zkservices.InvalidPath,
                     zkservices.InvalidPath, None]
    assert sync.outcomes[2][3] == "ROOT/missing"
    assert sync.outcomes[4][2] == "ROOT/a/seq-0000000000"


def test_set_get_exists_and_get_children(zk, zk_client):
    def scenario(do):
        do("create", do.p("/n"), b"1")
        do("create", do.p("/n/c1"), b"")
        do("create", do.p("/n/c2"), b"")
        do("set", do.p("/n"), b"2")
        do("set", do.p("/n"), b"3", version=1)
        do("set", do.p("/n"), b"4", version=7)  # BadVersionError
        do("set", do.p("/gone"), b"4")
        do("get", do.p("/n"))
        do("get", do.p("/gone"))
        do("exists", do.p("/n"))
        do("exists", do.p("/gone"))
        do("get_children", do.p("/n"))
        do("get_children", do.p("/n"), include_data=True)
        do("get_children", do.p("/n"), True)  # a watch that is no callable, an extra positional: TypeError
        do("get_children", do.p("/gone"))
        do("get", "no/slash")

    sync, _ = run_both(zk, zk_client, scenario)
    assert [o[2] for o in sync.outcomes if o[1] == "raised"] == [
        BadVersionError, zkservices.NoNode, zkservices.NoNode, TypeError, zkservices.NoNode, zkservices.InvalidPath]
    assert ("get_children", "returned", ["c1", "c2"]) in sync.outcomes


def test_delete_and_ensure_path(zk, zk_client):
    def scenario(do):
        do("ensure_path", do.p("/t/a/b"))
        do("ensure_path", do.p("/t/a/b"))
        do("ensure_path", do.p("/t/a"))
        do("create", do.p("/t/a/b/c"), b"")
        do("create", do.p("/t/x"), b"")
        do("delete", do.p("/t/x"))
        do("delete", do.p("/t/x"))  # NoNode
        do("delete", do.p("/t/a"))  # NotEmptyError
        do("create", do.p("/t/v"), b"")
        do("delete", do.p("/t/v"), version=3)  # BadVersionError
        do("delete", do.p("/t/a"), recursive=True)
        do("delete", do.p("/t/a"), recursive=True)  # missing: True
        do("delete", do.p("/t/v"), recursive="yes")  # TypeError
        do("exists", do.p("/t/a"))

    sync, _ = run_both(zk, zk_client, scenario)
    assert [o[2] for o in sync.outcomes] == [
        "ROOT/t/a/b", True, True, "ROOT/t/a/b/c", "ROOT/t/x", True, zkservices.NoNode, NotEmptyError,
        "ROOT/t/v", BadVersionError, None, True, TypeError, None]


def test_ln_resolve_and_update_properties(zk, zk_client):
    def scenario(do):
        do("create", do.p("/real"), b'{"a": 1}')
        do("create", do.p("/real/child"), b'{"c": 1}')
        do("create", do.p("/links"), b"{}")
        do("ln", do.p("/real"), do.p("/links/r"))
        do("ln", do.p("/"), do.p("/links/real"))  # a target ending in / gets the source's name
        do("ln", do.p("/real"), do.p("/links/"))  # InvalidPath
        do("ln", do.p("/real"), do.p("/nowhere/r"))  # NoNode: the parent
        do("get", do.p("/links"))
        do("get_properties", do.p("/links/real/child"))
        do("resolve", do.p("/links/r/child"))
        do("resolve", do.p("/links/r/./child/.."))
        do("resolve", do.p("/links/nothing"))
        do("update_properties", do.p("/real"), b=2)
        do("update_properties", do.p("/real"), a=3, c=[1, 2])
        do("get_properties", do.p("/real"))
        do("update_properties", do.p("/links/r"), x=1)  # no links in the write: the path itself
        do("update_properties", do.p("/real/child"), **{"up =>": ".. a"})  # a property link: checked
        do("update_properties", do.p("/real/child"), **{"up =>": ".. nope"})  # BadPropertyLink
        do("update_properties", do.p("/links/r/child"), **{"down =>": ". c"})  # through the link
        do("update_properties", do.p("/real/child"), c=2)  # links in the node: checked, kept
        do("get_properties", do.p("/real/child"))
        do("get_properties", do.p("/links/r/child"))
        do("create", do.p("/raw"), b"not json")
        do("update_properties", do.p("/raw"), a=1)  # ValueError
        do("update_properties", do.p("/missing"), a=1)  # NoNode
        do("update_properties", do.p("/real"), bad=object())  # ValueError: cannot be stored

    sync, _ = run_both(zk, zk_client, scenario)
    returned = [o[2] for o in sync.outcomes if o[1] == "returned"]
    assert "ROOT/real/child" in returned and "ROOT/real" in returned
    assert {"a": 3, "b": 2, "c": [1, 2]} in returned
    assert {"c": 2, "up": 3, "down": 2} in returned
    raised = [(o[0], o[2]) for o in sync.outcomes if o[1] == "raised"]
    assert ("update_properties", zkservices.BadPropertyLink) in raised
    assert ("update_properties", zkservices.NoNode) in raised
    assert [o for o in raised if o[0] == "update_properties" and o[1] is ValueError] != []
    assert ("ln", zkservices.NoNode) in raised and ("resolve", zkservices.NoNode) in raised


def test_registrations_views_and_selectors(zk, zk_client):
    def scenario(do):
        do("register_server", do.p("/svc/providers"), ("10.0.0.1", 80), weight=2)
        do("register_server", do.p("/svc/providers"), "10.0.0.2:80")
        do("register_server", do.p("/svc/providers"), "bad address")
        do("unregister", do.p("/svc/providers"), "10.0.0.2:80")
        do("unregister", do.p("/nothing/here"), "10.0.0.2:80")
        for name in ("children", "providers", "selector"):
            view = do(name, do.p("/svc/providers"))
            view.close() if name == "selector" else None
        do("selector", do.p("/svc/providers"), "random", error_threshold=3, down_for=5.0).close()
        do("selector", do.p("/svc/providers"), "no-such-strategy")
        do("children", do.p("/svc/missing"))
        do("properties", do.p("/svc/providers/10.0.0.1:80"))
        do("properties", do.p("/svc/providers/10.0.0.1:80"), watch=False)
        do("providers", do.p("/svc/missing"))

    sync, aio = run_both(zk, zk_client, scenario)
    raised = [(o[0], o[2]) for o in sync.outcomes if o[1] == "raised"]
    assert raised == [("register_server", ValueError), ("unregister", zkservices.NoNode),
                      ("selector", ValueError), ("children", zkservices.NoNode), ("providers", zkservices.NoNode)]
    data = json.loads(zk_client.get("/aio/svc/providers/10.0.0.1:80")[0])
    assert data["weight"] == 2 and zk_client.exists("/aio/svc/providers/10.0.0.1:80").ephemeralOwner


def test_reads_on_the_same_nodes(zk, zk_client):
    zk_client.create("/n/c", b'{"x": 1}', makepath=True)
    zk_client.create("/n/l", b'{"to ->": "/n/c", "y =>": "../c x"}')

    async def main():
        azk = zkservices.aio.AsyncZooKeeper(zk)
        for name, args, *kwargs in [
                ("get", ("/n/c",)), ("exists", ("/n/c",)), ("exists", ("/n/none",)), ("get_children", ("/n",)),
                ("get_children", ("/n",), {"include_data": True}), ("resolve", ("/n/l/to",)),
                ("get_properties", ("/n/l",))]:
            kw = kwargs[0] if kwargs else {}
            expected = await asyncio.to_thread(getattr(zk, name), *args, **kw)
            got = await getattr(azk, name)(*args, **kw)
            if kw:
                expected, got = (sorted(expected[0]), expected[1]), (sorted(got[0]), got[1])
            elif name == "get_children":
                expected, got = sorted(expected), sorted(got)
            assert got == expected, name

    asyncio.run(asyncio.wait_for(main(), 60))


def test_close_through_each_front(zk_connection_string, zk_client):
    sync = zkservices.ZooKeeper(zk_connection_string)

    async def main():
        async with zkservices.aio.AsyncZooKeeper(zk_connection_string) as azk:
            await azk.register_server("/c", "10.0.0.1:1")
            assert zk_client.exists("/c/10.0.0.1:1").ephemeralOwner == azk.sync.core.session_id
            assert await azk.close() is None
            assert azk.sync.closed
            with pytest.raises(zkservices.SessionClosed):
                await azk.get("/c")

    sync.register_server("/s", "10.0.0.1:1")
    assert sync.close() is None and sync.closed
    with pytest.raises(zkservices.SessionClosed):
        sync.get("/s")
    asyncio.run(asyncio.wait_for(main(), 60))
    assert zk_client.get_children("/c") == [] and zk_client.get_children("/s") == []


def test_writes_of_both_fronts_settle_the_sessions_own_views(zk, zk_client):
    """When a write returns, the session's own views have seen it (no waiting)."""
    zk_client.create("/sync/w", b"{}", makepath=True)
    zk_client.create("/aio/w", b"{}", makepath=True)

    def check(children, props, root):
        return [
            ("create", "a" in children), ("ensure_path", "b" in children), ("delete", "a" not in children),
            ("set", props.get("x") == 1), ("update_properties", props.get("y") == 2),
            ("ln", props.get("link ->") == root + "/w/b"), ("delete recursive", "b" not in children),
        ]

    children, props = zk.children("/sync/w"), zk.properties("/sync/w")
    seen = []
    for step in (lambda: zk.create("/sync/w/a"), lambda: zk.ensure_path("/sync/w/b/c"),
                 lambda: zk.delete("/sync/w/a"), lambda: zk.set("/sync/w", b'{"x": 1}'),
                 lambda: zk.update_properties("/sync/w", y=2), lambda: zk.ln("/sync/w/b", "/sync/w/link"),
                 lambda: zk.delete("/sync/w/b", recursive=True)):
        step()
        seen.append(check(children, props, "/sync")[len(seen)])

    async def main():
        azk = zkservices.aio.AsyncZooKeeper(zk)
        achildren, aprops = (await azk.children("/aio/w")).view, (await azk.properties("/aio/w")).view
        aseen = []
        for step in (lambda: azk.create("/aio/w/a"), lambda: azk.ensure_path("/aio/w/b/c"),
                     lambda: azk.delete("/aio/w/a"), lambda: azk.set("/aio/w", b'{"x": 1}'),
                     lambda: azk.update_properties("/aio/w", y=2), lambda: azk.ln("/aio/w/b", "/aio/w/link"),
                     lambda: azk.delete("/aio/w/b", recursive=True)):
            await step()
            aseen.append(check(achildren, aprops, "/aio")[len(aseen)])
        return aseen

    assert seen == [(name, True) for name, _ in seen]
    assert asyncio.run(asyncio.wait_for(main(), 60)) == seen
