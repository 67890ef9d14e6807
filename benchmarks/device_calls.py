"""Cost of the device calls a bench run adds around each measurement, on the virtual device
(sd855) behind a private adb server: a thermal snapshot (one shell call), taking and releasing
the device lock, a sync stat, a 1 MiB push; and how long a listing takes when one device hangs
(bounded by the listing's timeout, the other devices still listed).

    .venv/bin/python benchmarks/device_calls.py [--calls 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

from edgekit.device import device_lock, scan_devices, select_device
from edgekit.device.adb import connect_device
from edgekit.device.emulator import VirtualDevice
from edgekit.device.servers import private_server


def per_call_ms(call: Callable[[], object], calls: int) -> tuple[float, float]:
    """(median, max) milliseconds over ``calls`` calls after 3 warm-up calls."""
    for _ in range(3):
        call()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    with private_server() as server, tempfile.TemporaryDirectory(prefix="edgekit-bench-") as tmp:
        payload = Path(tmp) / "payload.bin"
        payload.write_bytes(os.urandom(1 << 20))
        with VirtualDevice("sd855", sandbox=Path(tmp) / "a") as vd, \
                VirtualDevice("sd855", sandbox=Path(tmp) / "b") as hung:
            connect_device(vd.address, server)
            connect_device(hung.address, server)
            device = select_device(serial=vd.serial, adb_servers=[server])

            def lock_cycle() -> None:
                with device_lock(device, "benchmark"):
                    pass

            rows = {
                "thermal_snapshot()": lambda: device.thermal_snapshot(),
                "device_lock: take + release": lock_cycle,
                "stat (sync STAT)": lambda: device.stat("/data/local/tmp"),
                "push 1 MiB (no skip)": lambda: device.push(payload, "/data/local/tmp/p.bin", skip_unchanged=False),
            }
            print(f"{args.calls} calls each on the virtual device ({os.cpu_count()} CPUs, "
                  f"load {os.getloadavg()[0]:.2f}); per call, ms")
            print(f"{'call':32} {'median':>8} {'max':>8}")
            for name, call in rows.items():
                median, worst = per_call_ms(call, args.calls)
                print(f"{name:32} {median:8.2f} {worst:8.2f}")
            hung.pause()
            started = time.perf_counter()
            scan = scan_devices([server], timeout_s=2.0)
            took = time.perf_counter() - started
            hung.resume()
            print(f"listing with one hung device (timeout 2 s): {took:.2f} s, "
                  f"{len(scan.devices)} listed, problems: {[p.state for p in scan.problems]}")


if __name__ == "__main__":
    main()
