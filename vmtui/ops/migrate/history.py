"""Every migration vmtui ran, and the ones it is running: JSON lines and small files in the XDG state dir.

- `migrations.jsonl`: one line per finished migration (options, times, downtime, bytes, passes,
  result, the policy's steps). Appended under an exclusive lock, so a CLI and a TUI finishing at once
  never interleave their lines. `vmtui migrate history` reads it.
- `migrations-inflight/<uuid>.json`: written when a job starts, removed when vmtui saw it end. A file
  left behind means the vmtui that started it died (the peer-to-peer job ran on in the source daemon):
  the next vmtui finds it, names the target, and re-attaches or offers to abort. A note marked
  `"outcome": "unknown"` is a job whose end could not be learnt (its source stopped answering):
  `vmtui migrate jobs` and `attach` settle it once the source answers.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import psutil

from vmtui.config import paths

log = logging.getLogger("vmtui.ops.migrate")

HISTORY_NAME = "migrations.jsonl"
INFLIGHT_DIR = "migrations-inflight"


def history_file() -> Path:
    return paths().state / HISTORY_NAME


def inflight_dir() -> Path:
    return paths().state / INFLIGHT_DIR


def append(record: dict[str, Any]) -> None:
    """Append one finished migration. A history that cannot be written is logged, never fatal."""
    path = history_file()
    line = json.dumps(record, sort_keys=False, default=str) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write(line)
    except OSError as exc:
        log.warning("migration history not written to %s: %s", path, exc)


def read(limit: int | None = None) -> list[dict[str, Any]]:
    """Finished migrations, oldest first (the last `limit` only); a torn or foreign line is skipped."""
    try:
        lines = history_file().read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out[-limit:] if limit else out


def last_throughput(source: str, target: str) -> float | None:
    """Bytes/s of the newest completed migration from `source` to `target`: the link as last measured."""
    for record in reversed(read()):
        if record.get("source") == source and record.get("target") == target and record.get("outcome") == "completed":
            bps = record.get("throughput_bps")
            if isinstance(bps, int | float) and bps > 0:
                return float(bps)
    return None


def start(record: dict[str, Any]) -> None:
    """Note a job in flight (see the module docstring); `record` must name its `uuid`."""
    folder = inflight_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{record['uuid']}.tmp"
        tmp.write_text(json.dumps({**record, "pid": os.getpid(), "noted_at": time.time()}), encoding="utf-8")
        os.replace(tmp, folder / f"{record['uuid']}.json")
    except OSError as exc:
        log.warning("in-flight note not written: %s", exc)


def mark_unknown(uuid: str, message: str) -> None:
    """The job's end could not be learnt: its note stays, marked, for `vmtui migrate jobs` to settle."""
    _update(uuid, outcome="unknown", message=message)


def mark_aborted(uuid: str) -> None:
    """`vmtui migrate abort` stopped this job: the vmtui watching it says so (libvirt's call may only
    say "End of file", and the cancelled job shows for about a second)."""
    _update(uuid, abort_requested_at=time.time())


def abort_requested(uuid: str) -> bool:
    return any("abort_requested_at" in note for note in inflight(uuid))


def _update(uuid: str, **fields: Any) -> None:
    path = inflight_dir() / f"{uuid}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        record.update(fields)
        tmp = path.with_name(f".{uuid}.tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, path)
    except FileNotFoundError:
        return  # a job vmtui did not start (or saw end): nothing to mark
    except (OSError, ValueError) as exc:
        log.warning("in-flight note of %s not updated: %s", uuid, exc)


def unknown() -> list[dict[str, Any]]:
    """Notes of jobs whose end is still unknown (see `mark_unknown`)."""
    return [note for note in inflight() if note.get("outcome") == "unknown"]


def end(uuid: str) -> None:
    (inflight_dir() / f"{uuid}.json").unlink(missing_ok=True)


def inflight(uuid: str | None = None) -> list[dict[str, Any]]:
    """Notes of jobs started and not seen to end (one domain's, or all)."""
    folder = inflight_dir()
    files = [folder / f"{uuid}.json"] if uuid else sorted(folder.glob("*.json"))
    out = []
    for path in files:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def orphaned(record: dict[str, Any]) -> bool:
    """The vmtui that started this job is gone: its process no longer exists, is a zombie that nobody
    reaped (a killed worker's parent died too, and a container's PID 1 may never reap it), or the
    pid now belongs to a process started after the note was written."""
    pid = record.get("pid")
    if not isinstance(pid, int):
        return True
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return True
        noted_at = record.get("noted_at")
        return isinstance(noted_at, (int, float)) and process.create_time() > noted_at + 1
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:
        return False
