"""The create form (dashboard key n, `:create`) and the progress of the creation it starts.

The form holds the CLI's `vmtui create` options as fields. Its own checks (a whole number of vCPUs)
are said in place at once; then the app runs `plan_create` off Textual's loop (it reads the files and
asks the host) and hands the answer back: a refusal shown in place (the form stays open, nothing typed
is lost) or the plan, which closes the form. The screens read what the app hands them and post their
requests up; they never import the app. Every name and path is shown as `Text` (never markup).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

from vmtui.errors import VmtuiError
from vmtui.ops.base import Step
from vmtui.ops.create import CreatePlan, CreateRequest, plan_lines
from vmtui.present import bar_cells, one_line
from vmtui.screens.form import (
    CLOUD_INIT_FIELDS,
    CLOUD_INIT_OPTIONS,
    FormCheck,
    FormField,
    FormModal,
    cloud_init_of,
    whole_number,
)
from vmtui.tui.messages import CreateAbortRequested
from vmtui.widgets.refusals import Refusals, explained

SOURCE = "a file here or POOL/VOLUME"
BAR = 40
"""Cells of the creation's bar."""

Planner = Callable[["CreateForm", CreateRequest], None]
"""Starts `plan_create` for the form's request; answers with `form.planned(plan)` or `form.refused(why)`."""


class CreateForm(FormModal[CreatePlan]):
    """`vmtui create NAME` on one host, field by field; dismisses with the checked plan (None: cancelled)."""

    OK_BUTTON: ClassVar[tuple[str, str]] = ("Check and plan", "ok")

    CLI_OPTIONS: ClassVar[dict[str, str]] = {
        "create --image": "#form-image",
        "create --iso": "#form-iso",
        "create --kernel": "#form-kernel",
        "create --initrd": "#form-initrd",
        "create --cmdline": "#form-cmdline",
        "create --linked": "#form-linked",
        "create --memory": "#form-memory",
        "create --vcpus": "#form-vcpus",
        "create --disk": "#form-disk",
        "create --pool": "#form-pool",
        "create --network": "#form-network",
        "create --os": "#form-os",
        "create --accel": "#form-accel",
        "create --start": "#form-start",
        **{f"create {option}": widget for option, widget in CLOUD_INIT_OPTIONS.items()},
        "create --dry-run": "the plan is shown, and asked about, before anything is made",
    }
    """The CLI's options this form's widgets stand for (tests/unit/test_parity.py reads them)."""

    def __init__(self, host: str, planner: Planner) -> None:
        fields = (
            FormField("name", "", "name of the new VM"),
            FormField("image", "Source: one of image, ISO, kernel", f"disk image (qcow2 or raw): {SOURCE}"),
            FormField("iso", "", f"installer ISO: {SOURCE}"),
            FormField("kernel", "", f"kernel (direct boot): {SOURCE}"),
            FormField("initrd", "", f"initrd of the kernel: {SOURCE}"),
            FormField("cmdline", "", "kernel command line"),
            FormCheck("linked", "linked: a qcow2 overlay on the POOL/VOLUME image (--linked)"),
            FormField("memory", "Machine", "memory with a unit (2G); empty: the OS's or 1 GiB"),
            FormField("vcpus", "", "vCPUs; empty: the OS's or 1"),
            FormField("disk", "", "disk size with a unit (the ISO's or kernel's empty disk, an overlay)"),
            FormField("pool", "", "storage pool", "default"),
            FormField("network", "", "network: NAME, bridge=BR or user; empty: 'default'"),
            FormField("os", "", "osinfo short id (debian12); empty: generic"),
            FormField("accel", "", "kvm or tcg; empty: KVM where usable"),
            FormCheck("start", "start it once made (--start)"),
            *CLOUD_INIT_FIELDS,
        )
        super().__init__(f"Create a VM on {host}", fields)
        self.host = host
        self._planner = planner
        self.checking = False
        """A plan is being made: a second submit waits for its answer."""

    def request(self) -> CreateRequest:
        """The fields as the CLI's options; raises UsageError on what needs no host to refuse."""
        v = self.values()

        def text(key: str) -> str | None:
            return v[key] or None

        def path(key: str) -> Path | None:
            return Path(v[key]) if v[key] else None

        return CreateRequest(
            name=v["name"],
            image=text("image"),
            iso=text("iso"),
            kernel=text("kernel"),
            initrd=text("initrd"),
            cmdline=v["cmdline"],
            linked=self.checked("linked"),
            memory=text("memory"),
            vcpus=whole_number("vCPUs", v["vcpus"]),
            disk=text("disk"),
            pool=v["pool"] or "default",
            network=text("network"),
            os_variant=text("os"),
            accel=text("accel"),
            cloud_init=cloud_init_of(v),
            start=self.checked("start"),
        )

    def submit(self) -> None:
        if self.checking:
            return
        try:
            request = self.request()
        except VmtuiError as exc:
            self.refused(str(exc))
            return
        self.checking = True
        self._say(Text(f"checking on {self.host}…", "italic"))
        self._planner(self, request)

    def refused(self, why: str) -> None:
        """The plan was refused: said in place; the fields stay as typed."""
        self.checking = False
        self._say(Text(why, style="bold red"))

    def planned(self, plan: CreatePlan) -> None:
        self.checking = False
        self.dismiss(plan)

    def _say(self, text: Text) -> None:
        if self.is_attached:
            self.query_one(f"#{self.PART_ID}-error", Label).update(text)


def confirm_lines(plan: CreatePlan) -> list[str]:
    """What `vmtui create --dry-run` prints, line by line: the plan, then the domain XML."""
    return [line for line, _kind in plan_lines(plan)] + plan.xml.splitlines()


class CreateScreen(Refusals, ModalScreen[None]):
    """A creation under way: one bar over every byte uploaded, the step now, and the end."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Cancelling removes what was made so far (volumes, the seed): nothing is left half-made.
        *explained(Binding("x", "abort", "Cancel create", tooltip="Cancel the creation (removes what it made)")),
        Binding("escape", "app.pop_screen", "Hide (it goes on)"),
    ]

    def __init__(self, job_id: int, plan: CreatePlan, host: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.plan = plan
        self.host = host
        self.fraction = 0.0
        self.now = "starting"
        self.ended: str | None = None
        self.log_lines: list[Text] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="create-box"):
            yield Label(Text(f"Create {self.plan.name} on {self.host}", "bold"), id="create-title")
            yield Static(id="create-bar")
            with VerticalScroll(id="create-log"):
                yield Static(id="create-lines")
        yield Footer()

    def on_mount(self) -> None:
        self._draw()

    def show_step(self, step: Step) -> None:
        # Never backwards: each volume's first step repeats the fraction reached before it.
        self.fraction = max(self.fraction, step.fraction or 0.0)
        self.now = one_line(step.text, 100)
        if step.data.get("type") != "progress":
            self._log(Text(one_line(step.text)))
        self._draw()

    def show_end(self, ok: bool, text: str) -> None:
        self.ended = text
        if ok:
            self.fraction = 1.0
        self._log(Text(one_line(text), "green" if ok else "bold red"))
        self.now = "over"
        self._draw()
        self.refresh_bindings()

    def _draw(self) -> None:
        if not self.query("#create-bar"):
            return
        filled = bar_cells(self.fraction, BAR) or 0
        out = Text()
        out.append("━" * filled, "green")
        out.append("━" * (BAR - filled), "dim")
        out.append(f" {self.fraction * 100:5.1f} %  {self.now}")
        self.query_one("#create-bar", Static).update(out)

    def _log(self, line: Text) -> None:
        self.log_lines.append(line)
        if self.query("#create-lines"):
            self.query_one("#create-lines", Static).update(Text("\n").join(self.log_lines[-200:]))

    def refusal(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action == "abort" and self.ended is not None:
            return "the creation is over"
        return None

    def action_abort(self) -> None:
        self.post_message(CreateAbortRequested(self.job_id))
