"""The CLI's contract: JSON shapes, one-line errors, documented exit codes, no tracebacks.

Runs the real `vmtui` executable against libvirt's test driver (real libvirt code, simulated host).
"""

from __future__ import annotations

import json

from conftest import run_vmtui

TEST_URI = "test:///default"


def test_list_json_on_test_driver() -> None:
    proc = run_vmtui("list", "-c", TEST_URI, "--json", check=True)
    body = json.loads(proc.stdout)
    assert body["errors"] == []
    (dom,) = body["domains"]
    assert dom["name"] == "test"
    assert dom["state"] == "running"
    assert {"host", "uuid", "id", "accelerator", "vcpus", "memory_kib", "devices"} <= set(dom)


def test_unknown_domain_is_exit_3_with_one_line() -> None:
    proc = run_vmtui("stats", "no-such-vm", "-c", TEST_URI)
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1
    assert "no domain 'no-such-vm'" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_unknown_domain_json_error_object() -> None:
    proc = run_vmtui("explain", "no-such-vm", "-c", TEST_URI, "--json")
    assert proc.returncode == 3
    err = json.loads(proc.stdout)["error"]
    assert err["kind"] == "not-found"
    assert err["code"] == 3


def test_unreachable_host_is_exit_4() -> None:
    # Port 1 on loopback: nothing listens, the refusal is immediate.
    proc = run_vmtui("list", "-c", "qemu+tcp://127.0.0.1:1/system", "--json")
    assert proc.returncode == 4
    assert json.loads(proc.stdout)["errors"][0]["kind"] == "unreachable"
    proc = run_vmtui("stats", "x", "-c", "qemu+tcp://127.0.0.1:1/system")
    assert proc.returncode == 4
    assert "cannot connect" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_uri_is_one_line() -> None:
    proc = run_vmtui("list", "-c", "nonsense:///x")
    assert proc.returncode != 0
    assert proc.stderr.startswith("vmtui: error:")
    assert "Traceback" not in proc.stderr


def test_unknown_saved_host() -> None:
    proc = run_vmtui("list", "--host", "nowhere", "--json")
    assert proc.returncode == 3
    assert "no saved host" in json.loads(proc.stdout)["error"]["message"]


def test_hosts_add_list_rm_json() -> None:
    run_vmtui("hosts", "add", "tdrv", TEST_URI, "--read-only", check=True)
    try:
        proc = run_vmtui("hosts", "--json", check=True)
        (entry,) = [h for h in json.loads(proc.stdout) if h["name"] == "tdrv"]
        assert entry["reachable"] is True
        assert entry["read_only"] is True
        assert entry["info"]["hypervisor"] == "TEST"
        assert run_vmtui("hosts", "add", "tdrv", TEST_URI).returncode == 2
        # A read-only saved host refuses writes before any call is made.
        proc = run_vmtui("destroy", "test", "--host", "tdrv", "--json")
        assert proc.returncode == 5
        assert "read-only" in json.loads(proc.stdout)["error"]["message"]
    finally:
        run_vmtui("hosts", "rm", "tdrv", check=True)
    assert "tdrv" not in run_vmtui("hosts", "--json").stdout


def test_top_json_streams_one_object_per_sample() -> None:
    proc = run_vmtui("top", "-c", TEST_URI, "--json", "--count", "2", "--interval", "0.2", check=True)
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2
    sample = json.loads(lines[0])
    assert sample["host"] == TEST_URI
    assert sample["domains"][0]["name"] == "test"


def test_record_then_replayable_file(tmp_path: object) -> None:
    from pathlib import Path

    from vmtui.drivers.replay import Recording

    out = Path(str(tmp_path)) / "rec.jsonl"
    proc = run_vmtui("record", str(out), "-c", TEST_URI, "--duration", "1", "--interval", "0.5", "--json", check=True)
    assert json.loads(proc.stdout)["samples"] >= 2
    rec = Recording(out)
    assert [d.name for d in rec.domains[TEST_URI]] == ["test"]


def test_a_host_that_never_answers_times_out_with_one_line() -> None:
    """A peer that accepts the TCP connection and then says nothing must not hang the command."""
    import socket
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    try:
        started = time.monotonic()
        proc = run_vmtui(
            "list", "-c", f"qemu+tcp://127.0.0.1:{port}/system", "--json", env_extra={"VMTUI_CONNECT_TIMEOUT": "1"}
        )
        assert time.monotonic() - started < 15
    finally:
        server.close()
    assert proc.returncode == 4
    error = json.loads(proc.stdout)["errors"][0]
    assert "no answer within 1 s" in error["message"]


def test_a_question_without_a_terminal_is_refused_in_whole_sentences() -> None:

    proc = run_vmtui("destroy", "test", "-c", TEST_URI)  # stdin is not a terminal here
    assert proc.returncode == 2
    assert proc.stderr == (
        f"vmtui: error: Force off test on {TEST_URI}? Not asked without a terminal. (add --yes to proceed)\n"
    )
    proc = run_vmtui("destroy", "test", "-c", TEST_URI, "--json")
    assert json.loads(proc.stdout)["error"]["message"] == f"Force off test on {TEST_URI}? Not asked without a terminal."
