"""The virtual device's benchmark binary: Paddle Lite's benchmark tool, run on the host.

It takes the flags of Paddle Lite's current benchmark tool (``lite/api/tools/benchmark``,
v2.10 on: ``--optimized_model_file``, ``--input_shape``, ``--warmup``, ``--repeats``,
``--threads``, ``--power_mode``, ``--backend``, ``--result_path``, ...) parsed the way gflags
parses them, runs the model with the ``paddlelite`` Python runtime (x86 ``.nb`` files, through
``MobileConfig``/``create_paddle_predictor``) and prints the tool's sectioned report: Model Info
(with output tensor statistics), Runtime Info, Backend Info and Perf Info with its
``Time(unit: ms)`` block (init, first, min, max, avg) and, with ``--enable_memory_profile``,
``Memory Usage(unit: MB)``. Inside a device (``getprop`` on PATH) it prints Device Info first, as
the Android build does.

Timing is the tool's: predictor creation is "init"; every run (warm-up and measured) is timed
alone with a monotonic clock; "first" is the very first run; min/max/avg cover the measured runs.

Behaviour kept from the tool: missing or conflicting flags print errors and the usage and exit 0;
an unknown flag or a malformed value is a gflags error (exit 1); a model file that does not exist
aborts (SIGABRT), and so does Paddle Lite on a file it cannot load.

Differences, because this runs on an x86 host: the Python ``MobileConfig`` has no thread or
power-mode setting, so ``--threads`` sets the OpenMP/MKL thread count of the process instead and
``--power_mode`` (big/little core binding) has no effect — it is reported as given. OpenCL and
NNAdapter backends and ``--validation_set`` are not available. The x86 runtime "runs" an ``.nb``
made for ARM in microseconds and returns garbage, so this binary refuses one (exit 1, before
loading it: opt records each op's kernel target in the file), and exits 1 after its report when
an output holds NaN or Inf: neither is a measurement.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

PROGRAM = "benchmark_bin"


# ------------------------------------------------------------------------------------ flags


@dataclasses.dataclass(frozen=True)
class Flag:
    kind: str  # "string", "int32", "double", "bool"
    default: Any
    help: str


FLAGS: dict[str, Flag] = {
    # model
    "optimized_model_file": Flag("string", "", "a .nb model made by opt"),
    "uncombined_model_dir": Flag("string", "", "folder of a Paddle model with one file per parameter"),
    "model_file": Flag("string", "", "program file of a combined Paddle model"),
    "param_file": Flag("string", "", "parameters file of a combined Paddle model"),
    "input_shape": Flag("string", "", "input shapes: dims joined by ',', inputs by ':' (1,3,224,224:1,5)"),
    "input_data_path": Flag("string", "", "text files with the input values, joined by ':' (default: all 1)"),
    "input_data_type": Flag("string", "", "input types joined by ':': float32 (default), int64, int32"),
    "output_data_path": Flag("string", "", "files to write the output values to, joined by ':'"),
    "validation_set": Flag("string", "", "ImageNet validation images as inputs (not available here)"),
    "show_output_elem": Flag("bool", False, "print every element of every output"),
    # runtime
    "warmup": Flag("int32", 0, "runs before the measured ones"),
    "repeats": Flag("int32", 1, "measured runs"),
    "run_delay": Flag("double", -1.0, "pause between runs (the tool sleeps this many whole milliseconds)"),
    "power_mode": Flag("int32", 0, "Paddle Lite PowerMode: 0 big cores, 1 little cores, 2 all, 3 no binding"),
    "threads": Flag("int32", 1, "number of threads"),
    "result_path": Flag("string", "", "file to save the report to"),
    # backend
    "backend": Flag("string", "", "execution backend: arm, x86, opencl, ... (required)"),
    "cpu_precision": Flag("string", "fp32", "fp32 or fp16 CPU kernels when optimizing a Paddle model"),
    "gpu_precision": Flag("string", "fp16", "GPU precision (OpenCL)"),
    "opencl_cache_dir": Flag("string", "", "OpenCL kernel binary and tuning cache folder"),
    "opencl_kernel_cache_file": Flag("string", "paddle_lite_opencl_kernel.bin", "OpenCL kernel binary file name"),
    "opencl_tuned_file": Flag("string", "paddle_lite_opencl_tuned.params", "OpenCL tuning file name"),
    "opencl_tune_mode": Flag("string", "normal", "OpenCL tuning: none, rapid, normal, exhaustive"),
    "nnadapter_device_names": Flag("string", "", "NNAdapter devices"),
    "nnadapter_context_properties": Flag("string", "", "NNAdapter context properties"),
    # profiling
    "enable_op_time_profile": Flag("bool", False, "per-operator timing (not supported by the tool either)"),
    "enable_memory_profile": Flag("bool", False, "sample the peak memory use in a thread and report it"),
    "memory_check_interval_ms": Flag("int32", 5, "milliseconds between memory samples"),
    # configuration
    "config_path": Flag("string", "", "configuration file for --validation_set"),
}
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")
OPENCL_BACKENDS = ("opencl,arm", "opencl", "opencl,x86", "x86_opencl")


class FlagError(Exception):
    """A gflags parse error: printed as ``ERROR: ...``; the tool then exits 1."""


def _convert(name: str, flag: Flag, text: str) -> Any:
    try:
        if flag.kind == "int32":
            value = int(text, 0) if text.lower().startswith(("0x", "-0x")) else int(text)
            if not -2**31 <= value < 2**31:
                raise ValueError
            return value
        if flag.kind == "double":
            return float(text)
        if flag.kind == "bool":
            if text.lower() in TRUE_WORDS:
                return True
            if text.lower() in FALSE_WORDS:
                return False
            raise ValueError
        return text
    except ValueError:
        raise FlagError(f"illegal value '{text}' specified for {flag.kind} flag '{name}'") from None


def parse_flags(argv: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """gflags semantics: ``--name=value``, ``-name=value``, ``--name value``, ``--bool``,
    ``--nobool``; ``--`` ends the flags. Returns (values, positional arguments)."""
    values = {name: flag.default for name, flag in FLAGS.items()}
    positional: list[str] = []
    args = list(argv)
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            positional += args[index:]
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        name, has_value, text = arg.lstrip("-").partition("=")
        if name in ("help", "helpfull", "helpshort", "version"):
            values[name] = True
            continue
        flag = FLAGS.get(name)
        negated = FLAGS.get(name[2:]) if flag is None and name.startswith("no") else None
        if negated is not None and negated.kind == "bool":
            if has_value:
                raise FlagError(f"boolean value ({text}) specified for bool flag '{name[2:]}' "
                                f"with the 'no' prefix")
            values[name[2:]] = False
            continue
        if flag is None:
            raise FlagError(f"unknown command line flag '{name}'")
        if not has_value:
            if flag.kind == "bool":
                values[name] = True
                continue
            if index >= len(args):
                raise FlagError(f"flag '{arg}' is missing its argument; flag description: {flag.help}")
            text = args[index]
            index += 1
        values[name] = _convert(name, flag, text)
    return values, positional


def usage_message() -> str:
    return (
        "\nUsage (edgekit virtual device: runs x86 .nb files on the host):\n"
        f"  ./{PROGRAM} --optimized_model_file=/data/local/tmp/model.nb --input_shape=1,3,224,224 "
        "--backend=x86 [--warmup=10 --repeats=30 --threads=1 --power_mode=0]\n"
        f"  or --model_file=FILE --param_file=FILE (or --uncombined_model_dir=DIR) to optimize first.\n"
        f"All flags: ./{PROGRAM} --help\n\n"
    )


def help_text() -> str:
    lines = [f"{PROGRAM}: {usage_message()}", "  Flags from lite/api/tools/benchmark/utils/flags.cc:"]
    for name, flag in FLAGS.items():
        default = str(flag.default).lower() if flag.kind == "bool" else repr(flag.default).replace("'", '"')
        lines.append(f"    -{name} ({flag.help}) type: {flag.kind} default: {default}")
    return "\n".join(lines) + "\n"


def check_flags(flags: dict[str, Any]) -> list[str]:
    """The tool's CheckFlagsValid: the problems with this flag combination (empty when fine)."""
    problems = []
    is_opt_model = (not flags["uncombined_model_dir"] and not flags["model_file"] and not flags["param_file"]
                    and bool(flags["optimized_model_file"]))
    is_origin_model = bool(flags["uncombined_model_dir"]) or bool(flags["model_file"] and flags["param_file"])
    if not is_origin_model and not is_opt_model:
        problems.append("\nNo model path is set!")
    if flags["uncombined_model_dir"] and flags["model_file"] and flags["param_file"]:
        problems.append("Both --uncombined_model_dir and --model_file --param_file are set. "
                        "Only need to set one model format!")
    if not flags["backend"]:
        problems.append("Must set --backend option!")
    if not flags["input_shape"]:
        problems.append("Must set --input_shape option!")
    if flags["input_data_path"]:
        if len(flags["input_data_path"].split(":")) != len(flags["input_shape"].split(":")):
            problems.append(f"Option invalid: --input_data_path={flags['input_data_path']}  "
                            f"--input_shape={flags['input_shape']} \nThe num of input tensors is ambiguous.")
    if flags["validation_set"] and not flags["config_path"]:
        problems.append("Both --validation_set and --config_path options should be set!")
    if flags["validation_set"]:
        problems.append("--validation_set is not available in the edgekit virtual device's benchmark binary")
    return problems


def parse_shapes(text: str) -> list[list[int]]:
    """``1,3,224,224:1,5`` → [[1, 3, 224, 224], [1, 5]] (atoi per item, as the tool does)."""
    shapes = []
    for part in text.split(":"):
        dims = []
        for item in part.split(","):
            digits = item.strip()
            sign = -1 if digits.startswith("-") else 1
            digits = digits.lstrip("+-")
            number = ""
            for ch in digits:
                if not ch.isdigit():
                    break
                number += ch
            dims.append(sign * int(number) if number else 0)
        shapes.append(dims)
    return shapes


# ---------------------------------------------------------------------------- results file


class ResultFile:
    """``--result_path``: the first write replaces the file, later ones append (as the tool)."""

    def __init__(self, path: str):
        self.path = path
        self._written = False

    def store(self, text: str) -> None:
        if not self.path:
            return
        try:
            with open(self.path, "a" if self._written else "w") as f:
                f.write(text)
        except OSError:
            print(f"Fail to open result file: {self.path}", file=sys.stderr)
        self._written = True


# ------------------------------------------------------------------------------ measuring


@dataclasses.dataclass
class PerfData:
    repeats: int
    init_ms: float = 0.0
    run_ms: list[float] = dataclasses.field(default_factory=list)

    @property
    def measured(self) -> list[float]:
        return self.run_ms[len(self.run_ms) - self.repeats:]

    @property
    def first_ms(self) -> float:
        return self.run_ms[0]


class MemoryMonitor:
    """The tool's ResourceUsageMonitor: samples the peak resident set size in a thread, printing
    the process's CPU usage at each sample."""

    def __init__(self, interval_ms: int):
        self.interval = max(interval_ms, 1) / 1000.0
        self.peak_kb = 0.0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    @staticmethod
    def _max_rss_kb() -> float:
        return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)

    def start(self) -> None:
        print("start monitoring memory!", flush=True)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        last_wall, last_cpu = time.monotonic(), time.process_time()
        while True:
            self.peak_kb = max(self.peak_kb, self._max_rss_kb())
            wall, cpu = time.monotonic(), time.process_time()
            ratio = (cpu - last_cpu) / (wall - last_wall) if wall > last_wall else 0.0
            last_wall, last_cpu = wall, cpu
            print(f"cpu usage ratio: {ratio * 100:.1f}%", flush=True)
            if self._stop.wait(self.interval):
                break

    def current_peak_kb(self) -> float:
        self.peak_kb = max(self.peak_kb, self._max_rss_kb())
        return self.peak_kb

    def stop(self) -> None:
        print("stop monitoring memory!", flush=True)
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _timed(action: Callable[[], Any]) -> float:
    """Milliseconds ``action`` took, with a monotonic clock."""
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000.0


def _sleep_ms(delay: float) -> None:
    # The tool passes --run_delay to a SleepInMs(float ms) that truncates to whole milliseconds.
    if delay > 0 and int(delay) > 0:
        time.sleep(int(delay) / 1000.0)


# -------------------------------------------------------------------------------- the model


def output_opt_model(lite: Any, flags: dict[str, Any], results: ResultFile) -> str:
    """The .nb to run: the optimized model file, or one made with opt from a Paddle model."""
    is_opt_model = (not flags["uncombined_model_dir"] and not flags["model_file"] and not flags["param_file"])
    model_file = flags["optimized_model_file"]
    if is_opt_model:
        if not os.path.exists(model_file):
            print(f"Mode file[{model_file}] not exist!", file=sys.stderr, flush=True)
            os.abort()
        return model_file
    opt = lite.Opt()
    opt.set_valid_places(flags["backend"])
    if flags["uncombined_model_dir"]:
        model_dir = flags["uncombined_model_dir"]
        opt.set_model_dir(model_dir)
    else:
        model_dir = flags["model_file"].rsplit("/", 1)[0] if "/" in flags["model_file"] else ""
        opt.set_model_file(flags["model_file"])
        opt.set_param_file(flags["param_file"])
    out_name = model_file.split(".nb")[0] or model_dir + "/opt"
    opt.set_optimize_out(out_name)
    saved = model_file or out_name + ".nb"
    if os.path.exists(saved):
        os.remove(saved)
        print(f"Delete previous optimized model: {saved}")
    opt.run()
    source = (flags["uncombined_model_dir"] or f"{flags['model_file']} and {flags['param_file']}")
    info = f"\n======= Opt Info =======\nLoad paddle model from {source}\nSave optimized model to {saved}\n"
    print(info, end="", flush=True)
    results.store(info)
    return saved


def _input_array(np: Any, shape: list[int], dtype: str, path: str) -> Any:
    numpy_type = {"int64": np.int64, "int32": np.int32}.get(dtype, np.float32)
    count = int(np.prod(shape)) if shape else 1
    if not path:
        return np.ones(shape, dtype=numpy_type)
    try:
        values = np.array(Path(path).read_text().split()[:count], dtype=np.float64)
    except OSError:
        print(f"Open input image {path} error.", file=sys.stderr)
        values = np.array([], dtype=np.float64)
    data = np.zeros(count, dtype=numpy_type)
    data[:len(values)] = values.astype(numpy_type)
    return data.reshape(shape)


def set_inputs(np: Any, predictor: Any, flags: dict[str, Any], shapes: list[list[int]]) -> None:
    types = flags["input_data_type"].split(":") if flags["input_data_type"] else []
    paths = flags["input_data_path"].split(":") if flags["input_data_path"] else []
    for index, shape in enumerate(shapes):
        dtype = types[index] if index < len(types) else "float32"
        path = paths[index] if index < len(paths) else ""
        predictor.get_input(index).from_numpy(_input_array(np, shape, dtype, path))


def describe_outputs(np: Any, predictor: Any, flags: dict[str, Any]) -> str:
    """The tool's output-tensor block: shape, element count, mean and (population) deviation."""
    names = predictor.get_output_names()
    text = f"output tensor num: {len(names)}"
    out_paths = flags["output_data_path"].split(":") if flags["output_data_path"] else []
    for index in range(len(names)):
        tensor = predictor.get_output(index)
        data = np.asarray(tensor.numpy(), dtype=np.float64).reshape(-1)
        shape = tensor.shape()
        with np.errstate(all="ignore"):  # NaN and Inf are printed as the tool prints them
            mean = float(data.mean()) if data.size else 0.0
            deviation = float(np.sqrt(((data - mean) ** 2).mean())) if data.size else 0.0
        text += f"\n--- output tensor {index} ---\n"
        text += f"output shape(NCHW): {''.join(f'{d} ' for d in shape)}\n"
        text += f"output tensor {index} elem num: {data.size}\n"
        text += f"output tensor {index} mean value: {mean:g}\n"
        text += f"output tensor {index} standard deviation: {deviation:g}\n"
        if flags["show_output_elem"]:
            text += "".join(f"out[{index}][{i}]:{v:g}\n" for i, v in enumerate(data))
        if flags["output_data_path"]:
            if index < len(out_paths):
                Path(out_paths[index]).write_text("".join(f"{v:g}\n" for v in data))
            else:
                print("Fail to write output tensor to file, tensor_output_path not matching output "
                      "tensor number. ", file=sys.stderr)
    return text


def foreign_targets(model_file: str) -> list[str]:
    """The kernel targets of the .nb that the x86 runtime cannot run (empty when it can)."""
    from edgekit.lite_runtime import inspect_nb

    kernels = inspect_nb(Path(model_file))
    return [] if not kernels.targets or kernels.runs_on_x86 else sorted(kernels.targets - {"host", "any"})


def non_finite_outputs(np: Any, predictor: Any) -> list[int]:
    """Indices of the output tensors holding NaN or Inf (what an .nb for another target gives)."""
    return [index for index in range(len(predictor.get_output_names()))
            if not np.all(np.isfinite(np.asarray(predictor.get_output(index).numpy(), dtype=np.float64)))]


def device_info() -> str:
    """The Android build's Device Info block, from getprop (empty outside a device)."""
    if shutil.which("getprop") is None:
        return ""

    def prop(name: str) -> str:
        try:
            out = subprocess.run(["getprop", name], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        return out.splitlines()[0] + "\n" if out.strip() else "\n"

    fields = (("Brand", "ro.product.vendor.brand"), ("Device", "ro.product.vendor.device"),
              ("Model", "ro.product.vendor.model"), ("Android Version", "ro.build.version.release"),
              ("Android API Level", "ro.build.version.sdk"))
    return "\n======= Device Info =======\n" + "".join(f"{label}: {prop(name)}" for label, name in fields)


def format_report(flags: dict[str, Any], model_file: str, outputs: str, version: str, perf: PerfData,
                  memory: Optional[tuple[float, float]]) -> str:
    input_data_path = flags["input_data_path"] or "All 1.f"
    text = device_info()
    text += "\n======= Model Info =======\n"
    text += f"optimized_model_file: {model_file}\n"
    text += f"input_data_path: {input_data_path}\n"
    text += f"input_shape: {flags['input_shape']}\n"
    text += outputs
    text += "\n======= Runtime Info =======\n"
    text += f"benchmark_bin version: {version}\n"
    text += f"threads: {flags['threads']}\n"
    text += f"power_mode: {flags['power_mode']}\n"
    text += f"warmup: {flags['warmup']}\n"
    text += f"repeats: {flags['repeats']}\n"
    if flags["run_delay"] > 0:
        text += f"run_delay(sec): {flags['run_delay']:.3g}\n"
    text += f"result_path: {flags['result_path']}\n"
    text += "\n======= Backend Info =======\n"
    text += f"backend: {flags['backend']}\n"
    text += f"cpu precision: {flags['cpu_precision']}\n"
    if flags["backend"] in OPENCL_BACKENDS:
        text += f"gpu precision: {flags['gpu_precision']}\n"
        text += f"opencl_cache_dir: {flags['opencl_cache_dir']}\n"
        text += f"opencl_kernel_cache_file: {flags['opencl_kernel_cache_file']}\n"
        text += f"opencl_tuned_file: {flags['opencl_tuned_file']}\n"
    measured = perf.measured
    text += "\n======= Perf Info =======\n"
    text += "Time(unit: ms):\n"
    text += f"init  = {perf.init_ms:<12.3f}\n"
    text += f"first = {perf.first_ms:<12.3f}\n"
    text += f"min   = {min(measured):<12.3f}\n"
    text += f"max   = {max(measured):<12.3f}\n"
    text += f"avg   = {sum(measured) / len(measured):<12.3f}\n"
    if memory is not None:
        init_kb, peak_kb = memory
        text += "\nMemory Usage(unit: MB):\n"
        text += f"init  = {init_kb / 1024:<12.3f}\n"
        text += f"peak  = {peak_kb / 1024:<12.3f}\n"
    return text


def run(flags: dict[str, Any]) -> int:
    # The x86 runtime takes its thread count from OpenMP/MKL, read when the library loads.
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(max(flags["threads"], 1))
    import numpy as np
    import paddlelite.lite as lite

    results = ResultFile(flags["result_path"])
    model_file = output_opt_model(lite, flags, results)
    foreign = foreign_targets(model_file)
    if foreign:
        print(f"Error: {model_file} was converted for {', '.join(foreign)}; this benchmark binary runs x86 .nb "
              f"files only (opt --valid_targets=x86)", file=sys.stderr, flush=True)
        return 1
    shapes = parse_shapes(flags["input_shape"])
    perf = PerfData(repeats=flags["repeats"])
    monitor = MemoryMonitor(flags["memory_check_interval_ms"]) if flags["enable_memory_profile"] else None

    config = lite.MobileConfig()
    config.set_model_from_file(model_file)
    if monitor:
        monitor.start()
    holder: list[Any] = []
    perf.init_ms = _timed(lambda: holder.append(lite.create_paddle_predictor(config)))
    predictor = holder[0]
    init_memory_kb = monitor.current_peak_kb() if monitor else 0.0
    set_inputs(np, predictor, flags, shapes)

    for _ in range(flags["warmup"]):
        perf.run_ms.append(_timed(predictor.run))
        _sleep_ms(flags["run_delay"])
    for _ in range(flags["repeats"]):
        perf.run_ms.append(_timed(predictor.run))
        _sleep_ms(flags["run_delay"])

    outputs = describe_outputs(np, predictor, flags)
    memory = (init_memory_kb, monitor.current_peak_kb()) if monitor else None
    report = format_report(flags, model_file, outputs, predictor.get_version(), perf, memory)
    if monitor:
        monitor.stop()
    print(report, flush=True)
    results.store(report)
    broken = non_finite_outputs(np, predictor)
    if broken:
        print(f"Error: output tensor(s) {', '.join(map(str, broken))} of {model_file} hold NaN or Inf; the "
              f"timing above is not a measurement of a working model", file=sys.stderr, flush=True)
        return 1
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        flags, _positional = parse_flags(args)
    except FlagError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    if flags.get("help") or flags.get("helpfull") or flags.get("helpshort"):
        print(help_text(), end="")
        return 1  # gflags exits 1 after --help
    if flags.get("version"):
        print(f"{PROGRAM} version {_lite_version()}")
        return 0
    problems = check_flags(flags)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(usage_message(), end="", flush=True)
        return 0  # the tool exits 0 here: callers must look for the timing block
    if flags["repeats"] < 1:
        print("--repeats must be at least 1", file=sys.stderr)
        return 1
    return run(flags)


def _lite_version() -> str:
    """Paddle Lite's version string, as lite::version() gives it ("v2.13-rc")."""
    import paddlelite.lite as lite

    return lite.Opt().version()


if __name__ == "__main__":
    sys.exit(main())
