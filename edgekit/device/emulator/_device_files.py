"""What the virtual device says it is: its properties, and the files that describe its CPU.

Properties come from the device profile (board platform, SoC, Android version), except the ABI:
``ro.product.cpu.abi`` is the host's, because the device's benchmark binary runs on the host and
so runs x86 ``.nb`` files on an x86_64 host. ``getprop`` is a small shell script in the sandbox's
``/system/bin`` that reads ``/system/build.prop`` (``sh`` there is a link to the host's);
``/proc/cpuinfo`` and ``/sys/devices/system/cpu`` (possible/present/online, per-core
``cpuinfo_max_freq``) follow the profile's core clusters, as Paddle Lite reads them to tell big
cores from little ones.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Sequence

from edgekit.device.profiles import DeviceProfile
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
    freqs = [cluster.max_freq_khz for cluster in profile.cores for _ in range(cluster.count)]
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
            atomic_write_text(cpu_dir / f"cpu{index}/cpufreq/cpuinfo_max_freq", f"{khz}\n")
