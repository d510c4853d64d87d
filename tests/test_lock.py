"""The lock (requirements.txt, requirements-dev.txt) is what pyproject asks for,
and what is installed.

Offline: these read the committed files and the installed distributions, never
the package index (`make lock` is the one step that asks it).
"""

from __future__ import annotations

import ast
import os
import sys
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
#: Set by `make test-latest`, which installs the newest releases instead of the lock.
UNLOCKED = os.environ.get("FEEDS_UNLOCKED") == "1"


def _pins(name: str) -> dict[str, Requirement]:
    """The lock file's requirements by canonical name (continuations joined)."""
    text = (REPO / name).read_text(encoding="utf-8").replace("\\\n", " ")
    pins: dict[str, Requirement] = {}
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        spec, *hashes = line.split(" --hash=")
        assert hashes, f"{name}: {spec} has no hash"
        requirement = Requirement(spec)
        assert len(requirement.specifier) == 1
        assert next(iter(requirement.specifier)).operator == "==", f"{spec} is not pinned"
        pins[canonicalize_name(requirement.name)] = requirement
    return pins


def _pinned_version(requirement: Requirement) -> str:
    return next(iter(requirement.specifier)).version


def _declared(*extras: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    names = [*project["dependencies"]]
    for extra in extras:
        names += project["optional-dependencies"][extra]
    return [Requirement(name) for name in names]


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("requirements.txt", ()), ("requirements-dev.txt", ("test", "bench"))],
    ids=["main", "dev"],
)
def test_the_lock_pins_every_declared_dependency_within_its_range(
    lock: str, extras: tuple[str, ...]
) -> None:
    pins = _pins(lock)
    for declared in _declared(*extras):
        pinned = pins.get(canonicalize_name(declared.name))
        assert pinned is not None, f"{declared.name} is declared but not in {lock}"
        version = _pinned_version(pinned)
        assert declared.specifier.contains(version, prereleases=True), (
            f"{lock} pins {declared.name} {version}, outside {declared.specifier}: run make lock"
        )


def test_the_app_lock_pins_the_same_versions_as_the_dev_lock() -> None:
    dev = _pins("requirements-dev.txt")
    for name, requirement in _pins("requirements.txt").items():
        assert _pinned_version(requirement) == _pinned_version(dev[name]), name


@pytest.mark.skipif(UNLOCKED, reason="make test-latest installs the newest releases on purpose")
def test_the_installed_packages_are_the_locked_ones() -> None:
    wrong = []
    for name, requirement in _pins("requirements-dev.txt").items():
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if installed != _pinned_version(requirement):
            wrong.append(f"{name} {installed} (lock: {_pinned_version(requirement)})")
    assert not wrong, "not installed from the lock (run make test): " + ", ".join(wrong)


def _imported_modules(folder: Path, *, typing_only: bool = False) -> Iterator[str]:
    """The top-level modules imported in ``folder``: those imported at run
    time, or (``typing_only``) those only under ``if TYPE_CHECKING:``."""
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        checked = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
            for statement in node.body
            for inner in ast.walk(statement)
        }
        for node in ast.walk(tree):
            if (id(node) in checked) != typing_only:
                continue
            if isinstance(node, ast.Import):
                yield from (alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield node.module.split(".")[0]


def _undeclared(
    folders: tuple[str, ...], extras: tuple[str, ...], *, typing_only: bool = False
) -> set[str]:
    declared = {canonicalize_name(requirement.name) for requirement in _declared(*extras)}
    distributions = metadata.packages_distributions()
    own = {"feeds", "tests", "bench"}
    missing = set()
    for folder in folders:
        for module in set(_imported_modules(REPO / folder, typing_only=typing_only)):
            if module in sys.stdlib_module_names or module in own or module == "__future__":
                continue
            names = {canonicalize_name(name) for name in distributions.get(module, [module])}
            if not names & declared:
                missing.add(f"{folder}/: {module} ({', '.join(sorted(names))})")
    return missing


def test_every_package_the_app_imports_is_declared() -> None:
    assert not _undeclared(("feeds",), ())


def test_every_package_the_app_imports_for_type_checks_is_declared_for_the_tests() -> None:
    # mypy, which reads these, is a test tool: its stubs are test packages.
    assert not _undeclared(("feeds",), ("test",), typing_only=True)


def test_every_package_the_tests_and_benchmarks_import_is_declared() -> None:
    assert not _undeclared(("tests", "bench"), ("test", "bench"))
