"""Devices: profiles (``opt_configs/devices.yaml``), the adb facade over adbutils, and the virtual
device (``edgekit.device.emulator``, imported on its own).

The names below are loaded on first use, so that ``edgekit.device.profiles`` (read by
``results import`` and ``report``) does not pay for adbutils.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_SOURCES = {
    "edgekit.device.adb": ("Device", "DeviceInfo", "RemoteStat", "ServerSpec", "ShellResult", "connect_device",
                           "default_server", "disconnect_device", "list_devices", "load_devices_file",
                           "parse_server", "quote_command", "select_device", "select_devices"),
    "edgekit.device.profiles": ("CoreCluster", "DeviceProfile", "list_profiles", "load_profile", "match_profile"),
}
_MODULE_OF = {name: module for module, names in _SOURCES.items() for name in names}

__all__ = sorted(_MODULE_OF)

if TYPE_CHECKING:
    from edgekit.device.adb import (Device, DeviceInfo, RemoteStat, ServerSpec, ShellResult, connect_device,
                                    default_server, disconnect_device, list_devices, load_devices_file,
                                    parse_server, quote_command, select_device, select_devices)
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
