"""`a`: save a host to hosts.toml and start watching it, like `vmtui hosts add NAME URI [--read-only]`."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from vmtui.models import HostEntry
from vmtui.screens.form import FormCheck, FormField, FormModal, Values


class AddHostModal(FormModal[HostEntry]):
    """Asks for a name, a URI and read-only; `save` stores the entry or raises VmtuiError, shown here.

    The dialog stays open on an error (a taken name, an empty URI) so that nothing typed is lost.
    Nothing is contacted: the dashboard shows whether the host answers.
    """

    PART_ID: ClassVar[str] = "add-host"
    FIELD_ID: ClassVar[str] = "host"
    OK_BUTTON: ClassVar[tuple[str, str]] = ("Save", "save")

    def __init__(self, save: Callable[[HostEntry], None]) -> None:
        super().__init__(
            "Add a host",
            (
                FormField("name", "", "name, e.g. kvm1"),
                FormField("uri", "", "libvirt URI, e.g. qemu+ssh://root@kvm1/system"),
                FormCheck("read-only", "read-only (monitoring only: every action refused)"),
            ),
        )
        self._save = save

    def accept(self, values: Values) -> HostEntry:
        entry = HostEntry(name=values["name"], uri=values["uri"], read_only=self.checked("read-only"))
        self._save(entry)
        return entry
