"""The TUI and the CLI side by side: every option of every CLI command that changes something is reachable
in the TUI, or written down here as an intended gap with its reason.

The CLI side is introspected from the typer app; the TUI side is what the screens, dialogs and widgets
declare next to their keys and forms (`CLI_OPTIONS`: "command --option" -> "key K" and/or "#widget-id").
A declared key must be one of the class's bindings, a declared form field must be built in the class's
module, and the changed dialogs' widgets are queried in tests/tui/test_parity_dialogs.py; so the table
cannot drift from the code. A new CLI command or option fails here until it is mapped or listed below.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator
from typing import Any

import typer.main

import vmtui.screens
import vmtui.tui
import vmtui.widgets
from vmtui.cli import app
from vmtui.screens.form import CLOUD_INIT_FIELDS

TAKES_READ_ONLY_YET_READS = {"stats", "console"}
"""Commands with --read-only that change nothing (a sample; a serial console)."""
CHANGES_WITHOUT_READ_ONLY = {"hosts rm", "host undrain", "migrate abort", "lab up", "lab down", "lab restart"}
"""Commands that change something without a --read-only option: the user's host file, a job, the lab.
Every other command that changes something takes --read-only (tests/unit/test_cli_surface.py)."""

COMMON = {"--json", "--help", "--connect", "--host", "--read-only"}
"""Options of every command, a face's own: the TUI's hosts are its connections, its output is the screen."""

LAB = "the test lab is built and torn down from a shell (network namespaces, as root): not an operator's task"
NOT_YET = "not yet in the TUI's snapshot prompt (a name only)"

INTENDED_GAPS: dict[str, str] = {
    # One line each: "command" (the command and all its options), "command --option", or "* --option" (any command).
    "* --yes": "the TUI always asks before a change that cannot be undone (the question is its --yes)",
    **{
        f"{command} --parallel": "marked rows run on a pool per host (DEFAULT_PARALLEL); the TUI has no width to set"
        for command in ("start", "shutdown", "reboot", "destroy", "suspend", "resume", "save", "autostart")
    },
    "autostart --filter": "the TUI sets autostart per domain (A on the domain screen)",
    "define": "a new definition from a file: the TUI edits an existing one (e); defining is a shell's job",
    "undefine": "removing a domain and its storage is left to the CLI, where the domain's name is typed in full",
    "migrate start --precheck-only": "the dialog shows every target's pre-checks before anything moves",
    "host drain --dry-run": "the plan is always shown and confirmed before anything moves",
    "devices virtio --live": "t/T do what the advice says (a NIC live and in the config, a disk in the config)",
    "devices virtio --config": "t/T do what the advice says (a NIC live and in the config, a disk in the config)",
    "devices virtio --timeout": "the TUI waits the CLI's default release time (20 s) for a NIC to go",
    "sriov attach --pool": "the screen gives the VF under the cursor (--vf); libvirt's pick from a pool is the CLI's",
    "sriov detach --mac": "the VF is the row under the cursor (--vf)",
    "sriov detach --live": "d takes a VF back from both halves (a VF half taken back is a trap)",
    "sriov detach --config": "d takes a VF back from both halves (a VF half taken back is a trap)",
    "sriov detach --timeout": "the TUI waits the CLI's default release time (20 s) for the guest to let go",
    "balloon set --wait": "the memory screen shows the balloon following its target on every sample",
    "balloon policy --dry-run": "the memory screen always shows the plan; E applies one step",
    "balloon policy --interval": "the TUI's loop is its poller; E applies one step when asked",
    "balloon policy --count": "the TUI's loop is its poller; E applies one step when asked",
    "ksm on --unmerge": "--unmerge goes with off only (`ksm on --unmerge` is refused); G's run field takes unmerge",
    "ksm policy --dry-run": "L asks before its one step, and says what it changed",
    "ksm policy --interval": "the TUI's loop is its poller; L applies one step when asked",
    "ksm policy --count": "the TUI's loop is its poller; L applies one step when asked",
    "snapshot create --description": NOT_YET,
    "snapshot create --location": NOT_YET,
    "snapshot create --disk-only": NOT_YET,
    "snapshot create --memory-file": NOT_YET,
    "snapshot delete --children": "not yet in the TUI: D deletes the highlighted snapshot alone",
    "backup create --to": "the TUI backs up to the default backup root (K)",
    "backup create --incremental": "K takes an incremental backup when it can, else a full one",
    "backup create --keep": "pruning old backups is the CLI's",
    "backup restore --to": "the TUI restores from the default backup root (O)",
    "create --console": "the TUI has its own console key (c on the new row); --console is the CLI's attach",
    "lab up": LAB,
    "lab down": LAB,
    "lab restart": LAB,
}
"""What the TUI does not offer on purpose (or not yet), with the reason. Adding a command is one line:
`"create": "not in the TUI yet (issue N)",`."""


def _leaves(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    subs = getattr(cmd, "commands", None)
    if not subs:
        yield " ".join(path), cmd
    for name, sub in (subs or {}).items():
        yield from _leaves(sub, (*path, name))


@functools.cache
def cli_side() -> dict[str, list[str]]:
    """Every command that changes something -> its options (the common ones left out)."""
    out = {}
    for name, cmd in _leaves(typer.main.get_command(app)):
        options = sorted(o for p in cmd.params if p.param_type_name == "option" for o in p.opts[:1])
        changes = "--read-only" in options and name not in TAKES_READ_ONLY_YET_READS
        if changes or name in CHANGES_WITHOUT_READ_ONLY:
            out[name] = [o for o in options if o not in COMMON]
    return out


@functools.cache
def declaring_classes() -> list[type]:
    """Every class of the TUI's packages that declares its own CLI_OPTIONS."""
    found: dict[str, type] = {}
    for package in (vmtui.screens, vmtui.tui, vmtui.widgets):
        for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            module = importlib.import_module(info.name)
            for cls in vars(module).values():
                if inspect.isclass(cls) and "CLI_OPTIONS" in vars(cls) and cls.__module__ == module.__name__:
                    found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return list(found.values())


def tui_side() -> dict[str, list[tuple[type, str]]]:
    """ "command" or "command --option" -> where the TUI offers it (class, what)."""
    out: dict[str, list[tuple[type, str]]] = {}
    for cls in declaring_classes():
        for key, where in vars(cls)["CLI_OPTIONS"].items():
            out.setdefault(key, []).append((cls, where))
    return out


def _gap(command: str, option: str | None) -> str | None:
    """Why the TUI leaves it out: the option's own reason, any command's, or its command's."""
    if option is None:
        return INTENDED_GAPS.get(command)
    return INTENDED_GAPS.get(f"{command} {option}") or INTENDED_GAPS.get(f"* {option}") or INTENDED_GAPS.get(command)


def side_by_side() -> list[tuple[str, str, str]]:
    """(CLI, TUI, intended gap) for every command and option: the table a failure prints."""
    tui = tui_side()
    rows = []
    for command, options in sorted(cli_side().items()):
        for option in (None, *options):
            key = command if option is None else f"{command} {option}"
            where = "; ".join(f"{cls.__name__}: {what}" for cls, what in tui.get(key, []))
            rows.append((key, where, _gap(command, option) or ""))
    return rows


def _table(rows: list[tuple[str, str, str]]) -> str:
    return "\n".join(f"{cli:<38} | {tui or '-':<50} | {gap or '-'}" for cli, tui, gap in rows)


def test_the_walk_sees_the_commands_it_should() -> None:
    cli = cli_side()
    assert {"migrate start", "host drain", "balloon policy", "devices add-nic", "sriov attach"} <= set(cli)
    assert "--copy-storage" in cli["migrate start"]
    assert {"MigrateModal", "DrainForm", "HostScreen", "HostsPane"} <= {c.__name__ for c in declaring_classes()}


def test_every_cli_option_that_changes_something_is_in_the_tui_or_an_intended_gap() -> None:
    rows = side_by_side()
    gaps = [row for row in rows if not row[1] and not row[2]]
    assert gaps == [], "not in the TUI and not an intended gap:\n" + _table(gaps) + "\n\nthe table:\n" + _table(rows)


def test_no_option_is_both_offered_and_an_intended_gap() -> None:
    tui = tui_side()
    both = [(k, "; ".join(w for _c, w in tui[k]), INTENDED_GAPS[k]) for k in INTENDED_GAPS if k in tui]
    assert both == [], "offered by the TUI, yet listed as a gap (remove the gap):\n" + _table(both)


def test_every_declaration_and_gap_names_a_real_command_and_option() -> None:
    cli = cli_side()
    known = set(cli) | {f"{c} {o}" for c, options in cli.items() for o in options}
    every_option = {o for options in cli.values() for o in options}
    stale = [k for k in tui_side() if k not in known]
    stale += [k for k in INTENDED_GAPS if k not in known and not (k.startswith("* ") and k[2:] in every_option)]
    assert stale == []


def _binding_keys(cls: type) -> set[str]:
    keys = set()
    for binding in getattr(cls, "BINDINGS", []):
        key = binding.key if hasattr(binding, "key") else binding[0]
        keys |= set(key.split(","))
    return keys


def test_every_declared_key_is_a_binding_and_every_form_field_is_built() -> None:
    wrong = []
    for cls in declaring_classes():
        source = inspect.getsource(inspect.getmodule(cls))  # type: ignore[arg-type]
        for key, where in vars(cls)["CLI_OPTIONS"].items():
            said = re.match(r"key ([^\s:,]+)", where)
            if said and said.group(1) not in _binding_keys(cls):
                wrong.append(f"{cls.__name__} {key}: no binding {said.group(1)!r}")
            for field in re.findall(r"#form-(\w+)", where):
                built = (
                    re.search(rf'Form(Field|Check)\("{field}"', source)
                    or (field in ("live", "config") and "SCOPE_CHECKS" in source)
                    or (field in {f.key for f in CLOUD_INIT_FIELDS} and "*CLOUD_INIT_FIELDS" in source)
                )
                if not built:
                    wrong.append(f"{cls.__name__} {key}: no form field {field!r} in {cls.__module__}")
    assert wrong == []


def test_an_unmapped_option_fails(monkeypatch: Any) -> None:
    """The test itself: an option nobody mapped (here --copy-storage taken off the dialog) is reported."""
    from vmtui.screens.migrate import MigrateModal

    declared = {k: v for k, v in MigrateModal.CLI_OPTIONS.items() if k != "migrate start --copy-storage"}
    monkeypatch.setattr(MigrateModal, "CLI_OPTIONS", declared)
    gaps = [row[0] for row in side_by_side() if not row[1] and not row[2]]
    assert gaps == ["migrate start --copy-storage"]
