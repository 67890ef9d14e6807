"""``edgekit results import``: results a user measured by hand, into the results store.

Typical inputs: the result file PaddleClas's ``deploy/lite/benchmark/benchmark.sh`` pulls from the
phone (legacy lines, several models and thread counts, Paddle Lite v2.6-era binary), or the stdout
of the current ``benchmark_bin`` saved to a file. The device is named by its profile, since the
file says little about it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from edgekit.bench.parse import ParsedRun, parse_output, quote_start
from edgekit.bench.results import OK, BenchRecord, ResultStore, new_run_id, now_iso
from edgekit.errors import BenchmarkError, InvalidInputError, UsageError
from edgekit.nb_info import precision_name
from edgekit.workspace import Workspace, sha256_file

# Settings that describe a run; absent ones stay None (the file did not say).
SETTING_NAMES = ("warmup", "repeats", "threads", "power_mode", "input_shape")
# Benchmark outputs are small text files (a benchmark.sh result for 32 models and 3 thread counts is
# about 10 kB); a larger file is something else, and is not read into memory.
MAX_IMPORT_BYTES = 8 << 20


def import_results(path: Path, workspace: Workspace, *, profile: str, model: Optional[str] = None,
                   tool_version: Optional[str] = None) -> list[BenchRecord]:
    """Parse ``path`` and append one record per result to the workspace's store."""
    from edgekit.device.profiles import load_profile

    device_profile = load_profile(profile)
    text = _read_text(path)
    try:
        runs = parse_output(text, tool_version=tool_version)
    except BenchmarkError as error:  # the file is the user's input, not a tool that failed
        raise InvalidInputError(f"{path}: {error}") from None
    names = _model_names(runs, model, path)
    origin = {"file": str(Path(path).resolve()), "sha256": sha256_file(Path(path))}
    store = ResultStore.for_workspace(workspace)
    records = []
    for run, name in zip(runs, names):
        record = _record(run, name, device_profile, tool_version, origin)
        store.append(record)
        records.append(record)
    return records


def _read_text(path: Path) -> str:
    """The file's text: at most MAX_IMPORT_BYTES, not empty, not binary (InvalidInputError)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_IMPORT_BYTES + 1)
    except FileNotFoundError:
        raise InvalidInputError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{path} is a folder, not a benchmark output file") from None
    except OSError as e:
        raise InvalidInputError(f"cannot read {path}: {e.strerror}") from None
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInputError(f"{path} is larger than {MAX_IMPORT_BYTES >> 20} MiB; benchmark outputs and "
                                f"benchmark.sh result files are small text files")
    if not data.strip():
        raise InvalidInputError(f"{path} is empty; expected the output of Paddle Lite's benchmark_bin or a "
                                f"benchmark.sh result file")
    if b"\x00" in data:
        raise InvalidInputError(f"{path} is a binary file (it holds NUL bytes), not benchmark output")
    text = data.decode("utf-8", errors="replace")
    if text.count("\ufffd") > len(text) // 100:  # mostly not UTF-8: not a text file
        raise InvalidInputError(f"{path} is not a text file ({quote_start(text, 60)}), not benchmark output")
    return text


def _model_names(runs: list[ParsedRun], model: Optional[str], path: Path) -> list[str]:
    """The model name of each run: --model when given (only for a file about one model)."""
    found = {r.model for r in runs if r.model}
    if model:
        if len(found) > 1:
            raise UsageError(f"{path} holds results of several models ({', '.join(sorted(found))}); "
                             f"--model can only name the model of a single-model file")
        return [model] * len(runs)
    unnamed = [r.line for r in runs if not r.model]
    if unnamed:
        raise UsageError(f"{path}: the result at line {unnamed[0]} names no model; pass --model NAME")
    return [r.model for r in runs]


def _record(run: ParsedRun, name: str, profile, tool_version: Optional[str], origin: dict) -> BenchRecord:
    settings = {key: run.settings.get(key) for key in SETTING_NAMES}
    device = {
        "serial": None,
        "model": run.device.get("Model"),
        "manufacturer": run.device.get("Brand"),
        "soc": profile.soc,
        "board": profile.board_platform,
        "abi": profile.abi,
        "profile": profile.name,
        "android_version": run.device.get("Android Version"),
        "virtual": False,
    }
    return BenchRecord(
        run_id=new_run_id(),
        status=OK,
        source="import",
        model=name,
        precision=precision_name(name),
        target=profile.opt_target,
        nb=None,
        device=device,
        settings=settings,
        tool={"name": "benchmark_bin", "version": tool_version or run.tool_version,
              "sha256": None, "generation": run.generation},
        latency=run.latency.to_dict(),
        memory_mb=run.memory_mb,
        started=None,  # the file does not say when it was measured
        finished=None,
        extra={"imported_from": {**origin, "line": run.line}, "imported_at": now_iso(),
               "minmax_swapped": run.minmax_swapped,
               "arch": run.settings.get("arch"), "backend": run.settings.get("backend")},
    )
