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
python="$repo/.venv/bin/python"
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
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
server="127.0.0.1:$port"
run_dir=$(mktemp -d)
emulator_pid=""
cleanup() {
    if [[ -n $emulator_pid ]]; then
        kill "$emulator_pid" 2>/dev/null || true  # SIGTERM: it disconnects and stops
        wait "$emulator_pid" 2>/dev/null || true
    fi
    adb -P "$port" kill-server >/dev/null 2>&1 || true
    rm -rf "$run_dir"
}
trap cleanup EXIT

say "virtual sd855 device on a private adb server ($server)"
# no emulator port scan (5555-5585): only the device started here appears on this server
ADB_LOCAL_TRANSPORT_MAX_PORT=5553 adb -P "$port" start-server
"$edgekit" device emulate --profile sd855 --port 0 --adb-server "$server" --json >"$run_dir/device.json" &
emulator_pid=$!
for _ in $(seq 100); do
    grep -q '"address"' "$run_dir/device.json" 2>/dev/null && break
    kill -0 "$emulator_pid" 2>/dev/null || { echo "main_job: the virtual device did not start" >&2; exit 5; }
    sleep 0.2
done
grep -q '"address"' "$run_dir/device.json" || { echo "main_job: the virtual device did not start" >&2; exit 5; }
"$edgekit" devices --adb-server "$server"

say "bench fp32 and int8 on it (the seed's conditions: warmup 10, repeats 30, 1 thread, 1x3x224x224)"
"$edgekit" bench "$model" "${model}_int8" --device sd855 --adb-server "$server"

say "report (plots in $EDGEKIT_WORKSPACE/reports)"
"$edgekit" report --device sd855 --plots "$EDGEKIT_WORKSPACE/reports"
