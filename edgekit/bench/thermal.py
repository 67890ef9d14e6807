"""A device's thermal state around each run: snapshots (thermal zones, each CPU's current and
maximum frequency) before and after, warnings when it was hot or throttled, and ``--cooldown-temp``:
waiting, within a time limit, until the hottest zone is below a temperature.

The readings come from the device layer (``Device.thermal_snapshot``, sysfs over adb). A device
that does not let adb read them (some phones hide /sys/class/thermal) gives a snapshot with an
error, never a failed run.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, Optional

from edgekit.errors import DeviceError, DeviceLostError

if TYPE_CHECKING:
    from edgekit.device import Device

HOT_C = 65.0  # a zone this hot means the SoC is near its throttling points: the figures may be slow
COOLDOWN_POLL_S = 2.0


def snapshot(device: "Device", timeout_s: Optional[float]) -> dict:
    """The device's thermal state as stored in a record (``{"error": ...}`` when unreadable)."""
    try:
        return device.thermal_snapshot(timeout=timeout_s).to_dict()
    except DeviceLostError:
        raise
    except DeviceError as error:
        return {"error": str(error)}


def hottest(state: Optional[dict]) -> Optional[float]:
    return (state or {}).get("hottest_c")


def warnings_for(state: Optional[dict], when: str, where: str, *, cooldown_temp_c: Optional[float] = None) -> list[str]:
    """What a reader of the result should know about ``state`` (taken ``when``, on ``where``); the
    advice to use --cooldown-temp only to those who did not (``cooldown_temp_c``)."""
    if not state or "error" in state:
        return []
    found = []
    if state.get("throttled"):
        found.append(f"{where}: CPU frequency capped (throttled) {when} the run; its latency is slower than "
                     f"the device can do")
    temperature = hottest(state)
    if temperature is not None and temperature >= HOT_C:
        advice = "; --cooldown-temp waits until the device is cooler" if cooldown_temp_c is None else ""
        found.append(f"{where}: {temperature:.1f} °C {when} the run (hot; {HOT_C:g} °C and above){advice}")
    return found


def wait_until_cool(device: "Device", limit_c: float, timeout_s: float, call_timeout_s: Optional[float], *,
                    on_wait: Optional[Callable[[str], None]] = None,
                    sleep: Callable[[float], None] = time.sleep) -> dict:
    """Poll until the hottest zone is below ``limit_c`` or ``timeout_s`` has passed; returns
    {"limit_c", "waited_s", "reached", "hottest_c"} for the record."""
    started = time.monotonic()
    told = False
    while True:
        state = snapshot(device, call_timeout_s)
        temperature = hottest(state)
        waited = time.monotonic() - started
        if temperature is None:  # nothing to wait for: the device gives no temperature
            return {"limit_c": limit_c, "waited_s": waited, "reached": None, "hottest_c": None,
                    "error": state.get("error", "no thermal zone")}
        if temperature < limit_c:
            return {"limit_c": limit_c, "waited_s": waited, "reached": True, "hottest_c": temperature}
        if waited >= timeout_s:
            return {"limit_c": limit_c, "waited_s": waited, "reached": False, "hottest_c": temperature}
        if on_wait is not None and not told:
            on_wait(f"{device.serial} is at {temperature:.1f} °C; waiting until it is below {limit_c:g} °C "
                    f"(at most {timeout_s:g} s)")
            told = True
        sleep(min(COOLDOWN_POLL_S, max(0.0, timeout_s - waited)))
