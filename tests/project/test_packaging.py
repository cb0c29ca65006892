"""`pip install .` must give a working program: the package's dependencies, the lock and the
code's imports agree. A module imported at run time but provided by no declared dependency
works in the checkout (the lock installed it) and crashes an install from PyPI ranges."""
import ast
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

from django.conf import settings
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def declared() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(r.name): r for r in map(Requirement, project["dependencies"])}


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"{path.name}: {line!r} is not an exact pin (name==version)"
        found[canonicalize_name(name)] = version.strip()
    return found


def imported_top_modules() -> dict[str, str]:
    """Top-level module → a file importing it, for every absolute import under liveloop/."""
    modules = {}
    for path in (ROOT / "liveloop").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                modules.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    # Modules Django imports by name from settings are run-time imports too.
    named = [*settings.INSTALLED_APPS, *settings.MIDDLEWARE, *settings.AUTHENTICATION_BACKENDS]
    for dotted in named:
        modules.setdefault(dotted.split(".")[0], "liveloop/settings.py")
    # The production cache (LIVELOOP_CACHE_URL) is Django's RedisCache, which imports redis.
    modules.setdefault("redis", "liveloop/settings.py (LIVELOOP_CACHE_URL)")
    return modules


def test_every_dependency_is_pinned_and_every_pin_satisfies_its_range():
    lock = pins(ROOT / "requirements.lock")
    for name, requirement in declared().items():
        assert name in lock, f"{requirement} is in pyproject.toml but not pinned in requirements.lock"
        assert requirement.specifier.contains(lock[name], prereleases=True), (
            f"requirements.lock pins {name}=={lock[name]}, outside pyproject.toml's {requirement}")


def test_the_lock_holds_only_what_the_dependencies_need():
    # Walk the declared dependencies' own requirements (installed metadata, extras followed):
    # a pin outside that closure is stale, or a dependency someone forgot to declare.
    lock = pins(ROOT / "requirements.lock")
    needed, queue = set(), [(r, frozenset(r.extras)) for r in declared().values()]
    while queue:
        requirement, extras = queue.pop()
        name = canonicalize_name(requirement.name)
        if (name, extras) in needed:
            continue
        needed.add((name, extras))
        try:
            children = requires(name) or []
        except PackageNotFoundError:
            continue
        for child in map(Requirement, children):
            if child.marker is None or any(child.marker.evaluate({"extra": e}) for e in extras or {""}):
                queue.append((child, frozenset(child.extras)))
    stale = set(lock) - {name for name, _ in needed}
    assert not stale, f"requirements.lock pins {sorted(stale)}, which no declared dependency needs"


def undeclared(modules: dict[str, str]) -> list[str]:
    providers = packages_distributions()
    ours = set(declared())
    missing = []
    for module, where in sorted(modules.items()):
        if module in sys.stdlib_module_names or module in ("liveloop", "__future__"):
            continue
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists & ours:
            missing.append(f"{module} (imported in {where}; provided by {sorted(dists) or 'nothing installed'})")
    return missing


def test_every_imported_third_party_module_comes_from_a_declared_dependency():
    missing = undeclared(imported_top_modules())
    assert not missing, "imported but not declared in pyproject.toml dependencies:\n" + "\n".join(missing)


def test_the_drift_check_catches_an_undeclared_import():
    # The check itself can fail: pytest is installed (dev lock) but not a runtime dependency.
    assert undeclared({"pytest": "x.py", "django": "y.py", "json": "z.py"}) == [
        "pytest (imported in x.py; provided by ['pytest'])"]
