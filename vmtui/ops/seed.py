"""cloud-init's NoCloud seed: a small ISO 9660 image labelled `cidata`, built here on the client.

The seed holds `meta-data` (a fresh `instance-id` for every VM and every clone, so cloud-init runs
again on a copy, and `local-hostname`), `user-data` (a `#cloud-config` YAML document: from the user's
file, checked before anything is made, or written from flags) and, when given, `network-config`.
cloud-init finds it by its volume label on any block device, a CD-ROM here. Pure: no libvirt, no
files written; `vmtui create` and `vmtui clone` both call `build_seed(SeedSpec)`.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vmtui.errors import UsageError

VOLUME_LABEL = "cidata"
"""The label cloud-init's NoCloud data source looks for (it also accepts CIDATA)."""
CLOUD_CONFIG = "#cloud-config"
MAX_USER_DATA = 16 * 1024 * 1024
"""cloud-init has no hard limit; a larger file is a wrong file (an image given for user-data)."""


@dataclass(frozen=True, slots=True)
class SeedSpec:
    """What goes on one VM's seed; `instance_id` is new for each VM (see `new_instance_id`)."""

    instance_id: str
    hostname: str
    user_data: str
    """The whole user-data document, `#cloud-config` first."""
    network_config: str | None = None
    """A network-config document (version 1 or 2), or None to let cloud-init use DHCP on the first NIC."""

    def meta_data(self) -> str:
        return yaml.safe_dump({"instance-id": self.instance_id, "local-hostname": self.hostname}, sort_keys=False)


def new_instance_id() -> str:
    """A fresh instance-id: cloud-init runs its once-per-instance modules again when it changes."""
    return f"iid-{uuid.uuid4()}"


def check_hostname(name: str) -> str:
    """A host name cloud-init can set: letters, digits and '-' in dot-separated labels (RFC 1123)."""
    labels = name.split(".")
    ok = 0 < len(name) <= 253 and all(
        0 < len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(c.isascii() and (c.isalnum() or c == "-") for c in label)
        for label in labels
    )
    if not ok:
        raise UsageError(f"hostname {name!r} is not a valid host name", hint="letters, digits and '-', up to 63 each")
    return name


def hostname_for(domain: str) -> str:
    """The hostname a VM gets by default: its domain name made fit for a host name."""
    cleaned = "".join(c if c.isascii() and c.isalnum() else "-" for c in domain).strip("-")[:63].strip("-")
    return cleaned or "vm"


def _yaml_error(where: str, exc: yaml.YAMLError) -> UsageError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = f":{mark.line + 1}" if mark is not None else ""
    reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return UsageError(f"{where}{line}: invalid YAML: {reason}")


def check_user_data(text: str, where: str) -> dict[str, Any]:
    """`text` as user-data cloud-init accepts: `#cloud-config` on the first line, then a YAML mapping.

    `where` names the file in the error, which has the line number and the parser's reason.
    """
    if not text.startswith(CLOUD_CONFIG):
        first = text.splitlines()[0][:40] if text.strip() else "(empty)"
        raise UsageError(
            f"{where}:1: user-data must start with {CLOUD_CONFIG!r}, not {first!r}",
            hint="vmtui takes cloud-config user-data (scripts and MIME multipart are not checked, so not taken)",
        )
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _yaml_error(where, exc) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise UsageError(f"{where}: user-data is a YAML {type(doc).__name__}, not a mapping of cloud-config keys")
    return doc


def read_user_data(path: Path) -> str:
    """The user-data file at `path`, checked (see `check_user_data`); one-line errors naming the file."""
    try:
        raw = path.read_bytes()[: MAX_USER_DATA + 1]
    except OSError as exc:
        raise UsageError(f"--cloud-init {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_USER_DATA:
        raise UsageError(f"--cloud-init {path}: larger than {MAX_USER_DATA // 2**20} MiB; is it user-data?")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"--cloud-init {path}: not UTF-8 text (byte {exc.start})") from None
    check_user_data(text, str(path))
    return text


def read_network_config(path: Path) -> str:
    """A network-config file: a YAML mapping (cloud-init reads version 1 or 2), checked like user-data."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--network-config {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _yaml_error(str(path), exc) from None
    if not isinstance(doc, dict):
        raise UsageError(f"{path}: network-config must be a YAML mapping (version: 2, ethernets: ...)")
    return text


def read_ssh_key(path: Path) -> str:
    """One public key line from `path` (an OpenSSH .pub file); a private key is refused, never copied."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--ssh-key {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if "PRIVATE KEY" in text:
        raise UsageError(f"--ssh-key {path} is a private key", hint="give the .pub file")
    keys = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not keys or not all(k.split()[0].startswith(("ssh-", "ecdsa-", "sk-")) for k in keys):
        raise UsageError(f"--ssh-key {path}: not an OpenSSH public key (ssh-ed25519 AAAA..., ssh-rsa AAAA...)")
    return "\n".join(keys)


def user_data_from_flags(
    *, hostname: str, user: str | None = None, ssh_keys: tuple[str, ...] = (), password_hash: str | None = None
) -> str:
    """A `#cloud-config` document for the flags: the hostname, and a user with keys or a password hash.

    Without `user`, keys and the hash go to the image's default user (cloud-init's `ssh_authorized_keys`
    and `password`); a hash is a crypt(3) string ($6$..., $y$...), never a plain password.
    """
    doc: dict[str, Any] = {"hostname": hostname, "preserve_hostname": False}
    if password_hash is not None and not password_hash.startswith("$"):
        raise UsageError("--password-hash takes a crypt(3) hash ($6$... or $y$...)", hint="mkpasswd -m sha-512")
    if user is not None:
        if not user or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in user) or user[0] == "-":
            raise UsageError(f"--user {user!r} is not a user name")
        entry: dict[str, Any] = {"name": user, "shell": "/bin/bash", "sudo": "ALL=(ALL) NOPASSWD:ALL"}
        if ssh_keys:
            entry["ssh_authorized_keys"] = list(ssh_keys)
        if password_hash is not None:
            entry["passwd"] = password_hash
            entry["lock_passwd"] = False
        doc["users"] = ["default", entry]
    else:
        if ssh_keys:
            doc["ssh_authorized_keys"] = list(ssh_keys)
        if password_hash is not None:
            doc["password"] = password_hash
            doc["chpasswd"] = {"expire": False}
    if password_hash is not None:
        doc["ssh_pwauth"] = True
    return CLOUD_CONFIG + "\n" + yaml.safe_dump(doc, sort_keys=False)


def build_seed(spec: SeedSpec) -> bytes:
    """The bytes of the `cidata` ISO for `spec` (Joliet and Rock Ridge names, as cloud-localds makes)."""
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=VOLUME_LABEL)
    files = [("meta-data", spec.meta_data()), ("user-data", spec.user_data)]
    if spec.network_config is not None:
        files.append(("network-config", spec.network_config))
    for name, text in files:
        data = text.encode()
        iso9660 = "/" + name.upper().replace("-", "_") + ".;1"
        iso.add_fp(io.BytesIO(data), len(data), iso9660, rr_name=name, joliet_path="/" + name)
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()
