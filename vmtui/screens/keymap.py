"""Every screen's keys, read from the screens' own BINDINGS: the palette and `?` are built from this table,
so what they say a key does cannot drift from what the key does.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.actions import parse
from textual.binding import Binding, BindingType
from textual.widget import Widget

from vmtui.screens.create import CreateScreen
from vmtui.screens.devices import DevicesScreen
from vmtui.screens.domain import DomainScreen
from vmtui.screens.drain import DrainScreen
from vmtui.screens.host import HostScreen
from vmtui.screens.memory import MemoryScreen
from vmtui.screens.migrate import MigrateModal, MigrationScreen
from vmtui.screens.networks import NetworksScreen
from vmtui.screens.sriov import SriovScreen
from vmtui.screens.storage import StorageScreen
from vmtui.screens.xml import XmlScreen
from vmtui.widgets.domain_table import DomainTable
from vmtui.widgets.hosts_pane import HostsPane
from vmtui.widgets.keys import is_destructive, key_label, long_name
from vmtui.widgets.refusals import MOVED, WHY_NOT


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """One binding as help and the palette show it."""

    binding: Binding
    owner: type[Widget]
    """The class whose BINDINGS hold it: the screen, or a widget on it (the domains table)."""

    @property
    def keys(self) -> str:
        return key_label(self.binding)

    @property
    def name(self) -> str:
        return long_name(self.binding)

    @property
    def destructive(self) -> bool:
        return is_destructive(self.binding)

    @property
    def word(self) -> str | None:
        return command_word(self.binding.action)


WORDS = {
    "resources('storage')": "pools",
    "resources('networks')": "nets",
    "app.add_host": "add-host",
    "app.pop_screen": "back",
    "snapshot('create')": "snapshot",
    "snapshot('revert')": "revert",
    "snapshot('delete')": "delete-snapshot",
    "toggle_inactive": "live",
    "toggle_wide": "columns",
    "select": "open",
    "refetch": "refresh",
}
"""`:` words that are not the action's own name (`pools` reads better than `resources-storage`)."""


def command_word(action: str) -> str | None:
    """A binding's `:` word, also its name in `[keys]`: `lifecycle('start')` is `start`, `add_disk` is
    `add-disk`; None for the moves of a cursor (`cursor(-1)`), which are keys, not commands."""
    if action in WORDS:
        return WORDS[action]
    _namespace, name, parameters = parse(action)
    name = name.replace("_", "-")
    if not parameters:
        return name
    if len(parameters) == 1 and isinstance(parameters[0], str):
        word = parameters[0].replace("_", "-")
        return word if name == "lifecycle" else f"{name}-{word}"
    return None


@dataclass(frozen=True, slots=True)
class ScreenKeys:
    title: str
    owners: tuple[type[Widget], ...]
    """The screen class first, then the widgets on it whose keys work there."""
    opened_by: str | None
    """The dashboard key that opens it (None: the dashboard itself)."""
    about: str
    """What is on it, in the words an operator searches the palette with ("KSM")."""
    word: str
    """Its `:` word and its name in a plugin's `screens`."""

    @property
    def screen(self) -> type[Widget]:
        return self.owners[0]

    def entries(self) -> list[KeyEntry]:
        """Its bindings, in the order the screens list them (the hidden twins that say why not left out)."""
        out: list[KeyEntry] = []
        for owner in self.owners:
            for binding in bindings_of(owner):
                if not binding.action.startswith((WHY_NOT, MOVED)):
                    out.append(KeyEntry(binding, owner))
        return out


def bindings_of(owner: type[Widget]) -> list[Binding]:
    """The class's own BINDINGS as Binding objects (a tuple form is made one)."""
    spec: list[BindingType] = list(owner.__dict__.get("BINDINGS", []))
    return [b if isinstance(b, Binding) else Binding(*b) for b in spec]


SCREENS: tuple[ScreenKeys, ...] = (
    ScreenKeys(
        "Dashboard",
        (HostScreen, DomainTable, HostsPane),
        None,
        "every host's domains: filter, sort, act; Tab to the hosts: drain one",
        "dashboard",
    ),
    ScreenKeys(
        "Domain", (DomainScreen,), "enter", "one domain: snapshots, autostart, edit XML, vCPUs, why it costs", "domain"
    ),
    ScreenKeys("Memory and KSM", (MemoryScreen,), "M", "balloons, the balloon plan, KSM savings and cost", "memory"),
    ScreenKeys("Storage", (StorageScreen,), "P", "storage pools and volumes", "pools"),
    ScreenKeys("Networks", (NetworksScreen,), "N", "virtual networks and DHCP leases", "nets"),
    ScreenKeys("Devices", (DevicesScreen,), "v", "disks and NICs, virtio advice", "devices"),
    ScreenKeys("SR-IOV", (SriovScreen,), "i", "VFs, VF pools, passthrough", "sriov"),
    ScreenKeys("XML", (XmlScreen,), "X", "the domain's XML, live or persistent", "xml"),
    ScreenKeys("Migrate", (MigrateModal,), "m", "pick the target host among the pre-checks", "migrate"),
    ScreenKeys("Migration", (MigrationScreen,), "m", "a migration under way (m on a migrating domain)", "migration"),
    ScreenKeys("Drain", (DrainScreen,), "D", "a host's drain under way: every guest's migration, abort", "drain"),
    ScreenKeys("Creation", (CreateScreen,), "n", "a new VM being made: uploads and copies, cancel", "creation"),
)
"""Every screen with keys of its own; the dashboard first."""


def screen_keys(screen: object) -> ScreenKeys | None:
    """The table row of a screen instance (None for the modals with no keys of their own: help, forms)."""
    return next((s for s in SCREENS if isinstance(screen, s.screen)), None)


def opener(target: ScreenKeys) -> KeyEntry | None:
    """The dashboard binding that opens `target` (its `opened_by` key)."""
    if target.opened_by is None:
        return None
    return next(
        (e for e in SCREENS[0].entries() if target.opened_by in e.binding.key.split(",")),
        None,
    )
