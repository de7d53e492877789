"""Options mean the same before and after the subcommand; bad numbers and bad files are refused in one line.

The real `vmtui` executable against libvirt's test driver (real libvirt code over a simulated host) and
the repository's recording of real guests; the local-QEMU cases live in tests/integration.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import FIXTURES, VMTUI, run_vmtui

TEST_URI = "test:///default"
RECORDING = FIXTURES / "tui-recording.jsonl"


@pytest.fixture
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("VMTUI_HOME", str(home))
    return home


def _hosts(proc: subprocess.CompletedProcess[str]) -> set[str]:
    assert proc.returncode == 0, proc.stderr
    return {d["host"] for d in json.loads(proc.stdout)["domains"]}


@pytest.mark.parametrize(
    "argv",
    [
        ["--read-only", "-c", TEST_URI, "suspend", "test"],
        ["-c", TEST_URI, "--read-only", "suspend", "test"],
        ["-r", "suspend", "test", "-c", TEST_URI],
        ["suspend", "test", "-c", TEST_URI, "--read-only"],
        ["--read-only", "destroy", "test", "-c", TEST_URI, "--yes"],
        ["--read-only", "--json", "-c", TEST_URI, "resume", "test"],
    ],
)
def test_read_only_refuses_whichever_position_it_is_given(own_home: Path, argv: list[str]) -> None:
    proc = run_vmtui(*argv)
    assert proc.returncode == 5, proc.stderr
    message = json.loads(proc.stdout)["error"]["message"] if "--json" in argv else proc.stderr
    assert "is read-only" in message


def test_read_only_before_a_command_that_cannot_honour_it_is_refused(own_home: Path) -> None:
    proc = run_vmtui("--read-only", "lab", "down")
    assert proc.returncode == 2
    assert proc.stderr == (
        "vmtui: error: --read-only: `vmtui lab down` changes hosts, and read-only was asked for; nothing done\n"
    )
    proc = run_vmtui("-c", TEST_URI, "hosts", "add", "x", TEST_URI)
    assert proc.returncode == 2
    assert "has no meaning for `vmtui hosts add`" in proc.stderr


def test_connect_and_host_before_the_command_choose_the_hosts(own_home: Path, tmp_path: Path) -> None:
    # A second test-driver host with one domain of its own, saved as "other".
    node = tmp_path / "node.xml"
    node.write_text(
        "<node><domain type='test'><name>only-here</name><memory>1024</memory><os><type>hvm</type></os></domain></node>"
    )
    other = f"test://{node}"
    run_vmtui("hosts", "add", "other", other, check=True)
    run_vmtui("hosts", "add", "default", TEST_URI, check=True)
    assert _hosts(run_vmtui("list", "--json")) == {"other", "default"}
    assert _hosts(run_vmtui("-c", TEST_URI, "list", "--json")) == {TEST_URI}
    assert _hosts(run_vmtui("list", "--json", "-c", TEST_URI)) == {TEST_URI}
    assert _hosts(run_vmtui("-H", "other", "list", "--json")) == {"other"}
    assert _hosts(run_vmtui("--json", "list", "-H", "other")) == {"other"}
    # Given both before and after, they add up.
    assert _hosts(run_vmtui("-H", "other", "list", "--json", "-c", TEST_URI)) == {"other", TEST_URI}


def test_libvirt_default_uri_does_not_replace_the_saved_hosts(own_home: Path) -> None:
    run_vmtui("hosts", "add", "saved", TEST_URI, check=True)
    env = {"LIBVIRT_DEFAULT_URI": "qemu+tcp://127.0.0.1:1/system"}
    proc = subprocess.run([VMTUI, "list", "--json"], capture_output=True, text=True, env=_env(env), timeout=60)
    assert _hosts(proc) == {"saved"}


def _env(extra: dict[str, str]) -> dict[str, str]:
    import os

    return {**os.environ, **extra}


def test_replay_before_or_after_reads_the_recording(own_home: Path) -> None:
    for argv in (["--replay", str(RECORDING), "list", "--json"], ["list", "--json", "--replay", str(RECORDING)]):
        proc = run_vmtui(*argv)
        names = {d["name"] for d in json.loads(proc.stdout)["domains"]}
        assert names == {"vmtui-tui-a", "vmtui-tui-b"}, argv
    proc = run_vmtui("--replay", str(own_home / "missing.jsonl"), "list")
    assert proc.returncode == 3
    assert proc.stderr.startswith("vmtui: error: cannot read recording")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e308", "0", "-1", "0.05", "1e6"])
def test_intervals_outside_the_range_are_refused(own_home: Path, value: str) -> None:
    for argv in (
        ["top", "-i", value],
        ["stats", "test", "--interval", value],
        ["record", "/nonexistent/x.jsonl", "-d", value],
    ):
        proc = run_vmtui(*argv, "-c", TEST_URI)
        assert proc.returncode == 2, (argv, proc.stderr)
        assert proc.stderr.count("\n") == 1
        assert "is not a number of seconds from" in proc.stderr


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf"])
def test_a_bad_connect_timeout_is_refused(own_home: Path, value: str) -> None:
    proc = run_vmtui("list", "-c", TEST_URI, env_extra={"VMTUI_CONNECT_TIMEOUT": value})
    assert proc.returncode == 2
    assert f"VMTUI_CONNECT_TIMEOUT={value!r} is not a number of seconds from 0.5 to 3600" in proc.stderr


def test_usage_errors_with_json_are_json(own_home: Path) -> None:
    proc = run_vmtui("list", "--json", "--bogus")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["error"]["kind"] == "usage"
    assert proc.stderr == ""
    proc = run_vmtui("list", "--bogus")
    assert proc.stderr.startswith("vmtui: error: No such option: --bogus")
    assert proc.stderr.count("\n") == 1


@pytest.mark.parametrize("uri", ["not a uri", "qemu:///nosuch", "nonsense:///x"])
def test_a_uri_libvirt_cannot_open_is_exit_4(own_home: Path, uri: str) -> None:
    proc = run_vmtui("list", "-c", uri, "--json")
    assert proc.returncode == 4
    (error,) = json.loads(proc.stdout)["errors"]
    assert error["kind"] == "unreachable"
    assert "ssh" not in error.get("hint", "")  # the ssh hint only where ssh is the cause


def test_top_into_a_closed_pipe_ends_quietly(own_home: Path) -> None:
    """`vmtui top --json | head -1`: the reader leaving is how such a pipe ends, not an error."""
    top = subprocess.Popen(
        [VMTUI, "top", "--json", "-i", "0.1", "-c", TEST_URI], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert top.stdout is not None
    assert top.stderr is not None
    first = top.stdout.readline()
    assert json.loads(first)["host"] == TEST_URI
    top.stdout.close()  # what head does after its line
    assert top.wait(timeout=30) == 0
    assert top.stderr.read() == b""
    log = own_home / "state" / "vmtui.log"
    assert "unexpected error" not in (log.read_text() if log.exists() else "")


def test_record_refuses_to_overwrite_and_a_missing_directory(own_home: Path, tmp_path: Path) -> None:
    existing = tmp_path / "rec.jsonl"
    existing.write_text("keep me")
    proc = run_vmtui("record", str(existing), "-c", TEST_URI, "-d", "0.5")
    assert (proc.returncode, proc.stderr) == (2, f"vmtui: error: {existing} exists (add --force to overwrite it)\n")
    assert existing.read_text() == "keep me"
    missing = tmp_path / "no" / "such" / "rec.jsonl"
    proc = run_vmtui("record", str(missing), "-c", TEST_URI, "-d", "0.5")
    assert proc.returncode == 2
    assert f"directory {missing.parent} does not exist" in proc.stderr
    proc = run_vmtui("record", str(existing), "-c", TEST_URI, "-d", "0.5", "-i", "0.5", "--force")
    assert proc.returncode == 0
    assert proc.stdout.startswith("recorded 1 sample of 1 host(s)")


def test_the_tui_refuses_a_pipe(own_home: Path) -> None:
    proc = run_vmtui("-c", TEST_URI)  # stdout is a pipe here
    assert proc.returncode == 2
    assert proc.stderr == (
        "vmtui: error: the full-screen TUI needs a terminal (for a stream use `vmtui top` (or --json))\n"
    )


def test_shell_completion_offers_saved_hosts_and_domains(own_home: Path) -> None:
    run_vmtui("hosts", "add", "tdrv", TEST_URI, check=True)

    def complete(*words: str) -> list[str]:
        env = {
            "_VMTUI_COMPLETE": "complete_bash",
            "COMP_WORDS": " ".join(["vmtui", *words]),
            "COMP_CWORD": str(len(words)),
        }
        return run_vmtui(env_extra=env).stdout.split()

    assert complete("list", "-H", "td") == ["tdrv"]
    assert complete("stats", "te") == ["test"]  # the test driver's one domain
    assert "--install-completion" in run_vmtui("--help", env_extra={"COLUMNS": "200"}).stdout


def test_top_at_80_columns_keeps_name_and_state_whole(own_home: Path) -> None:
    proc = run_vmtui("--replay", str(RECORDING), "top", "-n", "1", "-i", "0.1", env_extra={"COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines)
    assert any("vmtui-tui-a  running" in line for line in lines)
    assert "…" not in proc.stdout


@pytest.mark.parametrize(
    ("uri", "message", "hint"),
    [
        # What libvirt 9.0 says here to `runuser -u nobody -- virsh -c qemu:///system list` (no D-Bus, no polkit).
        ("qemu:///system", "internal error: Unable to get system bus connection: Could not connect: No such file",
         "qemu:///session"),
        ("qemu+ssh://root@kvm1/system", "Cannot recv data: root@kvm1: Permission denied (publickey).", "ssh-agent"),
        ("qemu+ssh://root@kvm1/system", "Cannot recv data: ssh: connect to host kvm1 port 22: Connection refused",
         None),
        ("qemu+tcp://127.0.0.1:1/system", "unable to connect to server at '127.0.0.1:1': Connection refused", None),
        ("qemu:///system", "Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory",
         "libvirtd"),
    ],
)  # fmt: skip
def test_the_hint_fits_the_failure(uri: str, message: str, hint: str | None) -> None:
    from vmtui.drivers.libvirt.connection import _connect_hint

    found = _connect_hint(uri, message)
    if hint is None:
        assert found is None  # a wrong hint (ssh keys for a refused port) misleads more than none
    else:
        assert found is not None
        assert hint in found


def test_ctrl_c_is_exit_130_with_one_line(own_home: Path) -> None:
    import signal

    top = subprocess.Popen(
        [VMTUI, "top", "--json", "-i", "0.2", "-c", TEST_URI], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert top.stdout is not None
    assert top.stdout.readline()  # it runs
    top.send_signal(signal.SIGINT)
    _out, err = top.communicate(timeout=30)
    assert top.returncode == 130
    assert err == b"vmtui: interrupted\n"
