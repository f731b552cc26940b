#!/usr/bin/env bash
# `make demo`: run reprobuild's main job on the bundled examples.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
echo "== reprobuild lint examples/pip-requirements examples/uv-project  (expected: clean, exit 0)"
"$bin/reprobuild" lint examples/pip-requirements examples/uv-project
clean=$?
echo
echo "== reprobuild lint examples/insecure  (expected: findings, exit 1)"
"$bin/reprobuild" lint examples/insecure
bad=$?
echo
echo "exit codes: clean examples=$clean (want 0), insecure example=$bad (want 1)"
[ "$clean" -eq 0 ] && [ "$bad" -eq 1 ]
