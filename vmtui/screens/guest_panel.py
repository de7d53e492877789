"""The domain screen's guest facts: IP addresses with their source (agent, DHCP lease or ARP), OS and
hostname from the agent, autostart and a saved state. Asked of the host on a worker thread when the
screen opens, every `REFRESH_SECONDS` and after a job; never by the pollers (agent calls can wait)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from vmtui.drivers.resources import GuestFacts, live
from vmtui.present import MISSING, printable
from vmtui.screens.access import HostAccess, Loaded, Loader

REFRESH_SECONDS = 10.0
AGENT_STYLE = {"connected": "green", "off": "dim"}


def facts_text(facts: GuestFacts | None, error: str | None) -> Text:
    out = Text("Guest", "bold")
    if error is not None:
        return out + Text(f"  {printable(error)}", "bold red")
    if facts is None:
        return out + Text("  asking the host…", "dim")
    out.append("  agent ")
    out.append(facts.agent, AGENT_STYLE.get(facts.agent, "yellow"))
    if facts.hostname:
        out.append("  hostname ")
        out.append(printable(facts.hostname), "bold")
    if facts.os_name or facts.kernel:
        out.append("  os ")
        out.append(printable(" ".join(x for x in (facts.os_name, facts.kernel) if x)))
    out.append("\n  addresses ")
    if facts.addresses:
        out.append(", ".join(printable(f"{a.interface} {a.cidr}") for a in facts.addresses), "bold")
        out.append(f"  (from {facts.address_source})", "cyan")
    else:
        out.append("none", "dim")
    if facts.tried:
        out.append(f"  asked: {'; '.join(facts.tried)}", "dim")
    out.append("\n  autostart ")
    out.append(MISSING if facts.autostart is None else "yes" if facts.autostart else "no")
    out.append("  saved state ")
    out.append("yes (start restores it)" if facts.managed_save else "no")
    for note in facts.notes:
        out.append(f"\n  {printable(note)}", "dim")
    return out


class GuestPanel(Static):
    def __init__(self, uuid: str, access: HostAccess, *, id: str | None = None) -> None:  # noqa: A002 (Textual's name)
        super().__init__(id=id)
        self.uuid = uuid
        self.loader = Loader(self, access)
        self.facts: GuestFacts | None = None
        self.error: str | None = None

    def on_mount(self) -> None:
        self.update(facts_text(None, None))
        self.reload()
        self.set_interval(REFRESH_SECONDS, self.reload)

    def reload(self) -> None:
        uuid = self.uuid
        self.loader.load("guest", lambda conn: live(conn, "guest facts").guest_facts(uuid))

    def on_loaded(self, message: Loaded) -> None:
        if not self.loader.fresh(message):
            return
        self.facts, self.error = (message.value, None) if message.error is None else (self.facts, message.error)
        self.update(facts_text(self.facts if self.error is None else None, self.error))
        self.screen.refresh_bindings()
