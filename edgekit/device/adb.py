"""The adb facade: a small layer over adbutils (composition) that speaks edgekit's types and errors.

``Device`` wraps one ``adbutils.AdbDevice``: ``shell`` returns (returncode, stdout, stderr)
through the shell protocol v2 when the device has it, ``push`` skips files whose sha256 the device
already has and keeps mode bits, ``pull`` is atomic on the host. ``list_devices`` reads one or
several adb servers (``--adb-server HOST:PORT``, a devices file) and lists each device once, even
when a server sees it twice (``127.0.0.1:5555`` and ``emulator-5554``), by ``ro.serialno``.

Every adbutils or socket error becomes an ``edgekit.errors.DeviceError`` subclass: a device that
disappears mid-command is a ``DeviceLostError`` naming its serial, a command past its time limit a
``DeviceTimeoutError`` (closing the stream makes the device stop the command, as adbd does).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shlex
import socket
import stat as stat_module
import struct
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator, Mapping, Optional, Sequence, Union

import adbutils

from edgekit.device.profiles import load_profile, match_profile
# Server handling lives in servers.py; its public names are part of this module's API too.
from edgekit.device.servers import (ServerSpec, adb_executable, client_for, connect_device, default_server,
                                    disconnect_device, ensure_server, format_server, load_devices_file,
                                    parse_server, server_running, server_specs, start_server)
from edgekit.errors import (DeviceError, DeviceLostError, DeviceNotFoundError, DeviceTimeoutError,
                            InvalidInputError)
from edgekit.workspace import sha256_file

__all__ = [
    "Device", "DeviceInfo", "RemoteStat", "ShellResult", "ServerSpec", "adb_executable", "connect_device",
    "default_server",
    "disconnect_device", "ensure_server", "format_server", "list_devices", "load_devices_file", "parse_server",
    "quote_command", "select_device", "select_devices", "server_running", "start_server",
]

SYNC_DATA_MAX = 64 * 1024  # the sync protocol's limit for one DATA chunk
V1_EXIT_MARKER = "EDGEKIT_EXIT_CODE:"
# The wrapper's own status line: the last one wins (the command may print the marker too), and
# output after it (a background job still writing) stays output.
_V1_STATUS_LINE = re.compile(re.escape(V1_EXIT_MARKER).encode() + rb"(\d{1,3})\r?\n")
# After a broken stream, how long the adb server may take to notice that the device is gone.
LOST_CHECK_S = 2.0

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
    virtual: bool
    serialno: str = ""  # ro.serialno: the same for every way the device is reached

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


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


# ---------------------------------------------------------------------------------- device


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


def _close(connection: adbutils.AdbConnection) -> None:
    """Close a connection at once (adbutils' close() sleeps 10 ms after shutting it down, which
    would dominate a short shell call); the adb server then closes the device stream."""
    with contextlib.suppress(OSError, adbutils.AdbError):
        connection.conn.close()


class Device:
    """One device behind an adb server. Methods open their own adb connections, so a Device may
    be used from several threads; properties are read once and cached."""

    def __init__(self, adb_device: adbutils.AdbDevice, adb_server: str,
                 client: Optional[adbutils.AdbClient] = None):
        self._adb = adb_device
        self.serial: str = adb_device.serial or ""
        self.adb_server = adb_server
        host, port = parse_server(adb_server)
        self._client = client or adbutils.AdbClient(host=host, port=port)
        self._props: Optional[dict[str, str]] = None
        self._cpus = 0
        self._features: Optional[frozenset[str]] = None
        self._info: Optional[DeviceInfo] = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Device({self.serial!r} via {self.adb_server})"

    # -- errors ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Translate adbutils and socket failures of ``action`` into DeviceError subclasses."""
        try:
            yield
        except (adbutils.AdbTimeout, socket.timeout):
            raise DeviceTimeoutError(f"{action} on {self.serial}: no answer from the adb server") from None
        except adbutils.AdbError as e:
            # adbutils puts the device's reason and the path in separate arguments.
            raise self._classify(action, ": ".join(str(a) for a in e.args) or type(e).__name__) from None
        except (EOFError, ConnectionError) as e:
            raise self._classify(action, str(e) or "stream closed", broken_stream=True) from None
        except OSError as e:
            raise self._classify(action, str(e)) from None

    def _classify(self, action: str, message: str, *, broken_stream: bool = False) -> DeviceError:
        """Lost or not is the adb server's word (is the device still listed online?), never
        words in a message, which may quote the user's path ("closed_models/m.nb")."""
        host, port = parse_server(self.adb_server)
        if not server_running(host, port):
            return DeviceError(f"adb server {self.adb_server} went away during {action} on {self.serial}")
        state = self._server_state(wait_s=LOST_CHECK_S if broken_stream else 0.0)
        if state != "device":
            return DeviceLostError(f"device {self.serial} disappeared during {action} "
                                   f"(adb server says: {state or 'not connected'}; {message.strip()})")
        return DeviceError(f"{action} on {self.serial} failed: {message.strip()}")

    def _server_state(self, wait_s: float = 0.0) -> Optional[str]:
        """The device's state in the server's list (``host:devices``), None when it is not listed.
        With ``wait_s``, an online answer is asked again until then: after a transport breaks,
        the server needs a moment to drop the device."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                state = next((e.state for e in self._client.list() if e.serial == self.serial), None)
            except (adbutils.AdbError, OSError):
                return None
            if state != "device" or time.monotonic() >= deadline:
                return state
            time.sleep(0.1)

    def _open(self, service: str, timeout: Optional[float]) -> adbutils.AdbConnection:
        """A connection to ``service`` on the device: ``host:transport:SERIAL`` (understood by
        every adb server, so no version query first), then the service request."""
        connection = self._client.make_connection(timeout=timeout)
        try:
            connection.send_command(f"host:transport:{self.serial}")
            connection.check_okay()
            connection.send_command(service)
            connection.check_okay()
        except BaseException:
            _close(connection)
            raise
        return connection

    # -- properties -------------------------------------------------------------------

    def _load_props(self) -> dict[str, str]:
        with self._lock:
            if self._props is None:
                # One round trip for every property and the CPU list.
                result = self.shell("getprop; echo EDGEKIT_CPUS; cat /sys/devices/system/cpu/possible",
                                    timeout=30)
                head, _, cpus = result.stdout.partition("EDGEKIT_CPUS")
                self._props = _parse_getprop(head)
                self._cpus = _count_cpus(cpus)
            return self._props

    def prop(self, name: str) -> str:
        """A system property (``getprop NAME``); "" when the device does not set it."""
        props = self._load_props()
        if name in props:
            return props[name]
        return self.shell(["getprop", name], timeout=30).stdout.strip()

    @property
    def props(self) -> Mapping[str, str]:
        return dict(self._load_props())

    @property
    def info(self) -> DeviceInfo:
        """What the device is (read once: one shell call for every property)."""
        if self._info is None:
            self._info = self._read_info()
        return self._info

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

    def features(self) -> frozenset[str]:
        """What the device's adbd advertised (shell_v2, stat_v2, ...)."""
        if self._features is None:
            with self._errors("reading adb features"):
                self._features = frozenset(f for f in self._adb.get_features().split(",") if f)
        return self._features

    # -- shell ------------------------------------------------------------------------

    def shell(self, command: CommandLike, *, timeout: Optional[float] = None) -> ShellResult:
        """Run a command in the device's shell: exit code and (shell v2) separate stderr.

        A sequence is quoted argument by argument. Past ``timeout`` seconds the stream is closed,
        which makes adbd kill the command, and DeviceTimeoutError is raised."""
        text = quote_command(command)
        deadline = time.monotonic() + timeout if timeout else None
        v2 = "shell_v2" in self.features()
        action = f"shell {text!r}"
        with self._errors(action):
            try:
                if v2:
                    code, out, err = self._shell_v2(text, deadline)
                else:
                    code, out, err = self._shell_v1(text, deadline)
            except (socket.timeout, adbutils.AdbTimeout):
                if deadline is not None and time.monotonic() >= deadline - 0.05:
                    # adbd stops a shell-protocol command when its stream closes; an old adbd (v1)
                    # only closes its stdin
                    fate = "it was stopped" if v2 else "the device (no shell_v2) may still be running it"
                    raise DeviceTimeoutError(f"{action} on {self.serial} ran past {timeout:g} s; {fate}") from None
                raise
        return ShellResult(text, code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    @staticmethod
    def _recv_exact(connection: adbutils.AdbConnection, size: int, deadline: Optional[float]) -> bytes:
        buffer = bytearray()
        while len(buffer) < size:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise socket.timeout("deadline")
                connection.conn.settimeout(remaining)
            chunk = connection.conn.recv(size - len(buffer))
            if not chunk:
                raise EOFError("stream closed before the command finished")
            buffer += chunk
        return bytes(buffer)

    def _shell_v2(self, text: str, deadline: Optional[float]) -> tuple[int, bytes, bytes]:
        # Shell protocol v2 packets: 1 byte id, 4 bytes little-endian length, data.
        connection = self._open(f"shell,v2,raw:{text}", self._remaining(deadline))
        out, err = bytearray(), bytearray()
        try:
            # Close stdin (id 4): commands reading stdin see EOF, as with `adb shell < /dev/null`.
            connection.conn.sendall(struct.pack("<BI", 4, 0))
            while True:
                packet_id, length = struct.unpack("<BI", self._recv_exact(connection, 5, deadline))
                data = self._recv_exact(connection, length, deadline) if length else b""
                if packet_id == 1:
                    out += data
                elif packet_id == 2:
                    err += data
                elif packet_id == 3:
                    return (data[0] if data else 255), bytes(out), bytes(err)
        finally:
            _close(connection)

    def _shell_v1(self, text: str, deadline: Optional[float]) -> tuple[int, bytes, bytes]:
        # No exit code in v1: run the command in a subshell and print its status after it.
        wrapped = f"({text}\n); echo {V1_EXIT_MARKER}$?"
        connection = self._open(f"shell:{wrapped}", self._remaining(deadline))
        output = bytearray()
        try:
            while True:
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise socket.timeout("deadline")
                    connection.conn.settimeout(remaining)
                chunk = connection.conn.recv(65536)
                if not chunk:
                    break
                output += chunk
        finally:
            _close(connection)
        text_out = bytes(output)
        status = None
        for status in _V1_STATUS_LINE.finditer(text_out):
            pass
        if status is None:
            raise EOFError("stream closed before the command finished")
        return int(status.group(1)), text_out[:status.start()] + text_out[status.end():], b""

    @staticmethod
    def _remaining(deadline: Optional[float]) -> Optional[float]:
        return None if deadline is None else max(0.1, deadline - time.monotonic())

    # -- files ------------------------------------------------------------------------

    def sha256(self, remote: str) -> Optional[str]:
        """The sha256 of a file on the device (toybox ``sha256sum``); None when it is absent."""
        quoted = shlex.quote(remote)
        result = self.shell(f"[ -f {quoted} ] || exit 3; sha256sum {quoted}", timeout=120)
        if result.returncode == 3:
            return None
        if result.returncode != 0 or not result.stdout.strip():
            raise DeviceError(f"sha256sum {remote} on {self.serial} failed (exit {result.returncode}): "
                              f"{(result.stderr or result.stdout).strip()[:200]}")
        return result.stdout.split()[0].lower()

    def stat(self, remote: str) -> Optional[RemoteStat]:
        """Mode, size and mtime of a remote path (sync STAT, an lstat); None when it does not exist."""
        with self._errors(f"stat {remote}"):
            connection = self._open("sync:", None)
            try:
                path = remote.encode()
                connection.conn.sendall(b"STAT" + struct.pack("<I", len(path)) + path)
                reply, mode, size, mtime = struct.unpack("<4sIII", self._recv_exact(connection, 16, None))
                connection.conn.sendall(b"QUIT" + struct.pack("<I", 0))
            finally:
                _close(connection)
        if reply != b"STAT":
            raise DeviceError(f"stat {remote} on {self.serial}: unexpected sync reply {reply!r}")
        return RemoteStat(remote, mode, size, mtime) if mode else None

    def exists(self, remote: str) -> bool:
        return self.stat(remote) is not None

    def listdir(self, remote: str) -> list[str]:
        """Names in a remote folder (sync LIST), without . and .."""
        with self._errors(f"list {remote}"):
            entries = self._adb.sync.list(remote)
        return sorted(e.path for e in entries if e.path not in (".", ".."))

    def push(self, local: Path, remote: str, *, skip_unchanged: bool = True) -> bool:
        """Copy a host file to the device, keeping its mode bits (0755 for a binary).

        Returns False when the device already had a file with the same sha256 (and mode), which
        is then not pushed again. ``remote`` ending in "/" is a folder: the file keeps its name."""
        local = Path(local)
        if not local.is_file():
            raise InvalidInputError(f"cannot push {local}: no such file")
        if remote.endswith("/"):
            remote += local.name
        mode = stat_module.S_IMODE(local.stat().st_mode)
        if skip_unchanged and self._same_remote_file(local, remote, mode):
            return False
        self._send_file(local, remote, mode)
        return True

    def _same_remote_file(self, local: Path, remote: str, mode: int) -> bool:
        """Whether the device already has this content with these permissions (one shell call;
        any doubt, such as a device without sha256sum, means "push it")."""
        quoted = shlex.quote(remote)
        result = self.shell(f"[ -f {quoted} ] || exit 3; sha256sum {quoted} && stat -c %a {quoted}", timeout=120)
        words = result.stdout.split()
        if result.returncode != 0 or len(words) < 2:
            return False
        try:
            remote_mode = int(words[-1], 8)
        except ValueError:
            return False
        return words[0].lower() == sha256_file(local) and remote_mode == mode

    def _send_file(self, local: Path, remote: str, mode: int) -> None:
        # Sync SEND, written here (over adbutils' connection) to report the device's FAIL reason
        # and to send 64 KiB chunks.
        action = f"push {local} to {remote}"
        with self._errors(action):
            connection = self._open("sync:", None)
            try:
                spec = f"{remote},{stat_module.S_IFREG | mode}".encode()
                connection.conn.sendall(b"SEND" + struct.pack("<I", len(spec)) + spec)
                with open(local, "rb") as f:
                    while chunk := f.read(SYNC_DATA_MAX):
                        connection.conn.sendall(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
                connection.conn.sendall(b"DONE" + struct.pack("<I", int(local.stat().st_mtime)))
                status, length = struct.unpack("<4sI", self._recv_exact(connection, 8, None))
                if status == b"FAIL":
                    reason = self._recv_exact(connection, length, None).decode("utf-8", "replace")
                    raise DeviceError(f"{action} on {self.serial} failed: {reason}")
                if status != b"OKAY":
                    raise DeviceError(f"{action} on {self.serial}: unexpected sync reply {status!r}")
                connection.conn.sendall(b"QUIT" + struct.pack("<I", 0))
            finally:
                _close(connection)

    def pull(self, remote: str, local: Path) -> None:
        """Copy a device file to the host; ``local`` appears only once it is complete."""
        local = Path(local)
        local.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{local.name}.", suffix=".pull", dir=local.parent)
        try:
            with os.fdopen(fd, "wb") as f, self._errors(f"pull {remote}"):
                for chunk in self._adb.sync.iter_content(remote):
                    f.write(chunk)
            os.replace(tmp, local)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def remove(self, remote: str, *, recursive: bool = False) -> None:
        """``rm -f`` (``rm -rf`` when recursive); silent when the path does not exist."""
        result = self.shell(["rm", "-rf" if recursive else "-f", remote], timeout=120)
        if result.returncode != 0:
            raise DeviceError(f"rm {remote} on {self.serial} failed: {(result.stderr or result.stdout).strip()}")

    def install(self, apk: Path) -> None:
        """Install an APK (push to /data/local/tmp, then ``pm install -r -t``)."""
        apk = Path(apk)
        if not apk.is_file():
            raise InvalidInputError(f"cannot install {apk}: no such file")
        remote = f"/data/local/tmp/edgekit-install-{os.getpid()}-{apk.name}"
        self.push(apk, remote, skip_unchanged=False)
        try:
            result = self.shell(["pm", "install", "-r", "-t", remote], timeout=300)
        finally:
            with contextlib.suppress(DeviceError):
                self.remove(remote)
        output = (result.stdout + result.stderr).strip()
        if result.returncode != 0 or "Success" not in output:
            raise DeviceError(f"installing {apk.name} on {self.serial} failed: {output[-300:] or 'no output'}")


# ------------------------------------------------------------------------------ discovery


@dataclasses.dataclass(frozen=True)
class _Scan:
    devices: list[Device]
    unusable: list[str]  # "SERIAL (unauthorized)" for devices adb sees but cannot use


def _scan(adb_servers: Sequence[str], devices_file: Optional[Path]) -> _Scan:
    devices: list[Device] = []
    unusable: list[str] = []
    by_serialno: dict[str, int] = {}
    for spec in server_specs(adb_servers, devices_file):
        for address in spec.connect:
            connect_device(address, spec.address)
        client = client_for(spec.address)
        try:
            entries = client.list()
        except (adbutils.AdbError, OSError) as e:
            raise DeviceError(f"cannot list devices of adb server {spec.address}: {e}") from None
        for entry in entries:
            if entry.state != "device":
                unusable.append(f"{entry.serial} ({entry.state})")
                continue
            device = Device(client.device(serial=entry.serial), spec.address)
            try:
                key = device.info.serialno
            except DeviceLostError:
                continue  # it went away between the listing and the question
            if key in by_serialno:
                # The same device twice, e.g. the server's own probe of port 5555 (emulator-5554)
                # beside `adb connect 127.0.0.1:5555`: keep the address the user connected.
                index = by_serialno[key]
                if devices[index].serial.startswith("emulator-") and not device.serial.startswith("emulator-"):
                    devices[index] = device
                continue
            by_serialno[key] = len(devices)
            devices.append(device)
    return _Scan(devices, unusable)


def list_devices(adb_servers: Sequence[str] = (), *, devices_file: Optional[Path] = None) -> list[Device]:
    """Online devices of the given adb servers (default: $ANDROID_ADB_SERVER_ADDRESS/PORT or
    127.0.0.1:5037; a local server is started when needed), each device listed once."""
    return _scan(adb_servers, devices_file).devices


def _describe(device: Device) -> str:
    info = device.info
    return f"{device.serial} ({info.profile or 'no profile'}, {info.model or '?'})"


def select_devices(*, profile: Optional[str] = None, serial: Optional[str] = None,
                   adb_servers: Sequence[str] = (), devices_file: Optional[Path] = None) -> list[Device]:
    """Online devices matching the profile and/or the serial (default $ANDROID_SERIAL)."""
    if profile is not None:
        load_profile(profile)  # ConfigError naming the known profiles
    serial = serial or os.environ.get("ANDROID_SERIAL") or None
    scan = _scan(adb_servers, devices_file)
    chosen = [d for d in scan.devices
              if (serial is None or serial in (d.serial, d.info.serialno))
              and (profile is None or d.info.profile == profile)]
    if not chosen:
        wanted = " and ".join(filter(None, [profile and f"profile {profile}", serial and f"serial {serial}"]))
        present = ", ".join(_describe(d) for d in scan.devices) or "none"
        extra = f"; not usable: {', '.join(scan.unusable)}" if scan.unusable else ""
        raise DeviceNotFoundError(f"no connected device matches {wanted or 'the selection'} "
                                  f"(connected: {present}{extra})")
    return chosen


def select_device(*, profile: Optional[str] = None, serial: Optional[str] = None,
                  adb_servers: Sequence[str] = (), devices_file: Optional[Path] = None) -> Device:
    """Exactly one matching device; several without a serial is an error naming them."""
    chosen = select_devices(profile=profile, serial=serial, adb_servers=adb_servers, devices_file=devices_file)
    if len(chosen) > 1:
        names = ", ".join(_describe(d) for d in chosen)
        raise DeviceNotFoundError(f"{len(chosen)} devices match{' profile ' + profile if profile else ''}: "
                                  f"{names}; choose one with --serial")
    return chosen[0]
