"""`vmtui` builds only the group of the command it runs; what the user sees must not depend on it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer.main

from vmtui import cli


def test_the_table_names_every_command_of_the_full_app_in_help_order() -> None:
    group = typer.main.get_group(cli.build_app())
    listed = list(group.list_commands(typer.Context(group)))
    tabled = [name for _where, names in cli.REGISTRARS for name in names]
    assert sorted(listed) == sorted(tabled)


@pytest.mark.parametrize("name", [name for _where, names in cli.REGISTRARS for name in names])
def test_a_partial_app_has_the_command_and_only_its_group(name: str) -> None:
    group = typer.main.get_group(cli.build_app(name))
    listed = list(group.list_commands(typer.Context(group)))
    assert name in listed
    assert len(listed) < 10


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["list", "--json"], "list"),
        (["-c", "test:///default", "list"], "list"),
        (["--connect", "list", "stats", "x"], "stats"),  # a URI may be any word, even a command's name
        (["--connect=test:///default", "-r", "--json", "suspend", "vm"], "suspend"),
        (["-rc", "test:///default", "xml", "vm"], "xml"),
        (["-ctest:///default", "-H", "h1", "--replay", "f.json", "top"], "top"),
        (["--host", "h", "hosts", "add", "x", "y"], "hosts"),
        (["--help"], None),
        (["-c", "u", "--help", "list"], None),
        ([], None),
        (["-r"], None),
        (["--show-completion"], None),
    ],
)
def test_command_in_skips_global_options_and_their_values(argv: list[str], command: str | None) -> None:
    assert cli.command_in(argv) == command


def test_completion_always_builds_every_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_VMTUI_COMPLETE", "complete_bash")
    assert cli.command_in(["list"]) is None


LIST_NEVER_LOADS = (
    "textual", "rich", "concurrent.futures",
    "vmtui.ops", "vmtui.cli.lifecycle", "vmtui.cli.render", "vmtui.metrics", "vmtui.explain", "vmtui.monitor",
    "vmtui.models.host", "vmtui.models.jobs", "vmtui.models.definitions",
    "vmtui.drivers.resources", "vmtui.drivers.xml.resources", "vmtui.drivers.deviceapi", "vmtui.drivers.xml.sriov",
    "vmtui.drivers.xml.parts", "vmtui.drivers.xml.migrate", "vmtui.drivers.hostprobe", "vmtui.drivers.hostfiles",
    "vmtui.drivers.pci", "vmtui.drivers.replay",
)  # fmt: skip
"""Packages and modules `vmtui list` has no use for: loading them is start-up time paid by every listing
(bench/startup.py measures it; this test keeps them out without timing anything)."""


def test_list_json_loads_only_what_listing_needs() -> None:
    code = (
        "import json, sys\n"
        "sys.argv = ['vmtui', 'list', '--json', '-c', 'test:///default']\n"
        "from vmtui.cli import main\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    sys.stderr.write(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    body = json.loads(proc.stdout)
    # libvirt's built-in test:///default node has one domain, `test`, running with ID 1: what
    # `virsh -c test:///default list --all` shows.
    assert body["errors"] == []
    assert [(d["name"], d["state"], d["id"]) for d in body["domains"]] == [("test", "running", 1)]
    loaded = set(json.loads(proc.stderr))
    assert {"vmtui.drivers.libvirt.driver", "vmtui.drivers.xml.read", "lxml.etree"} <= loaded, "the list ran"
    heavy = sorted(m for m in loaded for name in LIST_NEVER_LOADS if m == name or m.startswith(f"{name}."))
    assert heavy == [], f"`vmtui list` loaded modules it has no use for: {heavy}"
