"""Running a user's plugin (`[[plugins]]` in config.toml): its argv with the selected domain's values put in,
on the terminal handed over, or with its output kept for a panel.

Never a shell: the program gets the list as it is, each value inside its own argument (a domain called
`x; rm -rf ~` is one argument to the program, never a command). A plugin may run `sh -c 'SCRIPT' sh
"$DOMAIN"`, which passes the values as the script's "$1", still never pasted into its text.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from vmtui.drivers.uri import is_local
from vmtui.errors import OperationError
from vmtui.settings.plugins import Plugin, substitute

PANEL_LIMIT = 1 << 20
"""Bytes of a panel plugin's output kept (a runaway program cannot fill the memory)."""
CLEAN_TERMINAL = b"\x1b[H\x1b[2J"


@dataclass(frozen=True, slots=True)
class PluginRun:
    """What a plugin ended with: its exit code, and its output (panel mode) or error words (terminal)."""

    name: str
    argv: tuple[str, ...]
    returncode: int
    output: str


def ssh_target(uri: str) -> str:
    """How ssh reaches the host of `uri`: `ssh://user@host:port` for an SSH URI, `localhost` for this one."""
    if is_local(uri):
        return "localhost"
    parts = urlsplit(uri)
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return f"ssh://{user}{parts.hostname}{port}"


def plugin_values(*, domain: str, uuid: str, host: str, uri: str) -> dict[str, str]:
    """The values of `$DOMAIN`, `$UUID`, `$HOST`, `$URI`, `$SSH_TARGET`."""
    return {"DOMAIN": domain, "UUID": uuid, "HOST": host, "URI": uri, "SSH_TARGET": ssh_target(uri)}


def run_on_terminal(plugin: Plugin, values: dict[str, str], *, terminal: int = 1) -> PluginRun:
    """The plugin on this process's terminal until it ends (blocks); its stderr said afterwards."""
    argv = substitute(plugin.command, values)
    if os.isatty(terminal):
        os.write(terminal, CLEAN_TERMINAL)
    with tempfile.TemporaryFile(mode="w+b") as err:
        try:
            proc = subprocess.run(argv, stdout=terminal, stderr=err, check=False)
        except OSError as exc:
            raise OperationError(f"plugin {plugin.name}: cannot run {argv[0]}: {exc.strerror}") from exc
        err.seek(0)
        text = err.read(PANEL_LIMIT).decode("utf-8", "replace").strip()
    return PluginRun(plugin.name, tuple(argv), proc.returncode, text)


def run_captured(plugin: Plugin, values: dict[str, str], cancel: threading.Event) -> PluginRun:
    """The plugin with its output (stdout and stderr, in order) kept for a panel; Esc on the job stops it."""
    argv = substitute(plugin.command, values)
    with tempfile.TemporaryFile(mode="w+b") as out:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        except OSError as exc:
            raise OperationError(f"plugin {plugin.name}: cannot run {argv[0]}: {exc.strerror}") from exc
        while proc.poll() is None:
            if cancel.wait(0.05):
                proc.kill()
                proc.wait()
                raise OperationError(f"plugin {plugin.name}: stopped")
        out.seek(0)
        text = out.read(PANEL_LIMIT).decode("utf-8", "replace")
    return PluginRun(plugin.name, tuple(argv), proc.returncode, text)
