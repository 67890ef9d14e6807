"""The adb facade: ``Device``, one device behind an adb server, in edgekit's types and errors.

``shell`` returns (returncode, stdout, stderr) through the shell protocol v2 when the device has
it; ``push`` skips files whose sha256 the device already has and keeps mode bits; ``pull`` is
atomic on the host. The wire work is ``_adb_protocol``'s; discovery (which devices, on which
servers) is ``discovery``'s, whose names this module re-exports.

Every call is bounded in time: ``timeout`` of the call, else the device's ``timeout_s``
(DEFAULT_TIMEOUT_S unless given). For shell commands it is the command's whole run; for file
transfers it bounds each wait for the device (no progress for that long), so a big file on a slow
link is not cut off while a stalled device is. Past it: ``DeviceTimeoutError``.

Every failure becomes an ``edgekit.errors.DeviceError`` subclass: a device that disappears
mid-command is a ``DeviceLostError`` naming its serial (lost is the adb server's word: it no
longer lists the device online), a command past its limit a ``DeviceTimeoutError``, an adb
server that went away a plain ``DeviceError`` naming it (edgekit never starts one behind the
user's back; see ``servers``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shlex
import socket
import stat as stat_module
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Mapping, Optional, Sequence, Union

from edgekit.device import _adb_protocol as proto
from edgekit.device.profiles import load_profile, match_profile
from edgekit.device.servers import (ServerSpec, adb_executable, connect_device, default_server, disconnect_device,
                                    ensure_server, format_server, load_devices_file, parse_server, server_running,
                                    start_server)
from edgekit.errors import DeviceError, DeviceLostError, DeviceTimeoutError, InvalidInputError
from edgekit.workspace import sha256_file

if TYPE_CHECKING:
    from edgekit.device.thermal import ThermalSnapshot

__all__ = [
    "DEFAULT_TIMEOUT_S", "Device", "DeviceInfo", "DeviceProblem", "DeviceScan", "RemoteStat", "ShellResult",
    "ServerSpec", "adb_executable", "connect_device", "default_server", "disconnect_device", "ensure_server",
    "format_server", "list_devices", "load_devices_file", "parse_server", "quote_command", "scan_devices",
    "select_device", "select_devices", "server_running", "start_server",
]

DEFAULT_TIMEOUT_S = 60.0  # a device call's limit unless the caller gives one
SYNC_DATA_MAX = proto.SYNC_DATA_MAX
V1_EXIT_MARKER = "EDGEKIT_EXIT_CODE:"
# The wrapper's own status line: the last one wins (the command may print the marker too), and
# output after it (a background job still writing) stays output.
_V1_STATUS_LINE = re.compile(re.escape(V1_EXIT_MARKER).encode() + rb"(\d{1,3})\r?\n")
# After a broken stream, how long the adb server may take to notice that the device is gone.
LOST_CHECK_S = 2.0
SERVER_QUERY_S = 5.0  # the limit of a question to the adb server (is the device still listed?)

CommandLike = Union[str, Sequence[str]]


@dataclasses.dataclass(frozen=True)
class ShellResult:
    command: str
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    serial: str  # the adb serial (what `adb -s` takes): "R58M...", "127.0.0.1:5555"
    adb_server: str  # "127.0.0.1:5037"
    model: str
    manufacturer: str
    board: str  # ro.board.platform
    soc: str
    abi: str
    cores: int
    android_version: str
    sdk: int
    profile: Optional[str]
    virtual: bool  # edgekit's virtual device (it sets ro.edgekit.virtual=1)
    serialno: str = ""  # ro.serialno: the same for every way the device is reached

    @property
    def is_phone(self) -> bool:
        """An ARM Android device (ro.product.cpu.abi arm*) that is not edgekit's virtual device:
        the only kind whose latency compares with the seed's Snapdragon figures."""
        return self.abi.startswith("arm") and not self.virtual

    @property
    def kind(self) -> str:
        """"phone", "virtual" (edgekit's virtual device) or "other" (an x86 emulator, a TV box...)."""
        return "phone" if self.is_phone else "virtual" if self.virtual else "other"

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "kind": self.kind}


@dataclasses.dataclass(frozen=True)
class RemoteStat:
    path: str
    mode: int
    size: int
    mtime: int

    @property
    def is_dir(self) -> bool:
        return stat_module.S_ISDIR(self.mode)

    @property
    def is_file(self) -> bool:
        return stat_module.S_ISREG(self.mode)


def quote_command(command: CommandLike) -> str:
    """One shell command line: a string as it is, a sequence quoted argument by argument."""
    if isinstance(command, str):
        return command
    return " ".join(shlex.quote(str(arg)) for arg in command)


def _parse_getprop(text: str) -> dict[str, str]:
    props = {}
    for line in text.splitlines():
        match = re.match(r"^\[(.+?)\]: \[(.*)\]\s*$", line)
        if match:
            props[match.group(1)] = match.group(2)
    return props


def _count_cpus(possible: str) -> int:
    """Cores in a kernel CPU list such as ``0-7`` or ``0-3,6``."""
    total = 0
    for part in possible.strip().split(","):
        bounds = part.split("-")
        if not part or not all(b.strip().isdigit() for b in bounds):
            continue
        total += int(bounds[-1]) - int(bounds[0]) + 1
    return total


class Device:
    """One device behind an adb server. Methods open their own connections, so a Device may be
    used from several threads; properties are read once and cached."""

    def __init__(self, serial: str, adb_server: str, *, timeout_s: float = DEFAULT_TIMEOUT_S):
        self.serial = serial
        self.adb_server = adb_server
        self._host, self._port = parse_server(adb_server)
        self.timeout_s = timeout_s  # the limit of a call that names none
        self._props: Optional[dict[str, str]] = None
        self._cpus = 0
        self._features: Optional[frozenset[str]] = None
        self._info: Optional[DeviceInfo] = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Device({self.serial!r} via {self.adb_server})"

    def _limit(self, timeout: Optional[float]) -> float:
        return self.timeout_s if timeout is None else timeout

    # -- errors ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, action: str, limit_s: float) -> Iterator[None]:
        """Translate protocol and socket failures of ``action`` into DeviceError subclasses."""
        try:
            yield
        except socket.timeout:
            raise DeviceTimeoutError(f"{action} on {self.serial}: no answer within {limit_s:g} s") from None
        except proto.ServerUnreachable:
            raise DeviceError(f"adb server {self.adb_server} went away during {action} on {self.serial} "
                              f"(edgekit does not restart it)") from None
        except proto.SyncFailure as e:
            raise DeviceError(f"{action} on {self.serial} failed: {e}") from None
        except proto.HostFailure as e:
            raise self._classify(action, str(e)) from None
        except (EOFError, ConnectionError) as e:
            raise self._classify(action, str(e) or "stream closed", broken_stream=True) from None
        except OSError as e:
            raise self._classify(action, str(e)) from None

    def _classify(self, action: str, message: str, *, broken_stream: bool = False) -> DeviceError:
        """Lost or not is the adb server's word (is the device still listed online?), never
        words in a message, which may quote the user's path ("closed_models/m.nb")."""
        if not server_running(self._host, self._port):
            return DeviceError(f"adb server {self.adb_server} went away during {action} on {self.serial}")
        state = self._server_state(wait_s=LOST_CHECK_S if broken_stream else 0.0)
        if state != "device":
            return DeviceLostError(f"device {self.serial} disappeared during {action} "
                                   f"(adb server says: {state or 'not connected'}; {message.strip()})")
        return DeviceError(f"{action} on {self.serial} failed: {message.strip()}")

    def _server_state(self, wait_s: float = 0.0) -> Optional[str]:
        """The device's state in the server's list, None when it is not listed. With ``wait_s``,
        an online answer is asked again until then: after a transport breaks, the server needs
        a moment to drop the device."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                states = dict(proto.device_states(self._host, self._port, proto.Clock(SERVER_QUERY_S)))
            except (proto.HostFailure, OSError, EOFError):
                return None
            state = states.get(self.serial)
            if state != "device" or time.monotonic() >= deadline:
                return state
            time.sleep(0.1)

    def _open(self, service: str, clock: proto.Clock) -> proto.HostConnection:
        return proto.open_service(self._host, self._port, self.serial, service, clock)

    # -- properties -------------------------------------------------------------------

    def _load_props(self) -> dict[str, str]:
        with self._lock:
            if self._props is None:
                # One round trip for every property and the CPU list.
                result = self.shell("getprop; echo EDGEKIT_CPUS; cat /sys/devices/system/cpu/possible")
                head, _, cpus = result.stdout.partition("EDGEKIT_CPUS")
                self._props = _parse_getprop(head)
                self._cpus = _count_cpus(cpus)
            return self._props

    def prop(self, name: str) -> str:
        """A system property (``getprop NAME``); "" when the device does not set it."""
        props = self._load_props()
        if name in props:
            return props[name]
        return self.shell(["getprop", name]).stdout.strip()

    @property
    def props(self) -> Mapping[str, str]:
        return dict(self._load_props())

    @property
    def info(self) -> DeviceInfo:
        """What the device is (read once: one shell call for every property)."""
        if self._info is None:
            self._info = self._read_info()
        return self._info

    @property
    def is_phone(self) -> bool:
        """See ``DeviceInfo.is_phone``."""
        return self.info.is_phone

    def _read_info(self) -> DeviceInfo:
        props = self._load_props()
        profile = match_profile(props)
        profile_obj = load_profile(profile) if profile else None
        soc = (profile_obj.soc if profile_obj else "") or props.get("ro.soc.model") \
            or props.get("ro.hardware.chipname") or props.get("ro.hardware", "")
        sdk_text = props.get("ro.build.version.sdk", "")
        return DeviceInfo(
            serial=self.serial,
            adb_server=self.adb_server,
            model=props.get("ro.product.model", ""),
            manufacturer=props.get("ro.product.manufacturer", ""),
            board=props.get("ro.board.platform", ""),
            soc=soc,
            abi=props.get("ro.product.cpu.abi", ""),
            cores=self._cpus or (profile_obj.core_count if profile_obj else 0),
            android_version=props.get("ro.build.version.release", ""),
            sdk=int(sdk_text) if sdk_text.isdigit() else 0,
            profile=profile,
            virtual=props.get("ro.edgekit.virtual") == "1",
            serialno=props.get("ro.serialno", "") or self.serial,
        )

    def features(self, *, timeout: Optional[float] = None) -> frozenset[str]:
        """What the device's adbd advertised (shell_v2, stat_v2, ...)."""
        if self._features is None:
            limit = self._limit(timeout)
            with self._errors("reading adb features", limit):
                text = proto.query(self._host, self._port, f"host-serial:{self.serial}:features",
                                   proto.Clock(limit))
            self._features = frozenset(f for f in text.strip().split(",") if f)
        return self._features

    # -- shell ------------------------------------------------------------------------

    def shell(self, command: CommandLike, *, timeout: Optional[float] = None) -> ShellResult:
        """Run a command in the device's shell: exit code and (shell v2) separate stderr.

        A sequence is quoted argument by argument. Past ``timeout`` seconds (default: the
        device's ``timeout_s``) the stream is closed, which makes adbd kill the command, and
        DeviceTimeoutError is raised."""
        text = quote_command(command)
        limit = self._limit(timeout)
        clock = proto.Clock(total_s=limit)
        v2 = "shell_v2" in self.features(timeout=limit)
        action = f"shell {text!r}"
        try:
            with self._errors(action, limit):
                code, out, err = self._shell_v2(text, clock) if v2 else self._shell_v1(text, clock)
        except DeviceTimeoutError:
            if clock.expired:
                # All that is known: no exit status came back in time. Closing the stream makes a
                # responsive adbd stop a shell-protocol command; a stalled one says nothing, and an
                # old adbd (v1) only closes the command's stdin.
                fate = ("edgekit closed its stream, which stops the command if adbd still responds" if v2
                        else "the device (no shell_v2) may still be running it")
                raise DeviceTimeoutError(f"{action} on {self.serial}: no answer (exit status) within {limit:g} s; "
                                         f"{fate}") from None
            raise
        return ShellResult(text, code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    def _shell_v2(self, text: str, clock: proto.Clock) -> tuple[int, bytes, bytes]:
        out, err = bytearray(), bytearray()
        with self._open(f"shell,v2,raw:{text}", clock) as connection:
            for packet_id, data in proto.shell_v2_packets(connection):
                if packet_id == proto.SHELL_STDOUT:
                    out += data
                elif packet_id == proto.SHELL_STDERR:
                    err += data
                elif packet_id == proto.SHELL_EXIT:
                    return (data[0] if data else 255), bytes(out), bytes(err)
        raise EOFError("stream closed before the command finished")

    def _shell_v1(self, text: str, clock: proto.Clock) -> tuple[int, bytes, bytes]:
        # No exit code in v1: run the command in a subshell and print its status after it.
        wrapped = f"({text}\n); echo {V1_EXIT_MARKER}$?"
        output = bytearray()
        with self._open(f"shell:{wrapped}", clock) as connection:
            while chunk := connection.recv_some():
                output += chunk
        raw = bytes(output)
        status = None
        for status in _V1_STATUS_LINE.finditer(raw):
            pass
        if status is None:
            raise EOFError("stream closed before the command finished")
        return int(status.group(1)), raw[:status.start()] + raw[status.end():], b""

    # -- files ------------------------------------------------------------------------

    def _transfer_clock(self, timeout: Optional[float]) -> tuple[proto.Clock, float]:
        limit = self._limit(timeout)
        return proto.Clock(idle_s=limit), limit

    def sha256(self, remote: str, *, timeout: Optional[float] = None) -> Optional[str]:
        """The sha256 of a file on the device (toybox ``sha256sum``); None when it is absent."""
        quoted = shlex.quote(remote)
        result = self.shell(f"[ -f {quoted} ] || exit 3; sha256sum {quoted}", timeout=timeout)
        if result.returncode == 3:
            return None
        if result.returncode != 0 or not result.stdout.strip():
            raise DeviceError(f"sha256sum {remote} on {self.serial} failed (exit {result.returncode}): "
                              f"{(result.stderr or result.stdout).strip()[:200]}")
        return result.stdout.split()[0].lower()

    def stat(self, remote: str, *, timeout: Optional[float] = None) -> Optional[RemoteStat]:
        """Mode, size and mtime of a remote path (sync STAT, an lstat); None when it does not exist."""
        clock, limit = self._transfer_clock(timeout)
        with self._errors(f"stat {remote}", limit), self._open("sync:", clock) as connection:
            mode, size, mtime = proto.sync_stat(connection, remote)
        return RemoteStat(remote, mode, size, mtime) if mode else None

    def exists(self, remote: str, *, timeout: Optional[float] = None) -> bool:
        return self.stat(remote, timeout=timeout) is not None

    def listdir(self, remote: str, *, timeout: Optional[float] = None) -> list[str]:
        """Names in a remote folder (sync LIST), without . and .."""
        clock, limit = self._transfer_clock(timeout)
        with self._errors(f"list {remote}", limit), self._open("sync:", clock) as connection:
            entries = proto.sync_list(connection, remote)
        return sorted(name for name, *_ in entries if name not in (".", ".."))

    def mkdir(self, remote: str, *, timeout: Optional[float] = None) -> None:
        """``mkdir -p``; DeviceError with the device's reason when it cannot."""
        result = self.shell(["mkdir", "-p", remote], timeout=timeout)
        if result.returncode != 0:
            raise DeviceError(f"mkdir -p {remote} on {self.serial} failed (status {result.returncode}): "
                              f"{(result.stderr or result.stdout).strip()[:200]}")

    def push(self, local: Path, remote: str, *, skip_unchanged: bool = True, timeout: Optional[float] = None) -> bool:
        """Copy a host file to the device, keeping its mode bits (0755 for a binary).

        Returns False when the device already had a file with the same sha256 (and mode), which
        is then not pushed again. ``remote`` ending in "/" is a folder: the file keeps its name."""
        local = Path(local)
        if not local.is_file():
            raise InvalidInputError(f"cannot push {local}: no such file")
        if remote.endswith("/"):
            remote += local.name
        mode = stat_module.S_IMODE(local.stat().st_mode)
        if skip_unchanged and self._same_remote_file(local, remote, mode, timeout):
            return False
        clock, limit = self._transfer_clock(timeout)
        with self._errors(f"push {local} to {remote}", limit), open(local, "rb") as source, \
                self._open("sync:", clock) as connection:
            proto.sync_send(connection, source, remote, stat_module.S_IFREG | mode, int(local.stat().st_mtime))
        return True

    def _same_remote_file(self, local: Path, remote: str, mode: int, timeout: Optional[float]) -> bool:
        """Whether the device already has this content with these permissions (one shell call;
        any doubt, such as a device without sha256sum, means "push it")."""
        quoted = shlex.quote(remote)
        result = self.shell(f"[ -f {quoted} ] || exit 3; sha256sum {quoted} && stat -c %a {quoted}",
                            timeout=timeout)
        words = result.stdout.split()
        if result.returncode != 0 or len(words) < 2:
            return False
        try:
            remote_mode = int(words[-1], 8)
        except ValueError:
            return False
        return words[0].lower() == sha256_file(local) and remote_mode == mode

    def pull(self, remote: str, local: Path, *, timeout: Optional[float] = None) -> None:
        """Copy a device file to the host; ``local`` appears only once it is complete."""
        local = Path(local)
        local.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{local.name}.", suffix=".pull", dir=local.parent)
        clock, limit = self._transfer_clock(timeout)
        try:
            with os.fdopen(fd, "wb") as f, self._errors(f"pull {remote}", limit), \
                    self._open("sync:", clock) as connection:
                proto.sync_recv(connection, remote, f.write)
            os.replace(tmp, local)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def remove(self, remote: str, *, recursive: bool = False, timeout: Optional[float] = None) -> None:
        """``rm -f`` (``rm -rf`` when recursive); silent when the path does not exist."""
        result = self.shell(["rm", "-rf" if recursive else "-f", remote], timeout=timeout)
        if result.returncode != 0:
            raise DeviceError(f"rm {remote} on {self.serial} failed: {(result.stderr or result.stdout).strip()}")

    def install(self, apk: Path, *, timeout: Optional[float] = None) -> None:
        """Install an APK (push to /data/local/tmp, then ``pm install -r -t``; the install itself
        may take up to 5 times the call's limit)."""
        apk = Path(apk)
        if not apk.is_file():
            raise InvalidInputError(f"cannot install {apk}: no such file")
        remote = f"/data/local/tmp/edgekit-install-{os.getpid()}-{apk.name}"
        self.push(apk, remote, skip_unchanged=False, timeout=timeout)
        try:
            result = self.shell(["pm", "install", "-r", "-t", remote], timeout=5 * self._limit(timeout))
        finally:
            with contextlib.suppress(DeviceError):
                self.remove(remote, timeout=timeout)
        output = (result.stdout + result.stderr).strip()
        if result.returncode != 0 or "Success" not in output:
            raise DeviceError(f"installing {apk.name} on {self.serial} failed: {output[-300:] or 'no output'}")

    # -- thermal state ------------------------------------------------------------------

    def thermal_snapshot(self, *, timeout: Optional[float] = None) -> "ThermalSnapshot":
        """Thermal zones (°C) and each CPU's current/max frequency, read in one shell call."""
        from edgekit.device.thermal import SNAPSHOT_SCRIPT, parse_snapshot

        result = self.shell(SNAPSHOT_SCRIPT, timeout=timeout)
        if result.returncode != 0:
            raise DeviceError(f"reading the thermal state of {self.serial} failed (status {result.returncode}): "
                              f"{(result.stderr or result.stdout).strip()[:200]}")
        return parse_snapshot(result.stdout)


_DISCOVERY_NAMES = ("DeviceProblem", "DeviceScan", "list_devices", "scan_devices", "select_device", "select_devices")


def __getattr__(name: str) -> object:
    """Discovery lives in discovery.py (which imports this module); its names are part of this
    module's API too, loaded on first use."""
    if name in _DISCOVERY_NAMES:
        from edgekit.device import discovery

        return getattr(discovery, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
