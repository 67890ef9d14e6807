"""``edgekit devices`` and ``device emulate``: what is connected, and the virtual device."""

from __future__ import annotations

import sys
from typing import Optional

import click

from edgekit.cli._common import adb_server_options, emit, json_option


DEVICE_COLUMNS = ("serial", "model", "soc", "board", "abi", "cores", "android_version", "profile")


@click.command()
@adb_server_options
@json_option
def devices(adb_servers: tuple[str, ...], devices_file: Optional[str], as_json: bool) -> None:
    """List connected devices: serial, model, SoC/board, ABI, cores, Android version, matched profile."""
    from pathlib import Path

    from edgekit._table import format_table
    from edgekit.device import list_devices

    found = list_devices(adb_servers, devices_file=Path(devices_file) if devices_file else None)
    rows = [d.info.to_dict() for d in found]
    # Several adb servers: say which one each device is on.
    columns = DEVICE_COLUMNS + (("adb_server",) if len({r["adb_server"] for r in rows}) > 1 else ())
    emit(rows, as_json, lambda data: format_table(
        columns, [[row[c] if row[c] is not None else "-" for c in columns] for row in data])
        if data else "no devices (is the phone connected and authorized? try `adb devices`)")


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
