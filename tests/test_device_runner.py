"""The virtual device's benchmark binary: Paddle Lite's benchmark tool flags and output, on a tiny
x86 .nb made here (paddle model → jit.save → paddle_lite_opt --valid_targets=x86)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edgekit.device import select_device
from edgekit.device.emulator import host_benchmark_bin
from edgekit.device.emulator.benchmark_runner import FlagError, check_flags, parse_flags, parse_shapes

# conv + relu + pool + reshape + matmul (+ softmax): only ops opt handles for x86 from Paddle 2.6.
TINY_MODEL = """
import sys
import paddle

class Tiny(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = paddle.nn.Conv2D(3, 8, 3, padding=1)
        self.pool = paddle.nn.AdaptiveAvgPool2D(1)
        self.fc = paddle.nn.Linear(8, 10)

    def forward(self, x):
        x = self.pool(paddle.nn.functional.relu(self.conv(x)))
        return paddle.nn.functional.softmax(self.fc(paddle.reshape(x, [-1, 8])))

paddle.seed(0)
model = Tiny()
model.eval()
spec = [paddle.static.InputSpec([1, 3, 32, 32], "float32", "image")]
paddle.jit.save(model, sys.argv[1] + "/inference", input_spec=spec)
"""
# y / (y - y): every output is NaN or Inf.
BROKEN_MODEL = """
import sys
import paddle

class Broken(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.fc = paddle.nn.Linear(12, 4)

    def forward(self, x):
        y = self.fc(paddle.reshape(x, [-1, 12]))
        return (y - y) / (y - y)  # 0/0: NaN whatever the weights (y/0 could be +-inf)

model = Broken()
model.eval()
paddle.jit.save(model, sys.argv[1] + "/inference", input_spec=[paddle.static.InputSpec([1, 3, 2, 2], "float32", "x")])
"""
TIME_LINE = re.compile(r"^(init|first|min|max|avg)\s+=\s+(\d+\.\d{3})\s*$")
MEMORY_LINE = re.compile(r"^(init|peak)\s+=\s+(\d+\.\d{3})\s*$")


def make_x86_nb(folder: Path, source: str, name: str) -> Path:
    script = folder / f"make_{name}.py"  # a file: paddle.jit reads the forward's source
    script.write_text(source)
    subprocess.run([sys.executable, str(script), str(folder)], check=True, capture_output=True, timeout=300)
    opt = Path(sys.executable).with_name("paddle_lite_opt")
    subprocess.run([str(opt), f"--model_file={folder}/inference.pdmodel", f"--param_file={folder}/inference.pdiparams",
                    f"--optimize_out={folder}/{name}", "--valid_targets=x86"], check=True, capture_output=True,
                   timeout=300)
    nb = folder / f"{name}.nb"
    assert nb.is_file(), "paddle_lite_opt made no .nb"  # it exits 0 even when it fails
    return nb


@pytest.fixture(scope="module")
def tiny_nb(tmp_path_factory) -> Path:
    return make_x86_nb(tmp_path_factory.mktemp("tiny_model"), TINY_MODEL, "tiny")


@pytest.fixture(scope="module")
def tiny_arm_nb(tiny_nb: Path) -> Path:
    """The same tiny model converted for phones (arm), which the x86 runtime cannot compute."""
    folder = tiny_nb.parent
    opt = Path(sys.executable).with_name("paddle_lite_opt")
    subprocess.run([str(opt), f"--model_file={folder}/inference.pdmodel", f"--param_file={folder}/inference.pdiparams",
                    f"--optimize_out={folder}/tiny_arm", "--valid_targets=arm"], check=True, capture_output=True,
                   timeout=300)
    nb = folder / "tiny_arm.nb"
    assert nb.is_file(), "paddle_lite_opt made no .nb"
    return nb


def run_runner(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgekit.device.emulator.benchmark_runner", *args],
                          capture_output=True, text=True, timeout=timeout)


def sections(report: str) -> dict[str, list[str]]:
    """The report's "======= NAME =======" sections and their lines."""
    found: dict[str, list[str]] = {}
    current = None
    for line in report.splitlines():
        header = re.fullmatch(r"======= (.+) =======", line)
        if header:
            current = found.setdefault(header.group(1), [])
        elif current is not None and line.strip():
            current.append(line)
    return found


def fields(lines: list[str]) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in lines if ": " in line)


def timings(lines: list[str]) -> dict[str, float]:
    return {m.group(1): float(m.group(2)) for m in map(TIME_LINE.match, lines) if m}


# ------------------------------------------------------------------- flags (no paddle needed)


def test_gflags_forms() -> None:
    flags, positional = parse_flags(["--warmup", "2", "-repeats=3", "--noshow_output_elem", "--threads=4",
                                     "--run_delay=1.5", "--enable_memory_profile", "extra", "--", "--warmup=9"])
    assert (flags["warmup"], flags["repeats"], flags["threads"], flags["run_delay"]) == (2, 3, 4, 1.5)
    assert flags["show_output_elem"] is False and flags["enable_memory_profile"] is True
    assert positional == ["extra", "--warmup=9"]
    assert parse_flags([])[0]["repeats"] == 1  # the tool's defaults: warmup 0, repeats 1
    for bad, message in ((["--warmup=ten"], "illegal value 'ten' specified for int32 flag 'warmup'"),
                         (["--bogus"], "unknown command line flag 'bogus'"),
                         (["--input_shape"], "missing its argument"),
                         (["--show_output_elem=maybe"], "illegal value 'maybe'")):
        with pytest.raises(FlagError, match=re.escape(message)):
            parse_flags(bad)


def test_flag_checks_and_shapes() -> None:
    flags, _ = parse_flags(["--input_shape=1,3,224,224"])
    assert check_flags(flags) == ["\nNo model path is set!", "Must set --backend option!"]
    flags, _ = parse_flags(["--optimized_model_file=m.nb", "--backend=arm", "--input_shape=1,3,224,224:1,2",
                            "--input_data_path=a.txt"])
    assert "ambiguous" in check_flags(flags)[0]
    assert parse_shapes("1,3,224,224:1,5") == [[1, 3, 224, 224], [1, 5]]


def test_bad_flags_behave_like_the_tool() -> None:
    missing = run_runner("--input_shape=1,3,224,224")
    assert missing.returncode == 0  # the tool exits 0: callers must look for the timing block
    assert "No model path is set!" in missing.stderr and "Must set --backend option!" in missing.stderr
    assert "--optimized_model_file" in missing.stdout and "Time(unit: ms)" not in missing.stdout
    unknown = run_runner("--optimized_model_file=x.nb", "--bogus_flag=1")
    assert unknown.returncode == 1 and "ERROR: unknown command line flag 'bogus_flag'" in unknown.stderr
    version = run_runner("--version")
    assert version.returncode == 0 and version.stdout.startswith("benchmark_bin version v2.")


# -------------------------------------------------------------------------- running models


@pytest.mark.slow
def test_report_format_and_honest_timing(tiny_nb: Path, tmp_path: Path) -> None:
    result_file = tmp_path / "result.txt"
    result = run_runner(f"--optimized_model_file={tiny_nb}", "--input_shape=1,3,32,32", "--warmup=3",
                        "--repeats=7", "--backend=x86", "--threads=1", "--power_mode=0",
                        f"--result_path={result_file}")
    assert result.returncode == 0, result.stderr
    report = sections(result.stdout)
    assert list(report) == ["Model Info", "Runtime Info", "Backend Info", "Perf Info"]
    model = fields(report["Model Info"])
    assert model["optimized_model_file"] == str(tiny_nb)
    assert model["input_data_path"] == "All 1.f" and model["input_shape"] == "1,3,32,32"
    assert model["output tensor num"] == "1"
    assert model["output shape(NCHW)"] == "1 10 "
    assert model["output tensor 0 elem num"] == "10"
    assert float(model["output tensor 0 mean value"]) == pytest.approx(0.1, abs=1e-5)  # softmax
    runtime = fields(report["Runtime Info"])
    assert runtime["benchmark_bin version"].startswith("v2.")
    assert (runtime["threads"], runtime["power_mode"], runtime["warmup"], runtime["repeats"]) == ("1", "0", "3", "7")
    assert runtime["result_path"] == str(result_file)
    assert fields(report["Backend Info"]) == {"backend": "x86", "cpu precision": "fp32"}
    perf = report["Perf Info"]
    assert perf[0] == "Time(unit: ms):"
    times = timings(perf)
    assert set(times) == {"init", "first", "min", "max", "avg"}
    assert 0 < times["min"] <= times["avg"] <= times["max"]
    assert times["init"] > 0 and times["first"] > 0
    # Fixed 3 decimals, left-aligned in 12 columns, as the tool's iomanip output.
    assert re.fullmatch(r"avg   = \d+\.\d{3} *", perf[-1]) and len(perf[-1]) >= len("avg   = ") + 12
    # --result_path holds the report the tool prints (stdout adds one newline).
    assert result_file.read_text() + "\n" == result.stdout


@pytest.mark.slow
def test_memory_profile_and_output_elements(tiny_nb: Path) -> None:
    result = run_runner(f"--optimized_model_file={tiny_nb}", "--input_shape=1,3,32,32", "--repeats=2",
                        "--backend=x86", "--enable_memory_profile", "--memory_check_interval_ms=50",
                        "--show_output_elem")
    assert result.returncode == 0, result.stderr
    assert "start monitoring memory!" in result.stdout
    memory_block = result.stdout.split("Memory Usage(unit: MB):", 1)[1].splitlines()
    memory = {m.group(1): float(m.group(2)) for m in map(MEMORY_LINE.match, memory_block) if m}
    assert 0 < memory["init"] <= memory["peak"]
    elements = re.findall(r"^out\[0\]\[(\d+)\]:(\S+)$", result.stdout, flags=re.M)
    assert [int(i) for i, _ in elements] == list(range(10))
    assert sum(float(v) for _, v in elements) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.slow
def test_an_arm_nb_is_not_a_measurement(tiny_arm_nb: Path) -> None:
    result = run_runner(f"--optimized_model_file={tiny_arm_nb}", "--input_shape=1,3,32,32", "--repeats=2",
                        "--backend=x86")
    # the x86 runtime would return garbage in microseconds: refused before it loads
    assert result.returncode == 1 and "Time(unit: ms):" not in result.stdout
    assert f"{tiny_arm_nb} was converted for arm" in result.stderr and "x86 .nb files only" in result.stderr


@pytest.mark.slow
def test_outputs_with_nan_are_not_a_measurement(tmp_path: Path) -> None:
    broken = make_x86_nb(tmp_path, BROKEN_MODEL, "broken")
    result = run_runner(f"--optimized_model_file={broken}", "--input_shape=1,3,2,2", "--backend=x86")
    assert result.returncode == 1
    assert "output tensor 0 mean value: nan" in result.stdout and "Time(unit: ms):" in result.stdout
    assert "Error: output tensor(s) 0 of" in result.stderr and "NaN or Inf" in result.stderr


@pytest.mark.slow
def test_unloadable_models_abort(tmp_path: Path) -> None:
    missing = run_runner(f"--optimized_model_file={tmp_path}/absent.nb", "--input_shape=1,3,32,32", "--backend=x86")
    assert missing.returncode == -signal.SIGABRT
    assert f"Mode file[{tmp_path}/absent.nb] not exist!" in missing.stderr
    garbage = tmp_path / "garbage.nb"
    garbage.write_bytes(bytes(range(256)) * 8)
    broken = run_runner(f"--optimized_model_file={garbage}", "--input_shape=1,3,32,32", "--backend=x86")
    assert broken.returncode == -signal.SIGABRT
    assert "model format cannot be recognized" in broken.stderr  # Paddle Lite's own message


@pytest.mark.slow
def test_the_benchmark_binary_on_the_virtual_device(virtual_device, tiny_nb: Path, tmp_path: Path) -> None:
    device = select_device(serial=virtual_device.serial, adb_servers=[virtual_device.adb_server])
    binary = host_benchmark_bin(tmp_path)
    # a shell launcher running the installed package with this interpreter (no sys.path edits)
    launcher = binary.read_text()
    assert binary.name == "benchmark_bin" and launcher.startswith("#!/bin/sh\n")
    assert f"exec {sys.executable} -m edgekit.device.emulator.benchmark_runner" in launcher and "sys.path" not in launcher
    work = "/data/local/tmp/edgekit bench"  # a space in the folder: arguments must be quoted
    assert device.push(binary, f"{work}/benchmark_bin") is True
    assert device.push(tiny_nb, f"{work}/tiny; model.nb") is True
    result = device.shell([f"{work}/benchmark_bin", f"--optimized_model_file={work}/tiny; model.nb",
                           "--input_shape=1,3,32,32", "--warmup=2", "--repeats=5", "--backend=x86",
                           f"--result_path={work}/result.txt"], timeout=300)
    assert result.returncode == 0, result.stderr
    report = sections(result.stdout)
    assert list(report) == ["Device Info", "Model Info", "Runtime Info", "Backend Info", "Perf Info"]
    device_info = fields(report["Device Info"])
    assert device_info["Model"] == "edgekit virtual sd855" and device_info["Android API Level"] == "29"
    # Paths in the output are device paths again.
    assert fields(report["Model Info"])["optimized_model_file"] == f"{work}/tiny; model.nb"
    assert timings(report["Perf Info"])["avg"] > 0
    saved = tmp_path / "result.txt"
    device.pull(f"{work}/result.txt", saved)
    assert "Time(unit: ms):" in saved.read_text()

    garbage = tmp_path / "garbage.nb"
    garbage.write_bytes(b"\0" * 4096)
    device.push(garbage, f"{work}/garbage.nb")
    crashed = device.shell([f"{work}/benchmark_bin", f"--optimized_model_file={work}/garbage.nb",
                            "--input_shape=1,3,32,32", "--backend=x86"], timeout=300)
    assert crashed.returncode == 128 + signal.SIGABRT  # the shell reports the abort
    assert "Time(unit: ms)" not in crashed.stdout
