"""The package layering (pyproject's [tool.importlinter], docs/architecture.md "Layers") holds,
and no two files of liveloop import each other, directly or round a longer circle."""
from pathlib import Path

import grimp
import pytest
from importlinter.application import use_cases
from importlinter.configuration import configure

ROOT = Path(__file__).resolve().parents[2]


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




def package_of(module: str) -> str:
    """liveloop.events.ingest → liveloop.events (a top-level module is its own package)."""
    return ".".join(module.split(".")[:2])


def private_names(line: str) -> list[str]:
    """The underscore names a `from … import …` line takes (not `__future__`-style dunders)."""
    if " import " not in line or not line.lstrip().startswith("from "):
        return []
    names = line.split(" import ", 1)[1].replace("(", " ").replace(")", " ")
    return [name.split(" as ")[0].strip() for name in names.split(",")
            if name.strip().startswith("_") and not name.strip().startswith("__")]


def test_private_names_are_found_in_an_import_line():
    assert private_names("from liveloop.events.ingest import _insert, ingest") == ["_insert"]
    assert private_names("from liveloop.x import (a, _b as b)") == ["_b"]
    assert private_names("from liveloop.x import __version__") == []
    assert private_names("import liveloop.x") == []


def test_no_module_imports_another_packages_private_name():
    graph = grimp.build_graph("liveloop")
    found = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if package_of(importer) == package_of(imported):
                continue
            for detail in graph.get_import_details(importer=importer, imported=imported):
                for name in private_names(detail["line_contents"]):
                    found.append(f"{importer}:{detail['line_number']} takes {imported}.{name}")
    assert not found, "\n".join(found)
