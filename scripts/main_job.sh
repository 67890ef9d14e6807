#!/usr/bin/env bash
# The main job on the embedded default (no phone, no pretrained weights needed):
# MobileNetV3_large_x1_0_ssld through every stage edgekit has, ending with a report.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
edgekit="$repo/.venv/bin/edgekit"
export EDGEKIT_WORKSPACE="${EDGEKIT_WORKSPACE:-$repo/.workspace}"

"$edgekit" models --family MobileNetV3
