"""No import cycles in the package, lazy (function-level) imports included: the layer
contracts of setup.cfg order the packages, this holds the modules inside one package
to the same rule (``ARCHITECTURE.rst``: arrows run one way)."""

from __future__ import annotations

import grimp


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start) & modules)))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child) & modules))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return found


def _package_modules(graph: grimp.ImportGraph) -> set[str]:
    # a package's __init__ re-exporting its modules is not a cycle of the code: leave
    # the packages themselves out, keep every module
    return {m for m in graph.modules if m.startswith("zkservices") and not graph.find_children(m)}


def test_no_module_imports_itself_through_others():
    graph = grimp.build_graph("zkservices")
    assert _cycles(graph, _package_modules(graph)) == []


def test_the_check_finds_a_cycle():
    graph = grimp.ImportGraph()
    for name in ("zkservices", "zkservices.a", "zkservices.b", "zkservices.c"):
        graph.add_module(name)
    graph.add_import(importer="zkservices.a", imported="zkservices.b")
    graph.add_import(importer="zkservices.b", imported="zkservices.a")
    graph.add_import(importer="zkservices.b", imported="zkservices.c")
    assert _cycles(graph, {"zkservices.a", "zkservices.b", "zkservices.c"}) == [["zkservices.a", "zkservices.b"]]
