#!/usr/bin/env bash
# The whole suite. pytest exits 5 when it collected nothing: that must fail, not pass.
set -uo pipefail
cd "$(dirname "$0")/.."
# Two workers (pytest-xdist): the lab's tests are one xdist_group (one lab per run) on one worker, waiting
# on guests and SSH, while the other runs the CPU-bound TUI and unit tests: about 15 minutes instead of
# about 24 on one worker. VMTUI_TEST_WORKERS=0 runs in this process (one worker, no xdist).
WORKERS="${VMTUI_TEST_WORKERS:-2}"
if [ "$WORKERS" = 0 ]; then xdist=(); else xdist=(-n "$WORKERS" --dist loadgroup); fi
.venv/bin/pytest -p no:cacheprovider "${xdist[@]}" "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "run-tests: no tests were collected" >&2
  exit 1
fi
exit "$rc"
