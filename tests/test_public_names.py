"""The public API: one list (``zkservices.__all__``), every name importable, no optional extras loaded."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import types
import typing

import pytest

import zkservices
import zkservices.aio
import zkservices.testing


def test_all_lists_every_public_name_once_and_each_resolves():
    for package in (zkservices, zkservices.testing):
        assert len(package.__all__) == len(set(package.__all__))
        assert all(getattr(package, name) is not None for name in package.__all__)
        public = {
            name for name, value in vars(package).items()
            if not name.startswith("_") and not isinstance(value, types.ModuleType)
        }
        assert public == set(package.__all__) - {"__version__"}


def test_every_error_is_at_the_top():
    import zkservices.errors

    assert set(zkservices.errors.__all__) <= set(zkservices.__all__)
    assert zkservices.ServerError is zkservices.testing.ServerError
    assert zkservices.FaultError is zkservices.testing.FaultError


def test_import_loads_no_template_engine():
    code = "import sys, zkservices; from zkservices import *; print('jinja2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# -- every type a public signature names is itself public ------------------

_PUBLIC_MODULES = ("zkservices", "zkservices.aio", "zkservices.testing")

#: Classes the library makes for its users (``zk.children(path)`` and so on):
#: their constructors take the session's internals and are not public API.
_MADE_BY_THE_LIBRARY = {
    "zkservices.Children", "zkservices.Properties", "zkservices.Providers",
    "zkservices.aio.AsyncChildren", "zkservices.aio.AsyncProperties", "zkservices.aio.AsyncProviders",
}

_DUNDERS = ("__init__", "__call__", "__enter__", "__aenter__", "__iter__", "__aiter__", "__getitem__")


def _home(cls: type) -> str:
    """The public module that must export a class of the package: where it lives."""
    module = cls.__module__
    if module == "zkservices.aio" or module.startswith("zkservices._aio"):
        return "zkservices.aio"
    if module.startswith("zkservices.testing"):
        return "zkservices.testing"
    return "zkservices"


def _classes_in(hint: object, found: set[type]) -> None:
    """Add to ``found`` every class of the zkservices package that ``hint`` names."""
    if isinstance(hint, typing.TypeVar):
        for part in (hint.__bound__, *hint.__constraints__):
            if part is not None:
                _classes_in(part, found)
        return
    if isinstance(hint, type) and hint.__module__.split(".")[0] == "zkservices":
        found.add(hint)
    for arg in typing.get_args(hint):
        for a in arg if isinstance(arg, (list, tuple)) else [arg]:  # Callable[[A, B], R]
            _classes_in(a, found)
    origin = typing.get_origin(hint)
    if origin is not None:
        _classes_in(origin, found)


def _aliases_in(annotations: dict[str, object], namespace: dict[str, object]) -> dict[str, object]:
    """The type aliases (``Address = Union[...]``) that annotation texts name
    (get_type_hints() expands them, so they are looked up by name in ``namespace``)."""
    found = {}
    for text in annotations.values():
        for dotted in re.findall(r"(?<![\w.])[A-Za-z_][\w.]*", text if isinstance(text, str) else ""):
            first, *rest = dotted.split(".")
            value = namespace.get(first)
            for part in rest:  # "tree_ops.Progress"
                value = getattr(value, part, None)
            name = dotted.rsplit(".", 1)[-1]
            if value is None or isinstance(value, (type, types.ModuleType, typing.TypeVar)):
                continue
            if getattr(typing, name, None) is value or typing.get_origin(value) is None:
                continue  # typing's own names (Callable, Sequence...), or no alias at all
            found[name] = value
    return found


def _annotated(qualname: str, obj: object) -> typing.Iterator[tuple[str, object]]:
    """(where, function or class) for ``obj`` and its public members, inherited ones included."""
    if inspect.isfunction(obj):
        yield qualname, obj
        return
    if not inspect.isclass(obj):
        return
    if obj.__module__.split(".")[0] == "zkservices":
        yield qualname, obj  # class-level (dataclass) annotations
    for name in dir(obj):
        if name.startswith("_") and name not in _DUNDERS:
            continue
        if name == "__init__" and qualname in _MADE_BY_THE_LIBRARY:
            continue
        try:
            member = inspect.getattr_static(obj, name)
        except AttributeError:
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if isinstance(member, property):
            member = member.fget
        if inspect.isfunction(member) and member.__module__.split(".")[0] == "zkservices":
            yield f"{qualname}.{name}", member


def _signature_names() -> dict[str, tuple[set[type], dict[str, object]]]:
    """Public object (``module.name.member``) → the package's classes and the type
    aliases its annotations name (public attributes only, for a class)."""
    out: dict[str, tuple[set[type], dict[str, object]]] = {}
    for module_name in _PUBLIC_MODULES:
        module = sys.modules[module_name]
        for name in module.__all__:
            for where, target in _annotated(f"{module_name}.{name}", getattr(module, name)):
                if inspect.isclass(target):
                    hints = {k: v for k, v in typing.get_type_hints(target).items() if not k.startswith("_")}
                    aliases: dict[str, object] = {}
                    for base in target.__mro__:
                        raw = {k: v for k, v in vars(base).get("__annotations__", {}).items() if not k.startswith("_")}
                        aliases.update(_aliases_in(raw, vars(sys.modules[base.__module__])))
                else:
                    hints = typing.get_type_hints(target)
                    aliases = _aliases_in(target.__annotations__, target.__globals__)  # type: ignore[attr-defined]
                classes: set[type] = set()
                for hint in hints.values():
                    _classes_in(hint, classes)
                if classes or aliases:
                    out[where] = (classes, aliases)
    return out


@pytest.mark.skipif(sys.version_info < (3, 10), reason="get_type_hints() reads `X | Y` annotations from Python 3.10 on")
def test_every_type_a_public_signature_names_is_exported():
    public = {m: sys.modules[m] for m in _PUBLIC_MODULES}
    exported = {m: {id(getattr(module, n)) for n in module.__all__} for m, module in public.items()}
    missing: dict[str, list[str]] = {}
    for where, (classes, aliases) in _signature_names().items():
        for cls in classes:
            home = _home(cls)
            if id(cls) not in exported[home]:
                missing.setdefault(f"{home}.{cls.__name__} (class in {cls.__module__})", []).append(where)
        own = next(m for m in reversed(_PUBLIC_MODULES) if where.startswith(m + "."))
        for name, value in aliases.items():
            if not any(name in public[m].__all__ and getattr(public[m], name) is value for m in ("zkservices", own)):
                missing.setdefault(f"zkservices.{name} (type alias)", []).append(where)
    assert not missing, "\n".join(
        f"{name} is not exported; used by {', '.join(sorted(used)[:3])}" for name, used in sorted(missing.items())
    )


@pytest.mark.skipif(sys.version_info < (3, 10), reason="get_type_hints() reads `X | Y` annotations from Python 3.10 on")
def test_the_signature_walk_sees_classes_and_aliases():
    names = _signature_names()
    assert zkservices.ZooKeeper in names["zkservices.ServerSet.__init__"][0]
    assert zkservices.Registration in names["zkservices.ZooKeeper.register_server"][0]
    assert "Address" in names["zkservices.ZooKeeper.register_server"][1]
    assert zkservices.testing.ZooKeeperServer in names["zkservices.testing.ZooKeeperEnsemble.leader"][0]
    assert "zkservices.Children.__init__" not in names  # made by zk.children(), not by users


# -- names that moved -----------------------------------------------------


@pytest.mark.parametrize("name", ["ServerError", "FaultError"])
def test_test_harness_errors_live_in_zkservices_testing(name):
    assert name in zkservices.testing.__all__
    assert name not in zkservices.__all__
    assert issubclass(getattr(zkservices.testing, name), zkservices.ZkServicesError)
    namespace: dict[str, object] = {}
    exec("from zkservices import *", namespace)
    assert name not in namespace


@pytest.mark.parametrize("name", ["ServerError", "FaultError"])
def test_old_top_level_names_of_the_harness_errors_warn_and_still_work(name):
    with pytest.warns(DeprecationWarning, match=rf"zkservices\.{name} .*zkservices\.testing\.{name}") as caught:
        old = getattr(zkservices, name)
    assert old is getattr(zkservices.testing, name)
    assert caught[0].filename == __file__  # the warning points at the caller
    with pytest.warns(DeprecationWarning, match=f"zkservices.testing.{name}"):
        exec(f"from zkservices import {name}", {})


def test_unknown_top_level_names_still_raise_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchName'"):
        zkservices.NoSuchName  # noqa: B018
    assert not hasattr(zkservices, "NoSuchName")


# -- public docstrings point at public names only ----------------------------


def _private(module_name: str) -> bool:
    return any(part.startswith("_") for part in module_name.split("."))


def _public_docs() -> typing.Iterator[tuple[str, object, str]]:
    """(where, object, docstring) for the public modules, their names and those names' public members."""
    import zkservices.errors

    for module in (zkservices, zkservices.aio, zkservices.testing, zkservices.errors):
        yield module.__name__, module, module.__doc__ or ""
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                yield f"{module.__name__}.{name}", obj, obj.__doc__ or ""
            if not inspect.isclass(obj):
                continue
            for member_name in dir(obj):
                if member_name.startswith("_") and member_name not in _DUNDERS:
                    continue
                member = inspect.getattr_static(obj, member_name, None)
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if isinstance(member, property):
                    member = member.fget
                if inspect.isfunction(member) and member.__module__.split(".")[0] == "zkservices":
                    yield f"{module.__name__}.{name}.{member_name}", member, member.__doc__ or ""


def test_public_docstrings_do_not_send_readers_to_private_modules():
    bad = []
    for where, obj, doc in _public_docs():
        for line in doc.splitlines():
            if re.search(r"zkservices\._", line):
                bad.append(f"{where}: {line.strip()}")
            elif "module documentation" in line and _private(getattr(obj, "__module__", "") or ""):
                bad.append(f"{where}: {line.strip()} (its module is private)")
    assert not bad, "\n".join(bad)
