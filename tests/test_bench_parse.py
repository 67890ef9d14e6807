"""The benchmark-output parser against outputs the real tools printed (tests/data/benchmark_outputs,
sources in its README), plus the format details taken from Paddle Lite's sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.bench.parse import CURRENT, LEGACY, OLDEST, parse_output, parse_single, swaps_min_max
from edgekit.errors import BenchmarkError, UsageError

SAMPLES = Path(__file__).parent / "data" / "benchmark_outputs"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


# ------------------------------------------------------------------- current tool (v2.10 on)


def test_current_tool_on_android_reads_every_time_and_the_sections():
    run = parse_single(sample("v2_current_android_mi9_docs.txt"))
    assert run.generation == CURRENT
    assert (run.latency.init_ms, run.latency.first_ms) == (15.305, 43.670)
    assert (run.latency.min_ms, run.latency.max_ms, run.latency.avg_ms) == (32.577, 32.895, 32.723)
    assert run.tool_version == "acf6614"
    assert run.settings == {"threads": 1, "power_mode": 0, "warmup": 10, "repeats": 20,
                            "input_shape": "1,3,224,224", "backend": "arm", "cpu_precision": "fp32"}
    assert run.device["Model"] == "MI 9" and run.device["Android API Level"] == "29"
    assert run.memory_mb is None
    assert run.model is None  # the docs ran an unnamed ".nb"


def test_current_tool_on_linux_x86_has_no_device_section():
    run = parse_single(sample("v2_current_linux_x86_docs.txt"))
    assert run.latency.avg_ms == 33.918 and run.latency.first_ms == 80.052
    assert run.settings["backend"] == "x86"
    assert run.device == {}


def test_dashed_section_rulers_trailing_blanks_and_a_script_header_naming_the_model():
    run = parse_single(sample("v2_current_paddleseg_pp_mobileseg.txt"))
    assert run.model == "MV3_4stage_AAMSx8_valid_0321"
    assert (run.latency.init_ms, run.latency.avg_ms, run.latency.max_ms) == (33.071, 267.246, 271.217)
    assert run.settings["warmup"] == 20 and run.settings["repeats"] == 50
    assert run.settings["input_shape"] == "1,3,512,512"
    assert run.tool_version == "e79b4b6"


def test_partial_log_with_accuracy_section_still_gives_the_times():
    run = parse_single(sample("v2_current_android_accuracy_docs.txt"))
    assert (run.latency.first_ms, run.latency.min_ms, run.latency.avg_ms) == (119.312, 6.472, 7.785)
    assert run.settings == {}  # the excerpt has no Runtime Info section


def test_several_reports_in_one_log_are_read_in_order():
    text = sample("v2_current_android_mi9_docs.txt") + "\n" + sample("v2_current_paddleseg_pp_mobileseg.txt")
    first, second = parse_output(text)
    assert first.latency.avg_ms == 32.723 and first.settings["repeats"] == 20
    assert second.latency.avg_ms == 267.246 and second.settings["repeats"] == 50
    assert second.model == "MV3_4stage_AAMSx8_valid_0321" and first.model is None


def test_model_name_comes_from_the_optimized_model_file():
    text = sample("v2_current_linux_x86_docs.txt").replace(
        "optimized_model_file: .nb", "optimized_model_file: /data/local/tmp/edgekit/models/ShuffleNetV2_x0_25.nb")
    assert parse_single(text).model == "ShuffleNetV2_x0_25"
    text = text.replace("models/ShuffleNetV2_x0_25.nb", "MobileNetV1/opt.nb")
    assert parse_single(text).model == "MobileNetV1"


def _with_memory_block(block: str) -> str:
    return sample("v2_current_linux_x86_docs.txt").rstrip("\n") + "\n\n" + block


def test_memory_block_of_v2_12_on_is_read_in_mb():
    # the format of lite/api/tools/benchmark/benchmark.cc (v2.12+) with --enable_memory_profile
    run = parse_single(_with_memory_block("Memory Usage(unit: MB):\ninit  = 12.500      \npeak  = 30.250      \n"))
    assert run.memory_mb == {"init": 12.5, "peak": 30.25}
    assert run.latency.avg_ms == 33.918


def test_memory_block_of_v2_10_without_numbers_gives_no_memory():
    block = "Memory Usage(unit: kB):\ninit  = Not supported yet\navg   = Not supported yet\n"
    assert parse_single(_with_memory_block(block)).memory_mb is None


# ------------------------------------------------------------- legacy result file (v2.3–v2.9)


def test_paddleclas_benchmark_sh_result_has_min_and_max_swapped():
    runs = parse_output(sample("legacy_swapped_paddleclas_benchmark_sh.txt"))
    assert [r.generation for r in runs] == [LEGACY] * 3
    assert [r.settings["threads"] for r in runs] == [1, 2, 4]
    assert all(r.settings["warmup"] == 10 and r.settings["repeats"] == 30 for r in runs)
    one_thread = runs[0]
    assert one_thread.model == "MobileNetV1"
    # printed "min = 30.89100 max = 30.73600": the v2.6 binary wrote them the wrong way round
    assert one_thread.minmax_swapped
    assert (one_thread.latency.min_ms, one_thread.latency.max_ms) == (30.736, 30.891)
    assert one_thread.latency.avg_ms == 30.7975
    assert all(r.latency.min_ms <= r.latency.avg_ms <= r.latency.max_ms for r in runs)


def test_paddle_lite_v2_6_docs_two_architectures_and_fifteen_models_each():
    runs = parse_output(sample("legacy_swapped_paddle_lite_v2.6_docs.txt"))
    assert len(runs) == 30
    assert {r.settings["arch"] for r in runs[:15]} == {"armv8"}
    assert {r.settings["arch"] for r in runs[15:]} == {"armv7"}
    squeezenet_v8_4t = runs[14]
    assert squeezenet_v8_4t.model == "squeezenet" and squeezenet_v8_4t.settings["threads"] == 4
    assert (squeezenet_v8_4t.latency.min_ms, squeezenet_v8_4t.latency.max_ms) == (7.852, 8.6)
    assert all(r.minmax_swapped for r in runs)


def test_stated_version_decides_the_order():
    text = sample("legacy_swapped_paddleclas_benchmark_sh_opt.txt")
    runs = parse_output(text, tool_version="v2.6.0")
    assert runs[0].latency.min_ms == 30.785 and runs[0].minmax_swapped
    with pytest.raises(BenchmarkError, match="min > max"):
        parse_output(text, tool_version="2.9")


def test_v2_9_lines_are_kept_as_printed_and_a_wrongly_stated_old_version_is_caught():
    # v2.9's benchmark.cc writes min = front() and max = back() of the sorted times
    fixed = "Threads=1 Warmup=10 Repeats=30\nMobileNetV1   min = 30.73600    max = 30.89100    average = 30.79750\n"
    run = parse_single(fixed)
    assert (run.latency.min_ms, run.latency.max_ms, run.minmax_swapped) == (30.736, 30.891, False)
    assert parse_single(fixed, tool_version="2.9.1").latency.min_ms == 30.736
    with pytest.raises(BenchmarkError, match="min < max"):
        parse_single(fixed, tool_version="2.8")


def test_versions_that_swapped():
    assert [swaps_min_max(v) for v in ("2.2", "v2.3.0", "2.6.3", "release/v2.8", "v2.9", "2.13-rc")] == \
        [False, True, True, True, False, False]
    with pytest.raises(UsageError, match="acf6614"):
        swaps_min_max("acf6614")


# ------------------------------------------------------------------ oldest result file (v2.0–v2.2)


def test_oldest_avg_lines():
    runs = parse_output(sample("oldest_avg_paddle_lite_v2.3_docs.txt"))
    assert len(runs) == 30 and {r.generation for r in runs} == {OLDEST}
    first = runs[0]
    assert first.model == "mnasnet" and first.latency.avg_ms == 159.8427
    assert first.latency.min_ms is None and first.latency.max_ms is None
    assert first.settings == {"threads": 1, "warmup": 10, "repeats": 30, "arch": "armv7"}
    assert runs[-1].model == "squeezenet_v11" and runs[-1].settings["arch"] == "armv8"
    assert runs[-1].settings["threads"] == 4


# --------------------------------------------------------------------------------- failures


def test_usage_text_without_timing_is_an_error_quoting_the_tool():
    # what the tool prints (and exits 0 with) when its flags are rejected
    usage = ("benchmark_bin: Warning: SetUsageMessage() never called\n\n"
             "  Flags from lite/api/tools/benchmark/utils/flags.cc:\n"
             "    -backend (To use a particular backend for execution.) type: string default: \"\"\n")
    with pytest.raises(BenchmarkError) as caught:
        parse_output(usage)
    message = str(caught.value)
    assert "no benchmark timing" in message and "SetUsageMessage() never called" in message
    assert "\n" not in message


def test_empty_output_is_an_error():
    with pytest.raises(BenchmarkError, match=r"printed: \(nothing\)"):
        parse_output("")


def test_time_block_without_avg_is_an_error():
    with pytest.raises(BenchmarkError, match="no 'avg' line"):
        parse_output("Time(unit: ms):\ninit  = 1.0\nfirst = 2.0\n")


def test_single_expects_exactly_one():
    with pytest.raises(BenchmarkError, match="expected one benchmark result, found 3"):
        parse_single(sample("legacy_swapped_paddleclas_benchmark_sh.txt"))
