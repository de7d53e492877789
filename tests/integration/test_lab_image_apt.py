"""`vmtui lab up` on a machine whose apt package lists are missing (issue 27, item 11): the image builder
refreshes them with `apt-get update`, and when that cannot help says exactly what to run, for every lab
host whose Linux guest is then missing. apt is pointed at empty lists with its own APT_CONFIG: the
machine's /var/lib/apt/lists is never touched."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from apt_lists import apt_without_lists

from vmtui.errors import OperationError
from vmtui.lab import guests, image

pytestmark = pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt")


@pytest.fixture
def no_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return apt_without_lists(tmp_path, monkeypatch)


def test_missing_lists_are_refreshed_then_the_fix_is_said(no_lists: Path) -> None:
    said: list[str] = []
    with pytest.raises(OperationError) as caught:
        image.build_image(force=True, progress=said.append)
    assert any("running `apt-get update`" in line and str(no_lists) in line for line in said), said
    error = caught.value
    assert "apt has no package lists" in error.message
    assert str(no_lists) in error.message
    assert error.hint == "run `apt-get update`, then `vmtui lab up` again"
    assert image.find_image() is None


def test_lab_up_names_every_host_without_its_linux_guest(no_lists: Path) -> None:
    with pytest.raises(OperationError) as caught:
        guests.linux_image(lambda _line: None)
    missing = guests.without_linux(["lab1", "lab2"], caught.value)
    assert missing is not None
    text = str(missing)
    assert "lab1 and lab2 came up without their Linux guests (lab1-linux, lab2-linux)" in text
    assert text.endswith("(run `apt-get update`, then `vmtui lab up` again)")
    assert guests.without_linux(["lab3"], caught.value) is None
