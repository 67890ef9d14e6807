"""``edgekit bench``, ``results`` and ``report``: measuring on devices and laying results beside the seed."""

from __future__ import annotations

from typing import Optional

import click

# constants only: cheap imports
from edgekit.bench import DEFAULT_TIMEOUT_S, DEVICE_TMP, REMOTE_ROOT
from edgekit.bench.settings import DEFAULT_COOLDOWN_TIMEOUT_S, DEFAULT_DEVICE_TIMEOUT_S
from edgekit.cli._common import description_options, device_options, emit, json_option, open_workspace, \
    workspace_option


@click.command()
@click.argument("models", nargs=-1, metavar="[MODEL...]")
@click.option("--all", "all_models", is_flag=True,
              help="The 32 models of PaddleClas's table (MobileNetV3_large_x1_0_ssld_int8 included).")
@device_options
@click.option("--benchmark-bin", type=click.Path(dir_okay=False),
              help="Paddle Lite's benchmark_bin to push [env EDGEKIT_BENCHMARK_BIN; virtual devices: their own].")
@click.option("--warmup", type=int, help="Warm-up runs [profile default; seed: 10].")
@click.option("--repeats", type=int, help="Measured runs [profile default; seed: 30].")
@click.option("--threads", metavar="N[,N...]",
              help="CPU threads; a list (1,2,4) gives one result per count [profile default; seed: 1].")
@click.option("--rounds", type=int, help="Runs of the binary per result (each: warmup + repeats); the result "
                                         "keeps every round's average, their median and std (1-1000) [default: 1].")
@click.option("--power-mode", type=int, help="Paddle Lite PowerMode 0-5 [profile default: 0, LITE_POWER_HIGH].")
@click.option("--input-shape", metavar="N,C,H,W", help="Input shape [the model's own, else the profile's: "
                                                       "1,3,224,224].")
@click.option("--memory", "memory_profile", is_flag=True,
              help="Pass --enable_memory_profile (the tool reports init and peak memory).")
@click.option("--timeout", type=click.FloatRange(min=0), default=DEFAULT_TIMEOUT_S, show_default=True,
              help="Seconds one run of the binary may take (0: no limit).")
@click.option("--device-timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_DEVICE_TIMEOUT_S,
              show_default=True, help="Seconds every other device call may take (mkdir, push, stat, thermal, lock).")
@click.option("--cooldown", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Seconds to wait between runs.")
@click.option("--cooldown-temp", type=float, metavar="C",
              help="Before each run, wait until the device's hottest thermal zone is below C °C "
                   "(20-120; at most --cooldown-timeout s).")
@click.option("--cooldown-timeout", type=click.FloatRange(min=0, min_open=True),
              default=DEFAULT_COOLDOWN_TIMEOUT_S, show_default=True,
              help="The longest wait for --cooldown-temp (then it runs, with a warning).")
@click.option("--no-wait", is_flag=True, help="Fail at once when another run holds the device (default: wait).")
@click.option("--resume", is_flag=True, help="Skip what the results store already has (same model .nb and "
                                             "binary bytes, profile, settings and kind of device).")
@click.option("--cleanup", is_flag=True, help="Remove the files this run put on the device afterwards.")
@click.option("--remote-dir", default=REMOTE_ROOT, show_default=True,
              help=f"Work folder on the device (a folder below {DEVICE_TMP}).")
@description_options
@workspace_option
@json_option
def bench(models: tuple[str, ...], all_models: bool, profile: Optional[str], serial: Optional[str],
          adb_servers: tuple[str, ...], devices_file: Optional[str], benchmark_bin: Optional[str],
          warmup: Optional[int], repeats: Optional[int], threads: Optional[str], rounds: Optional[int],
          power_mode: Optional[int], input_shape: Optional[str], memory_profile: bool, timeout: float,
          device_timeout: float, cooldown: float, cooldown_temp: Optional[float], cooldown_timeout: float,
          no_wait: bool, resume: bool, cleanup: bool, remote_dir: str, workspace: Optional[str],
          as_json: bool, overrides) -> None:
    """Benchmark MODELs (zoo names, MODEL_int8, model folders, .onnx files, .nb files) on a device over adb with
    Paddle Lite's benchmark_bin; converts what is missing and appends every run to the results store.
    One run per device at a time: a device another bench uses is waited for (or --no-wait).
    The description flags (--config, --input-size, ...) describe the models converted; a model
    with a dynamic height/width takes --input-shape's when no --input-size is given."""
    from pathlib import Path

    from edgekit import reference
    from edgekit.bench.runner import BenchOptions, bench_models, format_outcome
    from edgekit.errors import UsageError

    if all_models and models:
        raise UsageError("give model names or --all, not both")
    names = reference.reference_names() if all_models else list(models)
    options = BenchOptions(benchmark_bin=Path(benchmark_bin) if benchmark_bin else None,
                           timeout_s=timeout or None, device_timeout_s=device_timeout, cooldown_s=cooldown,
                           cooldown_temp_c=cooldown_temp, cooldown_timeout_s=cooldown_timeout, wait=not no_wait,
                           resume=resume, cleanup=cleanup, remote_dir=remote_dir)
    outcome = bench_models(
        names, open_workspace(workspace), profile=profile, serial=serial, adb_servers=adb_servers,
        devices_file=Path(devices_file) if devices_file else None, options=options,
        settings={"warmup": warmup, "repeats": repeats, "threads": threads, "power_mode": power_mode,
                  "input_shape": input_shape, "memory_profile": memory_profile or None, "rounds": rounds},
        notify=lambda message: click.echo(f"edgekit: {message}", err=True), description=overrides)
    emit(outcome.to_dict(), as_json, lambda _: format_outcome(outcome))
    outcome.raise_for_failures()


@click.group("results")
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


@click.command()
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
    if result.message and (as_json or fmt != "md"):  # the Markdown view already says it
        click.echo(f"edgekit: {result.message}", err=True)
