"""`python -m vmtui.lab.nsinit SPEC.json`: the first process inside a new lab host's namespaces.

`netns.exec_in_namespace` starts it under `ip netns exec NS unshare --uts --mount`, so the hostname and
the mounts made here are private to this host. The spec (written by the manager) says:
`{"hostname": str, "tmpfs": [dir], "mkdir": [dir], "binds": [[src, dst]], "commands": [[argv]]}`.
Each command must exit 0; the daemons fork into the background and keep these namespaces alive.
It imports nothing from vmtui, so it starts in a few milliseconds.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

# The daemons get a clean environment: nothing of the caller's (LIBVIRT_DEFAULT_URI, SSH_AUTH_SOCK,
# VMTUI_HOME, ...) should change how a lab host behaves.
DAEMON_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}


def _mount(args: list[str]) -> None:
    subprocess.run(["mount", *args], check=True, stdin=subprocess.DEVNULL)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m vmtui.lab.nsinit SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text())
    try:
        socket.sethostname(spec["hostname"])
        for target in spec.get("tmpfs", []):
            _mount(["-t", "tmpfs", "-o", "mode=755", "vmtui-lab", target])
        for path in spec.get("mkdir", []):
            Path(path).mkdir(parents=True, exist_ok=True)
        for src, dst in spec.get("binds", []):
            _mount(["--bind", src, dst])
        for command in spec.get("commands", []):
            print(f"nsinit[{spec['hostname']}]: {' '.join(command)}", file=sys.stderr, flush=True)
            subprocess.run(command, check=True, stdin=subprocess.DEVNULL, env=DAEMON_ENV)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"nsinit[{spec.get('hostname')}]: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
