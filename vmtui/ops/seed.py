"""cloud-init's NoCloud seed: a small ISO 9660 image labelled `cidata`, built here on the client.

The seed holds `meta-data` (a fresh `instance-id` for every VM and every clone, so cloud-init runs
again on a copy, and `local-hostname`), `user-data` (a `#cloud-config` YAML document: from the user's
file, checked before anything is made, or written from flags) and, when given, `network-config`.
cloud-init finds it by its volume label on any block device, a CD-ROM here. Pure: no libvirt, no
files written; `vmtui create` and `vmtui clone` both call `build_seed(SeedSpec)`, and both read the
cloud-init options through `read_cloud_init`. `read_seed` reads a seed back (a clone's source's).
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vmtui.drivers.imagefile import SEED_LABEL
from vmtui.errors import UsageError

VOLUME_LABEL = SEED_LABEL
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


@dataclass(frozen=True, slots=True)
class CloudInit:
    """The cloud-init options of `vmtui create` and `vmtui clone`, as given; any of them makes a seed."""

    user_data: Path | None = None
    """A `#cloud-config` file (`--cloud-init FILE`); the flags below then only give the hostname."""
    hostname: str | None = None
    user: str | None = None
    ssh_key: Path | None = None
    password_hash: str | None = None
    network_config: Path | None = None

    @property
    def given(self) -> bool:
        fields = (self.user_data, self.hostname, self.user, self.ssh_key, self.password_hash, self.network_config)
        return any(v is not None for v in fields)


@dataclass(frozen=True, slots=True)
class SeedParts:
    """The cloud-init options read and checked: what a seed gets from them."""

    hostname: str
    user_data: str | None
    """None when no option says anything about user-data (only --hostname or --network-config given):
    `vmtui create` then writes one for the hostname, `vmtui clone` keeps its source's."""
    network_config: str | None


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


def read_cloud_init(ci: CloudInit, vm: str) -> SeedParts:
    """Every file and flag of `ci` read and checked (one-line errors), for a VM named `vm`: its hostname
    is `--hostname`, else made from `vm`."""
    hostname = check_hostname(ci.hostname) if ci.hostname else hostname_for(vm)
    network = read_network_config(ci.network_config) if ci.network_config else None
    if ci.user_data is not None:
        extra = [
            f for f, v in (("--user", ci.user), ("--ssh-key", ci.ssh_key), ("--password-hash", ci.password_hash)) if v
        ]
        if extra:
            raise UsageError(
                f"{', '.join(extra)} and --cloud-init both given", hint="put users and keys in the user-data file"
            )
        return SeedParts(hostname, read_user_data(ci.user_data), network)
    if ci.user is None and ci.ssh_key is None and ci.password_hash is None:
        return SeedParts(hostname, None, network)
    keys = (read_ssh_key(ci.ssh_key),) if ci.ssh_key else ()
    user_data = user_data_from_flags(hostname=hostname, user=ci.user, ssh_keys=keys, password_hash=ci.password_hash)
    return SeedParts(hostname, user_data, network)


def rehost_user_data(text: str, hostname: str) -> str:
    """A copied seed's user-data for a VM named differently: a cloud-config `hostname` (or `fqdn`) key,
    which cloud-init prefers to meta-data's `local-hostname`, set to `hostname`; anything else, and any
    document without such a key (a script, MIME multipart), kept byte for byte."""
    if not text.startswith(CLOUD_CONFIG):
        return text
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return text  # not ours to fix: cloud-init reads it as the source's guest did
    if not isinstance(doc, dict) or not ({"hostname", "fqdn"} & doc.keys()):
        return text
    doc.pop("fqdn", None)
    doc["hostname"] = hostname
    return CLOUD_CONFIG + "\n" + yaml.safe_dump(doc, sort_keys=False)


@dataclass(frozen=True, slots=True)
class ReadSeed:
    """What a seed ISO holds (None: no such file on it)."""

    meta_data: str | None
    user_data: str | None
    network_config: str | None


def read_seed(data: bytes, where: str) -> ReadSeed:
    """The files of a seed ISO, by their Rock Ridge, Joliet or plain ISO 9660 names (as cloud-init
    mounts it, any of them); `where` names the seed in the error."""
    import pycdlib
    from pycdlib.pycdlibexception import PyCdlibException

    iso = pycdlib.PyCdlib()
    try:
        iso.open_fp(io.BytesIO(data))
    except PyCdlibException as exc:
        raise UsageError(f"seed {where}: not a readable ISO 9660 image ({exc})") from None
    try:

        def one(name: str) -> str | None:
            tries: list[dict[str, str]] = []
            if iso.has_rock_ridge():
                tries.append({"rr_path": "/" + name})
            if iso.has_joliet():
                tries.append({"joliet_path": "/" + name})
            tries.append({"iso_path": "/" + name.upper().replace("-", "_") + ".;1"})
            for how in tries:
                out = io.BytesIO()
                try:
                    iso.get_file_from_iso_fp(out, **how)
                except PyCdlibException:
                    continue
                return out.getvalue().decode("utf-8", "replace")
            return None

        return ReadSeed(one("meta-data"), one("user-data"), one("network-config"))
    finally:
        iso.close()


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
