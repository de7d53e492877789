"""apt pointed at empty package lists (a fresh container's), for the lab image tests: through apt's own
APT_CONFIG, so the machine's /var/lib/apt/lists and /var/cache/apt are never touched."""

from __future__ import annotations

from pathlib import Path

import pytest


def apt_without_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """apt with an empty lists dir, no sources and its own cache: `apt-get update` brings nothing, as
    without network. Also a fresh VMTUI_HOME (no cached guest image). Returns the lists dir."""
    lists = tmp_path / "lists"
    (lists / "partial").mkdir(parents=True)
    (tmp_path / "cache" / "archives" / "partial").mkdir(parents=True)
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("")
    config = tmp_path / "apt.conf"
    config.write_text(
        f'Dir::State::Lists "{lists}/";\n'
        f'Dir::Cache "{tmp_path / "cache"}/";\n'
        f'Dir::Etc::SourceList "{tmp_path / "sources.list"}";\n'
        f'Dir::Etc::SourceParts "{tmp_path / "sources.list.d"}/";\n'
    )
    monkeypatch.setenv("APT_CONFIG", str(config))
    monkeypatch.setenv("VMTUI_HOME", str(tmp_path / "home"))
    return lists
