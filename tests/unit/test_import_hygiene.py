"""Import boundaries: the CLI and the drivers never load Textual; only vmtui/drivers/ imports libvirt.

Dynamic half: import in a fresh interpreter and look at sys.modules (catches indirect imports).
Static half: walk every module's AST (catches imports hidden in functions, which run only sometimes).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "vmtui"
LIBVIRT_MODULE = PACKAGE / "drivers" / "libvirt_driver.py"
DRIVERS = PACKAGE / "drivers"
PURE_DRIVER_MODULES = (
    "__init__", "base", "replay", "xmlread", "xmledit", "xmlmigrate", "hostprobe", "hostfiles", "uri",
    "pci", "devicexml", "sriovxml", "deviceapi",
)  # fmt: skip
"""Driver modules that work without libvirt-python: a recording plays and XML parses without it."""


@pytest.mark.parametrize("module", ["vmtui.cli", "vmtui.drivers", "vmtui.drivers.libvirt_driver"])
def test_import_does_not_load_textual(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(loaded))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"importing {module} loaded Textual: {proc.stdout.strip()}"


def imported_roots(path: Path) -> set[str]:
    """Top-level names of every module `path` imports, anywhere in the file (absolute imports only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(node.args[0].value.split(".")[0])
    return roots


def package_files() -> list[Path]:
    files = sorted(PACKAGE.rglob("*.py"))
    assert LIBVIRT_MODULE in files, "the walk must see the libvirt driver; is PACKAGE right?"
    return files


def test_only_the_drivers_import_libvirt() -> None:
    importers = [p for p in package_files() if {"libvirt", "libvirtmod"} & imported_roots(p)]
    assert LIBVIRT_MODULE.parent / "connection.py" in importers, "the walk must see the driver's own import"
    outside = [str(p.relative_to(PACKAGE.parent)) for p in importers if DRIVERS not in p.parents]
    assert outside == [], f"only vmtui/drivers/ may import libvirt; also: {outside}"
    pure = [
        str(p.relative_to(PACKAGE.parent)) for p in importers if p.parent == DRIVERS and p.stem in PURE_DRIVER_MODULES
    ]
    assert pure == [], f"these driver modules must work without libvirt-python: {pure}"


def test_drivers_never_import_textual() -> None:
    drivers = [p for p in package_files() if PACKAGE / "drivers" in p.parents]
    assert drivers, "no files under vmtui/drivers/"
    offenders = [str(p.relative_to(PACKAGE.parent)) for p in drivers if "textual" in imported_roots(p)]
    assert offenders == [], f"vmtui/drivers/ must not import textual: {offenders}"


def test_the_static_walk_sees_imports_inside_functions(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text(
        "def f():\n    import textual.app\n    from libvirt import open\n    importlib.import_module('rich.console')\n",
        encoding="utf-8",
    )
    assert {"textual", "libvirt", "rich"} <= imported_roots(sample)


def test_every_module_stays_well_under_600_lines() -> None:
    """Focused modules: a file that grows past this is split by subject (STYLE.md, section 5)."""
    sizes = {
        str(p.relative_to(PACKAGE.parent)): len(p.read_text(encoding="utf-8").splitlines()) for p in package_files()
    }
    big = {name: n for name, n in sizes.items() if n >= 550}
    assert big == {}, f"split these modules: {big}"
