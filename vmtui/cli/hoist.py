"""Global options in any position: `vmtui ksm -r tune` means `vmtui -r ksm tune`.

click reads an option only at the level that declares it: the root's -c/-H/-r/--replay/--json after a
group's name (`vmtui migrate -r start ...`) or after a subcommand that does not declare them was "No such
option". Before click parses, `hoist` walks argv down the command tree and moves every global option
that the level it stands at does not take itself to the front, where the root takes it; `guarded` then
folds it into the command exactly as if it had been written before the command (or refuses it, in one
line, where it means nothing). An option a command declares itself stays where it is: `hosts add -r`
(save the host read-only) keeps its own meaning.
"""

from __future__ import annotations

from collections.abc import Sequence

from typer.core import TyperGroup, TyperOption

from vmtui.cli.typer_internals import Command

GLOBAL_TAKES_VALUE = {
    "--connect": True, "-c": True, "--host": True, "-H": True, "--replay": True,
    "--read-only": False, "-r": False, "--json": False,
}  # fmt: skip
"""The root's options, and whether each takes a value."""


def hoist(root: Command, argv: Sequence[str]) -> list[str]:
    """`argv` with the global options that stand where their level does not declare them moved to the front."""
    front: list[str] = []
    out: list[str] = []
    level = root
    waiting: list[tuple[list[str], bool]] = []
    """Global options seen at the current level, with whether the level declares them itself."""
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            out.extend(argv[i:])
            break
        if token.startswith("-") and token != "-":
            width = _global_width(token, argv, i)
            if not width:
                width = _own_width(level, token)
                out.extend(argv[i : i + width])
            elif level is root or (_declares(level, token) and not isinstance(level, TyperGroup)):
                out.extend(argv[i : i + width])  # where it is, it is that level's own
            else:
                # A group's own copy (`ksm -c URI`) is only its own if no subcommand follows: decided later.
                waiting.append((list(argv[i : i + width]), _declares(level, token)))
            i += width
            continue
        if isinstance(level, TyperGroup):
            sub = level.commands.get(token)
            default = getattr(level, "default_command", None)
            if sub is None and isinstance(default, str):
                sub = level.commands.get(default)  # `migrate DOMAIN DEST`: the group inserts the name itself
                token = ""
            if sub is None:
                out.extend(argv[i:])  # an unknown command: click says so
                break
            for tokens, _declared in waiting:
                front.extend(tokens)
            waiting = []
            level = sub
            if token:
                out.append(token)
                i += 1
            continue
        out.append(token)
        i += 1
    for tokens, declared in waiting:
        # At the last level: a group's own options stay with it, the rest go to the root.
        (out if declared else front).extend(tokens)
    return front + out


def _global_width(token: str, argv: Sequence[str], i: int) -> int:
    """How many words a global option takes here (1 or 2), or 0 when `token` is not wholly global."""
    name, eq, _value = token.partition("=")
    if name.startswith("--"):
        if name not in GLOBAL_TAKES_VALUE:
            return 0
        return 2 if GLOBAL_TAKES_VALUE[name] and not eq and i + 1 < len(argv) else 1
    # Short flags may be bundled (-rc URI): global only if every flag is; a value flag takes the rest.
    for j, flag in enumerate(token[1:], 1):
        takes = GLOBAL_TAKES_VALUE.get(f"-{flag}")
        if takes is None:
            return 0
        if takes:
            return 2 if j == len(token) - 1 and i + 1 < len(argv) else 1
    return 1


def _names(command: Command) -> dict[str, TyperOption]:
    return {name: p for p in command.params if isinstance(p, TyperOption) for name in (*p.opts, *p.secondary_opts)}


def _declares(command: Command, token: str) -> bool:
    names = _names(command)
    name = token.partition("=")[0]
    if name.startswith("--"):
        return name in names
    return all(f"-{flag}" in names for flag in token[1:] if f"-{flag}" in GLOBAL_TAKES_VALUE)


def _own_width(command: Command, token: str) -> int:
    """Words an option of `command` itself takes: 2 when its value is the next word."""
    param = _names(command).get(token)
    if param is None or not isinstance(param, TyperOption):
        return 1
    return 1 if param.is_flag or param.count else 2
