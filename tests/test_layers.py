"""The package layering (pyproject's [tool.importlinter], docs/architecture.md "Layers") holds,
and no two files of liveloop import each other, directly or round a longer circle."""
from pathlib import Path

import grimp
import pytest
from importlinter.application import use_cases
from importlinter.configuration import configure

ROOT = Path(__file__).resolve().parent.parent


def test_the_layering_contracts_are_kept(capsys, monkeypatch):
    configure()
    monkeypatch.chdir(ROOT)  # import-linter reads pyproject.toml from the working directory
    kept = use_cases.lint_imports(config_filename=str(ROOT / "pyproject.toml"), cache_dir=None)  # a fresh graph: no stale cache can pass
    report = capsys.readouterr().out
    assert kept, report


def circles(graph) -> list[list[str]]:
    """Strongly connected components of two or more modules (Tarjan, iterative: the import
    graph is deep enough for Python's recursion limit to matter)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def describe(graph, component: list[str]) -> str:
    members = set(component)
    return "\n".join(f"  {importer} -> {imported}" for importer in component
                     for imported in sorted(graph.find_modules_directly_imported_by(importer))
                     if imported in members)


def test_circles_finds_a_circle_and_only_a_circle():
    graph = grimp.ImportGraph()
    for name in ("p", "p.a", "p.b", "p.c", "p.d"):
        graph.add_module(name)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.c")
    graph.add_import(importer="p.c", imported="p.a")
    graph.add_import(importer="p.c", imported="p.d")  # leads out of the circle, not round it
    assert circles(graph) == [["p.a", "p.b", "p.c"]]


def test_no_two_files_import_each_other():
    graph = grimp.build_graph("liveloop")
    found = circles(graph)
    assert not found, "import circles between files:\n" + "\n\n".join(describe(graph, c) for c in found)


