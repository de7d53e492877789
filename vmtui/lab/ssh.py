"""SSH for the lab: a client key, host keys per lab host, sshd configs, a private known_hosts.

libvirt's `qemu+ssh://` runs the ssh binary with the user's own ~/.ssh and has no known_hosts
parameter, so the URIs name a wrapper script as `command=`; it runs `ssh -F <our config>`, whose
config verifies host keys strictly against our own known_hosts. The user's ~/.ssh is never touched,
and no URI ever skips host key checking.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from vmtui.lab.netns import run, subnet

CLIENT_KEY = "id_ed25519"
WRAPPER = "vmtui-lab-ssh"


@dataclass(frozen=True, slots=True)
class SshFiles:
    """Where the lab's SSH material lives (all under `<state>/lab/ssh`)."""

    root: Path

    @property
    def client_key(self) -> Path:
        return self.root / CLIENT_KEY

    @property
    def authorized_keys(self) -> Path:
        return self.root / "authorized_keys"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def client_config(self) -> Path:
        return self.root / "ssh_config"

    @property
    def wrapper(self) -> Path:
        return self.root / WRAPPER

    def host_key(self, host: str) -> Path:
        return self.root / f"host_{host}_ed25519"

    def sshd_config(self, host: str) -> Path:
        return self.root / f"sshd_{host}.conf"


def _keygen(path: Path, comment: str) -> None:
    if not path.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])


def public_key(path: Path) -> str:
    """`ssh-ed25519 AAAA...` of a key pair (type and key, without the comment)."""
    fields = path.with_name(path.name + ".pub").read_text().split()
    return f"{fields[0]} {fields[1]}"


def ensure_client(files: SshFiles) -> None:
    """The client key (ed25519: libssh2 rejects RSA against this OpenSSH), its config and the wrapper."""
    files.root.mkdir(parents=True, exist_ok=True)
    os.chmod(files.root, 0o700)
    _keygen(files.client_key, "vmtui-lab-client")
    files.authorized_keys.write_text(public_key(files.client_key) + "\n")
    files.known_hosts.touch()
    files.client_config.write_text(
        "\n".join(
            [
                f"Host {subnet()}.*",
                "  User root",
                f"  IdentityFile {files.client_key}",
                "  IdentitiesOnly yes",
                f"  UserKnownHostsFile {files.known_hosts}",
                "  GlobalKnownHostsFile /dev/null",
                "  StrictHostKeyChecking yes",
                "  UpdateHostKeys no",
                "  CheckHostIP no",
                "  BatchMode yes",
                "  ConnectTimeout 5",
                "  LogLevel ERROR",
                "",
            ]
        )
    )
    files.wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {shlex.quote(str(files.client_config))} "$@"\n')
    os.chmod(files.wrapper, 0o755)


def ensure_host(files: SshFiles, host: str, addr: str, pidfile: Path) -> Path:
    """Host key and sshd config for one lab host (key-only root login on its own address). Returns the config."""
    _keygen(files.host_key(host), f"vmtui-{host}")
    config = files.sshd_config(host)
    config.write_text(
        "\n".join(
            [
                f"ListenAddress {addr}",
                "Port 22",
                f"HostKey {files.host_key(host)}",
                f"PidFile {pidfile}",
                "PermitRootLogin prohibit-password",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                f"AuthorizedKeysFile {files.authorized_keys}",
                # The state dir may sit under a world-writable /tmp (tests), which StrictModes rejects.
                "StrictModes no",
                "UsePAM no",
                "PrintMotd no",
                "Subsystem sftp internal-sftp",
                "",
            ]
        )
    )
    return config


def write_known_hosts(files: SshFiles, hosts: dict[str, str]) -> None:
    """The private known_hosts: one line per lab host (`addr key`), for every host key that exists."""
    lines = [f"{addr} {public_key(files.host_key(host))}" for host, addr in sorted(hosts.items())]
    tmp = files.known_hosts.with_suffix(".tmp")
    tmp.write_text("".join(line + "\n" for line in lines))
    os.replace(tmp, files.known_hosts)


def host_uri(files: SshFiles, addr: str) -> str:
    """`qemu+ssh://` URI for a lab host that verifies its host key through the wrapper's config."""
    key = quote(str(files.client_key), safe="/")
    command = quote(str(files.wrapper), safe="/")
    return f"qemu+ssh://root@{addr}/system?keyfile={key}&command={command}"
