"""The domain screen's guest facts: IP addresses with their source (agent, DHCP lease or ARP), OS and
hostname from the agent, autostart and a saved state. The domain screen asks for them (the app reads
on a thread of its own) when it opens, every `REFRESH_SECONDS` and after a job; never the pollers,
since agent calls can wait for the guest."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from vmtui.drivers.resources import GuestFacts
from vmtui.present import MISSING, printable

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
    """Shows the latest facts (or why there are none); the screen hands them in."""

    facts: GuestFacts | None = None
    error: str | None = None

    def on_mount(self) -> None:
        self.update(facts_text(None, None))

    def show(self, facts: GuestFacts | None, error: str | None) -> None:
        if error is None:
            self.facts, self.error = facts, None
        else:
            self.error = error  # the last facts stay known (for A), the error is what is shown
        self.update(facts_text(None if error else facts, error))
