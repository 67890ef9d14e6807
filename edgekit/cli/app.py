"""``edgekit app build`` and ``app install``: the Android demo app."""

from __future__ import annotations

from typing import Optional

import click

from edgekit.cli._common import PRETRAINED_HELP, description_options, device_options, emit, json_option, \
    open_workspace, pretrained_arg, workspace_option


@click.group("app")
def app_group() -> None:
    """The Android demo app (android_demo/): build its APK, install it on a phone."""


def _render_app_build(data: dict) -> str:
    library = (f"Paddle Lite packaged for {data['abi']}" if data["paddle_lite"] else
               "no inference library packaged: the app shows the photo and says it cannot classify "
               "(pass --paddle-lite-lib to package Paddle Lite)")
    return (f"{data['apk']}{' (reused)' if data['reused'] else ''}\n"
            f"  {data['package']} {data['version_name']}, minSdk {data['min_sdk']}, "
            f"{data['bytes'] / 2**20:.2f} MiB, signed with the debug key\n"
            f"  model {data['model']} ({data['nb_bytes'] / 2**20:.2f} MiB .nb)\n"
            f"  {_render_description(data['description'])}\n  {library}")


def _render_description(description: dict) -> str:
    pre = description["preprocess"]
    resize = (f"short side {pre['resize_short']}" if pre["resize_short"] else
              "{}x{}".format(*pre["resize_size"]) if pre["resize_size"] else "no resize")
    crop = "crop {}x{}".format(*pre["crop"]) if pre["crop"] else "no crop"
    labels = f"{description['labels']} labels" if description["labels"] is not None else "no labels (class ids)"
    return (f"input {'x'.join(str(d) for d in description['input_shape'])}: resize {resize} ({pre['interpolation']}), "
            f"{crop}, {pre['channel_order']}; {labels}; from {description['source']}")


@app_group.command("build")
@click.option("--model", required=True, metavar="MODEL_OR_NB",
              help="A .nb converted for arm, or a zoo name / MODEL_int8 / model folder / .onnx file to convert "
                   "for arm.")
@click.option("--paddle-lite-lib", type=click.Path(), metavar="DIR",
              help="Paddle Lite's Android inference library (inference_lite_lib.android.armv8/ or its java/).")
@click.option("--pretrained", help=PRETRAINED_HELP + " Only for zoo names.")
@click.option("--out", type=click.Path(), metavar="APP.apk", help="Also copy the APK here (file or folder).")
@click.option("--threads", default=1, show_default=True, type=int, help="The app's default CPU threads.")
@click.option("--power-mode", default="LITE_POWER_HIGH", show_default=True,
              help="The app's default Paddle Lite power mode (LITE_POWER_HIGH, _LOW, _FULL, _NO_BIND, ...).")
@click.option("--force", is_flag=True, help="Build again even when the workspace has this APK.")
@description_options
@workspace_option
@json_option
def app_build(model: str, paddle_lite_lib: Optional[str], pretrained: Optional[str], out: Optional[str],
              threads: int, power_mode: str, force: bool, overrides: object, workspace: Optional[str],
              as_json: bool) -> None:
    """Build the signed debug APK of the demo app with Debian's Android tools (aapt, javac, dx,
    zipalign, apksigner), bundling MODEL's .nb, its description (description.json: input shape,
    preprocessing; the description flags change it) and its labels (--labels: yours)."""
    from pathlib import Path

    from edgekit.app.build import AppOptions, build_app

    options = AppOptions(threads=threads, power_mode=power_mode)
    result = build_app(model, open_workspace(workspace), out=Path(out) if out else None, options=options,
                       paddle_lite_lib=Path(paddle_lite_lib) if paddle_lite_lib else None,
                       pretrained=pretrained_arg(pretrained), overrides=overrides, force=force)
    if result.warning and not as_json:
        click.echo(f"edgekit: warning: {result.warning}", err=True)
    emit(result.to_dict(), as_json, _render_app_build)


@app_group.command("install")
@click.option("--apk", type=click.Path(dir_okay=False), metavar="PATH",
              help="APK to install [default: the one 'edgekit app build' made last in the workspace].")
@device_options
@workspace_option
@json_option
def app_install(apk: Optional[str], profile: Optional[str], serial: Optional[str], adb_servers: tuple[str, ...],
                devices_file: Optional[str], workspace: Optional[str], as_json: bool) -> None:
    """Install the demo APK on a phone over adb (choose it with --device PROFILE or --serial)."""
    from pathlib import Path

    from edgekit.app.install import install_app, latest_apk

    chosen = Path(apk) if apk else latest_apk(open_workspace(workspace))
    result = install_app(chosen, profile=profile, serial=serial, adb_servers=adb_servers,
                         devices_file=Path(devices_file) if devices_file else None)
    emit(result.to_dict(), as_json, lambda d: f"installed {d['apk']} on {d['serial']}; "
                                              "start 'edgekit demo' from the phone's launcher")
