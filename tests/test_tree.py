"""The tests mirror the package tree (issue #20): each test module sits in the folder of what it
tests, never directly in tests/ (this module, about the tree itself, is the one exception), and no
module imports a test module — shared helpers live in tests/actors.py or another helper module,
shared fixtures in a conftest.py above their users. A test module imported by another runs its
module-level code twice under two names and ties one test's edits to another's."""
import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def is_test_module(name: str) -> bool:
    """A dotted module name whose last part is a test module's (test_*), e.g. tests.web.test_pages."""
    return name.rsplit(".", 1)[-1].startswith("test_")


def imported_modules(source: str, package: str) -> list[str]:
    """Every module `source` imports, dotted and absolute; `package` resolves relative imports.
    `from a import b` counts `a.b` as well, since b may be a module."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(parent + ([base] if base else []))
            found.append(base)
            found += [f"{base}.{alias.name}" for alias in node.names]
    return found


def imports_of_test_modules(source: str, package: str) -> list[str]:
    return [name for name in imported_modules(source, package) if name.startswith("tests.") and is_test_module(name)]


# Guards of the guards: the checks above must see what they are meant to catch.

@pytest.mark.parametrize("source", [
    "from tests.web.test_operator import html_of",
    "import tests.events.test_rebuild",
    "from tests.web import test_operator",
    "from .test_operator import html_of",
    "def f():\n    from tests.web.test_pages import x\n",
])
def test_an_import_of_a_test_module_is_caught(source):
    assert imports_of_test_modules(source, "tests.web")


@pytest.mark.parametrize("source", [
    "from tests.actors import Tenant, event",
    "from tests.security.routes import ROUTES",
    "from .world import mine",
    "import pytest",
])
def test_an_import_of_a_helper_is_allowed(source):
    assert not imports_of_test_modules(source, "tests.security")


def python_files():
    return sorted(path for path in TESTS.rglob("*.py") if "__pycache__" not in path.parts)


def test_no_module_imports_a_test_module():
    offenders = {}
    for path in python_files():
        package = ".".join(("tests",) + path.relative_to(TESTS).parent.parts)
        found = imports_of_test_modules(path.read_text(encoding="utf-8"), package)
        if found:
            offenders[str(path.relative_to(TESTS.parent))] = found
    assert not offenders, ("move what these import into tests/actors.py (or a helper module that is not "
                           f"test_*.py), fixtures into a conftest.py above their users: {offenders}")


def test_no_test_module_lies_directly_in_tests():
    loose = [path.name for path in TESTS.glob("test_*.py") if path.name != Path(__file__).name]
    assert not loose, f"move these into the folder of the package they test: {loose}"


def test_every_folder_of_tests_is_a_package():
    # Without __init__.py, two test modules of one name in two folders would collide on import.
    folders = {path.parent for path in TESTS.rglob("test_*.py")}
    missing = [str(folder.relative_to(TESTS.parent)) for folder in folders if not (folder / "__init__.py").exists()]
    assert not missing, missing
