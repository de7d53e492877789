#!/usr/bin/env bash
# The whole suite. pytest exits 5 when it collected nothing: that must fail, not pass.
set -uo pipefail
cd "$(dirname "$0")/.."
# Two workers (pytest-xdist): the lab's tests stay together on one (their xdist_group), the rest is shared.
.venv/bin/pytest -p no:cacheprovider -n 2 --dist loadgroup "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "run-tests: no tests were collected" >&2
  exit 1
fi
exit "$rc"
