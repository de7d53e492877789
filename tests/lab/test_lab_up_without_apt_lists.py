"""`vmtui lab up` where apt has no package lists and `apt-get update` brings none (issue 27, item 11):
the hosts and their other guests come up, and the command fails saying which Linux guests are missing
on which hosts and what to run. apt is pointed at empty lists with its own APT_CONFIG (the machine's
/var/lib/apt/lists is never touched); a fresh VMTUI_HOME has no cached guest image."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from apt_lists import apt_without_lists
from fixtures_lab import VMTUI, free_lab_id, lab_unavailable

pytestmark = pytest.mark.timeout(600)


def vmtui(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(VMTUI)] if VMTUI.exists() else [sys.executable, "-m", "vmtui"]
    return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=500, check=False, env=env)


@pytest.fixture
def no_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return apt_without_lists(tmp_path, monkeypatch)


def test_lab_up_fails_naming_the_missing_linux_guests(no_lists: Path, tmp_path: Path) -> None:
    reason = lab_unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the lab: {reason}")
        pytest.skip(reason)
    # A lab of its own (number and home): the session's lab, which other tests share, is never touched.
    home = tmp_path / "home"
    env = {**os.environ, "VMTUI_HOME": str(home), "VMTUI_LAB_ID": str(free_lab_id())}
    try:
        up = vmtui(env, "lab", "up")
        said = " ".join((up.stdout + up.stderr).split())  # the terminal's line breaks as spaces
        assert up.returncode == 1, said
        assert "lab1 and lab2 came up without their Linux guests (lab1-linux, lab2-linux)" in said
        assert "run `apt-get update`, then `vmtui lab up` again" in said
        assert "running `apt-get update`" in said  # the progress says it tried
        assert "Traceback" not in said
        state = json.loads((home / "state" / "lab" / "lab.json").read_text())
        for host in state["hosts"]:
            names = {g["name"] for g in host["guests"]}
            assert f"{host['name']}-tcg-e1000" in names, names  # the other guests are up
            assert f"{host['name']}-linux" not in names
            assert "lab up` again" in host["error"]
    finally:
        down = vmtui(env, "lab", "down")
        assert down.returncode == 0, down.stdout + down.stderr
