"""``edgekit devices`` and ``device emulate``: what is connected, and the virtual device."""

from __future__ import annotations

import sys
from typing import Optional

import click

from edgekit.cli._common import adb_server_options, emit, json_option


DEVICE_COLUMNS = ("serial", "model", "soc", "board", "abi", "cores", "android_version", "profile", "kind")


@click.command()
@adb_server_options
@click.option("--connect", is_flag=True,
              help="First `adb connect` the addresses the devices file lists (listing alone changes nothing).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds a server or device may take to answer before it is reported as not answering.")
@json_option
def devices(adb_servers: tuple[str, ...], devices_file: Optional[str], connect: bool, timeout_s: float,
            as_json: bool) -> None:
    """List connected devices: serial, model, SoC/board, ABI, cores, Android version, matched profile,
    kind (phone, virtual, other). Devices and servers that cannot be used are listed beside them."""
    import dataclasses
    from pathlib import Path

    from edgekit.device import DeviceInfo, scan_devices
    from edgekit.errors import DeviceError

    scan = scan_devices(adb_servers, devices_file=Path(devices_file) if devices_file else None, connect=connect,
                        timeout_s=timeout_s)
    unreachable = [p for p in scan.problems if p.serial is None]
    if not scan.devices and unreachable and len(unreachable) == len(scan.problems):
        raise DeviceError("; ".join(p.error for p in unreachable))
    rows = [{**d.info.to_dict(), "state": "device", "error": None} for d in scan.devices]
    empty = dict.fromkeys([f.name for f in dataclasses.fields(DeviceInfo)] + ["kind"])  # every row has every key
    rows += [{**empty, "serial": p.serial, "adb_server": p.adb_server, "state": p.state, "error": p.error or None}
             for p in scan.problems]
    emit(rows, as_json, lambda data: _devices_text(data, scan.not_connected))


def _devices_text(rows: list[dict], not_connected: tuple[str, ...]) -> str:
    from edgekit._table import format_table

    good = [r for r in rows if r["state"] == "device"]
    bad = [r for r in rows if r["state"] != "device"]
    # Several adb servers: say which one each device is on.
    columns = DEVICE_COLUMNS + (("adb_server",) if len({r["adb_server"] for r in good}) > 1 else ())
    lines = [format_table(columns, [[r.get(c) if r.get(c) is not None else "-" for c in columns] for r in good])
             if good else "no devices (is the phone connected and authorized? try `adb devices`)"]
    for r in bad:
        where = r["serial"] or f"adb server {r['adb_server']}"
        lines.append(f"not usable: {where} ({r['state']}){': ' + r['error'] if r['error'] else ''}")
    if not_connected:
        lines.append(f"not connected (the devices file lists them; --connect connects): {', '.join(not_connected)}")
    return "\n".join(lines)


@click.group("device")
def device_group() -> None:
    """The virtual device (an adbd on this host that the adb server connects to)."""


@device_group.command("emulate")
@click.option("--profile", default="sd855", show_default=True, help="Device profile (opt_configs/devices.yaml).")
@click.option("--port", default=5555, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port to listen on (0: any free one).")
@click.option("--sandbox", type=click.Path(file_okay=False),
              help="Host folder that is the device's file system [default: a new temporary folder].")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback lets others run commands on this host.")
@click.option("--serial", help="ro.serialno of the device [default edgekit-PROFILE-PORT].")
@click.option("--connect/--no-connect", default=True, show_default=True,
              help="Run `adb connect` on the adb server once listening.")
@click.option("--adb-server", metavar="HOST:PORT",
              help="adb server for --connect [default $ANDROID_ADB_SERVER_ADDRESS/PORT or 127.0.0.1:5037].")
@click.option("--private-adb-server", "private", is_flag=True,
              help="Start an adb server of its own on a free port for --connect (stopped with the device); "
                   "its address is printed. It lists this device only.")
@json_option
def device_emulate(profile: str, port: int, sandbox: Optional[str], host: str, serial: Optional[str],
                   connect: bool, adb_server: Optional[str], private: bool, as_json: bool) -> None:
    """Run a virtual Android device in the foreground until Ctrl-C. Its shell runs host commands."""
    import contextlib
    import signal
    import threading
    from pathlib import Path

    from edgekit.device.adb import connect_device, default_server, disconnect_device
    from edgekit.device.emulator import VirtualDevice
    from edgekit.device.servers import private_server
    from edgekit.errors import UsageError

    if private and (adb_server or not connect):
        raise UsageError("--private-adb-server starts the server to connect to: "
                         "not with --adb-server or --no-connect")
    exposure = "" if host.startswith("127.") or host == "localhost" else f", for anyone who can reach {host}"
    click.echo(f"edgekit: warning: the virtual device runs shell commands on this host as you{exposure}",
               err=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop cleanly (disconnect) on kill
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(private_server()) if private else (adb_server or default_server())
        vd = stack.enter_context(VirtualDevice(profile, port=port, sandbox=Path(sandbox) if sandbox else None,
                                               host=host, serial=serial))
        if connect:
            connect_device(vd.address, server)
        state = {"address": vd.address, "serial": vd.serial, "profile": vd.profile.name,
                 "sandbox": str(vd.sandbox), "adb_server": server if connect else None}
        emit(state, as_json, lambda s: (
            f"virtual device {s['serial']} ({s['profile']}) listening on {s['address']}\n"
            f"sandbox: {s['sandbox']}\n"
            + (f"connected on adb server {s['adb_server']}\n" if s["adb_server"] else
               f"connect it with: adb connect {s['address']}\n")
            + "Ctrl-C stops it"))
        sys.stdout.flush()
        try:
            threading.Event().wait()
        finally:
            if connect:
                disconnect_device(vd.address, server)
