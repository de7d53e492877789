#!/usr/bin/env bash
# The whole suite. pytest exits 5 when it collected nothing: that must fail, not pass.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pytest -p no:cacheprovider "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "run-tests: no tests were collected" >&2
  exit 1
fi
exit "$rc"
