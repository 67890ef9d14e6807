"""edgekit's own overhead per model when it benchmarks on the virtual device.

For each model, ``bench_models`` runs twice against a virtual device behind a real adb server on
a free loopback port: the first run pushes the benchmark binary and the ``.nb``, the second finds
them unchanged on the device and pushes nothing. Conversion happens before the clock starts.

Printed per run (milliseconds):
  wall      the whole ``bench_models`` call (device discovery, hash checks/pushes, run, parse, store)
  shell     the adb shell call that ran the binary (process start, transport, the binary itself)
  binary    the binary's own time from its report: init + first + (warmup-1)*avg + repeats*avg
  edgekit   wall - shell: what edgekit adds around the run
  ratio     (wall - binary) / binary, the issue's figure: everything that is not the model running

The virtual device's binary is a Python launcher that imports Paddle Lite before it runs, so
"shell - binary" is mostly that start-up, which a phone's native benchmark_bin does not pay.

    .venv/bin/python benchmarks/bench_overhead.py [--models A B ...] [--warmup 10] [--repeats 30]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from edgekit.bench.runner import BenchOptions, bench_models
from edgekit.convert import convert_model
from edgekit.device import connect_device, disconnect_device
from edgekit.device.servers import private_server
from edgekit.device.emulator import VirtualDevice
from edgekit.workspace import Workspace

DEFAULT_MODELS = ("ShuffleNetV2_x0_25", "MobileNetV3_small_x0_35", "MobileNetV1_x0_25")


def binary_ms(latency: dict, warmup: int, repeats: int) -> float:
    """The binary's own inference time, from what it reports (warm-up runs taken at avg)."""
    first = latency.get("first_ms") or latency["avg_ms"]
    warm_rest = max(warmup - 1, 0) * latency["avg_ms"]
    measured = repeats * latency["avg_ms"] if warmup > 0 else (repeats - 1) * latency["avg_ms"]
    return (latency.get("init_ms") or 0.0) + first + warm_rest + measured


def measure(models: list[str], warmup: int, repeats: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgekit-overhead-") as tmp, private_server() as server, \
            VirtualDevice("sd855") as device:
        workspace = Workspace.open(Path(tmp) / "ws")
        connect_device(device.address, server)
        try:
            for model in models:
                convert_model(model, workspace, target="x86")  # not timed
                for attempt in ("first (pushes)", "second (unchanged)"):
                    rows.append(one_run(model, attempt, workspace, server, device.serial, warmup, repeats))
        finally:
            disconnect_device(device.address, server)
    return rows


def one_run(model: str, attempt: str, workspace: Workspace, server: str, serial: str, warmup: int,
            repeats: int) -> dict:
    start = time.perf_counter()
    outcome = bench_models([model], workspace, serial=serial, adb_servers=[server],
                           settings={"warmup": warmup, "repeats": repeats}, options=BenchOptions())
    wall_ms = (time.perf_counter() - start) * 1000
    outcome.raise_for_failures()
    (record,) = outcome.records
    timings = record.extra["timings"]
    own_ms = binary_ms(record.latency, warmup, repeats)
    shell_ms = timings["run_s"] * 1000
    return {"model": model, "run": attempt, "pushed": timings["nb_pushed"] or timings["bin_pushed"],
            "wall_ms": wall_ms, "push_ms": timings["push_s"] * 1000, "shell_ms": shell_ms, "binary_ms": own_ms,
            "avg_ms": record.latency["avg_ms"], "edgekit_ms": wall_ms - shell_ms,
            "ratio": (wall_ms - own_ms) / own_ms}


def print_table(rows: list[dict]) -> None:
    header = (f"{'model':<28} {'run':<19} {'pushed':>6} {'wall':>8} {'push':>7} {'shell':>8} {'binary':>8} "
              f"{'edgekit':>8} {'ratio':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['model']:<28} {r['run']:<19} {str(r['pushed']):>6} {r['wall_ms']:8.0f} {r['push_ms']:7.0f} "
              f"{r['shell_ms']:8.0f} {r['binary_ms']:8.0f} {r['edgekit_ms']:8.0f} {r['ratio']:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    rows = measure(args.models, args.warmup, args.repeats)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"warmup {args.warmup}, repeats {args.repeats}; times in ms")
        print_table(rows)


if __name__ == "__main__":
    main()
