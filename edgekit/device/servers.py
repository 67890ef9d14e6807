"""adb servers: addresses, the default one, starting a local one, ``adb connect``, devices files.

Only the default server ($ANDROID_ADB_SERVER_ADDRESS/PORT, else 127.0.0.1:5037) is started when it
is not running, and only when devices are looked for (``ensure_server``), as the adb client does;
an address the user names must be running already. Nothing else starts a server: a server that
dies while edgekit uses it is a DeviceError naming it, never a new local server.
``private_server()`` starts a server of one's own on a free port (tests, benchmarks, scripts).

A devices file (``--devices-file``, $EDGEKIT_DEVICES_FILE) lists the adb servers to read devices
from, on this host or others, and device addresses to ``adb connect`` through each::

    adb_servers:
      - 127.0.0.1:5037                  # a plain server
      - address: 192.168.1.7:5037       # a server on another host ...
        connect: [192.168.1.20:5555]    # ... and devices to `adb connect` through it
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

from edgekit.device import _adb_protocol as proto
from edgekit.errors import DeviceError, InvalidInputError, MissingDependencyError, UsageError

DEFAULT_SERVER_HOST = "127.0.0.1"
DEFAULT_SERVER_PORT = 5037
SERVER_START_TIMEOUT = 20.0
DEVICES_FILE_ENV = "EDGEKIT_DEVICES_FILE"
# adb servers probe the emulator ports 5555-5585 for devices; a private server probes none below
# this, so only the devices connected to it on purpose appear (not an emulator someone runs).
NO_EMULATOR_SCAN = "5553"
# What the adb client reads from the environment, which a private server must not inherit.
ADB_CLIENT_VARIABLES = ("ANDROID_ADB_SERVER_PORT", "ANDROID_ADB_SERVER_ADDRESS", "ANDROID_SERIAL", "ADB_EMU")


def parse_server(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6addr]:PORT`` too) as (host, port); UsageError when malformed."""
    text = address.strip()
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([^:\s\[\]]+):(\d+)", text)
    if not match:
        raise UsageError(f"malformed adb server address {address!r} (expected HOST:PORT)")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if not 0 < port < 65536:
        raise UsageError(f"adb server address {address!r}: port {port} is out of range")
    return host, port


def format_server(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def default_server() -> str:
    """$ANDROID_ADB_SERVER_ADDRESS (or adbutils' $ANDROID_ADB_SERVER_HOST) and
    $ANDROID_ADB_SERVER_PORT, else 127.0.0.1:5037 — the server the adb client would use."""
    host = (os.environ.get("ANDROID_ADB_SERVER_ADDRESS") or os.environ.get("ANDROID_ADB_SERVER_HOST")
            or DEFAULT_SERVER_HOST)
    port_text = os.environ.get("ANDROID_ADB_SERVER_PORT") or str(DEFAULT_SERVER_PORT)
    if not port_text.isdigit():
        raise UsageError(f"$ANDROID_ADB_SERVER_PORT is not a port number: {port_text!r}")
    return format_server(host, int(port_text))


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def server_running(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def adb_executable() -> str:
    """The adb client binary; MissingDependencyError with a hint when there is none."""
    found = os.environ.get("ADBUTILS_ADB_PATH") or shutil.which("adb")
    if not found:
        raise MissingDependencyError("the adb command is not installed (Debian: apt-get install adb)")
    return found


def start_server(host: str, port: int, env: Optional[Mapping[str, str]] = None) -> None:
    """Start an adb server on a loopback port, as ``adb -P PORT start-server`` does."""
    try:
        proc = subprocess.run([adb_executable(), "-P", str(port), "start-server"], capture_output=True,
                              text=True, timeout=SERVER_START_TIMEOUT, stdin=subprocess.DEVNULL,
                              env=dict(env) if env is not None else None)
    except subprocess.TimeoutExpired:
        raise DeviceError(f"adb server on port {port} did not start within {SERVER_START_TIMEOUT:.0f} s") from None
    if proc.returncode != 0 or not server_running(host, port):
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise DeviceError(f"cannot start an adb server on {format_server(host, port)}"
                          f"{': ' + detail[-1] if detail else ''}")


def ensure_server(address: str) -> tuple[str, int]:
    """(host, port) of a running adb server; the default local server is started when it is not
    running (as adb does), any other address must be running (DeviceError otherwise)."""
    host, port = parse_server(address)
    if server_running(host, port):
        return host, port
    default = default_server()
    if (host, port) != parse_server(default) or not _is_loopback(host):
        raise DeviceError(f"adb server {address} is not reachable (edgekit starts only the default server, "
                          f"{default}; start this one with: adb -P {port} start-server)")
    start_server(host, port)
    return host, port


def free_port(host: str = DEFAULT_SERVER_HOST) -> int:
    """A TCP port nothing listens on now (the system's pick)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def private_server_env() -> dict[str, str]:
    """The environment of a private adb server: no client variables, no emulator port probing."""
    env = {k: v for k, v in os.environ.items() if k not in ADB_CLIENT_VARIABLES}
    env["ADB_LOCAL_TRANSPORT_MAX_PORT"] = NO_EMULATOR_SCAN
    return env


def kill_server(port: int) -> None:
    """``adb -P PORT kill-server``; silent when none runs there."""
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        subprocess.run([adb_executable(), "-P", str(port), "kill-server"], capture_output=True,
                       timeout=SERVER_START_TIMEOUT, env=private_server_env(), stdin=subprocess.DEVNULL)


@contextlib.contextmanager
def private_server() -> Iterator[str]:
    """An adb server of one's own on a free loopback port, killed on exit; yields "HOST:PORT".
    It probes no emulator port, so it lists only the devices connected to it."""
    port = free_port()
    start_server(DEFAULT_SERVER_HOST, port, env=private_server_env())
    try:
        yield format_server(DEFAULT_SERVER_HOST, port)
    finally:
        kill_server(port)


def connect_device(address: str, adb_server: Optional[str] = None, timeout: float = 10.0) -> str:
    """``adb connect ADDRESS`` on an adb server (the default one is started when needed), then
    wait until the device is online (the handshake ends after the server has answered); returns
    what the server said."""
    server = adb_server or default_server()
    host, port = ensure_server(server)
    clock = proto.Clock(timeout)
    try:
        reply = proto.query(host, port, f"host:connect:{address}", clock).strip()
        if "connected to" in reply:
            _wait_online(host, port, address, clock)
    except (proto.HostFailure, OSError, EOFError) as e:
        reason = f"no answer within {timeout:g} s" if isinstance(e, TimeoutError) else str(e) or type(e).__name__
        raise DeviceError(f"adb connect {address} through {server} failed: {reason}") from None
    if "connected to" not in reply:
        raise DeviceError(f"adb connect {address} through {server}: {reply}")
    return reply


def _wait_online(host: str, port: int, serial: str, clock: proto.Clock) -> None:
    while dict(proto.device_states(host, port, clock)).get(serial) != "device":
        clock.wait_s()  # DeadlineExpired once the time is up
        time.sleep(0.05)


def disconnect_device(address: str, adb_server: Optional[str] = None, timeout: float = 10.0) -> None:
    """``adb disconnect ADDRESS``; silent when the server or the device is gone already."""
    host, port = parse_server(adb_server or default_server())
    with contextlib.suppress(proto.HostFailure, OSError, EOFError):
        proto.query(host, port, f"host:disconnect:{address}", proto.Clock(timeout))


@dataclasses.dataclass(frozen=True)
class ServerSpec:
    """An adb server to read devices from, and device addresses to `adb connect` through it."""

    address: str
    connect: tuple[str, ...] = ()


def load_devices_file(path: Path) -> list[ServerSpec]:
    """The servers of a devices file (format: see the module docstring)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise InvalidInputError(f"cannot read devices file {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise InvalidInputError(f"devices file {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    entries = data.get("adb_servers") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise InvalidInputError(f"devices file {path} needs a non-empty 'adb_servers' list")
    return [_server_spec(path, entry) for entry in entries]


def _server_spec(path: Path, entry: Any) -> ServerSpec:
    if isinstance(entry, str):
        parse_server(entry)
        return ServerSpec(entry)
    if isinstance(entry, dict) and isinstance(entry.get("address"), str):
        parse_server(entry["address"])
        connect = entry.get("connect") or []
        if isinstance(connect, str):
            connect = [connect]
        if not isinstance(connect, list) or not all(isinstance(a, str) for a in connect):
            raise InvalidInputError(f"devices file {path}: 'connect' of {entry['address']} must list HOST:PORT addresses")
        return ServerSpec(entry["address"], tuple(connect))
    raise InvalidInputError(f"devices file {path}: each adb_servers entry is HOST:PORT or a mapping "
                            f"with 'address' (got {entry!r})")


def server_specs(adb_servers: Sequence[str], devices_file: Optional[Path]) -> list[ServerSpec]:
    """The servers to read: the given ones and those of the devices file ($EDGEKIT_DEVICES_FILE
    when none is given); the default server when that makes none."""
    specs = [ServerSpec(address) for address in adb_servers]
    if devices_file is None and os.environ.get(DEVICES_FILE_ENV):
        devices_file = Path(os.environ[DEVICES_FILE_ENV])
    if devices_file is not None:
        specs += load_devices_file(devices_file)
    for spec in specs:
        parse_server(spec.address)
    return specs or [ServerSpec(default_server())]
