"""A small form: a few labelled text fields (and tick boxes), checked before it closes (the error shown in place).

Every modal form of the TUI is a `FormModal`: the plain ones answer with the values typed, the ones that
answer something else (the balloon size in KiB, a saved host entry) override `accept`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Generic, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label
from typing_extensions import TypeVar

from vmtui.errors import UsageError, VmtuiError
from vmtui.ops.seed import CloudInit
from vmtui.widgets.tick_box import TickBox


def whole_number(what: str, raw: str) -> int | None:
    """A field's whole number, None when it is empty; anything else is refused in place."""
    if not raw:
        return None
    # ASCII digits only: str.isdigit() also takes other scripts' digits.
    if not (raw.isascii() and raw.isdigit()):
        raise UsageError(f"{what} {raw!r}: a whole number is needed")
    return int(raw)


@dataclass(frozen=True, slots=True)
class FormField:
    """A text field; an empty `label` shows none (the placeholder says what to type)."""

    key: str
    label: str
    placeholder: str = ""
    value: str = ""


@dataclass(frozen=True, slots=True)
class FormCheck:
    """A tick box, read with `FormModal.checked(key)` (Enter never stops on it: it submits from the last text field)."""

    key: str
    label: str
    value: bool = False


Values = dict[str, str]
"""The text fields' values, and each tick box's: TICKED or ""."""
TICKED = "yes"

SCOPE_CHECKS = (
    FormCheck("live", "only the running guest (--live)"),
    FormCheck("config", "only the definition, from the next boot (--config)"),
)
"""A device change's scope, as the CLI's --live and --config say it: neither ticked, both halves where they exist."""
ResultT = TypeVar("ResultT", default=Values)


class FormModal(ModalScreen[ResultT | None], Generic[ResultT]):
    """Dismisses with `accept(values)` once it returns (it raises VmtuiError otherwise, shown in place: the form
    stays open and nothing typed is lost); None on escape or Cancel.

    By default `accept` runs `check(values)`, pure validation (sizes, MACs, names): nothing is contacted
    from here, and the form answers with the values. Subclasses that answer something else override
    `accept`; their widget ids (tests find them, app.tcss styles them) come from the class attributes.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    PART_ID: ClassVar[str] = "form"
    """The parts' ids: `#form-box`, `#form-title`, `#form-error`, `#form-buttons`."""
    TITLE_ID: ClassVar[str | None] = None
    """The title's id when it is not `#{PART_ID}-title`."""
    FIELD_ID: ClassVar[str] = "form"
    """A field's widget is `#form-KEY`."""
    OK_BUTTON: ClassVar[tuple[str, str]] = ("OK", "ok")
    """The label and id of the button that submits."""

    def __init__(
        self,
        title: str,
        fields: Sequence[FormField | FormCheck],
        check: Callable[[Values], object] = lambda _v: None,
    ) -> None:
        super().__init__()
        self.form_title = title
        self.fields = tuple(fields)
        self._check = check

    def _field_id(self, key: str) -> str:
        return f"{self.FIELD_ID}-{key}"

    def compose(self) -> ComposeResult:
        with Vertical(id=f"{self.PART_ID}-box"):
            yield Label(Text(self.form_title), id=self.TITLE_ID or f"{self.PART_ID}-title")  # never markup
            for f in self.fields:
                if isinstance(f, FormCheck):
                    yield TickBox(
                        f.label, f.value, id=self._field_id(f.key), compact=True
                    )  # a row each: forms fit 80x24
                    continue
                if f.label:
                    yield Label(Text(f.label), classes="form-label")
                yield Input(value=f.value, placeholder=f.placeholder, id=self._field_id(f.key))
            yield Label("", id=f"{self.PART_ID}-error")
            with Horizontal(id=f"{self.PART_ID}-buttons"):
                label, button_id = self.OK_BUTTON
                yield Button(label, variant="primary", id=button_id)
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        if self.fields:
            self.query_one(f"#{self._field_id(self.fields[0].key)}").focus()

    def _text_fields(self) -> list[FormField]:
        return [f for f in self.fields if isinstance(f, FormField)]

    def values(self) -> Values:
        texts = {f.key: self.query_one(f"#{self._field_id(f.key)}", Input).value.strip() for f in self._text_fields()}
        ticks = {f.key: TICKED if self.checked(f.key) else "" for f in self.fields if isinstance(f, FormCheck)}
        return texts | ticks

    def checked(self, key: str) -> bool:
        return self.query_one(f"#{self._field_id(key)}", Checkbox).value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter goes to the next text field, and submits from the last one."""
        ids = [self._field_id(f.key) for f in self._text_fields()]
        at = ids.index(event.input.id or "") if event.input.id in ids else len(ids) - 1
        if at + 1 < len(ids):
            self.query_one(f"#{ids[at + 1]}", Input).focus()
        else:
            self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == self.OK_BUTTON[1]:
            self.submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def accept(self, values: Values) -> ResultT:
        """What the form answers with; raises VmtuiError to stay open with the message."""
        self._check(values)
        return cast(ResultT, values)  # a plain form answers with its values: ResultT's default

    def submit(self) -> None:
        try:
            result = self.accept(self.values())
        except VmtuiError as exc:
            self.query_one(f"#{self.PART_ID}-error", Label).update(Text(str(exc), style="bold red"))
            return
        self.dismiss(result)


# ----- the cloud-init fields of the create and clone forms ------------------------------------------

CLOUD_INIT_FIELDS = (
    FormField("user_data", "cloud-init (any field makes a seed)", "user-data file (#cloud-config)"),
    FormField("hostname", "", "hostname"),
    FormField("user", "", "user to make (with sudo)"),
    FormField("ssh_key", "", "OpenSSH public key file"),
    FormField("password_hash", "", "password hash ($6$...)"),
    FormField("network_config", "", "network-config file"),
)
"""`vmtui create`'s and `vmtui clone`'s cloud-init options, as form fields (one definition for both)."""

CLOUD_INIT_OPTIONS = {
    "--cloud-init": "#form-user_data",
    "--hostname": "#form-hostname",
    "--user": "#form-user",
    "--ssh-key": "#form-ssh_key",
    "--password-hash": "#form-password_hash",
    "--network-config": "#form-network_config",
}
"""Each cloud-init option and its field's widget (tests/unit/test_parity.py reads them via CLI_OPTIONS)."""


def cloud_init_of(values: Values) -> CloudInit:
    """The cloud-init fields typed, as the CLI's options (an empty field: not given)."""

    def path(key: str) -> Path | None:
        return Path(values[key]) if values.get(key) else None

    def text(key: str) -> str | None:
        return values.get(key) or None

    return CloudInit(
        path("user_data"),
        text("hostname"),
        text("user"),
        path("ssh_key"),
        text("password_hash"),
        path("network_config"),
    )
