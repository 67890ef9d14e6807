"""Which devices there are: one or several adb servers read, each device listed once, what could
not be used reported beside what could.

``scan_devices`` reads every server given (``--adb-server``, a devices file; the default server
when none is), and returns the online devices and the problems: a server that cannot be reached,
a device that is not online (unauthorized, offline) or does not answer within the limit. One bad
server or device never hides the others. A device seen twice (``127.0.0.1:5555`` and the
server's own probe ``emulator-5554``) is listed once, by ``ro.serialno``.

Reading is free of side effects: the ``connect`` entries of a devices file are ``adb connect``-ed
only with ``connect=True`` (``edgekit devices --connect``). Only the default adb server is
started when it does not run (as the adb client does); see ``servers``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
from pathlib import Path
from typing import Optional, Sequence

from edgekit.device import _adb_protocol as proto
from edgekit.device.adb import DEFAULT_TIMEOUT_S, Device
from edgekit.device.profiles import load_profile
from edgekit.device.servers import ServerSpec, connect_device, ensure_server, server_specs
from edgekit.errors import DeviceError, DeviceLostError, DeviceNotFoundError, DeviceTimeoutError

__all__ = ["DeviceProblem", "DeviceScan", "scan_devices", "list_devices", "select_devices", "select_device"]

MAX_PARALLEL_READS = 8  # devices whose properties are read at the same time


@dataclasses.dataclass(frozen=True)
class DeviceProblem:
    """A server or device that could not be used, and why."""

    adb_server: str
    serial: Optional[str]  # None: the server itself
    state: str  # "unreachable" (server), the server's word ("unauthorized", "offline"), "no answer", "error"
    error: str

    def __str__(self) -> str:
        where = self.serial or f"adb server {self.adb_server}"
        return f"{where} ({self.state}): {self.error}" if self.error else f"{where} ({self.state})"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class DeviceScan:
    devices: list[Device]
    problems: list[DeviceProblem]
    not_connected: tuple[str, ...] = ()  # devices-file addresses left alone (connect=False)


def _read_server(spec: ServerSpec, connect: bool, timeout_s: float) -> tuple[list[Device], list[DeviceProblem]]:
    problems: list[DeviceProblem] = []
    try:
        host, port = ensure_server(spec.address)
    except DeviceError as e:
        return [], [DeviceProblem(spec.address, None, "unreachable", str(e))]
    if connect:
        for address in spec.connect:
            try:
                connect_device(address, spec.address, timeout=timeout_s)
            except DeviceError as e:
                problems.append(DeviceProblem(spec.address, address, "not connected", str(e)))
    try:
        states = proto.device_states(host, port, proto.Clock(timeout_s))
    except (proto.HostFailure, OSError, EOFError) as e:
        reason = "no answer" if isinstance(e, TimeoutError) else str(e) or type(e).__name__
        return [], problems + [DeviceProblem(spec.address, None, "unreachable",
                                             f"cannot list devices of adb server {spec.address}: {reason}")]
    online = []
    for serial, state in states:
        if state == "device":
            online.append(Device(serial, spec.address, timeout_s=timeout_s))
        else:
            problems.append(DeviceProblem(spec.address, serial, state, ""))
    return online, problems


def _check(device: Device) -> Optional[DeviceProblem]:
    """None when the device answered (its properties are then cached), else the problem."""
    try:
        device.info
    except DeviceLostError:
        return DeviceProblem(device.adb_server, device.serial, "gone", "")
    except DeviceTimeoutError as e:
        return DeviceProblem(device.adb_server, device.serial, "no answer", str(e))
    except DeviceError as e:
        return DeviceProblem(device.adb_server, device.serial, "error", str(e))
    return None


def scan_devices(adb_servers: Sequence[str] = (), *, devices_file: Optional[Path] = None, connect: bool = False,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> DeviceScan:
    """Online devices of the given adb servers, each once, and what could not be used."""
    specs = server_specs(adb_servers, devices_file)
    candidates: list[Device] = []
    problems: list[DeviceProblem] = []
    for spec in specs:
        devices, found_problems = _read_server(spec, connect, timeout_s)
        candidates += devices
        problems += found_problems
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(MAX_PARALLEL_READS, len(candidates)))) as pool:
        checks = list(pool.map(_check, candidates))
    devices: list[Device] = []
    by_serialno: dict[str, int] = {}
    for device, problem in zip(candidates, checks):
        if problem is not None:
            if problem.state != "gone":  # it went away between the listing and the question
                problems.append(problem)
            continue
        key = device.info.serialno
        if key in by_serialno:
            # The same device twice, e.g. the server's own probe of port 5555 (emulator-5554)
            # beside `adb connect 127.0.0.1:5555`: keep the address the user connected.
            index = by_serialno[key]
            if devices[index].serial.startswith("emulator-") and not device.serial.startswith("emulator-"):
                devices[index] = device
            continue
        by_serialno[key] = len(devices)
        devices.append(device)
    listed = {d.serial for d in candidates}
    not_connected = () if connect else tuple(a for s in specs for a in s.connect if a not in listed)
    return DeviceScan(devices, problems, not_connected)


def list_devices(adb_servers: Sequence[str] = (), *, devices_file: Optional[Path] = None, connect: bool = False,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> list[Device]:
    """The online devices of ``scan_devices``; DeviceError naming the problems only when there
    is no device and some server could not be read."""
    scan = scan_devices(adb_servers, devices_file=devices_file, connect=connect, timeout_s=timeout_s)
    unreachable = [p for p in scan.problems if p.serial is None]
    if not scan.devices and unreachable:
        raise DeviceError("; ".join(p.error for p in unreachable))
    return scan.devices


def _describe(device: Device) -> str:
    info = device.info
    return f"{device.serial} ({info.profile or 'no profile'}, {info.model or '?'})"


def select_devices(*, profile: Optional[str] = None, serial: Optional[str] = None, adb_servers: Sequence[str] = (),
                   devices_file: Optional[Path] = None, connect: bool = False,
                   timeout_s: float = DEFAULT_TIMEOUT_S) -> list[Device]:
    """Online devices matching the profile and/or the serial (default $ANDROID_SERIAL)."""
    if profile is not None:
        load_profile(profile)  # ConfigError naming the known profiles
    serial = serial or os.environ.get("ANDROID_SERIAL") or None
    scan = scan_devices(adb_servers, devices_file=devices_file, connect=connect, timeout_s=timeout_s)
    chosen = [d for d in scan.devices
              if (serial is None or serial in (d.serial, d.info.serialno))
              and (profile is None or d.info.profile == profile)]
    if not chosen:
        wanted = " and ".join(filter(None, [profile and f"profile {profile}", serial and f"serial {serial}"]))
        present = ", ".join(_describe(d) for d in scan.devices) or "none"
        extra = f"; not usable: {'; '.join(str(p) for p in scan.problems)}" if scan.problems else ""
        hint = (f"; the devices file lists {', '.join(scan.not_connected)} to connect, which edgekit does only "
                f"when asked: edgekit devices --connect (or adb connect ADDRESS)" if scan.not_connected else "")
        raise DeviceNotFoundError(f"no connected device matches {wanted or 'the selection'} "
                                  f"(connected: {present}{extra}){hint}")
    return chosen


def select_device(*, profile: Optional[str] = None, serial: Optional[str] = None, adb_servers: Sequence[str] = (),
                  devices_file: Optional[Path] = None, connect: bool = False,
                  timeout_s: float = DEFAULT_TIMEOUT_S) -> Device:
    """Exactly one matching device; several without a serial is an error naming them."""
    chosen = select_devices(profile=profile, serial=serial, adb_servers=adb_servers, devices_file=devices_file,
                            connect=connect, timeout_s=timeout_s)
    if len(chosen) > 1:
        names = ", ".join(_describe(d) for d in chosen)
        raise DeviceNotFoundError(f"{len(chosen)} devices match{' profile ' + profile if profile else ''}: "
                                  f"{names}; choose one with --serial")
    return chosen[0]
