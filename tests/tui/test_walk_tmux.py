"""The README's first hour walked in a real terminal (tmux) at 200x50 and 80x24, with every key of every
screen reachable from the dashboard: nothing acts on a VM or host other than the one shown (issue 27).

Three small diskless guests on the local libvirtd; the middle one (by name) is selected. After each key,
virsh says the two others are unchanged (still running, autostart off) and the selected one is in the
state its key asked for; each screen's title names the selected guest or its host, and on the dashboard
the highlighted row is the selected guest's, through moves, sorts and column toggles. Destructive keys are
answered no, and their question must name the selected guest (or, for host-wide actions, the host).
Keys that act without asking (pause, resume, managed save, start, autostart) act on the selected guest.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import need
from tests.guest_disks import LOCAL_URI, virsh
from tests.tui.conftest import _libvirt_ready

pytestmark = pytest.mark.timeout(240)
VMTUI = Path(sys.executable).with_name("vmtui")
HOST = LOCAL_URI
"""The host as vmtui names it when started with `-c URI`."""
DASHBOARD = "vmtui — KVM/QEMU"
"""The dashboard's title (a domain screen's reads "NAME on HOST — KVM/QEMU fleet")."""
TOAST_EDGE = "▌"
"""The left edge of a notification: the text after it on each line is the toast's, wrapped."""
DIALOG_TOP = "█▀▀▀"
"""A question's or a form's top edge: while it shows, the dialog is open."""
DIALOG_EDGE = "█"
"""A question's or a form's frame: the text between two on each line is the dialog's, wrapped."""


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


@dataclass
class WalkGuests:
    prefix: str
    names: tuple[str, str, str]
    network_autostart: dict[str, str] = field(default_factory=dict)

    @property
    def selected(self) -> str:
        return self.names[1]


READING = "still reading the host"
"""What a resource screen says of a change pressed while its last read is out (`screens.fetching.Reads`)."""


def _shown_autostart(screen: str, net: str) -> str | None:
    """The autostart cell of `net`'s row on the networks screen as shown ("yes"/"no")."""
    rows = (line.split() for line in screen.splitlines())
    return next((cols[2] for cols in rows if len(cols) >= 4 and cols[0] == net), None)


def _network_autostart() -> dict[str, str]:
    """Each network's autostart as virsh lists it ("yes"/"no"): `A` on the networks screen toggles one."""
    lines = virsh("net-list", "--all").splitlines()[2:]
    return {cols[0]: cols[2] for cols in (line.split() for line in lines) if len(cols) >= 4}


@pytest.fixture(scope="module")
def walk_guests() -> Iterator[WalkGuests]:
    """Three running diskless guests `vmtui-test-walk-<hex>-a/b/c` (a and b with an emulated e1000 NIC, c
    virtio), removed afterwards whatever happened (managed save images and snapshots with them); the
    networks' autostart is put back as it was."""
    need(_libvirt_ready(), "needs the local libvirtd (qemu:///system) and /dev/kvm")
    from vmtui.drivers import connect
    from vmtui.drivers.xml.edit import GuestSpec, build_guest_xml

    prefix = f"vmtui-test-walk-{uuid.uuid4().hex[:4]}"
    names = (f"{prefix}-a", f"{prefix}-b", f"{prefix}-c")
    walk = WalkGuests(prefix, names, _network_autostart())
    try:
        with connect(HOST) as conn:
            for name, nic in zip(names, ("e1000", "e1000", "virtio"), strict=True):
                conn.define_and_start(build_guest_xml(GuestSpec(name=name, role="test", nic_model=nic)))
        yield walk
    finally:
        for name in names:
            virsh("destroy", name, check=False)
            virsh("undefine", name, "--managed-save", "--snapshots-metadata", "--nvram", check=False)
        for net, autostart in walk.network_autostart.items():
            if _network_autostart().get(net) != autostart:
                virsh("net-autostart", net, *(() if autostart == "yes" else ("--disable",)), check=False)


def row_tail(name: str) -> str:
    """What a row shows of `name` at any width: its end ("1d3e-b"; a narrow NAME column cuts the middle)."""
    return name[-6:]


def _background_after(params: str, background: str | None) -> str | None:
    """The background colour after one SGR sequence's parameters ("38;5;16", "48;5;214", "0")."""
    codes = params.split(";") if params else ["0"]
    i = 0
    while i < len(codes):
        code = codes[i]
        if code in ("0", "49", ""):
            background = None
        elif code in ("38", "48"):
            width = 3 if codes[i + 1 : i + 2] == ["5"] else 5
            if code == "48":
                background = ";".join(codes[i + 1 : i + width])
            i += width - 1
        i += 1
    return background


class VirshShell:
    """One `virsh` shell for the whole walk: a question costs a pipe round trip, not a new connection
    (the walk asks after every key)."""

    END = "@@vmtui-walk-end@@"

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            # Line-buffered (stdbuf): virsh's answers come as they are written, not when the pipe closes.
            ["stdbuf", "-oL", "virsh", "-c", HOST],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def ask(self, command: str) -> list[str]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(f"{command}\necho {self.END}\n")
        self.proc.stdin.flush()
        lines = []
        while (line := self.proc.stdout.readline()) and line.strip() != self.END:
            lines.append(line.replace("virsh # ", "").rstrip("\n"))
        return lines

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


class Walk:
    """The vmtui process in a tmux session, and what virsh says of the three guests after each key."""

    def __init__(self, session: str, guests: WalkGuests, witness: VirshShell) -> None:
        self.session = session
        self.witness = witness
        self.guests = guests
        self.want = dict.fromkeys(guests.names, "running")
        self.keys_pressed = 0
        self._escaped = 0.0

    # ----- the terminal -------------------------------------------------------------------------

    def screen(self, *, escapes: bool = False) -> str:
        return _tmux("capture-pane", "-p", *(("-e",) if escapes else ()), "-t", self.session)

    def title(self) -> str:
        """The header's title, without the icon: "NAME on HOST — KVM/QEMU fleet" (cut with … if long)."""
        return self.screen().splitlines()[0].replace("▣", "").strip()

    def press(self, *keys: str, literal: bool = False) -> None:
        # A key within ESCDELAY (100 ms) of an Escape reads as Alt+key: Textual waits that long for the
        # rest of an escape sequence.
        time.sleep(max(0.0, self._escaped + 0.2 - time.monotonic()))
        if keys[-1] == "Escape":
            self._escaped = time.monotonic()
        _tmux("send-keys", "-t", self.session, *(("-l",) if literal else ()), *keys)
        self.keys_pressed += len(keys)

    def shows(self, text: str) -> bool:
        """`text` is on the screen, on one line or in a notification wrapped over several."""
        screen = self.screen()
        lines = screen.splitlines()
        dialogs = " ".join(line.split(DIALOG_EDGE)[1] for line in lines if line.count(DIALOG_EDGE) >= 2)
        return any(text in " ".join(t.split()) for t in (screen, self.toasts(screen), dialogs))

    def toasts(self, screen: str | None = None) -> str:
        """The notifications' text, each wrapped one read as one line."""
        lines = (screen or self.screen()).splitlines()
        return " ".join(" ".join(line.rsplit(TOAST_EDGE, 1)[1].split()) for line in lines if TOAST_EDGE in line)

    def wait(self, text: str, within: float = 15.0) -> str:
        deadline = time.monotonic() + within
        while not self.shows(text):
            screen = self.screen()
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; last screen:\n{screen}")
            time.sleep(0.05)
        return self.screen()

    def wait_title(self, start: str) -> None:
        """The screen whose title starts with `start` is shown ("devices of b on …" is not "b on …")."""
        deadline = time.monotonic() + 15
        while not self._title_is(title := self.title(), start):
            if time.monotonic() > deadline:
                raise AssertionError(f"title {title!r} never started {start!r}; screen:\n{self.screen()}")
            time.sleep(0.05)

    def _title_is(self, title: str, start: str) -> bool:
        if title.startswith(start):
            return True
        # At 80x24 notifications can reach the top line: what shows of the title must be the start's
        # beginning, and hold the selected guest's name when the start holds it.
        shown = title.split(TOAST_EDGE)[0].strip()
        name = self.guests.selected
        return (
            TOAST_EDGE in title
            and start.startswith(shown)
            and (name in shown if name in start else len(shown) >= min(len(start), 11))
        )

    def highlighted(self) -> str | None:
        """The walk guest whose dashboard row has the cursor's background (the others share one)."""
        backgrounds: dict[str, str | None] = {}
        background: str | None = None  # tmux -e writes only changes: the state runs on from line to line
        for line in self.screen(escapes=True).splitlines():
            at_start = None
            for index, part in enumerate(re.split(r"(\x1b\[[0-9;]*m)", line)):
                if index % 2 == 0:
                    if part and at_start is None:
                        at_start = background
                    continue
                background = _background_after(part[2:-1], background)
            name = next((n for n in self.guests.names if re.search(rf"{re.escape(row_tail(n))}\b", line)), None)
            if name is not None:
                backgrounds[name] = at_start
        odd = [n for n, bg in backgrounds.items() if list(backgrounds.values()).count(bg) == 1]
        return odd[0] if len(backgrounds) == 3 and len(odd) == 1 else None

    def wait_highlighted(self, name: str) -> None:
        deadline = time.monotonic() + 10
        while (now := self.highlighted()) != name:
            if time.monotonic() > deadline:
                rows = [line for line in self.screen(escapes=True).splitlines() if self.guests.prefix in line]
                raise AssertionError(f"the cursor is on {now}, not {name}; rows:\n" + "\n".join(map(repr, rows)))
            time.sleep(0.05)

    # ----- the witness --------------------------------------------------------------------------

    def states(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in self.witness.ask("list --all"):
            cols = line.split(None, 2)
            if len(cols) == 3 and cols[1] in self.guests.names:
                out[cols[1]] = cols[2].strip()
        return out

    def autostarted(self) -> set[str]:
        return {
            n for n in " ".join(self.witness.ask("list --all --autostart --name")).split() if n in self.guests.names
        }

    def check(self, step: str, within: float = 20.0) -> None:
        """virsh: every guest is in the state the walk wants (the others untouched), none autostarts."""
        deadline = time.monotonic() + within
        while (states := self.states()) != self.want or self.autostarted():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"after {step}: virsh says {states}, autostart {self.autostarted()}, wanted {self.want}, "
                    f"no autostart; notifications: {self.toasts()!r}:\n{self.screen()}"
                )
            time.sleep(0.1)

    # ----- steps --------------------------------------------------------------------------------

    def declined(self, key: str, question: str) -> None:
        """A key that asks first: its question names what it would act on; answered no, nothing changes."""
        self.press(key)
        self.wait(question)
        self.press("n")
        self.wait_gone(question)
        self.check(f"{key} answered no")

    def refused_or_asked(self, key: str, words: str) -> None:
        """A key that refuses (a notification with `words`) or, when there is something to act on, asks
        (a dialog with `words`): the dialog is left with Escape; nothing changes either way."""
        before = self.toasts().count(words)
        self.press(key)
        deadline = time.monotonic() + 15
        while self.toasts().count(words) <= before:
            if DIALOG_TOP in self.screen() and self.shows(words):
                self.press("Escape")
                self.wait_gone(words)
                break
            assert time.monotonic() < deadline, f"{key} never said or asked {words!r}:\n{self.screen()}"
            time.sleep(0.05)
        self.check(f"{key} refused or left unanswered")

    def refused(self, key: str, why: str) -> None:
        """A key that cannot act here says why (a notification), and nothing changes."""
        # The same words may be on screen already (another screen's key, a moment ago): this key's own
        # notification is one more of them. One that times out meanwhile lowers the count to beat.
        before = self.toasts().count(why)
        self.press(key)
        deadline = time.monotonic() + 15
        while (now := self.toasts().count(why)) <= before:
            before = min(before, now)
            assert time.monotonic() < deadline, f"{key} never said {why!r}:\n{self.screen()}"
            time.sleep(0.05)
        self.check(f"{key} refused")

    def acted(self, key: str, state: str, label: str) -> None:
        """A key that acts without asking, on the selected guest: virsh sees it go to `state`, and the
        TUI says "LABEL NAME: done" (one action at a time per domain: the next key waits for it)."""
        done = f"{label} {self.guests.selected}: done"
        self.wait_gone(done)  # an earlier round's notification
        refused = f"{label}: "  # how a refusal starts ("Resume: it is running"); said for 5 s only
        before = self.toasts().count(refused)
        self.press(key)
        self.want[self.guests.selected] = state
        deadline = time.monotonic() + 30
        while self.states() != self.want:
            toasts = self.toasts()
            assert toasts.count(refused) <= before, f"{key} refused: {toasts}"
            assert time.monotonic() < deadline, f"{key}: never {state}; notifications {toasts!r}"
            time.sleep(0.1)
        self.check(f"{key} -> {state}")
        self.wait(done, within=30)
        # And the TUI shows the new state (the row, or the domain screen's first line): the next key is
        # judged by it.
        shown = {"shut off": "shut-off"}.get(state, state)
        deadline = time.monotonic() + 15
        while not re.search(rf"{re.escape(row_tail(self.guests.selected))}\s+{shown}\b", self.screen()):
            assert time.monotonic() < deadline, f"{key}: the TUI never showed {shown}:\n{self.screen()}"
            time.sleep(0.05)

    def press_once_read(self, key: str, text: str) -> None:
        """`key`, and again while the screen refuses it because its read (Ctrl+R just before) is still out;
        then `text` must appear."""
        deadline = time.monotonic() + 30
        while True:
            self.press(key)
            self.wait_until(lambda: self.shows(text) or self.shows(READING), f"{text!r} or {READING!r}")
            if self.shows(text):
                return
            self.wait_gone(READING)
            if time.monotonic() > deadline:
                raise AssertionError(f"{key} refused while reading for 30 s; screen:\n{self.screen()}")

    def wait_until(self, condition: Callable[[], bool], what: str, within: float = 15.0) -> None:
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: never; last screen:\n{self.screen()}")
            time.sleep(0.05)

    def wait_gone(self, text: str, within: float = 15.0) -> None:
        """`text` is gone, and no question or form is open (a notification over a dialog's line can hide
        the dialog's words, not its frame)."""
        deadline = time.monotonic() + within
        while self.shows(text) or DIALOG_TOP in self.screen():
            screen = self.screen()
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never went; last screen:\n{screen}")
            time.sleep(0.05)

    def back(self, title: str) -> None:
        """Esc: back to the screen whose title holds `title`."""
        self.press("Escape")
        self.wait_title(title)


@pytest.fixture
def tmux_walk(walk_guests: WalkGuests, vmtui_home: Path) -> Iterator[tuple[str, WalkGuests]]:
    need(shutil.which("tmux") is not None and VMTUI.exists(), "needs tmux and the installed vmtui entry point")
    session = f"vmtui-walk-{uuid.uuid4().hex[:6]}"
    yield session, walk_guests
    subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)


def dashboard(w: Walk) -> None:
    g = w.guests
    a, b, c = g.names
    # `/` and the filter: only the walk's guests (the shared libvirtd runs other engineers' too).
    w.press(f"/{g.prefix}-", literal=True)
    w.press("Enter")
    w.wait(row_tail(c))
    w.wait("d Shutdown")
    w.press("Home")
    w.wait_highlighted(a)
    for key, name in (("j", b), ("Down", c), ("k", b), ("End", c), ("Up", b), ("PageUp", a), ("PageDown", c)):
        w.press(key)
        w.wait_highlighted(name)
    w.press("Home", "j")
    w.wait_highlighted(b)
    # Sorts and columns reorder the rows: the cursor stays on b (its UUID), never on the row's position.
    for key in ("1", "2", "3", "4", "1", "s", "S", "s", "w", "w"):
        w.press(key)
        time.sleep(0.15)  # each key repaints; the highlight is read after it
        w.wait_highlighted(b)
    w.check("sorting")
    # Esc clears the filter (every guest of the host is listed) and the cursor stays on b.
    w.press("Escape")
    w.wait_highlighted(b)
    time.sleep(0.5)  # an Escape followed at once by "/" reads as Alt+/
    w.press(f"/{g.prefix}-", literal=True)
    w.press("Enter")
    w.wait_highlighted(b)
    w.wait("d Shutdown")  # the table has the keys again, not the filter line


def lifecycle(w: Walk, where: str = DASHBOARD) -> None:
    """The lifecycle keys on the selected guest (dashboard or domain screen): the destructive ones asked
    and declined, the others done and undone, virsh watching all three guests."""
    b = w.guests.selected
    w.declined("d", f"Shut down {b} on {HOST}?")
    w.declined("b", f"Reboot {b} on {HOST}?")
    w.declined("x", f"Force off {b} on {HOST}?")
    w.refused("u", "Start: it is running")
    w.acted("p", "paused", "Pause")
    w.acted("r", "running", "Resume")
    w.acted("z", "shut off", "Save")  # managed save: memory to disk, `u` restores it
    w.acted("u", "running", "Start")
    w.refused("r", "Resume: it is running")
    w.refused("m", "move it to")  # one host: nowhere to migrate to
    w.check(f"lifecycle on the {where}")


def host_screens(w: Walk, home: str = DASHBOARD) -> None:
    """M, P, N, i from `home` (dashboard or domain screen): each title names the host, each key there
    acts on the host shown or on the selected guest, or says why not."""
    b = w.guests.selected
    w.press("M")
    w.wait_title(f"memory of {HOST}")
    w.wait(b)  # its row in the guests' table
    # The cursor starts on the selected guest: B asks to balloon b, not the host's first guest.
    w.press("B")
    w.wait(f"Balloon {b}: now")
    w.press("Escape")
    w.wait_gone(f"Balloon {b}: now")
    w.press("j", "k")
    w.press("B")
    w.wait(f"Balloon {b}: now")
    w.press("Escape")
    w.wait_gone(f"Balloon {b}: now")
    w.declined("E", f"Apply one step of the balloon plan on {HOST}?")
    w.refused("b", "b does nothing here: B balloons")
    w.refused("A", "A does nothing here: E applies")
    w.back(home)

    w.press("P")
    w.wait_title(f"storage on {HOST}")
    w.press("C-r")
    w.check("storage refresh")
    # The walk's host has no pool of its own; another xdist worker's tests may have one there now: then
    # the key asks (a form, a question) instead of refusing, and Escape leaves it unanswered.
    w.refused_or_asked("n", "New volume")
    w.refused_or_asked("D", "Delete volume")
    w.refused("R", "R does nothing here: Ctrl+R")
    w.back(home)

    w.press("N")
    w.wait_title(f"networks on {HOST}")
    w.press("C-r")
    before = _network_autostart()
    if before:  # A on the first network, twice: on and back (the finalizer restores it too)
        net = next(iter(before))
        first, second = ("off", "on") if before[net] == "yes" else ("on", "off")
        w.wait_gone(f"Autostart {second} for network {net}: done")  # the other round's
        w.press_once_read("A", f"Autostart {first} for network {net}: done")
        w.wait_until(lambda: _shown_autostart(w.screen(), net) != before[net], f"{net}'s row read again")
        w.press("A")
        w.wait(f"Autostart {second} for network {net}: done")
        assert _network_autostart() == before
    w.refused("R", "R does nothing here: Ctrl+R")
    w.check("networks")
    w.back(home)

    w.press("i")
    w.wait_title(f"SR-IOV on {HOST}")
    sriov_keys(w)
    w.back(home)


def sriov_keys(w: Walk) -> None:
    w.press("C-r")
    # No SR-IOV card on this machine: every key says so.
    for key, name in (("C", "VF count"), ("n", "New pool"), ("a", "Give VF to VM"), ("d", "Take VF back")):
        w.refused(key, f"{name}: no physical function")
    w.refused("c", "c does nothing here: C sets the VF count")
    w.refused("p", "p does nothing here: n makes a VF pool")
    w.refused("r", "r does nothing here: Ctrl+R")


def domain_screens(w: Walk, home: str = DASHBOARD) -> None:
    """v (devices, and its i), X (XML), c (console) of the selected guest, from `home`."""
    b = w.guests.selected
    w.press("v")
    w.wait_title(f"devices of {b} on {HOST}")
    w.wait("e1000")
    w.press("C-r")
    w.declined("t", f"(e1000) of {b} to virtio?")  # the NIC, the first row
    w.declined("T", "Switch 52:54:00")  # every emulated device (its one NIC, by MAC) of b

    w.press("a")
    w.wait("Add a virtio disk")
    w.press("Escape")
    w.wait_gone("Add a virtio disk")
    w.press("n")
    w.wait("Add a virtio NIC")
    w.press("Escape")
    w.wait_gone("Add a virtio NIC")
    w.wait_title(f"devices of {b}")
    w.refused("v", "v does nothing here: t switches")
    w.refused("V", "V does nothing here: T switches")
    w.refused("r", "r does nothing here: Ctrl+R")
    w.press("i")
    w.wait_title(f"SR-IOV on {HOST}")
    w.back(f"devices of {b}")
    w.back(home)

    w.press("X")
    w.wait_title(f"{b} on {HOST}: live XML")
    w.press("l")
    w.wait_title(f"{b} on {HOST}: persistent")  # "definition" is cut at 80 columns
    w.refused("i", "i does nothing here: l switches")
    w.back(home)

    w.press("c")
    w.wait(f"Connected to domain '{b}'")
    w.press("C-]")
    w.wait_title(home)
    w.check("console")


def domain_screen(w: Walk) -> None:
    b = w.guests.selected
    w.press("Enter")
    w.wait_title(f"{b} on {HOST} —")
    w.wait("Snapshots (0)")
    w.press("n")
    w.wait("Name of the new snapshot:")
    w.press("Escape")
    w.wait_gone("Name of the new snapshot:")
    w.refused("R", "Revert: no snapshot")
    w.refused("D", "Del snapshot: no snapshot")
    # A: autostart on for b (virsh sees only b), and off again.
    w.press("A")
    w.wait(f"Autostart on for {b}: done")
    assert w.autostarted() == {b}
    w.press("A")
    w.wait(f"Autostart off for {b}: done")
    w.check("autostart off again")
    w.press("e")  # EDITOR=true: the definition comes back as it went
    w.wait(f"{b}: no changes")
    lifecycle(w, "domain screen")
    host_screens(w, f"{b} on {HOST} —")
    domain_screens(w, f"{b} on {HOST} —")
    w.back(DASHBOARD)


def everywhere(w: Walk) -> None:
    """?, Ctrl+N, Ctrl+P, Tab, a: what every screen offers, and the dashboard's own."""
    w.press("?")
    w.wait("Keys of this screen")
    w.press("Escape")
    w.wait_gone("Keys of this screen")
    w.press("C-n")
    w.wait_title("notifications (")
    w.back(DASHBOARD)
    w.press("C-p")
    w.wait("🔎")
    w.press("mem", literal=True)
    w.wait("Memory and KSM")
    w.press("Escape")
    w.wait_gone("🔎")
    w.press("Tab", "j", "k")  # the hosts pane: one host, nowhere to move
    w.wait("qemu:///system")
    w.press("Tab")
    w.wait_highlighted(w.guests.selected)
    w.press("a")
    w.wait("Add a host")
    w.press("Escape")
    w.wait_gone("Add a host")
    w.wait_highlighted(w.guests.selected)
    w.check("everywhere")


@pytest.mark.parametrize("size", [(200, 50), (80, 24)], ids=["200x50", "80x24"])
def test_the_first_hour_with_every_key_acts_only_on_what_is_shown(
    tmux_walk: tuple[str, WalkGuests], vmtui_home: Path, size: tuple[int, int], request: pytest.FixtureRequest
) -> None:
    session, guests = tmux_walk
    width, height = (str(n) for n in size)
    # EDITOR=true: `e` hands the XML to an editor that changes nothing. COLUMNS/LINES unset: Textual
    # would honour them over the terminal's size.
    command = f"env -u COLUMNS -u LINES VMTUI_HOME={vmtui_home} EDITOR=true {VMTUI} -c {HOST}"
    _tmux("new-session", "-d", "-s", session, "-x", width, "-y", height, command)
    _tmux("resize-window", "-t", session, "-x", width, "-y", height)
    witness = VirshShell()
    request.addfinalizer(witness.close)
    w = Walk(session, guests, witness)
    w.wait(row_tail(guests.names[2]))
    w.check("start")

    started = time.monotonic()
    for phase in (dashboard, lifecycle, host_screens, domain_screens, domain_screen, everywhere):
        phase(w)
        w.wait_highlighted(guests.selected)
        print(f"{phase.__name__}: {time.monotonic() - started:.1f} s")
    w.press("q")
    deadline = time.monotonic() + 10
    while "vmtui" in _tmux("list-panes", "-t", session, "-F", "#{pane_current_command}"):
        assert time.monotonic() < deadline, "q did not quit"
        time.sleep(0.1)
    w.check("the end")
    print(f"{w.keys_pressed} keys at {width}x{height}")
