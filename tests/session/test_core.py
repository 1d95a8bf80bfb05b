"""The session core's narrow API: its docstring lists every public name it has; the
parts built on it register what they need with it and never assign to it; recovery
steps are handed a Recovery; a view shows its users only their API."""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

import zkservices
from zkservices._session.core import Recovery, SessionCore
from zkservices.testing import expire_session

from _util import wait_for

PACKAGE = pathlib.Path(zkservices.__file__).parent


def _documented_api() -> set[str]:
    """The names the core's docstring lists under "Named API"."""
    doc = SessionCore.__doc__ or ""
    section = doc.split("Named API", 1)[1]
    bullets = re.findall(r"^\s*- (.*(?:\n\s{6,}.*)*)", section, re.M)
    return {name for bullet in bullets for name in re.findall(r"``(\w+)``", bullet.split(":", 1)[0])}


def _public(obj: object) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


def test_the_cores_public_names_are_the_api_its_docstring_lists(zk):
    documented = _documented_api()
    assert {"client", "retry", "worker", "settle", "resolve", "add_recovery_step"} <= documented
    assert _public(zk.core) == documented
    latent = SessionCore("127.0.0.1:1")  # before start: the same names
    try:
        assert _public(latent) == documented
    finally:
        latent.close()


def _assignments_to_a_core(tree: ast.AST) -> list[str]:
    """``core.x = ...`` (or ``self.core.x``, ``zk.core.worker.x``...): an attribute set
    on a core, or on something reached through one."""

    def through_core(node: ast.expr) -> bool:
        while isinstance(node, ast.Attribute):
            if node.attr in ("core", "_core"):
                return True
            node = node.value
        return isinstance(node, ast.Name) and node.id in ("core", "_core")

    found = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr" and node.args:
            targets = [ast.Attribute(value=node.args[0], attr="?", ctx=ast.Store())]
        for target in targets:
            if isinstance(target, ast.Attribute) and through_core(target.value):
                found.append(f"line {node.lineno}: {ast.unparse(target)}")
    return found


def test_nothing_outside_the_core_assigns_to_it():
    assert _assignments_to_a_core(ast.parse("core.worker.refresh_batch = f\nself.core.settle_needed = g"))
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "core.py" and path.parent.name == "_session":
            continue
        found = _assignments_to_a_core(ast.parse(path.read_text(encoding="utf-8")))
        if found:
            offenders[str(path.relative_to(PACKAGE))] = found
    assert offenders == {}


def test_the_views_attach_once(zk):
    with pytest.raises(RuntimeError):
        zk.core.attach_views(lambda views: None, active=lambda: False)


def test_a_recovery_step_is_handed_a_recovery_that_ends_with_its_session(zk, zk_client):
    zk_client.create("/r", b"{}")
    seen: list[tuple[Recovery, bool, object]] = []

    def step(recovery: Recovery) -> None:
        stat = recovery.retry(zk.client.exists, "/r")  # waits only for a connection
        seen.append((recovery, recovery.current, stat))

    zk.core.add_recovery_step("test step", step)
    expire_session(zk)
    assert zk.wait_recovered(30)
    wait_for(lambda: seen, what="the step to run")
    recovery, current_then, stat = seen[0]
    assert current_then and stat is not None
    assert recovery.generation == 1 and recovery.current
    expire_session(zk)
    assert zk.wait_recovered(30)
    wait_for(lambda: len(seen) == 2, what="the step to run again")
    assert not recovery.current and seen[1][0].generation == 2 and seen[1][0].current
    zk.close()
    assert not seen[1][0].current


_VIEW = {"path", "real_path", "deleted", "watching", "closed", "callbacks", "remove", "close"}
_MAPPING = {"get", "keys", "items", "values"}


def test_a_view_shows_its_users_only_their_api(zk, zk_client):
    zk_client.create("/svc/providers/10.0.0.1:80", b'{"host": "10.0.0.1", "port": 80}', makepath=True)
    with zk.children("/svc") as kids, zk.properties("/svc") as props, zk.providers("/svc/providers") as prov:
        assert _public(kids) == _VIEW
        assert _public(props) == _VIEW | _MAPPING | {"update", "set"}
        assert _public(prov) == _VIEW | _MAPPING | {"snapshot"}
        # the hooks the view registry uses are there, under private names
        for view in (kids, props, prov):
            assert callable(view._take_fetch) and callable(view._complete)
            assert callable(view._rewatch_plan) and callable(view._mark_synced)


def test_the_hooks_former_public_names_still_answer_with_a_deprecation_warning(zk, zk_client):
    zk_client.create("/d")
    with zk.children("/d") as kids:
        for old, new in (("take_fetch", "_take_fetch"), ("complete", "_complete"),
                         ("rewatch_plan", "_rewatch_plan"), ("mark_synced", "_mark_synced")):
            with pytest.warns(DeprecationWarning, match=f"Children.{old} is internal"):
                assert getattr(kids, old) == getattr(kids, new)
        with pytest.warns(DeprecationWarning):
            assert kids.core is zk.core
        with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
            kids.nonesuch  # noqa: B018
