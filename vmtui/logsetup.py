"""Logging to a file in the XDG state dir: tracebacks are for the log, never for the terminal."""

from __future__ import annotations

import logging
from pathlib import Path

from vmtui.config import paths
from vmtui.errors import UsageError

_configured: Path | None = None


def setup_logging(level: int = logging.INFO) -> Path:
    """Send vmtui's log records to the log file (idempotent); returns its path."""
    global _configured
    log_file = paths().log_file
    if _configured == log_file:
        return log_file
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write the log file {log_file}: {exc.strerror}", hint="check VMTUI_HOME") from exc
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    root = logging.getLogger("vmtui")
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    _configured = log_file
    return log_file
