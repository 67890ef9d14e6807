"""The ``edgekit`` command: a thin click layer over the stage modules.

Each command translates its options into a call of the function API and prints the result,
as text or (``--json``) as one JSON document. Stage modules are imported inside the commands,
so ``edgekit --help``, ``--version`` and ``models`` never import paddle.
Errors raised as ``EdgekitError`` become one line on stderr and the error's exit code.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable, Optional

import click

from edgekit import __version__
from edgekit.errors import EdgekitError


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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="edgekit")
def cli() -> None:
    """Take PaddleClas mobile models to Android phones: export, quantize (PaddleSlim),
    convert (Paddle Lite opt), benchmark over adb, report."""


# --------------------------------------------------------------------------------------- zoo


MODEL_COLUMNS = ("name", "family", "top1", "top5", "flops_g", "params_m", "sd855_ms", "storage_mb")


@cli.command()
@click.option("--family", help="Only this family (MobileNetV1, MobileNetV2, MobileNetV3, ShuffleNetV2).")
@click.option("--sort", "sort_by", default=None, metavar="COLUMN",
              help="Sort by a column (name, top1, flops_g, params_m, sd855_ms, storage_mb, ...).")
@click.option("--reverse", is_flag=True, help="Sort in descending order.")
@json_option
def models(family: Optional[str], sort_by: Optional[str], reverse: bool, as_json: bool) -> None:
    """List the 32 PaddleClas mobile models with the reference values of PaddleClas's table."""
    from edgekit import reference
    from edgekit._table import format_table
    from edgekit.errors import UsageError

    rows = list(reference.reference_models())
    if family:
        known = reference.families()
        matched = [f for f in known if f.lower() == family.lower()]
        if not matched:
            raise UsageError(f"unknown family {family!r} (known: {', '.join(known)})")
        rows = [r for r in rows if r.family == matched[0]]
    if sort_by:
        columns = ("name", "family") + reference.NUMERIC_COLUMNS
        if sort_by not in columns:
            raise UsageError(f"cannot sort by {sort_by!r} (columns: {', '.join(columns)})")
        present = [r for r in rows if getattr(r, sort_by) is not None]
        missing = [r for r in rows if getattr(r, sort_by) is None]
        rows = sorted(present, key=lambda r: getattr(r, sort_by), reverse=reverse) + missing
    elif reverse:
        rows.reverse()

    emit(
        [r.to_dict() for r in rows],
        as_json,
        lambda data: format_table(MODEL_COLUMNS, [[d[c] for c in MODEL_COLUMNS] for d in data]),
    )


@cli.command()
@click.argument("model")
@json_option
def info(model: str, as_json: bool) -> None:
    """Reference values of MODEL plus figures computed from the built network: trainable
    parameters, MACs at 1x3x224x224 and the table's FLOPs / MACs ratio."""
    from edgekit import zoo

    details = zoo.model_info(model)
    emit(details.to_dict(), as_json, lambda _: details.to_text())


# ------------------------------------------------------------- export, convert, predict, zoo build


def _pretrained_arg(value: Optional[str]) -> Any:
    """--pretrained: 'official' means PaddleClas's published weights; else a path or URL."""
    return True if value == "official" else value


PRETRAINED_HELP = "Weights: a .pdparams path, an http(s) URL, or 'official' (PaddleClas's); default random."


@cli.command()
@click.argument("model")
@click.option("--pretrained", help=PRETRAINED_HELP)
@click.option("--input-size", default=224, show_default=True, type=int, help="Side of the square input.")
@click.option("--onnx", is_flag=True, help="Also write model.onnx (paddle2onnx), checked with onnxruntime.")
@click.option("--force", is_flag=True, help="Export again even when the workspace has this export.")
@workspace_option
@json_option
def export(model: str, pretrained: Optional[str], input_size: int, onnx: bool, force: bool,
           workspace: Optional[str], as_json: bool) -> None:
    """Export a zoo MODEL to a Paddle inference model (inference.pdmodel/.pdiparams)."""
    from edgekit.export import export_model

    result = export_model(model, open_workspace(workspace), pretrained=_pretrained_arg(pretrained),
                          input_size=input_size, onnx=onnx, force=force)
    emit(result.to_dict(), as_json, lambda d: (
        f"{'reused' if d['reused'] else 'exported'} {d['name']} "
        f"(input {'x'.join(map(str, d['input_shape']))}) in {d['directory']}"
        + (f"\nONNX (checked against Paddle Inference): {d['onnx_file']}" if d["onnx_file"] else "")))


@cli.command()
@click.argument("model_or_dir", metavar="MODEL_OR_DIR")
@click.option("--target", default="arm", show_default=True,
              help="opt target from opt_configs/targets.yaml (arm, x86, opencl or 'opencl,arm').")
@click.option("--fp16", is_flag=True, help="opt's --enable_fp16 (ARM fp16 kernels).")
@click.option("--pretrained", help=PRETRAINED_HELP + " Only for zoo names.")
@click.option("--force", is_flag=True, help="Run opt again even when the workspace has this .nb.")
@workspace_option
@json_option
def convert(model_or_dir: str, target: str, fp16: bool, pretrained: Optional[str], force: bool,
            workspace: Optional[str], as_json: bool) -> None:
    """Convert a zoo model, MODEL_int8, or an inference-model folder to a Paddle Lite .nb with opt."""
    from edgekit.convert import convert_model

    result = convert_model(model_or_dir, open_workspace(workspace), target=target, fp16=fp16,
                           pretrained=_pretrained_arg(pretrained), force=force)
    emit(result.to_dict(), as_json, lambda d: (
        f"{'reused' if d['reused'] else 'converted'} {d['name']} for {d['target']} ({d['valid_targets']}"
        f"{', fp16' if d['fp16'] else ''}): {d['nb_path']} ({d['bytes']} bytes, {d['mib']:.2f} MiB)"))


@cli.command()
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("--model", "model", required=True, metavar="MODEL_OR_NB",
              help="A zoo name, MODEL_int8, an inference-model folder, or an x86 .nb file.")
@click.option("--topk", default=5, show_default=True, type=int)
@click.option("--threads", default=1, show_default=True, type=int, help="CPU threads of the x86 runtime.")
@click.option("--pretrained", help=PRETRAINED_HELP + " Only for zoo names.")
@workspace_option
@json_option
def predict(images: tuple[str, ...], model: str, topk: int, threads: int, pretrained: Optional[str],
            workspace: Optional[str], as_json: bool) -> None:
    """Classify IMAGEs on this machine with Paddle Lite's x86 runtime (top-k ImageNet classes)."""
    from edgekit.predict import format_predictions, predict_images

    result = predict_images(list(images), model, open_workspace(workspace), topk=topk, threads=threads,
                            pretrained=_pretrained_arg(pretrained))
    emit(result.to_dict(), as_json, lambda _: format_predictions(result))


@cli.group("zoo")
def zoo_group() -> None:
    """Work on many zoo models at once."""


@zoo_group.command("build")
@click.argument("models", nargs=-1, metavar="[MODEL...]")
@click.option("--all", "all_models", is_flag=True, help="The 32 models of PaddleClas's table.")
@click.option("--int8", is_flag=True, help="Also quantize each model (MODEL_int8, default preset).")
@click.option("--target", default="arm", show_default=True, help="opt target (opt_configs/targets.yaml).")
@click.option("--jobs", type=int, default=None, help="Models built in parallel [default: CPUs, at most 4].")
@click.option("--force", is_flag=True, help="Rebuild every artifact, even those in the workspace.")
@workspace_option
@json_option
def zoo_build(models: tuple[str, ...], all_models: bool, int8: bool, target: str, jobs: Optional[int],
              force: bool, workspace: Optional[str], as_json: bool) -> None:
    """Export (quantize) and convert many models in parallel; compare .nb sizes with the seed table."""
    from edgekit import zoo_build as builder
    from edgekit.errors import ToolError

    names = builder.select_models(models, all_models=all_models, int8=int8)
    result = builder.zoo_build(names, open_workspace(workspace), target=target, jobs=jobs, force=force)
    emit(result.to_dict(), as_json, lambda _: builder.format_build(result))
    failed = [o.model for o in result.outcomes if not o.ok]
    if failed:
        raise ToolError(f"{len(failed)} of {len(result.outcomes)} models failed: {', '.join(failed)}")


# ---------------------------------------------------------------------------------- quantize


@cli.command()
@click.argument("model")
@click.option("--pretrained", help=PRETRAINED_HELP + " Only for zoo names.")
@click.option("--preset", default=None, metavar="NAME",
              help="Settings from opt_configs/quant_presets.yaml [default: paddleclas, the seed's int8 recipe; "
                   "full quantizes every layer].")
@click.option("--calib-dir", type=click.Path(), metavar="DIR",
              help="Calibration images (flat or class folders) [default: the photographs shipped with edgekit].")
@click.option("--eval-dir", type=click.Path(), metavar="DIR",
              help="Labelled images (class-id or synset folders, or val_list.txt): top-1/top-5 of fp32 and int8.")
@click.option("--algo", help="PaddleSlim algo: hist, KL, avg, mse, emd, abs_max.")
@click.option("--hist-percent", type=float, help="Percentile of algo hist.")
@click.option("--batch-size", type=int, help="Calibration batch size (models exported by edgekit take 1).")
@click.option("--batch-nums", type=int, help="Calibration batches; 0 = every image.")
@click.option("--weight-quantize-type", help="channel_wise_abs_max or abs_max.")
@click.option("--quantizable-op-type", metavar="OPS", help="Comma-separated op types, e.g. conv2d,depthwise_conv2d.")
@click.option("--onnx-format/--no-onnx-format", default=None,
              help="quantize_linear/dequantize_linear ops (PaddleSlim 2.6's default) or fake-quant ops.")
@click.option("--skip", "skip_patterns", multiple=True, metavar="PATTERN",
              help="Keep layers float: fnmatch on layer name (conv2d_62, linear_0), weight or output name. "
                   "Repeatable.")
@click.option("--force", is_flag=True, help="Quantize again even when the workspace has this artifact.")
@workspace_option
@json_option
def quantize(model: str, pretrained: Optional[str], preset: Optional[str], calib_dir: Optional[str],
             eval_dir: Optional[str], algo: Optional[str], hist_percent: Optional[float], batch_size: Optional[int],
             batch_nums: Optional[int], weight_quantize_type: Optional[str], quantizable_op_type: Optional[str],
             onnx_format: Optional[bool], skip_patterns: tuple[str, ...], force: bool, workspace: Optional[str],
             as_json: bool) -> None:
    """Post-training int8 quantization (PaddleSlim quant_post_static) of a zoo MODEL or an
    inference-model folder, into MODEL_int8, with a fidelity report (Paddle Inference)."""
    from pathlib import Path

    from edgekit.quantize import DEFAULT_PRESET, QuantConfig, format_report, quantize_model

    config = QuantConfig.from_preset(
        preset or DEFAULT_PRESET, algo=algo, hist_percent=hist_percent, batch_size=batch_size, batch_nums=batch_nums,
        weight_quantize_type=weight_quantize_type, quantizable_op_type=quantizable_op_type,
        onnx_format=onnx_format, skip_patterns=skip_patterns or None)
    result = quantize_model(model, open_workspace(workspace), config, calib_dir=Path(calib_dir) if calib_dir else None,
                            eval_dir=Path(eval_dir) if eval_dir else None, pretrained=_pretrained_arg(pretrained),
                            force=force)
    emit(result.to_dict(), as_json, lambda _: format_report(result))


# ---------------------------------------------------------------------- bench, results, report

from edgekit.bench import DEFAULT_TIMEOUT_S, DEVICE_TMP, REMOTE_ROOT  # noqa: E402  (constants only: a cheap import)


@cli.command()
@click.argument("models", nargs=-1, metavar="[MODEL...]")
@click.option("--all", "all_models", is_flag=True,
              help="The 32 models of PaddleClas's table (MobileNetV3_large_x1_0_ssld_int8 included).")
@device_options
@click.option("--benchmark-bin", type=click.Path(dir_okay=False),
              help="Paddle Lite's benchmark_bin to push [env EDGEKIT_BENCHMARK_BIN; virtual devices: their own].")
@click.option("--warmup", type=int, help="Warm-up runs [profile default; seed: 10].")
@click.option("--repeats", type=int, help="Measured runs [profile default; seed: 30].")
@click.option("--threads", type=int, help="CPU threads [profile default; seed: 1].")
@click.option("--power-mode", type=int, help="Paddle Lite PowerMode 0-5 [profile default: 0, LITE_POWER_HIGH].")
@click.option("--input-shape", metavar="N,C,H,W", help="Input shape [profile default: 1,3,224,224].")
@click.option("--memory", "memory_profile", is_flag=True,
              help="Pass --enable_memory_profile (the tool reports init and peak memory).")
@click.option("--timeout", type=click.FloatRange(min=0), default=DEFAULT_TIMEOUT_S, show_default=True,
              help="Seconds one run may take (0: no limit).")
@click.option("--cooldown", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Seconds to wait between runs.")
@click.option("--resume", is_flag=True, help="Skip what the results store already has (same model, precision, "
                                             "profile, settings and kind of device: virtual or phone).")
@click.option("--cleanup", is_flag=True, help="Remove the work folder from the device afterwards.")
@click.option("--remote-dir", default=REMOTE_ROOT, show_default=True,
              help=f"Work folder on the device (a folder below {DEVICE_TMP}).")
@workspace_option
@json_option
def bench(models: tuple[str, ...], all_models: bool, profile: Optional[str], serial: Optional[str],
          adb_servers: tuple[str, ...], devices_file: Optional[str], benchmark_bin: Optional[str],
          warmup: Optional[int], repeats: Optional[int], threads: Optional[int], power_mode: Optional[int],
          input_shape: Optional[str], memory_profile: bool, timeout: float, cooldown: float, resume: bool,
          cleanup: bool, remote_dir: str, workspace: Optional[str], as_json: bool) -> None:
    """Benchmark MODELs (zoo names, MODEL_int8, model folders, .nb files) on a device over adb with
    Paddle Lite's benchmark_bin; converts what is missing and appends every run to the results store."""
    from pathlib import Path

    from edgekit import reference
    from edgekit.bench.runner import BenchOptions, bench_models, format_outcome
    from edgekit.errors import UsageError

    if all_models and models:
        raise UsageError("give model names or --all, not both")
    names = reference.reference_names() if all_models else list(models)
    options = BenchOptions(benchmark_bin=Path(benchmark_bin) if benchmark_bin else None,
                           timeout_s=timeout or None, cooldown_s=cooldown, resume=resume,
                           cleanup=cleanup, remote_dir=remote_dir)
    outcome = bench_models(
        names, open_workspace(workspace), profile=profile, serial=serial, adb_servers=adb_servers,
        devices_file=Path(devices_file) if devices_file else None, options=options,
        settings={"warmup": warmup, "repeats": repeats, "threads": threads, "power_mode": power_mode,
                  "input_shape": input_shape, "memory_profile": memory_profile or None})
    emit(outcome.to_dict(), as_json, lambda _: format_outcome(outcome))
    outcome.raise_for_failures()


@cli.group("results")
def results_group() -> None:
    """The results store (<workspace>/results/results.jsonl)."""


@results_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--device", "profile", required=True, metavar="PROFILE",
              help="Profile of the device the file was measured on (opt_configs/devices.yaml).")
@click.option("--model", help="Model name, for a file about one model that does not name it.")
@click.option("--tool-version", metavar="V",
              help="Paddle Lite version of the binary (e.g. 2.6); decides min/max order of legacy lines.")
@workspace_option
@json_option
def results_import(file: str, profile: str, model: Optional[str], tool_version: Optional[str],
                   workspace: Optional[str], as_json: bool) -> None:
    """Store results from a benchmark output or result FILE made by hand (e.g. PaddleClas's benchmark.sh)."""
    from pathlib import Path

    from edgekit.bench.imports import import_results

    records = import_results(Path(file), open_workspace(workspace), profile=profile, model=model,
                             tool_version=tool_version)
    emit([r.to_dict() for r in records], as_json, lambda _: "\n".join(
        [f"imported {len(records)} result(s) from {file} as {profile}:"]
        + [f"  {r.model}: avg {r.latency['avg_ms']:.3f} ms (threads {r.settings.get('threads') or '?'})"
           for r in records]))


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "json"]), default="md", show_default=True)
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False),
              help="Write top1_vs_latency.png and top1_vs_storage.png into this folder.")
@click.option("--device", "profile", metavar="PROFILE", help="Only results of this device profile.")
@workspace_option
@json_option
def report(fmt: str, plots_dir: Optional[str], profile: Optional[str], workspace: Optional[str],
           as_json: bool) -> None:
    """Latest result per (model, device, settings) beside the seed's SD855 latency and storage."""
    from pathlib import Path

    from edgekit.report import make_report, render

    result = make_report(open_workspace(workspace), profile=profile,
                         plots_dir=Path(plots_dir) if plots_dir else None)
    click.echo(render(result, "json" if as_json else fmt).rstrip("\n"))


# ----------------------------------------------------------------------------------- devices


DEVICE_COLUMNS = ("serial", "model", "soc", "board", "abi", "cores", "android_version", "profile")


@cli.command()
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


@cli.group("device")
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


# -------------------------------------------------------------------------------- demo app


@cli.group("app")
def app_group() -> None:
    """The Android demo app (android_demo/): build its APK, install it on a phone."""


def _render_app_build(data: dict) -> str:
    library = (f"Paddle Lite packaged for {data['abi']}" if data["paddle_lite"] else
               "no inference library packaged: the app shows the photo and says it cannot classify "
               "(pass --paddle-lite-lib to package Paddle Lite)")
    return (f"{data['apk']}{' (reused)' if data['reused'] else ''}\n"
            f"  {data['package']} {data['version_name']}, minSdk {data['min_sdk']}, "
            f"{data['bytes'] / 2**20:.2f} MiB, signed with the debug key\n"
            f"  model {data['model']} ({data['nb_bytes'] / 2**20:.2f} MiB .nb)\n  {library}")


@app_group.command("build")
@click.option("--model", required=True, metavar="MODEL_OR_NB",
              help="A .nb converted for arm, or a zoo name / MODEL_int8 / model folder to convert for arm.")
@click.option("--paddle-lite-lib", type=click.Path(), metavar="DIR",
              help="Paddle Lite's Android inference library (inference_lite_lib.android.armv8/ or its java/).")
@click.option("--pretrained", help=PRETRAINED_HELP + " Only for zoo names.")
@click.option("--out", type=click.Path(), metavar="APP.apk", help="Also copy the APK here (file or folder).")
@click.option("--labels", type=click.Path(), metavar="FILE",
              help="Label list (one name per line, or PaddleClas's 'id name') [default: ImageNet-1k].")
@click.option("--threads", default=1, show_default=True, type=int, help="The app's default CPU threads.")
@click.option("--power-mode", default="LITE_POWER_HIGH", show_default=True,
              help="The app's default Paddle Lite power mode (LITE_POWER_HIGH, _LOW, _FULL, _NO_BIND, ...).")
@click.option("--force", is_flag=True, help="Build again even when the workspace has this APK.")
@workspace_option
@json_option
def app_build(model: str, paddle_lite_lib: Optional[str], pretrained: Optional[str], out: Optional[str],
              labels: Optional[str], threads: int, power_mode: str, force: bool, workspace: Optional[str],
              as_json: bool) -> None:
    """Build the signed debug APK of the demo app with Debian's Android tools (aapt, javac, dx,
    zipalign, apksigner), bundling MODEL's .nb and the labels."""
    from pathlib import Path

    from edgekit.app.build import AppOptions, build_app

    options = AppOptions(threads=threads, power_mode=power_mode, labels=Path(labels) if labels else None)
    result = build_app(model, open_workspace(workspace), out=Path(out) if out else None, options=options,
                       paddle_lite_lib=Path(paddle_lite_lib) if paddle_lite_lib else None,
                       pretrained=_pretrained_arg(pretrained), force=force)
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


# ------------------------------------------------------------------------------ entry point


def main(argv: Optional[list[str]] = None) -> None:
    try:
        code = cli.main(args=argv, prog_name="edgekit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("edgekit: aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except EdgekitError as e:
        message = str(e).strip() or type(e).__name__
        click.echo(f"edgekit: error: {message}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("edgekit: interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
