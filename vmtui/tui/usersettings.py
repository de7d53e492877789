"""The user's config file against the screens' keys, checked before the TUI opens anything, then applied.

`check_settings` refuses (a ConfigError naming the file and line): an alias that names no command or hides
one, a `[keys]` name no binding has, a key that would mean two things on one screen, a key that would be
destructive on one screen and harmless on another (the rule of `vmtui.widgets.keys`), a plugin on a screen
that does not exist. `apply_keys` then gives the screens' classes the user's keys, so the keys, the footer,
`?` and the palette all read them; `restore_keys` puts the shipped ones back (when the app ends, and in tests).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from textual.actions import parse
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.keys import _normalize_key_list
from textual.screen import ModalScreen  # Textual's own spelling of keymap keys ("?" is question_mark)

import vmtui.screens
import vmtui.widgets
from vmtui.config import ConfigError
from vmtui.screens.keymap import SCREENS, ScreenKeys, command_word
from vmtui.settings.file import ConfigText
from vmtui.settings.load import Settings
from vmtui.settings.plugins import Plugin
from vmtui.tui.commands import APP_COMMANDS, PLUGIN_ACTION
from vmtui.widgets.keys import is_destructive, key_label, keys_of, long_name
from vmtui.widgets.refusals import MOVED, WHY_NOT

WORD_COMMANDS = ("host", "domain", "filter", "sort")
"""The `:` commands that take a word (`vmtui.tui.commands.CommandTable.word_commands`)."""


@dataclass(slots=True)
class KeyPlan:
    """The BINDINGS each class gets, and which line of the config file asked for each changed binding."""

    path: str = ""
    """The config file, for the errors."""
    bindings: dict[type[DOMNode], list[Binding]] = field(default_factory=dict)
    lines: dict[Binding, tuple[int, str]] = field(default_factory=dict)
    """A binding the user made or moved: its line and how the file names it (`keys.migrate`)."""
    dangerous: set[str] = field(default_factory=set)
    """The actions of plugins marked `dangerous`: destructive for the one-meaning-per-key rule."""
    changes: dict[str, tuple[str, str]] = field(default_factory=dict)
    """For `?`: each rebound command's full name -> (its shipped keys, the user's key)."""

    def where(self, line: int) -> str:
        return f"{self.path}:{line}" if line else self.path


def _names(action: str) -> set[str]:
    """What `[keys]` may call a binding: its `:` word (`pools`) or its action's name (`resources`)."""
    _namespace, name, _parameters = parse(action)
    word = command_word(action)
    return {name} | ({word} if word else set())


def _source_action(binding: Binding) -> str | None:
    """The action a binding stands for: its own, or the refused one its why-not twin speaks of; None for a
    `moved` binding (it only says where a key went)."""
    if binding.action.startswith(MOVED):
        return None
    if binding.action.startswith(WHY_NOT):
        _namespace, _name, parameters = parse(binding.action)
        return str(parameters[0]) if parameters else None
    return binding.action


def own_bindings(owner: type[DOMNode]) -> list[Binding]:
    spec: list[BindingType] = list(owner.__dict__.get("BINDINGS", []))
    return [b if isinstance(b, Binding) else Binding(*b) for b in spec]


def binding_owners(app_class: type[DOMNode]) -> list[type[DOMNode]]:
    """Every class with BINDINGS of its own in vmtui/screens and vmtui/widgets, and the app's."""
    owners: list[type[DOMNode]] = [app_class]
    for package in (vmtui.screens, vmtui.widgets):
        for module in pkgutil.iter_modules(package.__path__):
            mod = importlib.import_module(f"{package.__name__}.{module.name}")
            for _name, cls in inspect.getmembers(mod, inspect.isclass):
                if cls.__module__ == mod.__name__ and issubclass(cls, DOMNode) and cls.__dict__.get("BINDINGS"):
                    owners.append(cls)
    return owners


def check_settings(settings: Settings, app_class: type[DOMNode]) -> KeyPlan:
    """The key plan of `settings`, or a ConfigError at the first line that cannot be honoured."""
    doc = settings.doc
    if doc is None:
        return KeyPlan()
    originals = {owner: _original(owner) for owner in binding_owners(app_class)}
    # A modal's keys answer it (ctrl+s starts the migration in its form): they keep their keys.
    rebindable = [app_class, *(o for t in SCREENS for o in t.owners if not issubclass(o, ModalScreen))]
    known = _check_choices(doc, settings, originals, rebindable)
    _check_aliases(doc, settings, known | {p.name for p in settings.plugins})
    plan = _plan(doc, settings, originals, rebindable)
    for table in SCREENS:
        _check_screen(table, app_class, originals, plan)
    _check_meanings(originals, plan)
    return plan


def _check_choices(
    doc: ConfigText, settings: Settings, originals: dict[type[DOMNode], list[Binding]], rebindable: list[type[DOMNode]]
) -> set[str]:
    """Every `[keys]` name is some binding's; returns every `:` word and binding name known."""
    named: set[str] = set()
    for owner in rebindable:
        for binding in originals.get(owner, []):
            action = _source_action(binding)
            if action is not None and not binding.action.startswith(WHY_NOT):
                named |= _names(action)
    for choice in settings.keys:
        if choice.command not in named:
            raise doc.at(choice.line, f"keys.{choice.command}: no key does {choice.command!r} (`:` lists the commands)")
    words = {t.word for t in SCREENS} | {w for w, *_rest in APP_COMMANDS} | set(WORD_COMMANDS)
    return named | words


def _check_aliases(doc: ConfigText, settings: Settings, known: set[str]) -> None:
    for alias in settings.aliases:
        if alias.name in known:
            raise doc.at(alias.line, f"aliases.{alias.name}: {alias.name!r} is already a command (choose another word)")
        first = alias.expansion.split()[0]
        if first not in known:
            raise doc.at(alias.line, f"aliases.{alias.name}: {first!r} is not a command (`:` lists them)")


def _original(owner: type[DOMNode]) -> list[Binding]:
    return own_bindings(owner) if owner not in _SHIPPED else list(_SHIPPED[owner])


def _plan(
    doc: ConfigText, settings: Settings, originals: dict[type[DOMNode], list[Binding]], rebindable: list[type[DOMNode]]
) -> KeyPlan:
    plan = KeyPlan(path=str(doc.path))
    chosen = {c.command: c for c in settings.keys}
    for owner in rebindable:
        out: list[Binding] = []
        for binding in originals.get(owner, []):
            action = _source_action(binding)
            choice = next((chosen[n] for n in sorted(_names(action)) if n in chosen), None) if action else None
            if choice is None:
                out.append(binding)
                continue
            moved = replace(binding, key=_normalize_key_list(choice.key), key_display=None)
            out.append(moved)
            plan.lines[moved] = (choice.line, f"keys.{choice.command}")
            if not binding.action.startswith(WHY_NOT):
                plan.changes[long_name(binding)] = (key_label(binding), key_label(moved))
        plan.bindings[owner] = out
    for plugin in settings.plugins:
        _add_plugin(doc, plugin, plan)
    for owner, bindings in plan.bindings.items():
        # A `moved` binding only speaks where its key means nothing: a user's key there wins.
        taken = {k for b in bindings if b in plan.lines for k in keys_of(b)}
        plan.bindings[owner] = [b for b in bindings if not (b.action.startswith(MOVED) and set(keys_of(b)) & taken)]
    return plan


def _add_plugin(doc: ConfigText, plugin: Plugin, plan: KeyPlan) -> None:
    words = {t.word: t for t in SCREENS}
    for word in plugin.screens:
        if word not in words:
            line = doc.line("plugins", "screens", item=plugin.item)
            raise doc.at(line, f"plugin {plugin.name!r}.screens: no screen {word!r} (one of {', '.join(words)})")
        if plugin.key is None:
            continue
        owner = words[word].screen
        binding = Binding(_normalize_key_list(plugin.key), f"{PLUGIN_ACTION}({plugin.name!r})", plugin.name)
        if plugin.dangerous:
            plan.dangerous.add(binding.action)
        plan.bindings.setdefault(owner, own_bindings(owner)).append(binding)
        plan.lines[binding] = (doc.line("plugins", "key", item=plugin.item), f"plugin {plugin.name!r}.key")


def _check_screen(
    table: ScreenKeys, app_class: type[DOMNode], originals: dict[type[DOMNode], list[Binding]], plan: KeyPlan
) -> None:
    """On one screen (its widgets and the app's keys with it) a key the user gave has one meaning only."""
    owners = (*table.owners, app_class)
    before = _actions_by_key(b for o in owners for b in originals.get(o, []))
    after: dict[str, list[Binding]] = defaultdict(list)
    for owner in owners:
        for binding in plan.bindings.get(owner, originals.get(owner, [])):
            if not binding.action.startswith((WHY_NOT, MOVED)):
                for key in keys_of(binding):
                    after[key].append(binding)
    for key, bindings in after.items():
        actions = {b.action for b in bindings}
        if len(actions) < 2 or actions == before.get(key):
            continue
        made = [b for b in bindings if b in plan.lines]
        if not made:
            continue  # the key was freed and taken by nothing new: the shipped sharing (enter, esc) stays
        mine = max(made, key=lambda b: plan.lines[b][0])  # of two user's keys, the later line is the second
        others = sorted({long_name(b) for b in bindings if b.action != mine.action})
        line, name = plan.lines[mine]
        raise ConfigError(
            f"{plan.where(line)}: {name}: {key!r} is already {others[0]!r} on the {table.title} screen "
            "(a key means one thing per screen)"
        )


def _actions_by_key(bindings: Iterable[Binding]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for binding in bindings:
        if not binding.action.startswith((WHY_NOT, MOVED)):
            for key in keys_of(binding):
                out[key].add(binding.action)
    return out


def _check_meanings(originals: dict[type[DOMNode], list[Binding]], plan: KeyPlan) -> None:
    """No key is destructive on one screen and harmless on another, the user's keys and plugins included."""
    uses: dict[str, list[tuple[Binding, bool]]] = defaultdict(list)
    for owner, shipped in originals.items():
        for binding in plan.bindings.get(owner, shipped):
            if binding.action.startswith((WHY_NOT, MOVED)):
                continue
            for key in keys_of(binding):
                uses[key].append((binding, _destructive(binding, plan)))
    for key, found in uses.items():
        if len({d for _b, d in found}) < 2:
            continue
        mine = next((b for b, _d in found if b in plan.lines), None)
        if mine is None:
            continue
        line, name = plan.lines[mine]
        other = next(b for b, d in found if d != _destructive(mine, plan))
        kind = "destructive" if _destructive(mine, plan) else "harmless"
        raise ConfigError(
            f"{plan.where(line)}: {name}: {key!r} would be {kind} here but {long_name(other)!r} elsewhere "
            "(a key that stops or deletes on one screen never does something harmless on another)"
        )


def _destructive(binding: Binding, plan: KeyPlan) -> bool:
    return binding.action in plan.dangerous or is_destructive(binding)


_SHIPPED: dict[type[DOMNode], list[Binding]] = {}
"""The BINDINGS each class shipped with, kept while the user's are applied."""


def apply_keys(plan: KeyPlan) -> None:
    """Give each class its planned BINDINGS (the shipped ones kept for `restore_keys`)."""
    for owner, bindings in plan.bindings.items():
        _SHIPPED.setdefault(owner, own_bindings(owner))
        _set(owner, bindings)


def restore_keys() -> None:
    for owner, bindings in list(_SHIPPED.items()):
        _set(owner, bindings)
    _SHIPPED.clear()


def _set(owner: type[DOMNode], bindings: Sequence[Binding]) -> None:
    owner.BINDINGS = list(bindings)
    # Textual merges a class's bindings once, when the class is made; instances copy that.
    owner._merged_bindings = owner._merge_bindings()
