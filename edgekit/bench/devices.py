"""Which devices a ``bench`` call uses, what kind each is, which opt target and which benchmark
binary each needs; the binary is checked on the host (it exists, may run, is built for the
device's architecture) before anything is converted or pushed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

from edgekit.bench.results import KIND_OTHER, KIND_PHONE, KIND_VIRTUAL
from edgekit.errors import DeviceError, DeviceNotFoundError, InvalidInputError, MissingDependencyError, UsageError
from edgekit.workspace import Workspace

if TYPE_CHECKING:
    from edgekit.device import Device, DeviceProfile

BENCHMARK_BIN_ENV = "EDGEKIT_BENCHMARK_BIN"
HOST_BIN_NAME = "benchmark_bin"
# opt target (and the benchmark tool's --backend) for each Android ABI.
TARGET_FOR_ABI = {"arm64-v8a": "arm", "armeabi-v7a": "arm", "armeabi": "arm", "x86_64": "x86", "x86": "x86"}
# ELF e_machine values and the ABIs whose devices can run them.
_ELF_MACHINES = {0xB7: ("aarch64", {"arm64-v8a"}), 0x28: ("32-bit ARM", {"arm64-v8a", "armeabi-v7a", "armeabi"}),
                 0x3E: ("x86-64", {"x86_64"}), 0x03: ("x86", {"x86_64", "x86"})}
ARM_BUILD_HINT = ("the benchmark_bin Paddle Lite builds for Android armv8: "
                  "./lite/tools/build_android.sh --arch=armv8 --with_benchmark=ON full_publish, then "
                  "build.lite.android.armv8.*/lite/api/tools/benchmark/benchmark_bin")


def pick_devices(names: Sequence[str], profile: Optional[str], serial: Optional[str], adb_servers: Sequence[str],
                 devices_file: Optional[Path], *, device_timeout_s: Optional[float] = None) -> list["Device"]:
    from edgekit.device import select_devices

    if profile is None and serial is None and not os.environ.get("ANDROID_SERIAL"):
        raise UsageError("choose the device: --device PROFILE (e.g. sd855) or --serial SERIAL")
    limit = {} if device_timeout_s is None else {"timeout_s": device_timeout_s}
    # bench uses the devices: it connects the addresses a devices file lists (listing alone does not)
    devices = select_devices(profile=profile, serial=serial, adb_servers=adb_servers, devices_file=devices_file,
                             connect=devices_file is not None, **limit)
    if len(devices) > 1 and len(names) == 1:
        listed = ", ".join(f"{d.serial} ({d.info.model})" for d in devices)
        raise DeviceNotFoundError(f"{len(devices)} devices match ({listed}); pass --serial to choose one, "
                                  f"or name several models to spread them over the devices")
    return devices


def load_device_profile(name: Optional[str]) -> Optional["DeviceProfile"]:
    if not name:
        return None
    from edgekit.device.profiles import load_profile

    return load_profile(name)


def kind_of(device: "Device") -> str:
    """KIND_PHONE only for an ARM Android device that is not edgekit's virtual device;
    KIND_VIRTUAL for that one; KIND_OTHER for anything else (an x86_64 Android device)."""
    info = device.info
    if info.virtual:
        return KIND_VIRTUAL
    return KIND_PHONE if device.is_phone else KIND_OTHER


def target_for(device: "Device") -> str:
    target = TARGET_FOR_ABI.get(device.info.abi)
    if target is None:
        raise DeviceError(f"device {device.serial} reports ABI {device.info.abi!r}, for which edgekit knows "
                          f"no Paddle Lite target (known: {', '.join(sorted(TARGET_FOR_ABI))})")
    return target


def benchmark_bin(device: "Device", given: Optional[Path], workspace: Workspace) -> Path:
    """--benchmark-bin, else $EDGEKIT_BENCHMARK_BIN, else the virtual device's host runner;
    checked for this device (InvalidInputError before anything is converted or pushed)."""
    chosen = given or os.environ.get(BENCHMARK_BIN_ENV)
    if chosen:
        path = Path(chosen).expanduser()
        check_benchmark_bin(path, device)
        return path
    if device.info.virtual:
        from edgekit.device.emulator import host_benchmark_bin

        return host_benchmark_bin(workspace.cache_dir / "bench" / HOST_BIN_NAME)
    raise MissingDependencyError(f"no benchmark binary for {device.serial} ({device.info.model}, ABI "
                                 f"{device.info.abi or '?'}): pass --benchmark-bin or set {BENCHMARK_BIN_ENV} "
                                 f"to {_build_hint(device.info.abi)}")


def _build_hint(abi: str) -> str:
    if TARGET_FOR_ABI.get(abi) == "arm":
        return ARM_BUILD_HINT
    return (f"a benchmark_bin cross-built for Android {abi or 'of this ABI'} (Paddle Lite's build_android.sh "
            f"makes ARM builds only); results of such a device are not a phone's and are not compared "
            f"with the seed's Snapdragon figures")


def check_benchmark_bin(path: Path, device: "Device") -> None:
    """The file exists, may be run, and is a script or an ELF the device's ABI can run."""
    if not path.is_file():
        raise InvalidInputError(f"benchmark binary {path} does not exist")
    if not os.access(path, os.X_OK):
        raise InvalidInputError(f"benchmark binary {path} is not executable (chmod +x {path}); it would be "
                                f"pushed with its mode bits and the device could not run it")
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError as e:
        raise InvalidInputError(f"cannot read benchmark binary {path}: {e.strerror}") from None
    if head.startswith(b"#!"):
        return  # a script (the virtual device's launcher, a wrapper): the device's shell runs it
    if not head.startswith(b"\x7fELF") or len(head) < 20:
        raise InvalidInputError(f"benchmark binary {path} is neither an ELF executable nor a script")
    machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
    arch, abis = _ELF_MACHINES.get(machine, (f"machine {machine:#x}", set()))
    abi = device.info.abi
    if abi and abi not in abis:
        raise InvalidInputError(f"benchmark binary {path} is built for {arch}, which device {device.serial} "
                                f"(ABI {abi}) cannot run; it needs {_build_hint(abi)}")
