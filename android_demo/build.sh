#!/usr/bin/env bash
# Build the demo APK: the same steps as `edgekit app build` (this script simply runs it).
#
#   android_demo/build.sh --model MobileNetV3_small_x1_0 [--paddle-lite-lib DIR] [--out APP.apk] [--json]
#
# Uses the repository's .venv (scripts/bootstrap.sh makes it), else the `edgekit` on PATH.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -x "$repo/.venv/bin/python" ]]; then
    exec "$repo/.venv/bin/python" -m edgekit app build "$@"
fi
if command -v edgekit >/dev/null 2>&1; then
    exec edgekit app build "$@"
fi
echo "build.sh: no $repo/.venv and no edgekit on PATH; run scripts/bootstrap.sh first" >&2
exit 3
