"""A host's libvirtd restarted as a real host's is (`vmtui lab restart`): every face rides through.

The guests keep running with the same UUIDs; `top`, `record` and the TUI mark the host stale, reconnect
with backoff and carry on, and a run that otherwise completes exits 0.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from fixtures_lab import VMTUI, LabHandle

pytestmark = [pytest.mark.lab, pytest.mark.timeout(240)]


def _uuids(lab: LabHandle, host: str) -> dict[str, str]:
    proc = lab.vmtui("list", "-H", host, "--json")
    assert proc.returncode == 0, proc.stderr
    return {d["name"]: d["uuid"] for d in json.loads(proc.stdout)["domains"]}


def _start(lab: LabHandle, *args: str) -> subprocess.Popen[str]:
    import os

    env = {**os.environ, "VMTUI_HOME": str(lab.home)}
    return subprocess.Popen([str(VMTUI), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_line(proc: subprocess.Popen[str], text: str, within: float = 30) -> list[str]:
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"{text!r} never came; got {seen}")


def test_top_and_record_ride_through_a_libvirtd_restart(lab: LabHandle, tmp_path: Path) -> None:
    before = _uuids(lab, "lab1")
    top = _start(lab, "top", "--json", "-i", "0.5", "-n", "30")
    record_file = tmp_path / "rec.jsonl"
    record = _start(lab, "record", str(record_file), "--duration", "15", "--interval", "1", "--json")
    try:
        _wait_for_line(top, '"host": "lab1"')
        restarted = lab.vmtui("lab", "restart", "lab1", "--json")
        assert restarted.returncode == 0, restarted.stderr
        (report,) = json.loads(restarted.stdout)["hosts"]
        assert report["action"] == "restarted"
        lines = _wait_for_line(top, '"event": "reconnected"', within=60)
        events = [json.loads(line) for line in lines if '"event"' in line]
        assert [(e["host"], e["event"]) for e in events] == [("lab1", "disconnected"), ("lab1", "reconnected")]
        assert events[0]["reason"] == "end of file"
        # After the reconnect lab1's guests are sampled again, the same guests.
        after = _wait_for_line(top, '"host": "lab1"')
        names = {d["name"] for d in json.loads(after[-1])["domains"]}
        assert names == set(before)
        top.communicate(timeout=120)  # drained, or it would block on a full pipe
        assert top.returncode == 0
        record.communicate(timeout=120)
        assert record.returncode == 0
    finally:
        for proc in (top, record):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert _uuids(lab, "lab1") == before  # the guests kept running, with the same UUIDs
    from vmtui.drivers.replay import Recording

    rec = Recording(record_file)
    assert len(rec.samples["lab1"]) >= 5  # samples before and after the restart
    assert {d.name for d in rec.domains["lab1"]} == set(before)


def _host_up(url: str, host: str) -> float | None:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - loopback, our own exporter
        body = reply.read().decode()
    for line in body.splitlines():
        if line.startswith("vmtui_host_up{") and f'host="{host}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return None


def test_the_exporter_rides_through_a_libvirtd_restart(lab: LabHandle) -> None:
    export = _start(lab, "export", "--listen", "127.0.0.1:0", "--interval", "0.5", "--json")
    try:
        assert export.stdout is not None
        url = json.loads(export.stdout.readline())["url"]
        deadline = time.monotonic() + 30
        while _host_up(url, "lab1") != 1.0:
            assert time.monotonic() < deadline, "lab1 never came up in the exporter"
            time.sleep(0.2)
        restarted = lab.vmtui("lab", "restart", "lab1")
        assert restarted.returncode == 0, restarted.stderr
        seen: list[float | None] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen.append(_host_up(url, "lab1"))  # every scrape answers, during the restart too
            if 0.0 in seen and seen[-1] == 1.0:
                break
            time.sleep(0.1)
        assert 0.0 in seen, "the exporter never marked lab1 down while its libvirtd was gone"
        assert seen[-1] == 1.0, "lab1 did not come back in the exporter"
        assert export.poll() is None  # still serving
    finally:
        export.terminate()
        export.wait(timeout=30)
