"""Network plumbing and processes of the lab: the bridge, veth pairs, `ip netns`, daemons by pidfile.

Every command is an argument list (no shell). Failures become `OperationError` with the command's own
stderr, because "RTNETLINK answers: File exists" is more useful to a user than our paraphrase.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from vmtui.config import paths
from vmtui.errors import DeniedError, OperationError, UsageError

PREFIX_LEN = 24
MAX_LAB_ID = 99
REQUIRED_TOOLS = ("ip", "unshare", "libvirtd", "virtlogd", "ssh", "ssh-keygen")
SSHD = "/usr/sbin/sshd"


def lab_id_file() -> Path:
    return paths().state / "lab" / "id"


def lab_id() -> int:
    """Which lab this VMTUI_HOME runs: 0 (the default) or another number, so that labs of several
    homes (a demo and a test run, two developers) live side by side with their own names and subnet.

    `VMTUI_LAB_ID` chooses it; `lab up` remembers it in the state dir for the commands that follow.
    """
    raw = os.environ.get("VMTUI_LAB_ID")
    if raw is None or not raw.strip():
        try:
            raw = lab_id_file().read_text().strip()
        except OSError:
            return 0
    if not raw.isdigit() or not 0 <= int(raw) <= MAX_LAB_ID:
        raise UsageError(f"VMTUI_LAB_ID={raw!r} must be a number from 0 to {MAX_LAB_ID}")
    return int(raw)


def ns_prefix(lab: int | None = None) -> str:
    lab = lab_id() if lab is None else lab
    return "vmtui-lab" if lab == 0 else f"vmtui{lab}-lab"


def bridge(lab: int | None = None) -> str:
    lab = lab_id() if lab is None else lab
    return "vmtui-br0" if lab == 0 else f"vmtui{lab}-br0"


def subnet() -> str:
    """The first three octets of this lab's /24 (10.200.<lab id>)."""
    return f"10.200.{lab_id()}"


def bridge_addr() -> str:
    return f"{subnet()}.254"


def lab_in_use(lab: int) -> bool:
    """Whether any namespace or the bridge of lab number `lab` exists on this machine."""
    return any(n.startswith(ns_prefix(lab)) for n in netns_list()) or link_exists(bridge(lab))


def require_root() -> None:
    """Refuse early, in one line, when we cannot create namespaces or bridges."""
    if os.geteuid() != 0:
        raise DeniedError("vmtui lab needs root", hint="run it with sudo, or as root")
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if not Path(SSHD).exists():
        missing.append(SSHD)
    if missing:
        raise OperationError(
            f"vmtui lab needs {', '.join(missing)}",
            hint="`make setup` installs libvirt-daemon-system, openssh-server and iproute2",
        )


def run(
    args: Sequence[str], *, check: bool = True, timeout: float = 30.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output and turn a failure into an `OperationError`."""
    try:
        proc = subprocess.run(
            list(args), capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL, env=env
        )
    except FileNotFoundError as exc:
        raise OperationError(f"{args[0]} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise OperationError(f"`{' '.join(args)}` took longer than {timeout:.0f} s") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise OperationError(f"`{' '.join(args)}` failed: {detail[-1] if detail else proc.returncode}")
    return proc


def namespace(index: int) -> str:
    return f"{ns_prefix()}{index}"


def host_veth(index: int) -> str:
    """The root-namespace end of host `index`'s veth pair (the other end becomes eth0 inside)."""
    return f"{ns_prefix()}{index}h"


def address(index: int) -> str:
    return f"{subnet()}.{index}"


def mac(index: int) -> str:
    """eth0's MAC inside host `index`: fixed (locally administered), so a rebuilt host keeps it.

    With a random MAC per rebuild, the bridge's neighbour entry for the address would still name the
    old one, and connections would stall for 10 s and more until the kernel gave up on it.
    """
    return f"02:76:6d:74:{lab_id():02x}:{index:02x}"


def netns_list() -> list[str]:
    """Names of all network namespaces (`ip netns list` adds " (id: N)" to some)."""
    out = run(["ip", "netns", "list"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def link_exists(name: str) -> bool:
    return run(["ip", "link", "show", "dev", name], check=False).returncode == 0


def ensure_bridge() -> None:
    """The private bridge with the management address; no forwarding or NAT, so nothing leaves it."""
    br, addr = bridge(), bridge_addr()
    if not link_exists(br):
        run(["ip", "link", "add", br, "type", "bridge"])
    addrs = run(["ip", "-o", "-4", "addr", "show", "dev", br]).stdout
    if f" {addr}/" not in addrs:
        run(["ip", "addr", "add", f"{addr}/{PREFIX_LEN}", "dev", br])
    run(["ip", "link", "set", br, "up"])


def delete_link(name: str) -> None:
    if link_exists(name):
        run(["ip", "link", "del", name], check=False)


def create_netns(index: int) -> None:
    """Namespace `vmtui-labK` with eth0 = 10.200.<lab>.K/24 on the bridge, loopback up, no default route."""
    ns, veth, peer = namespace(index), host_veth(index), f"{ns_prefix()}{index}g"
    run(["ip", "netns", "add", ns])
    delete_link(veth)  # a stale end left by a crash would make `link add` fail
    run(["ip", "link", "add", veth, "type", "veth", "peer", "name", peer, "address", mac(index)])
    run(["ip", "link", "set", veth, "master", bridge(), "up"])
    run(["ip", "link", "set", peer, "netns", ns])
    run(["ip", "-n", ns, "link", "set", peer, "name", "eth0"])
    run(["ip", "-n", ns, "addr", "add", f"{address(index)}/{PREFIX_LEN}", "dev", "eth0"])
    run(["ip", "-n", ns, "link", "set", "eth0", "up"])
    run(["ip", "-n", ns, "link", "set", "lo", "up"])


def delete_netns(index: int) -> None:
    ns = namespace(index)
    if ns in netns_list():
        run(["ip", "netns", "del", ns])
    delete_link(host_veth(index))
    if link_exists(bridge()):  # labs made before the MAC was fixed: forget the old one
        run(["ip", "neigh", "flush", "to", address(index), "dev", bridge()], check=False)


def netns_pids(ns: str) -> list[int]:
    """Every process whose network namespace is `ns`: all of them were started by the lab."""
    proc = run(["ip", "netns", "pids", ns], check=False)
    return [int(tok) for tok in proc.stdout.split() if tok.isdigit()]


def read_pidfile(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone: it only waits for its parent)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def kill_pids(pids: Sequence[int], *, timeout: float = 3.0) -> list[int]:
    """SIGTERM `pids`, wait up to `timeout`, then SIGKILL whatever is left. Returns the survivors."""
    pids = [pid for pid in pids if pid != os.getpid()]
    _signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [pid for pid in pids if pid_alive(pid)]
        if not pids:
            return []
        time.sleep(0.05)
    _signal_all(pids, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while pids and time.monotonic() < deadline:
        time.sleep(0.05)
        pids = [pid for pid in pids if pid_alive(pid)]
    return pids


def _signal_all(pids: Sequence[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise


def stop_pidfile(path: Path, *, ns: str, timeout: float = 3.0) -> None:
    """Stop the daemon named in `path`, but only if it still lives in `ns` (pids get reused)."""
    pid = read_pidfile(path)
    if pid is not None and pid in netns_pids(ns):
        kill_pids([pid], timeout=timeout)
    path.unlink(missing_ok=True)


def exec_in_namespace(ns: str, spec_file: Path, log_file: Path) -> None:
    """Run `python -m vmtui.lab.nsinit SPEC` in `ns` plus fresh UTS and mount namespaces.

    stdout/stderr go to a file, never a pipe: the daemons it starts inherit the descriptors, and
    a pipe held open by a daemon would make us wait forever for EOF.
    """
    argv = [
        "ip", "netns", "exec", ns,
        "unshare", "--uts", "--mount", "--propagation", "private",
        sys.executable, "-m", "vmtui.lab.nsinit", str(spec_file),
    ]  # fmt: skip
    with log_file.open("ab") as log:
        try:
            code = subprocess.run(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=60, check=False
            ).returncode
        except subprocess.TimeoutExpired as exc:
            raise OperationError(f"starting the daemons in {ns} took over 60 s", hint=f"see {log_file}") from exc
    if code != 0:
        lines = log_file.read_text(errors="replace").strip().splitlines()
        raise OperationError(
            f"starting the daemons in {ns} failed: {lines[-1] if lines else code}", hint=f"see {log_file}"
        )
