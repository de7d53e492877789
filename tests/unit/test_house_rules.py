"""The house rules that follow subject, beside the import contracts in pyproject.toml (`make check`
runs lint-imports): the CLI never pays for Textual, and the libvirt contract names every module.

The contracts hold only for the modules they name: a new top-level module that no contract lists
could import libvirt unseen, so the test below fails until it is listed.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "vmtui"
LIBVIRT_CONTRACT = "only vmtui/drivers/libvirt/ imports libvirt-python"


@pytest.mark.parametrize("module", ["vmtui.cli", "vmtui.drivers", "vmtui.drivers.libvirt.driver"])
def test_import_does_not_load_textual(module: str) -> None:
    """`vmtui list` starts without loading Textual (~0.3 s of imports): only the TUI needs it."""
    code = (
        f"import sys, {module}\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(loaded))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"importing {module} loaded Textual: {proc.stdout.strip()}"


def contract(name_starts: str) -> dict[str, object]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    found = [c for c in data["tool"]["importlinter"]["contracts"] if c["name"].startswith(name_starts)]
    assert len(found) == 1, f"one contract named {name_starts!r} in pyproject.toml"
    chosen: dict[str, object] = found[0]
    return chosen


def modules_under(package: Path, dotted: str) -> set[str]:
    """The modules and packages directly inside `package`, dotted."""
    names = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    names |= {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    return {f"{dotted}.{n}" for n in names}


def test_the_libvirt_contract_covers_every_module_but_the_libvirt_package() -> None:
    sources = contract(LIBVIRT_CONTRACT)["source_modules"]
    assert isinstance(sources, list)
    everything = (modules_under(PACKAGE, "vmtui") - {"vmtui.drivers"}) | modules_under(
        PACKAGE / "drivers", "vmtui.drivers"
    )
    expected = sorted(everything - {"vmtui.drivers.libvirt", "vmtui.__init__"})
    assert {"vmtui.drivers.xml", "vmtui.ops"} <= set(expected), "the walk must see the packages"
    assert sorted(m for m in expected if m not in sources) == [], "list these in the libvirt contract"
    assert "vmtui.drivers.libvirt" not in sources


def test_the_libvirt_package_is_where_libvirt_is_imported() -> None:
    """The contract forbids it elsewhere; this says the package is really the home (not an empty rule)."""
    importers = sorted(
        p.stem for p in (PACKAGE / "drivers" / "libvirt").glob("*.py") if "import libvirt" in p.read_text("utf-8")
    )
    assert {"connection", "driver"} <= set(importers)
