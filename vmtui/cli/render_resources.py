"""Human output of the storage, network and guest commands (rich); JSON is built from the same values.

Every string from a host (pool, volume, network and domain names, paths, hostnames) goes into a
`Text` through `lit`, never into markup.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from vmtui.drivers.resources import GuestFacts, NetworkInfo, PoolInfo, VolumeInfo
from vmtui.present import MISSING, size
from vmtui.richtext import lease_cells, lit, network_cells, usage_bar, yes_no


def pools_table(rows: Sequence[tuple[str, PoolInfo]]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("HOST", "POOL", "STATE", "AUTOSTART", "TYPE", "VOLS", "CAPACITY", "ALLOCATION", "AVAILABLE", "USED"):
        table.add_column(col, no_wrap=True, justify="right" if col in ("VOLS", "CAPACITY") else "left")
    table.add_column("PATH", overflow="fold")
    for host, p in rows:
        table.add_row(
            lit(host),
            lit(p.name, "bold"),
            Text(p.state, "green" if p.active else "dim"),
            yes_no(p.autostart),
            lit(p.pool_type),
            MISSING if p.volumes is None else str(p.volumes),
            size(p.capacity) if p.active else MISSING,
            size(p.allocation) if p.active else MISSING,
            size(p.available) if p.active else MISSING,
            usage_bar(p.used_fraction if p.active else None),
            lit(p.path),
        )
    return table


def volumes_table(rows: Sequence[tuple[str, VolumeInfo]]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("HOST", "POOL", "VOLUME", "FORMAT", "CAPACITY", "ALLOCATION", "ALLOCATED", "USED BY"):
        table.add_column(col, no_wrap=col != "USED BY", justify="right" if col == "CAPACITY" else "left")
    table.add_column("PATH", overflow="fold")
    for host, v in rows:
        table.add_row(
            lit(host),
            lit(v.pool),
            lit(v.name, "bold"),
            lit(v.format or v.vol_type),
            size(v.capacity),
            size(v.allocation),
            usage_bar(v.allocated_fraction),
            lit(", ".join(v.used_by), "cyan") if v.used_by else Text(MISSING, "dim"),
            lit(v.path),
        )
    return table


def networks_table(rows: Sequence[tuple[str, NetworkInfo]]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("HOST", "NETWORK", "ACTIVE", "AUTOSTART", "FORWARD", "BRIDGE", "ADDRESS", "DHCP", "LEASES"):
        table.add_column(col, no_wrap=True)
    for host, n in rows:
        table.add_row(lit(host), *network_cells(n), str(len(n.leases)) if n.active else MISSING)
    return table


def leases_table(rows: Sequence[tuple[str, NetworkInfo]]) -> Table:
    now = time.time()
    table = Table(title="DHCP leases", title_justify="left", box=None, header_style="bold")
    for col in ("HOST", "NETWORK", "MAC", "IP", "HOSTNAME", "DOMAIN", "EXPIRES"):
        table.add_column(col, no_wrap=True)
    for host, n in rows:
        for le in n.leases:
            table.add_row(lit(host), lit(n.name), *lease_cells(le, now))
    return table


def guest_lines(facts: GuestFacts) -> list[tuple[str, Text]]:
    """The guest rows of `vmtui stats`: agent, addresses with their source, OS, hostname, settings."""
    agent = Text(facts.agent, "green" if facts.agent == "connected" else "yellow")
    if facts.addresses:
        addresses = Text(", ".join(f"{a.interface} {a.cidr}" for a in facts.addresses))
        addresses.append(f"  (from {facts.address_source})", "dim")
    else:
        addresses = Text("none", "dim")
    if facts.tried:
        addresses.append(f"  [{'; '.join(facts.tried)}]", "dim")
    rows = [("guest agent", agent), ("addresses", addresses)]
    if facts.os_name or facts.kernel:
        rows.append(("guest os", lit(" ".join(x for x in (facts.os_name, facts.kernel) if x))))
    if facts.hostname:
        rows.append(("hostname", lit(facts.hostname)))
    settings = Text("autostart ")
    settings.append_text(yes_no(facts.autostart))
    settings.append("  saved state ")
    settings.append_text(yes_no(facts.managed_save))
    rows.append(("host settings", settings))
    rows.extend(("note", lit(note, "dim")) for note in facts.notes)
    return rows
