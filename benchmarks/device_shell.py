"""Cost of one ``shell`` call on the virtual device, through edgekit's device layer and, for
comparison, through adbutils and the ``adb`` command-line client.

A real adb server is started on a free loopback port (killed at the end) and a virtual device
(profile sd855) is connected to it with ``adb connect``. Each way runs the same command N times
(default 100, after 5 warm-up calls); printed: total seconds and per-call milliseconds (mean,
median, p90, min, max).

  edgekit    Device.shell("echo ok"): shell_v2 (exit code, separate stderr) over edgekit's own
             host-protocol client (device/_adb_protocol.py: host:transport + shell,v2,raw:),
             closing stdin, with a deadline on every wait
  adbutils   AdbDevice.shell2("echo ok", v2=True) (a test extra: an independent client)
  adb        `adb -P PORT -s SERIAL shell echo ok`, one client process per call

    .venv/bin/python benchmarks/device_shell.py [--calls 100] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

from edgekit.device import select_device
from edgekit.device.adb import connect_device, disconnect_device, parse_server
from edgekit.device.emulator import VirtualDevice
from edgekit.device.servers import private_server

COMMAND = "echo ok"
WARMUP = 5


def time_calls(call: Callable[[], None], calls: int) -> list[float]:
    for _ in range(WARMUP):
        call()
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "calls": len(samples),
        "total_s": round(sum(samples) / 1000.0, 3),
        "mean_ms": round(statistics.fmean(samples), 2),
        "median_ms": round(statistics.median(samples), 2),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
        "min_ms": round(ordered[0], 2),
        "max_ms": round(ordered[-1], 2),
    }


def measure(calls: int) -> dict:
    import adbutils

    results = {}
    # a private server: no emulator port probing, only our device is on it
    with private_server() as server, tempfile.TemporaryDirectory(prefix="edgekit-bench-") as tmp:
        port = parse_server(server)[1]
        with VirtualDevice("sd855", sandbox=Path(tmp) / "device") as vd:
            connect_device(vd.address, server)
            try:
                device = select_device(serial=vd.serial, adb_servers=[server])

                def edgekit_call() -> None:
                    assert device.shell(COMMAND).stdout == "ok\n"

                raw = adbutils.AdbClient(host="127.0.0.1", port=port).device(serial=vd.address)

                def adbutils_call() -> None:
                    assert raw.shell2(COMMAND, v2=True).stdout == "ok\n"

                adb = shutil.which("adb")

                def cli_call() -> None:
                    out = subprocess.run([adb, "-P", str(port), "-s", vd.address, "shell", COMMAND],
                                         capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout
                    assert out == "ok\n"

                for name, call in (("edgekit", edgekit_call), ("adbutils", adbutils_call), ("adb", cli_call)):
                    results[name] = summary(time_calls(call, calls))
            finally:
                disconnect_device(vd.address, server)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    results = measure(args.calls)
    machine = {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
               "python": platform.python_version(), "command": COMMAND}
    if args.json:
        print(json.dumps({"machine": machine, "results": results}, indent=2))
        return
    print(f"{args.calls} x shell {COMMAND!r} on the virtual device "
          f"({machine['cpus']} CPUs, load {machine['load_avg_1m']})")
    print(f"{'way':<9} {'total s':>8} {'mean ms':>8} {'median':>8} {'p90':>8} {'min':>8} {'max':>8}")
    for name, r in results.items():
        print(f"{name:<9} {r['total_s']:>8.3f} {r['mean_ms']:>8.2f} {r['median_ms']:>8.2f} {r['p90_ms']:>8.2f} "
              f"{r['min_ms']:>8.2f} {r['max_ms']:>8.2f}")


if __name__ == "__main__":
    main()
