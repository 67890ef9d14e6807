"""Devices: profiles (``opt_configs/devices.yaml``), the adb facade over adbutils, and the virtual
device (``edgekit.device.emulator``, imported on its own)."""

from edgekit.device.adb import (Device, DeviceInfo, RemoteStat, ServerSpec, ShellResult, connect_device,
                                default_server, disconnect_device, list_devices, load_devices_file,
                                parse_server, quote_command, select_device, select_devices)
from edgekit.device.profiles import CoreCluster, DeviceProfile, list_profiles, load_profile, match_profile

__all__ = [
    "CoreCluster", "Device", "DeviceInfo", "DeviceProfile", "RemoteStat", "ServerSpec", "ShellResult",
    "connect_device", "default_server", "disconnect_device", "list_devices", "list_profiles",
    "load_devices_file", "load_profile", "match_profile", "parse_server", "quote_command",
    "select_device", "select_devices",
]
