"""edgekit's virtual device: an adbd over TCP that the real adb server accepts with ``adb connect``.

It speaks the adb wire protocol (CNXN without AUTH, OPEN/OKAY/WRTE/CLSE with adb's flow control),
offers the shell (v1 and shell_v2) and sync services, reports a device profile's properties, and
keeps its file system in a sandbox folder (see ``_sandbox`` for the mapping and its limits).
Shell commands run on the host: its "benchmark binary" (``host_benchmark_bin``) is a host runner
for x86 ``.nb`` files with the flags and output of Paddle Lite's benchmark tool.

    with VirtualDevice("sd855") as vd:
        connect_device(vd.address, "127.0.0.1:5037")
        ...
"""

from __future__ import annotations

import errno
import logging
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Mapping, Optional, Sequence

from edgekit.device.emulator import _device_files
from edgekit.device.emulator._adbd import Adbd
from edgekit.device.emulator._sandbox import Sandbox
from edgekit.device.profiles import DeviceProfile, load_profile
from edgekit.errors import UsageError
from edgekit.workspace import atomic_write_text

__all__ = ["VirtualDevice", "host_benchmark_bin", "LOOPBACK"]

log = logging.getLogger(__name__)
LOOPBACK = "127.0.0.1"


class VirtualDevice:
    """A running virtual device (its adbd serves in background threads of this process)."""

    def __init__(self, profile: str = "sd855", *, port: int = 0, sandbox: Optional[Path] = None,
                 host: str = LOOPBACK, serial: Optional[str] = None,
                 features: Optional[Sequence[str]] = None, props: Optional[Mapping[str, str]] = None):
        """``features``: what adbd advertises (default: all it implements); fewer make it look
        like an older Android, e.g. without shell_v2 (before Android 7). ``props``: system
        properties to set, or with "" to remove (``{"ro.edgekit.virtual": ""}`` plays a device
        that is not edgekit's, ``{"ro.product.cpu.abi": "arm64-v8a"}`` an ARM one)."""
        self.profile: DeviceProfile = load_profile(profile)
        unknown = set(features or ()) - set(_device_files.FEATURES)
        if unknown:
            raise UsageError(f"the virtual device does not implement {', '.join(sorted(unknown))} "
                             f"(it has {', '.join(_device_files.FEATURES)})")
        if not 0 <= port <= 65535:
            raise UsageError(f"port {port} is out of range (0-65535; 0 picks a free one)")
        if sandbox is not None:
            Sandbox(Path(sandbox))  # UsageError for a path it cannot use, before anything is created
        if host not in (LOOPBACK, "localhost", "::1"):
            log.warning("virtual device listens on %s: anyone who reaches it can run commands on this host", host)
        self._owns_sandbox = sandbox is None
        root = Path(sandbox) if sandbox is not None else Path(tempfile.mkdtemp(prefix="edgekit-vd-"))
        try:
            root.mkdir(parents=True, exist_ok=True)
            self._sandbox = Sandbox(root)
            banner = _device_files.banner(_device_files.properties(self.profile, ""),
                                          _device_files.FEATURES if features is None else tuple(features))
            self._adbd = _listen(self._sandbox, banner, host, port)
            self.host = host
            self.port = self._adbd.port
            self.serial: str = serial or f"edgekit-{self.profile.name}-{self.port}"
            self.properties = _device_files.properties(self.profile, self.serial)
            self.properties.update(props or {})
            self.properties = {k: v for k, v in self.properties.items() if v != ""}
            _device_files.populate(self._sandbox.root, self.profile, self.properties)
        except BaseException:
            if hasattr(self, "_adbd"):
                self._adbd.stop()
            if self._owns_sandbox:
                shutil.rmtree(root, ignore_errors=True)  # a failed start leaves no empty folder behind
            raise
        self._running = False

    @property
    def address(self) -> str:
        """What ``adb connect`` takes."""
        connect_host = LOOPBACK if self.host in ("0.0.0.0", "") else self.host
        return f"[{connect_host}]:{self.port}" if ":" in connect_host else f"{connect_host}:{self.port}"

    @property
    def sandbox(self) -> Path:
        return self._sandbox.root

    def host_path(self, device_path: str) -> Path:
        """Where a device path lives on the host (confined to the sandbox)."""
        return self._sandbox.host_path(device_path)

    def set_thermal(self, *, zone_temps: Optional[Mapping[str, float]] = None,
                    cpu_max_khz: Optional[Mapping[int, int]] = None,
                    cpu_cur_khz: Optional[Mapping[int, int]] = None) -> None:
        """Change what the device's sysfs reports: thermal zones' temperatures in °C by zone type
        (``{"cpu7-gold-usr": 85.0}``; a new type adds a zone), CPUs' allowed maximum clock
        (``scaling_max_freq``, kHz; below ``cpuinfo_max_freq`` means throttled) and current clock."""
        _device_files.set_thermal(self._sandbox.root, zone_temps, cpu_max_khz, cpu_cur_khz)

    def pause(self) -> None:
        """Stop answering, keeping the connections open: a hung device (adbd stalls, the adb
        server still lists it online). ``resume()`` answers again."""
        self._adbd.pause()

    def resume(self) -> None:
        self._adbd.resume()

    def start(self) -> "VirtualDevice":
        if not self._running:
            self._adbd.start()
            self._running = True
        return self

    def stop(self) -> None:
        """Stop serving: connections drop, and the adb server sees the device disappear."""
        if self._running:
            self._adbd.stop()
            self._running = False

    def close(self) -> None:
        self.stop()
        if self._owns_sandbox:
            shutil.rmtree(self._sandbox.root, ignore_errors=True)

    def __enter__(self) -> "VirtualDevice":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"VirtualDevice({self.profile.name!r}, address={self.address!r}, serial={self.serial!r})"


def _listen(sandbox: Sandbox, banner: bytes, host: str, port: int) -> Adbd:
    """The adbd, listening; UsageError naming the address when it cannot be had."""
    try:
        return Adbd(sandbox, banner, host=host, port=port)
    except OSError as e:
        hint = ("; another virtual device or emulator may hold it (--port 0 picks a free one)"
                if e.errno == errno.EADDRINUSE else "")
        reason = str(e.strerror or e).split(" (while attempting to bind", 1)[0]  # socket.create_server's addition
        raise UsageError(f"the virtual device cannot listen on {host}:{port}: {reason}{hint}") from None


LAUNCHER = """#!/bin/sh
# The edgekit virtual device's benchmark binary: Paddle Lite's benchmark_bin flags and output,
# running x86 .nb files on the host with the installed edgekit (edgekit.device.emulator.benchmark_runner).
exec {python} -m edgekit.device.emulator.benchmark_runner "$@"
"""


def host_benchmark_bin(dest: Path) -> Path:
    """Write the virtual device's benchmark binary (an executable launcher for the host runner
    with this interpreter) to ``dest`` (a file, or a folder to hold ``benchmark_bin``)."""
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / "benchmark_bin"
    atomic_write_text(dest, LAUNCHER.format(python=shlex.quote(sys.executable)))
    os.chmod(dest, 0o755)
    return dest
