"""What every command shares: JSON/text output, the workspace and device-selection options."""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

import click


def emit(data: Any, as_json: bool, render: Callable[[Any], str]) -> None:
    """Print ``data`` as one JSON document, or as the text ``render`` makes of it."""
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        click.echo(render(data))


def json_option(f: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")(f)


def workspace_option(f: Callable) -> Callable:
    return click.option(
        "--workspace",
        type=click.Path(file_okay=False),
        envvar="EDGEKIT_WORKSPACE",
        help="Folder for all artifacts [env EDGEKIT_WORKSPACE; default ~/.cache/edgekit].",
    )(f)


def open_workspace(path: Optional[str]):
    from edgekit.workspace import Workspace

    return Workspace.open(path)


def adb_server_options(f: Callable) -> Callable:
    """--adb-server (repeatable) and --devices-file: where to look for devices."""
    f = click.option("--devices-file", type=click.Path(dir_okay=False), envvar="EDGEKIT_DEVICES_FILE",
                     help="YAML list of adb servers (and devices to connect) [env EDGEKIT_DEVICES_FILE].")(f)
    return click.option("--adb-server", "adb_servers", multiple=True, metavar="HOST:PORT",
                        help="adb server to find devices on (repeatable) [default "
                             "$ANDROID_ADB_SERVER_ADDRESS/PORT or 127.0.0.1:5037].")(f)


def device_options(f: Callable) -> Callable:
    """--device PROFILE / --serial S (which device) plus the adb_server_options (where to look)."""
    f = adb_server_options(f)
    f = click.option("--serial", help="adb serial of the device [env ANDROID_SERIAL].")(f)
    return click.option("--device", "profile", metavar="PROFILE",
                        help="Device profile to match (opt_configs/devices.yaml).")(f)


def pretrained_arg(value: Optional[str]) -> Any:
    """--pretrained: 'official' means PaddleClas's published weights; else a path or URL."""
    return True if value == "official" else value


PRETRAINED_HELP = "Weights: a .pdparams path, an http(s) URL, or 'official' (PaddleClas's); default random."
