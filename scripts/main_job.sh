#!/usr/bin/env bash
# The main job on the embedded default (no phone, no pretrained weights needed):
# MobileNetV3_large_x1_0_ssld through every stage edgekit has, ending with a report.
#
#   quantize (PaddleSlim, the seed's int8 recipe) -> convert (opt, arm .nb for phones)
#   -> a virtual sd855 behind a private adb server -> bench fp32 and int8 -> report
#
# The virtual device runs x86 .nb files on this host, so its latencies are this machine's, not a
# Snapdragon 855's; the report marks them. With a phone: `edgekit bench ... --device sd855
# --benchmark-bin PATH/benchmark_bin` instead of the virtual device.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
edgekit="$repo/.venv/bin/edgekit"
export EDGEKIT_WORKSPACE="${EDGEKIT_WORKSPACE:-$repo/.workspace}"
model=MobileNetV3_large_x1_0_ssld

say() { printf '\n== %s\n' "$*"; }

"$edgekit" models --family MobileNetV3

say "quantize $model (PaddleSlim post-training, default preset) and convert both for phones (arm)"
"$edgekit" quantize "$model"
"$edgekit" convert "$model" --target arm
"$edgekit" convert "${model}_int8" --target arm

# --- a virtual device behind a private adb server (the user's own server, if any, is left alone)
if ! command -v adb >/dev/null; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        say "installing Debian's adb"
        apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends adb >/dev/null
    else
        echo "main_job: the adb command is missing; install it (sudo apt-get install adb)" >&2
        exit 3
    fi
fi
run_dir=$(mktemp -d)
emulator_pid=""
cleanup() {
    if [[ -n $emulator_pid ]]; then
        kill "$emulator_pid" 2>/dev/null || true  # SIGTERM: it disconnects, stops its adb server and exits
        wait "$emulator_pid" 2>/dev/null || true
    fi
    rm -rf "$run_dir"
}
trap cleanup EXIT

say "virtual sd855 device on a private adb server"
# --private-adb-server: an adb server of its own on a free port, which probes no emulator port, so
# only the device started here appears on it; it stops with the device
"$edgekit" device emulate --profile sd855 --port 0 --private-adb-server --json >"$run_dir/device.json" &
emulator_pid=$!
for _ in $(seq 100); do
    grep -q '^}' "$run_dir/device.json" 2>/dev/null && break  # the whole JSON document is there
    kill -0 "$emulator_pid" 2>/dev/null || { echo "main_job: the virtual device did not start" >&2; exit 5; }
    sleep 0.2
done
server=$(sed -n 's/^ *"adb_server": "\(.*\)",*$/\1/p' "$run_dir/device.json")
[[ -n $server ]] || { echo "main_job: the virtual device did not start" >&2; exit 5; }
"$edgekit" devices --adb-server "$server"

say "bench fp32 and int8 on it (the seed's conditions: warmup 10, repeats 30, 1 thread, 1x3x224x224)"
"$edgekit" bench "$model" "${model}_int8" --device sd855 --adb-server "$server"

say "report (plots in $EDGEKIT_WORKSPACE/reports)"
"$edgekit" report --device sd855 --plots "$EDGEKIT_WORKSPACE/reports"
