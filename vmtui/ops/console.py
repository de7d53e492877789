"""A domain's consoles: the serial console (through `virsh console`) and graphical displays (VNC, SPICE).

Every command is an argument list, never a string for a shell. For a display on a remote host the
way in is an SSH tunnel whose local end listens on 127.0.0.1 only: vmtui never opens a port that
another machine could reach.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from vmtui.drivers.base import Hypervisor
from vmtui.drivers.hostfiles import ssh_argv
from vmtui.drivers.uri import is_local, is_ssh
from vmtui.drivers.xml.parts import Graphics, has_text_console, read_graphics
from vmtui.errors import DeniedError, NotFoundError, OperationError, UsageError
from vmtui.models import DomainInfo

ESCAPE = "^]"
"""virsh console's escape key (Ctrl-]): it ends the console and returns to vmtui or the shell."""
RUNNING = ("running", "paused", "blocked")
VIEWER = "virt-viewer"


NO_CONSOLE_HINT = "it has neither a serial console nor a graphical display: add one with `vmtui edit` (next boot)"


@dataclass(frozen=True, slots=True)
class ConsoleCommand:
    """How to attach to a domain's serial console."""

    host: str
    domain: DomainInfo
    argv: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "host": self.host,
            "domain": self.domain.name,
            "uuid": self.domain.uuid,
            "command": list(self.argv),
            "escape": ESCAPE,
        }


def _virsh() -> str:
    found = shutil.which("virsh")
    if found is None:
        raise NotFoundError("the serial console needs virsh", hint="install libvirt-clients")
    return found


def console_command(conn: Hypervisor, ident: str, *, uri: str, host: str = "") -> ConsoleCommand:
    """The `virsh console` command for a running domain with a serial console, refused before it runs.

    `uri` is the URI as the user gave it ("" for libvirt's default): virsh resolves it the same way.
    """
    conn.require_writable("console")  # libvirt opens consoles only on read-write connections
    info = conn.domain(ident)
    if info.state not in RUNNING:
        raise OperationError(f"{info.name} is {info.state}: a console needs a running domain", hint="start it first")
    xml = conn.domain_xml(info.uuid)
    if not has_text_console(xml):
        # Point only at what the guest has: `display` on a guest without graphics is one more refusal.
        hint = "`vmtui display` for its graphical one" if read_graphics(xml) else NO_CONSOLE_HINT
        raise OperationError(f"{info.name} has no serial console", hint=hint)
    argv = [_virsh(), *(["-c", uri] if uri else []), "console", "--domain", info.uuid]
    return ConsoleCommand(host or conn.uri, info, tuple(argv))


@dataclass(frozen=True, slots=True)
class ConsoleEnded:
    returncode: int
    error: str
    """What virsh said on stderr (its reason when it could not attach); "" when all went well."""


CLEAN_TERMINAL = b"\x1b[0m\x1b[H\x1b[2J\x1b[3J"
"""Written to the terminal before a console attaches: colours reset, cursor home, screen and scrollback
cleared. The TUI hands over its terminal's main screen, which still shows the previous console session
("Connected to domain ..." of another guest): nothing of it may show above the new guest's output."""


def attach(command: ConsoleCommand, *, clean: bool = False, terminal: int = 1) -> ConsoleEnded:
    """Run the console on this process's terminal (`terminal`, a file descriptor, stdout by default) until
    the user presses Ctrl-] (blocks until then).

    `clean`: the terminal is cleaned first (`CLEAN_TERMINAL`): the TUI's handed-over screen. The CLI's
    console keeps the user's shell scrollback.

    stderr goes to a file, shown afterwards: an error printed while the terminal is handed over would
    otherwise be wiped by the screen that comes back.
    """
    if clean and os.isatty(terminal):
        os.write(terminal, CLEAN_TERMINAL)
    with tempfile.TemporaryFile(mode="w+b") as err:
        try:
            proc = subprocess.run(list(command.argv), stdout=terminal, stderr=err, check=False)
        except OSError as exc:
            raise OperationError(f"cannot run {command.argv[0]}: {exc.strerror}") from exc
        err.seek(0)
        text = err.read().decode("utf-8", "replace").strip()
    return ConsoleEnded(proc.returncode, text.removeprefix("error: ") if proc.returncode else "")


# ----- graphical displays ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Display:
    """One graphical display and how to reach it from here."""

    type: str
    port: int | None
    tls_port: int | None
    listen: str | None
    socket: str | None
    uri: str | None
    """A viewer URI that works from this machine as it is (no tunnel), or None."""
    tunnel: tuple[str, ...] | None
    """For a remote host: the `ssh -L` command whose local end (127.0.0.1 only) reaches the display."""
    tunnel_uri: str | None
    """The viewer URI to use while the tunnel runs."""
    note: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "type": self.type,
            "port": self.port,
            "tls_port": self.tls_port,
            "listen": self.listen,
            "socket": self.socket,
            "uri": self.uri,
            "tunnel": list(self.tunnel) if self.tunnel else None,
            "tunnel_uri": self.tunnel_uri,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class DisplayInfo:
    host: str
    domain: DomainInfo
    displays: tuple[Display, ...]
    viewer: tuple[str, ...]
    """The virt-viewer command for this domain (it tunnels over SSH by itself)."""

    def to_json(self) -> dict[str, object]:
        return {
            "host": self.host,
            "domain": self.domain.name,
            "uuid": self.domain.uuid,
            "displays": [d.to_json() for d in self.displays],
            "viewer": list(self.viewer),
        }


ANY_ADDRESS = ("0.0.0.0", "::", "")
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _viewer_uri(kind: str, host: str, port: int, tls_port: int | None) -> str | None:
    if kind not in ("vnc", "spice"):
        return None
    uri = f"{kind}://{_hostport(host, port)}"
    return f"{uri}?tls-port={tls_port}" if kind == "spice" and tls_port else uri


def _forward(local: int, target: str) -> str:
    # The bind address is explicit: without it ssh's GatewayPorts could open the port to the network.
    return f"127.0.0.1:{local}:{target}"


def reach(gfx: Graphics, uri: str, *, local_port: int | None = None) -> Display:
    """How to reach one display from this machine, for a host reached through `uri`. Pure."""
    base = Display(gfx.type, gfx.port, gfx.tls_port, gfx.listen, gfx.socket, None, None, None)
    if gfx.port is None and gfx.socket is None:
        return replace(base, note="no port: the display is not listening (is the domain running?)")
    local = is_local(uri) if uri else True
    remote_host = urlsplit(uri).hostname or "" if uri else ""
    listen = gfx.listen or ""
    if local:
        if gfx.socket is not None:
            return replace(base, note=f"UNIX socket {gfx.socket}: use virt-viewer (vmtui display --open)")
        assert gfx.port is not None
        host = "127.0.0.1" if listen in ANY_ADDRESS else listen
        return replace(base, uri=_viewer_uri(gfx.type, host, gfx.port, gfx.tls_port))
    direct = None
    if gfx.port is not None and listen not in LOOPBACK and gfx.socket is None:
        direct = _viewer_uri(gfx.type, remote_host if listen in ANY_ADDRESS else listen, gfx.port, gfx.tls_port)
    first = local_port or gfx.port or 5900
    if gfx.socket is not None:
        forwards = [_forward(first, gfx.socket)]
    else:
        assert gfx.port is not None
        target = "127.0.0.1" if listen in ANY_ADDRESS else listen
        forwards = [_forward(first, _hostport(target, gfx.port))]
        if gfx.tls_port:
            forwards.append(_forward(first + 1 if local_port else gfx.tls_port, _hostport(target, gfx.tls_port)))
    if is_ssh(uri):
        ssh = ssh_argv(uri)
        dest = ssh[-2:]  # "--", host
        opts = ["-N", "-o", "ExitOnForwardFailure=yes"] + [a for f in forwards for a in ("-L", f)]
        tunnel = (*ssh[:-2], *opts, *dest)
    else:
        tunnel = ("ssh", "-N", "-o", "ExitOnForwardFailure=yes", *[a for f in forwards for a in ("-L", f)])
        tunnel = (*tunnel, "--", remote_host)
    tls_local = (first + 1 if local_port else gfx.tls_port) if gfx.tls_port else None
    note = "" if is_ssh(uri) else "the host is not reached over SSH: the tunnel assumes you can ssh to it"
    tunnel_uri = _viewer_uri(gfx.type, "127.0.0.1", first, tls_local)
    return replace(base, uri=direct, tunnel=tunnel, tunnel_uri=tunnel_uri, note=note)


def display(conn: Hypervisor, ident: str, *, uri: str, host: str = "", local_port: int | None = None) -> DisplayInfo:
    """The graphical displays of a running domain and how to reach each from here."""
    if local_port is not None and not 1024 <= local_port <= 65534:
        raise UsageError(f"--local-port {local_port}: use a port from 1024 to 65534")
    info = conn.domain(ident)
    if info.state not in RUNNING:
        raise OperationError(f"{info.name} is {info.state}: a display exists only while it runs", hint="start it")
    xml = conn.domain_xml(info.uuid)
    graphics = read_graphics(xml)
    if not graphics:
        hint = "`vmtui console` for its serial console" if has_text_console(xml) else NO_CONSOLE_HINT
        raise OperationError(f"{info.name} has no graphical display", hint=hint)
    viewer = (VIEWER, *(["--connect", uri] if uri else []), "--", info.uuid)
    displays = tuple(reach(g, uri, local_port=local_port) for g in graphics)
    return DisplayInfo(host or conn.uri, info, displays, viewer)


def open_viewer(info: DisplayInfo) -> int:
    """Start virt-viewer on the domain, detached from this terminal; returns its process ID."""
    path = shutil.which(VIEWER)
    if path is None:
        raise NotFoundError(
            f"{VIEWER} is not installed", hint="install virt-viewer, or point any VNC/SPICE viewer at the URI above"
        )
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise DeniedError(
            f"{VIEWER} needs a graphical session (DISPLAY is not set)", hint="run it on your desktop with the URI above"
        )
    try:
        proc = subprocess.Popen(
            [path, *info.viewer[1:]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        raise OperationError(f"cannot start {VIEWER}: {exc.strerror}") from exc
    return proc.pid
