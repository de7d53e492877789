"""URI aliases from libvirt.conf and LIBVIRT_DEFAULT_URI reach libvirt untouched (RELIABILITY #28).

vmtui must not re-parse URIs: an alias such as `fleet` means whatever the client's libvirt.conf says.
As root, libvirt reads only /etc/libvirt/libvirt.conf, which a test must not edit; so each command
runs in a private mount namespace where a temporary file is bind-mounted over it. Nothing outside
that namespace sees the alias, and the machine's file is never written.

Expected values come from virsh, run in the same namespace with the same alias, and from libvirt's
own `test:///default` node (one running domain named `test`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import VMTUI, need

SYSTEM_CONF = Path("/etc/libvirt/libvirt.conf")


def in_namespace(
    conf: Path, *cmd: str, mount: bool = True, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `cmd` where /etc/libvirt/libvirt.conf is `conf` (`mount` False: the machine's own file), with
    a VMTUI_HOME of its own next to `conf`: hosts saved here must not reach the other tests."""
    home = conf.parent / "vmtui-home"
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "VMTUI_HOME": str(home), **(env_extra or {})}
    if not (env_extra and "LIBVIRT_DEFAULT_URI" in env_extra):
        env.pop("LIBVIRT_DEFAULT_URI", None)
    script = (f'mount --bind "{conf}" {SYSTEM_CONF} && ' if mount else "") + 'exec "$@"'
    wrapper = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *cmd]
    return subprocess.run(wrapper, capture_output=True, text=True, timeout=60, env=env, check=False)


@pytest.fixture
def alias_conf(tmp_path: Path) -> Path:
    need(os.geteuid() == 0 and shutil.which("unshare") is not None, "root and unshare(1) for a private mount")
    need(SYSTEM_CONF.is_file(), f"{SYSTEM_CONF} (libvirt-clients) to mount over")
    conf = tmp_path / "libvirt.conf"
    conf.write_text('uri_aliases = [\n  "fleet=test:///default",\n]\n')
    return conf


def virsh_names(conf: Path) -> list[str]:
    proc = in_namespace(conf, "virsh", "-c", "fleet", "list", "--all", "--name")
    assert proc.returncode == 0, proc.stderr
    return sorted(line for line in proc.stdout.splitlines() if line.strip())


def test_an_alias_given_with_connect_opens_what_libvirt_conf_says(alias_conf: Path) -> None:
    expected = virsh_names(alias_conf)
    assert expected == ["test"]  # the test driver's default node, read through the alias by virsh

    proc = in_namespace(alias_conf, VMTUI, "list", "-c", "fleet", "--json")

    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert sorted(d["name"] for d in listed["domains"]) == expected
    assert listed["errors"] == []


def test_without_the_alias_the_same_name_is_a_clear_error(alias_conf: Path) -> None:
    # The machine's own libvirt.conf knows no `fleet`: the alias above is what made it work.
    proc = in_namespace(alias_conf, VMTUI, "list", "-c", "fleet", "--json", mount=False)

    assert proc.returncode == 4  # unreachable (README: exit codes)
    assert "Traceback" not in proc.stderr + proc.stdout
    listed = json.loads(proc.stdout)
    assert listed["domains"] == []
    assert [(e["host"], e["kind"]) for e in listed["errors"]] == [("fleet", "unreachable")]


def test_libvirt_default_uri_may_be_an_alias(alias_conf: Path) -> None:
    proc = in_namespace(alias_conf, VMTUI, "list", "--json", env_extra={"LIBVIRT_DEFAULT_URI": "fleet"})

    assert proc.returncode == 0, proc.stderr
    assert [d["name"] for d in json.loads(proc.stdout)["domains"]] == virsh_names(alias_conf)


def test_a_saved_host_keeps_the_alias_as_typed(alias_conf: Path) -> None:
    added = in_namespace(alias_conf, VMTUI, "hosts", "add", "f1", "fleet", "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["added"]["uri"] == "fleet"

    hosts = in_namespace(alias_conf, VMTUI, "hosts", "--json")
    assert hosts.returncode == 0, hosts.stderr
    (f1,) = [h for h in json.loads(hosts.stdout) if h["name"] == "f1"]
    # Saved as typed, opened through libvirt: the connection itself reports the URI the alias stands for.
    assert (f1["uri"], f1["reachable"], f1["info"]["uri"]) == ("fleet", True, "test:///default")

    listed = in_namespace(alias_conf, VMTUI, "list", "--host", "f1", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(d["host"], d["name"]) for d in json.loads(listed.stdout)["domains"]] == [("f1", "test")]
    # Saved in this test's own VMTUI_HOME: the session's saved hosts (the lab tests' fleet) do not gain it.
    session_hosts = Path(os.environ["VMTUI_HOME"]) / "config" / "hosts.toml"
    assert not session_hosts.exists() or '"fleet"' not in session_hosts.read_text()
