"""Global options mean the same in every position, for every command of the tree (README: "before or after
the subcommand"): before the group, between a group and its subcommand, after the subcommand.

The walk parses each command line as `vmtui` does (`vmtui.cli.prepare`, then click's own parsing down the
tree) without running the command: every path, every global option, every position.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import run_vmtui
from typer.core import TyperArgument, TyperGroup, TyperOption
from typer.main import get_group

from vmtui import cli
from vmtui.cli.hoist import hoist
from vmtui.cli.typer_internals import Command, Context

GLOBALS: list[tuple[list[str], str, object]] = [
    (["-c", "test:///default"], "connect", ["test:///default"]),
    (["--connect=test:///default"], "connect", ["test:///default"]),
    (["-H", "lab1"], "host", ["lab1"]),
    (["-r"], "read_only", True),
    (["--read-only"], "read_only", True),
    (["--replay", "rec.jsonl"], "replay", "rec.jsonl"),
    (["--json"], "as_json", True),
]
"""Each global option as a user writes it, the parameter it sets, and the value it must arrive with."""


def _paths(group: TyperGroup, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Command]]:
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        if isinstance(command, TyperGroup):
            if command.invoke_without_command:
                yield path, command
            yield from _paths(command, path)
        else:
            yield path, command


def _dummy(param: TyperArgument | TyperOption) -> str:
    kind = getattr(param.type, "name", "text")
    if "int" in kind or "float" in kind:
        return "1"
    choices = getattr(param.type, "choices", None)
    return str(next(iter(choices))) if choices else "x"


def _arguments(command: Command) -> list[str]:
    """Values for the command's required arguments and options: a line it parses."""
    out: list[str] = []
    for param in command.params:
        if isinstance(param, TyperArgument) and param.required:
            out.extend(_dummy(param) for _ in range(max(1, param.nargs)))
        elif isinstance(param, TyperOption) and param.required:
            out.extend([param.opts[0], _dummy(param)])
    return out


def _parse(root: Command, argv: list[str]) -> list[Context]:
    """click's parse of `argv` down the tree, as `Group.invoke` does it, without invoking anything."""
    ctx = root.make_context("vmtui", argv)
    chain = [ctx]
    command = root
    while isinstance(command, TyperGroup) and ctx._protected_args:
        name, sub, rest = command.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        assert sub is not None
        assert name is not None
        ctx = sub.make_context(name, rest, parent=ctx)
        chain.append(ctx)
        command = sub
    return chain


def _positions(path: tuple[str, ...], args: list[str], opt: list[str]) -> dict[str, list[str]]:
    out = {"before the command": [*opt, *path, *args]}
    for k in range(1, len(path)):
        out[f"after {' '.join(path[:k])}"] = [*path[:k], *opt, *path[k:], *args]
    out["after the subcommand"] = [*path, *opt, *args]
    out["at the end"] = [*path, *args, *opt]
    return out


ROOT = get_group(cli.build_app())
PATHS = list(_paths(ROOT))


def test_the_walk_covers_the_groups_and_their_commands() -> None:
    names = {" ".join(p) for p, _c in PATHS}
    assert {"ksm tune", "migrate start", "hosts add", "snapshot create", "lab up", "list"} <= names
    assert len(PATHS) > 60


@pytest.mark.parametrize(("path", "command"), PATHS, ids=[" ".join(p) for p, _c in PATHS])
def test_every_global_option_parses_in_every_position(path: tuple[str, ...], command: Command) -> None:
    args = _arguments(command)
    failures: list[str] = []
    for opt, param, want in GLOBALS:
        for where, argv in _positions(path, args, opt).items():
            # The full tree; `vmtui` itself builds only the command's group (the next test).
            root, line = ROOT, hoist(ROOT, argv)
            try:
                chain = _parse(root, line)
            except Exception as exc:  # a parse error of any kind is what this test is about
                failures.append(f"{' '.join(argv)} ({where}): {exc.__class__.__name__}: {exc}")
                continue
            got: Any = chain[0].params.get(param) or chain[-1].params.get(param)
            if param == "replay" and got is not None:
                got = str(got)
            if isinstance(got, tuple):  # click keeps a repeatable option's values as a tuple
                got = list(got)
            if got != want:
                failures.append(f"{' '.join(argv)} ({where}): {param} arrived as {got!r}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("path", "command"), PATHS[::7], ids=[" ".join(p) for p, _c in PATHS[::7]])
def test_the_partial_app_vmtui_builds_reads_them_the_same(
    path: tuple[str, ...], command: Command, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("_VMTUI_COMPLETE", raising=False)
    args = _arguments(command)
    for opt, _param, _want in GLOBALS:
        for argv in _positions(path, args, opt).values():
            root, line = cli.prepare(argv)
            assert line == hoist(ROOT, argv)
            _parse(root, line)


@pytest.mark.parametrize(
    "argv",
    [
        ["ksm", "-r", "tune", "--sleep-ms", "50", "-c", "test:///default"],
        ["ksm", "tune", "-r", "--sleep-ms", "50", "-c", "test:///default"],
        ["ksm", "-c", "test:///default", "tune", "--sleep-ms", "50", "-r"],
    ],
)
def test_the_reported_lines_reach_the_command_and_its_read_only_refusal(argv: list[str]) -> None:
    proc = run_vmtui(*argv)
    assert proc.returncode == 5, proc.stderr  # read-only: refused by the command, not by the parser
    assert proc.stderr == "vmtui: error: tune KSM: connection test:///default is read-only\n"


def test_migrate_with_read_only_between_the_group_and_start_is_refused_for_what_it_means() -> None:
    proc = run_vmtui("migrate", "-r", "start", "X", "lab1", "-c", "test:///default")
    assert proc.returncode == 2
    assert proc.stderr == "vmtui: error: --read-only: a migration changes both hosts; only --precheck-only reads\n"
