"""Devices: profiles (``opt_configs/devices.yaml``), the adb facade (``Device``), discovery, the
lock held on a device, its thermal state, and the virtual device (``edgekit.device.emulator``,
imported on its own).

The names below are loaded on first use, so that ``edgekit.device.profiles`` (read by
``results import`` and ``report``) does not pay for the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_SOURCES = {
    "edgekit.device.adb": ("DEFAULT_TIMEOUT_S", "Device", "DeviceInfo", "RemoteStat", "ServerSpec", "ShellResult",
                           "connect_device", "default_server", "disconnect_device", "load_devices_file",
                           "parse_server", "quote_command"),
    "edgekit.device.discovery": ("DeviceProblem", "DeviceScan", "list_devices", "scan_devices", "select_device",
                                 "select_devices"),
    "edgekit.device.lock": ("LockInfo", "device_lock", "read_lock"),
    "edgekit.device.thermal": ("CpuFreq", "ThermalSnapshot"),
    "edgekit.device.profiles": ("CoreCluster", "DeviceProfile", "list_profiles", "load_profile", "match_profile"),
}
_MODULE_OF = {name: module for module, names in _SOURCES.items() for name in names}

__all__ = sorted(_MODULE_OF)

if TYPE_CHECKING:
    from edgekit.device.adb import (DEFAULT_TIMEOUT_S, Device, DeviceInfo, RemoteStat, ServerSpec, ShellResult,
                                    connect_device, default_server, disconnect_device, load_devices_file,
                                    parse_server, quote_command)
    from edgekit.device.discovery import (DeviceProblem, DeviceScan, list_devices, scan_devices, select_device,
                                          select_devices)
    from edgekit.device.lock import LockInfo, device_lock, read_lock
    from edgekit.device.thermal import CpuFreq, ThermalSnapshot
    from edgekit.device.profiles import CoreCluster, DeviceProfile, list_profiles, load_profile, match_profile


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'edgekit.device' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
