"""The package's layout: few top-level modules, a build that never reaches the
service or the server, subpackages that cost nothing to import, and no class
or function too long to read in one go."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

from tests.conftest import REPO

FEEDS = REPO / "feeds"
#: Modules directly in feeds/ at most: the entry point, errors, config and the like.
MAX_TOP_MODULES = 8
#: The stages a build runs through, files in to files written.
BUILD_SIDE = ("build", "seeds", "plan", "render", "model", "system", "remote")
#: What only `feeds run` needs.
SERVICE_SIDE = ("feeds.service", "feeds.serve")
MAX_CLASS_LINES = 200
MAX_FUNCTION_LINES = 50


def _modules(folder: Path) -> Iterator[Path]:
    return (path for path in sorted(folder.rglob("*.py")) if "__pycache__" not in path.parts)


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _within(name: str, packages: Sequence[str]) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The modules ``node`` may import, as absolute names (a name taken from a
    package may be a submodule of it)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        parent = package[: len(package) - node.level + 1]
        base = ".".join([*parent, base] if base else parent)
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def imports_of(root: Path, packages: Sequence[str], forbidden: Sequence[str]) -> list[str]:
    """Every import, at any depth (in functions too), in the modules of
    ``packages`` (folders of ``root``) of a module within ``forbidden``."""
    found = []
    for package in packages:
        for path in _modules(root / package):
            module = _module_name(path, root.parent)
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                names = _imported(node, module, path.name == "__init__.py")
                found += [
                    f"{module}:{node.lineno} imports {name}"
                    for name in names
                    if _within(name, forbidden)
                ]
    return found


def loaded_by(root: Path, packages: Sequence[str], forbidden: Sequence[str]) -> str:
    """Imports every module of ``packages`` in a new interpreter, in turn; the
    first that leaves a module within ``forbidden`` loaded, and those, or ""."""
    modules = [
        _module_name(path, root.parent) for package in packages for path in _modules(root / package)
    ]
    script = textwrap.dedent(
        f"""
        import importlib, sys
        for name in {modules!r}:
            importlib.import_module(name)
            loaded = sorted(
                module for module in sys.modules
                if any(module == p or module.startswith(p + ".") for p in {tuple(forbidden)!r})
            )
            if loaded:
                print(name, "loads", loaded)
                break
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=root.parent
    )
    return done.stdout


def init_imports(root: Path) -> list[str]:
    """The imports in the ``__init__.py`` of any package below ``root`` of
    anything but the standard library and the package's own modules: such an
    import would load another stage, or a dependency, with every module of
    the package."""
    found = []
    for path in _modules(root):
        if path.name != "__init__.py" or path.parent == root:
            continue
        package = _module_name(path, root.parent)
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            names = _imported(node, package, is_package=True)
            if not all(_light(name, package) for name in names):
                found.append(f"{path.relative_to(root.parent)}:{node.lineno} {ast.unparse(node)}")
    return found


def _light(name: str, package: str) -> bool:
    top = name.partition(".")[0]
    return top in sys.stdlib_module_names or top == "__future__" or _within(name, [package])


def too_long(root: Path) -> list[str]:
    """The classes over `MAX_CLASS_LINES` lines and the functions over
    `MAX_FUNCTION_LINES` (from the ``class`` or ``def`` line to the last)."""
    found = []
    for path in _modules(root):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ClassDef):
                limit = MAX_CLASS_LINES
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                limit = MAX_FUNCTION_LINES
            else:
                continue
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > limit:
                found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name}: {lines}")
    return found


def top_modules(root: Path) -> list[str]:
    return sorted(path.name for path in root.glob("*.py"))


# --- the package -------------------------------------------------------------------


def test_at_most_eight_modules_sit_directly_in_feeds() -> None:
    modules = top_modules(FEEDS)
    assert len(modules) <= MAX_TOP_MODULES, modules


def test_the_build_never_imports_the_service_or_the_server() -> None:
    assert imports_of(FEEDS, BUILD_SIDE, SERVICE_SIDE) == []


def test_importing_the_build_loads_no_module_of_the_service_or_the_server() -> None:
    assert loaded_by(FEEDS, BUILD_SIDE, SERVICE_SIDE) == ""


def test_a_subpackages_init_imports_only_the_standard_library_and_its_own() -> None:
    """So importing one module of a stage costs no more than that module."""
    assert init_imports(FEEDS) == []


def test_no_class_is_over_200_lines_and_no_function_over_50() -> None:
    assert too_long(FEEDS) == []


# --- the checks can fail -----------------------------------------------------------


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root / "pkg"


def test_the_checks_find_a_build_that_reaches_the_service(tmp_path: Path) -> None:
    pkg = _package(
        tmp_path,
        {
            "__init__.py": "",
            "build/__init__.py": "",
            "build/quiet.py": "def later():\n    from ..service import run\n",
            "build/loud.py": "import pkg.service.run\n",
            "service/__init__.py": "",
            "service/run.py": "",
        },
    )
    assert imports_of(pkg, ["build"], ["pkg.service"]) == [
        "pkg.build.loud:1 imports pkg.service.run",
        "pkg.build.quiet:2 imports pkg.service",
        "pkg.build.quiet:2 imports pkg.service.run",
    ]
    assert loaded_by(pkg, ["build"], ["pkg.service"]) == (
        "pkg.build.loud loads ['pkg.service', 'pkg.service.run']\n"
    )


def test_the_checks_find_imports_in_an_init_and_long_code(tmp_path: Path) -> None:
    body = "".join(f"    x{number} = {number}\n" for number in range(MAX_FUNCTION_LINES))
    fields = "".join(f"    y{number} = {number}\n" for number in range(MAX_CLASS_LINES))
    pkg = _package(
        tmp_path,
        {
            "__init__.py": "import os\n",  # the package itself may
            "stage/__init__.py": (
                "from __future__ import annotations\nfrom os import path\n"
                "from . import own\nfrom pkg.stage.own import x\nimport yaml\n"
                "from pkg.other import y\n"
            ),
            "long.py": f"def short():\n    pass\n\n\ndef long():\n{body}",
            "big.py": f"class Big:\n{fields}\n\nclass Small:\n    pass\n",
        },
    )
    assert init_imports(pkg) == [
        "pkg/stage/__init__.py:5 import yaml",
        "pkg/stage/__init__.py:6 from pkg.other import y",
    ]
    assert too_long(pkg) == [
        f"pkg/big.py:1 Big: {MAX_CLASS_LINES + 1}",
        f"pkg/long.py:5 long: {MAX_FUNCTION_LINES + 1}",
    ]
    for number in range(MAX_TOP_MODULES):
        (pkg / f"m{number}.py").touch()
    assert len(top_modules(pkg)) > MAX_TOP_MODULES


def test_every_spec_file_is_collected_by_a_plain_pytest() -> None:
    # pytest skips folders named like build output ("build", "dist") unless
    # told otherwise, and tests/build/ specifies feeds/build/.
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    collected = {line.split("::")[0] for line in listed.splitlines() if "::" in line}
    on_disk = {str(path.relative_to(REPO)) for path in (REPO / "tests").rglob("test_*.py")}
    assert on_disk - collected == set()
