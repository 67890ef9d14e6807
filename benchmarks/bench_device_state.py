"""What one device run per device at a time and thermal snapshots cost bench, on the virtual device.

Against a virtual sd855 behind a real adb server on a free loopback port, ``--times`` times each:
  lock       taking and releasing the device's lock (edgekit.device.lock: mkdir, owner file, rm)
  thermal    one thermal snapshot (zones and CPU clocks, one shell call); bench takes two per run
  shell      ``true`` in the device's shell, the floor of any device call

    .venv/bin/python benchmarks/bench_device_state.py [--times 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

from edgekit.device import connect_device, disconnect_device, select_device
from edgekit.device.emulator import VirtualDevice
from edgekit.device.lock import device_lock
from edgekit.device.servers import private_server


def timed(action: Callable[[], object], times: int) -> list[float]:
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def lock_once(device) -> None:
    with device_lock(device, "benchmarks/bench_device_state.py"):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--times", type=int, default=20)
    args = parser.parse_args()
    with private_server() as server, VirtualDevice("sd855") as virtual:
        connect_device(virtual.address, server)
        try:
            device = select_device(serial=virtual.serial, adb_servers=[server])
            device.info  # properties read once, outside the clock
            rows = {"lock (take + release)": timed(lambda: lock_once(device), args.times),
                    "thermal snapshot": timed(lambda: device.thermal_snapshot(timeout=30), args.times),
                    "shell true": timed(lambda: device.shell("true"), args.times)}
        finally:
            disconnect_device(virtual.address, server)
    print(f"{args.times} times each; milliseconds")
    print(f"{'call':<24} {'median':>8} {'min':>8} {'max':>8}")
    for name, samples in rows.items():
        print(f"{name:<24} {statistics.median(samples):8.1f} {min(samples):8.1f} {max(samples):8.1f}")


if __name__ == "__main__":
    main()
