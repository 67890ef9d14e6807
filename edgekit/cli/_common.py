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


# ------------------------------------------------------------------------ model description

_DESCRIPTION_OPTIONS = (
    ("--config", "desc_config", "FILE", "PaddleClas deploy config (PreProcess.transform_ops, PostProcess.Topk) "
                                        "[default: the manifest's, or one beside the model: inference.yml, "
                                        "inference_cls.yaml or a single inference_*.yaml]."),
    ("--input-size", "desc_input_size", "S|HxW", "Image size fed to the model (needed when its H/W are dynamic)."),
    ("--labels", "desc_labels", "FILE", "Class names: PaddleClas class_id_map_file ('id name' lines) or one name a line."),
    ("--resize-short", "desc_resize_short", "N", "Resize the short side to N (PaddleClas ResizeImage resize_short)."),
    ("--resize", "desc_resize", "S|WxH", "Resize to a fixed size (ResizeImage size), width x height."),
    ("--crop", "desc_crop", "S|WxH|none", "Center crop (CropImage size), width x height; 'none': no crop."),
    ("--interpolation", "desc_interpolation", "NAME", "Resize filter: bilinear, nearest, bicubic, area, lanczos."),
    ("--mean", "desc_mean", "R,G,B", "NormalizeImage mean (in the channel order fed)."),
    ("--std", "desc_std", "R,G,B", "NormalizeImage std (in the channel order fed)."),
    ("--channel-order", "desc_channel_order", "RGB|BGR", "Channel order the model takes."),
)


def description_options(f: Callable) -> Callable:
    """The model-description flags (a deploy config, then single fields); the command receives
    them as one ``overrides`` argument (edgekit.description.DescriptionOverrides)."""
    import functools

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {dest: kwargs.pop(dest) for _, dest, _, _ in _DESCRIPTION_OPTIONS}
        kwargs["overrides"] = description_overrides(values)
        return f(*args, **kwargs)

    for flag, dest, metavar, help_text in reversed(_DESCRIPTION_OPTIONS):
        wrapper = click.option(flag, dest, metavar=metavar, help=help_text)(wrapper)
    return wrapper


def description_overrides(values: dict) -> Any:
    """DescriptionOverrides from the raw option values (UsageError for malformed ones)."""
    from pathlib import Path

    from edgekit.description import DescriptionOverrides, parse_hw, parse_triple, parse_wh
    from edgekit.errors import UsageError

    def given(name: str) -> Optional[str]:
        return values.get(f"desc_{name}")

    resize_short = given("resize_short")
    if resize_short is not None and not resize_short.isdigit():
        raise UsageError(f"--resize-short {resize_short!r} must be a positive integer")
    crop = given("crop")
    return DescriptionOverrides(
        config=Path(given("config")) if given("config") else None,
        input_size=parse_hw(given("input_size")) if given("input_size") else None,
        labels=Path(given("labels")) if given("labels") else None,
        resize_short=int(resize_short) if resize_short else None,
        resize=parse_wh(given("resize"), "--resize") if given("resize") else None,
        crop=None if crop is None else (0, 0) if crop.lower() == "none" else parse_wh(crop, "--crop"),
        interpolation=given("interpolation"),
        mean=parse_triple(given("mean"), "--mean") if given("mean") else None,
        std=parse_triple(given("std"), "--std") if given("std") else None,
        channel_order=given("channel_order"))
