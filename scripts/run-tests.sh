#!/usr/bin/env bash
# The whole suite. pytest exits 5 when it collected nothing: that must fail, not pass.
set -uo pipefail
cd "$(dirname "$0")/.."
# Two workers (pytest-xdist): the lab's tests are one xdist_group (one lab per run) on one worker, waiting
# on guests and SSH, while the other runs the CPU-bound TUI and unit tests: about 15 minutes instead of
# about 24 on one worker. VMTUI_TEST_WORKERS=0 runs in this process (one worker, no xdist).
WORKERS="${VMTUI_TEST_WORKERS:-2}"
if [ "$WORKERS" = 0 ]; then xdist=(); else xdist=(-n "$WORKERS" --dist loadgroup); fi
# The whole suite (no arguments, as `make test` runs it) needs tests/integration/test_cloud_init_guest.py's
# Debian image: its build (about 1.5 min from nothing, mostly apt and dpkg) starts now, beside the first
# tests, and the test waits for it on the cache's lock. A cached image makes this return at once.
builder=""
if [ "$#" -eq 0 ]; then
  mkdir -p .pytest_cache/d/vmtui-cloud-image
  .venv/bin/python tests/cloud_image.py >.pytest_cache/d/vmtui-cloud-image/build.log 2>&1 &
  builder=$!
fi
.venv/bin/pytest -p no:cacheprovider "${xdist[@]}" "$@"
rc=$?
# Done by now when the test ran (it waits for the build); otherwise the build ends and the image is cached.
if [ -n "$builder" ]; then wait "$builder"; fi
if [ "$rc" -eq 5 ]; then
  echo "run-tests: no tests were collected" >&2
  exit 1
fi
exit "$rc"
