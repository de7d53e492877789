"""The cloud-init seed: read back with pycdlib (an ISO reader, not the code that wrote it) and checked
against values written out by hand; user-data errors carry the file's line number."""

from __future__ import annotations

import io
from pathlib import Path

import pycdlib
import pytest
import yaml

from vmtui.errors import UsageError
from vmtui.ops.seed import (
    SeedSpec,
    build_seed,
    check_hostname,
    hostname_for,
    new_instance_id,
    read_ssh_key,
    read_user_data,
    user_data_from_flags,
)


def iso_files(data: bytes) -> tuple[str, dict[str, str]]:
    """The volume label and every file (by its Rock Ridge name) of an ISO image."""
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(data))
    label = iso.pvd.volume_identifier.decode().strip()
    files = {}
    for child in iso.list_children(rr_path="/"):
        if child.is_file():
            out = io.BytesIO()
            name = child.rock_ridge.name().decode()
            iso.get_file_from_iso_fp(out, rr_path="/" + name)
            files[name] = out.getvalue().decode()
    iso.close()
    return label, files


def test_seed_holds_meta_user_and_network_config_under_cidata() -> None:
    spec = SeedSpec("iid-1234", "web-1", "#cloud-config\nhostname: web-1\n", "version: 2\nethernets: {}\n")
    label, files = iso_files(build_seed(spec))
    assert label == "cidata"
    assert files == {
        "meta-data": "instance-id: iid-1234\nlocal-hostname: web-1\n",
        "user-data": "#cloud-config\nhostname: web-1\n",
        "network-config": "version: 2\nethernets: {}\n",
    }


def test_seed_without_network_config_has_two_files() -> None:
    _, files = iso_files(build_seed(SeedSpec("iid-a", "a", "#cloud-config\n")))
    assert sorted(files) == ["meta-data", "user-data"]


def test_instance_ids_differ() -> None:
    assert len({new_instance_id() for _ in range(5)}) == 5


def test_user_data_from_flags_has_user_key_and_hash() -> None:
    text = user_data_from_flags(
        hostname="db", user="ann", ssh_keys=("ssh-ed25519 AAAAC3Nz ann@pc",), password_hash="$6$salt$hash"
    )
    assert text.startswith("#cloud-config\n")
    assert yaml.safe_load(text) == {
        "hostname": "db",
        "preserve_hostname": False,
        "users": [
            "default",
            {
                "name": "ann",
                "shell": "/bin/bash",
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "ssh_authorized_keys": ["ssh-ed25519 AAAAC3Nz ann@pc"],
                "passwd": "$6$salt$hash",
                "lock_passwd": False,
            },
        ],
        "ssh_pwauth": True,
    }


def test_plain_password_is_refused() -> None:
    with pytest.raises(UsageError, match="crypt"):
        user_data_from_flags(hostname="db", password_hash="secret")


def test_yaml_error_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "user-data.yaml"
    bad.write_text("#cloud-config\nhostname: a\nruncmd:\n\t- ls\n")  # a tab indents line 4
    with pytest.raises(UsageError) as err:
        read_user_data(bad)
    assert str(err.value.message) == f"{bad}:4: invalid YAML: found character '\\t' that cannot start any token"


def test_user_data_without_header_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "u.yaml"
    bad.write_text("hostname: a\n")
    with pytest.raises(UsageError, match=r":1: user-data must start with '#cloud-config'"):
        read_user_data(bad)


def test_user_data_that_is_a_list_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "u.yaml"
    bad.write_text("#cloud-config\n- a\n- b\n")
    with pytest.raises(UsageError, match="not a mapping"):
        read_user_data(bad)


def test_missing_user_data_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="No such file"):
        read_user_data(tmp_path / "nope.yaml")


def test_private_key_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n")
    with pytest.raises(UsageError, match="private key"):
        read_ssh_key(key)


def test_hostnames() -> None:
    assert hostname_for("vmtui-test_web 1") == "vmtui-test-web-1"
    with pytest.raises(UsageError):
        check_hostname("bad_name")
