"""What the virtual device says it is: its properties, and the files that describe its CPU.

Properties come from the device profile (board platform, SoC, Android version), except the ABI:
``ro.product.cpu.abi`` is the host's, because the device's benchmark binary runs on the host and
so runs x86 ``.nb`` files on an x86_64 host. ``getprop`` is a small shell script in the sandbox's
``/system/bin`` that reads ``/system/build.prop`` (``sh`` there is a link to the host's);
``/proc/cpuinfo`` and ``/sys/devices/system/cpu`` (possible/present/online, per-core
``cpufreq/{cpuinfo_max_freq,scaling_max_freq,scaling_cur_freq}``) follow the profile's core
clusters, as Paddle Lite reads them to tell big cores from little ones. ``/sys/class/thermal``
holds thermal zones named as on Qualcomm phones (``cpu0-silver-usr``, ``cpu4-gold-usr``,
``gpu-usr``, ``battery``, ``xo-therm``) at room-temperature values; ``set_thermal`` changes them
and the CPUs' allowed and current clocks (a hot, throttled phone for tests).
"""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path
from typing import Mapping, Optional, Sequence

from edgekit.device.profiles import DeviceProfile
from edgekit.errors import UsageError
from edgekit.workspace import atomic_write_text

# Linux machine names → Android ABI names.
HOST_ABIS = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64-v8a", "arm64": "arm64-v8a",
             "armv7l": "armeabi-v7a", "armv8l": "armeabi-v7a", "i686": "x86", "i386": "x86"}
FEATURES = ("shell_v2", "stat_v2", "ls_v2", "fixed_push_mkdir")

GETPROP_SCRIPT = r"""#!/bin/sh
# getprop of the edgekit virtual device: reads /system/build.prop of the device's sandbox.
props="$(dirname "$0")/../build.prop"
if [ $# -eq 0 ]; then
  sed -n 's/^\([^#=][^=]*\)=\(.*\)$/[\1]: [\2]/p' "$props"
  exit 0
fi
awk -v key="$1" -v fallback="${2-}" '
  index($0, key "=") == 1 { print substr($0, length(key) + 2); found = 1; exit }
  END { if (!found) print fallback }' "$props"
"""


def host_abi() -> str:
    machine = platform.machine().lower()
    return HOST_ABIS.get(machine, machine)


def core_count(profile: DeviceProfile) -> int:
    return profile.core_count or os.cpu_count() or 1


def properties(profile: DeviceProfile, serial: str) -> dict[str, str]:
    """The device's system properties."""
    product = f"edgekit_{profile.name}"
    model = f"edgekit virtual {profile.name}"
    abi = host_abi()
    props = {
        "ro.serialno": serial,
        "ro.boot.serialno": serial,
        "ro.product.name": product,
        "ro.product.device": product,
        "ro.product.model": model,
        "ro.product.brand": "edgekit",
        "ro.product.manufacturer": "edgekit",
        "ro.product.vendor.brand": "edgekit",
        "ro.product.vendor.device": product,
        "ro.product.vendor.model": model,
        "ro.product.board": profile.board_platform,
        "ro.board.platform": profile.board_platform,
        "ro.hardware": "qcom" if profile.board_platform else "edgekit",
        "ro.soc.manufacturer": "QTI" if profile.soc_model else "",
        "ro.soc.model": profile.soc_model,
        "ro.product.cpu.abi": abi,
        "ro.product.cpu.abilist": abi,
        "ro.build.version.release": profile.android_version,
        "ro.build.version.sdk": str(profile.sdk),
        "ro.build.type": "userdebug",
        "ro.build.characteristics": "default",
        "ro.debuggable": "1",
        "ro.secure": "0",
        "ro.adb.secure": "0",
        "sys.boot_completed": "1",
        "ro.edgekit.virtual": "1",
        "ro.edgekit.profile": profile.name,
    }
    return {k: v for k, v in props.items() if v != ""}


def banner(props: dict[str, str], features: Sequence[str] = FEATURES) -> bytes:
    """The CNXN identity: ``device::`` and the properties adb shows in ``adb devices -l``, then
    the features the device advertises."""
    keys = ("ro.product.name", "ro.product.model", "ro.product.device")
    fields = [f"{k}={props[k]}" for k in keys] + [f"features={','.join(features)}"]
    return ("device::" + ";".join(fields)).encode()


def _cpu_list(count: int) -> str:
    return "0" if count == 1 else f"0-{count - 1}"


def _core_freqs_khz(profile: DeviceProfile) -> list[int]:
    # Linux numbers a big.LITTLE phone's cores little cluster first (an SD855: cpu0-3 1.78 GHz,
    # cpu4-6 2.42 GHz, cpu7 2.84 GHz); the profile lists its clusters fastest first.
    freqs = [cluster.max_freq_khz for cluster in reversed(profile.cores) for _ in range(cluster.count)]
    return freqs or [0] * core_count(profile)


def _cpuinfo(profile: DeviceProfile) -> str:
    lines = []
    for index in range(core_count(profile)):
        lines += [f"processor\t: {index}", ""]
    if profile.soc_model:
        lines.append(f"Hardware\t: Qualcomm Technologies, Inc {profile.soc_model}")
    return "\n".join(lines) + "\n"


def populate(root: Path, profile: DeviceProfile, props: dict[str, str]) -> None:
    """Create the device's folders and system files in the sandbox (files are rewritten on each
    start; user files are left alone)."""
    for folder in ("data/local/tmp", "sdcard", "storage/emulated", "system/bin", "vendor", "proc"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    storage_link = root / "storage/emulated/0"
    if not storage_link.exists() and not storage_link.is_symlink():
        storage_link.symlink_to("../../sdcard")
    atomic_write_text(root / "system/build.prop", "".join(f"{k}={v}\n" for k, v in sorted(props.items())))
    getprop = root / "system/bin/getprop"
    atomic_write_text(getprop, GETPROP_SCRIPT)
    getprop.chmod(0o755)
    shell = root / "system/bin/sh"  # Android's shell is /system/bin/sh (scripts name it)
    if not shell.is_symlink() and not shell.exists():
        shell.symlink_to("/bin/sh")
    atomic_write_text(root / "proc/cpuinfo", _cpuinfo(profile))
    cpu_dir = root / "sys/devices/system/cpu"
    cpus = _cpu_list(core_count(profile))
    for name in ("possible", "present", "online"):
        atomic_write_text(cpu_dir / name, cpus + "\n")
    for index, khz in enumerate(_core_freqs_khz(profile)):
        if khz:
            for name in ("cpuinfo_max_freq", "scaling_max_freq", "scaling_cur_freq"):
                atomic_write_text(cpu_dir / f"cpu{index}/cpufreq/{name}", f"{khz}\n")
    thermal = root / THERMAL_DIR
    if thermal.is_dir():
        shutil.rmtree(thermal)  # the zones of this start's profile only
    for index, (name, celsius) in enumerate(_zones(profile)):
        _write_zone(root, index, name, celsius)


THERMAL_DIR = "sys/class/thermal"
ROOM_C = {"cpu": 36.0, "gpu-usr": 35.0, "battery": 29.5, "xo-therm": 31.0}


def _zones(profile: DeviceProfile) -> list[tuple[str, float]]:
    """(type, °C) of each thermal zone: one per CPU, named by its cluster as Qualcomm kernels do
    (the slowest cluster "silver", the others "gold"), then the GPU, the battery and the crystal."""
    freqs = _core_freqs_khz(profile)
    slowest = min(freqs) if freqs else 0
    zones = [(f"cpu{i}-{'silver' if khz == slowest else 'gold'}-usr", ROOM_C["cpu"] + 0.1 * i)
             for i, khz in enumerate(freqs)]
    return zones + [(name, ROOM_C[name]) for name in ("gpu-usr", "battery", "xo-therm")]


def _write_zone(root: Path, index: int, name: str, celsius: float) -> None:
    zone = root / THERMAL_DIR / f"thermal_zone{index}"
    atomic_write_text(zone / "type", f"{name}\n")
    atomic_write_text(zone / "temp", f"{round(celsius * 1000)}\n")  # millidegrees, as the kernel reports


def set_thermal(root: Path, zone_temps: Optional[Mapping[str, float]] = None,
                cpu_max_khz: Optional[Mapping[int, int]] = None, cpu_cur_khz: Optional[Mapping[int, int]] = None) -> None:
    """Set zones' temperatures (°C; a new name adds a zone), CPUs' allowed maximum clock
    (scaling_max_freq: below cpuinfo_max_freq is throttled) and current clock, in kHz."""
    thermal = root / THERMAL_DIR
    existing = {(zone / "type").read_text().strip(): zone for zone in sorted(thermal.glob("thermal_zone*"))}
    for name, celsius in (zone_temps or {}).items():
        if name in existing:
            atomic_write_text(existing[name] / "temp", f"{round(celsius * 1000)}\n")
        else:
            _write_zone(root, len(existing), name, celsius)
            existing[name] = thermal / f"thermal_zone{len(existing)}"
    cpu_dir = root / "sys/devices/system/cpu"
    for file_name, values in (("scaling_max_freq", cpu_max_khz), ("scaling_cur_freq", cpu_cur_khz)):
        for cpu, khz in (values or {}).items():
            folder = cpu_dir / f"cpu{cpu}/cpufreq"
            if not folder.is_dir():
                raise UsageError(f"the virtual device has no cpu{cpu}")
            atomic_write_text(folder / file_name, f"{int(khz)}\n")
