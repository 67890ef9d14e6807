"""`edgekit results import` and `edgekit report` on result files published by PaddleClas and
Paddle Lite (tests/data/benchmark_outputs), through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

SAMPLES = Path(__file__).parent / "data" / "benchmark_outputs"


def stored(workspace: Path) -> list[dict]:
    lines = (workspace / "results" / "results.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_paddleclas_benchmark_sh_result_is_imported_with_min_and_max_put_right(run_cli, workspace):
    result = run_cli("results", "import", str(SAMPLES / "legacy_swapped_paddleclas_benchmark_sh.txt"),
                     "--device", "sd855", "--json", check=True)
    printed = result.json()
    assert printed == stored(workspace)
    assert [r["settings"]["threads"] for r in printed] == [1, 2, 4]
    one = printed[0]
    assert one["model"] == "MobileNetV1" and one["precision"] == "fp32" and one["source"] == "import"
    assert one["latency"]["min_ms"] == 30.736 and one["latency"]["max_ms"] == 30.891
    assert one["extra"]["minmax_swapped"] is True
    assert one["device"]["profile"] == "sd855" and one["device"]["soc"] == "Snapdragon 855"
    assert one["tool"]["generation"] == "legacy"
    assert one["extra"]["imported_from"]["line"] == 3


def test_stated_version_that_contradicts_the_file_is_refused(run_cli, workspace):
    result = run_cli("results", "import", str(SAMPLES / "legacy_swapped_paddleclas_benchmark_sh.txt"),
                     "--device", "sd855", "--tool-version", "2.9")
    assert result.returncode == 2  # the file is the user's input: no tool failed
    assert "min > max" in result.stderr and "Traceback" not in result.stderr
    assert not (workspace / "results" / "results.jsonl").exists()


def test_current_tool_output_needs_a_model_name(run_cli, workspace):
    sample = str(SAMPLES / "v2_current_android_mi9_docs.txt")
    refused = run_cli("results", "import", sample, "--device", "sd855")
    assert refused.returncode == 2 and "pass --model" in refused.stderr
    imported = run_cli("results", "import", sample, "--device", "sd855", "--model", "MobileNetV1", "--json",
                       check=True).json()
    (record,) = imported
    assert record["latency"]["first_ms"] == 43.670 and record["latency"]["init_ms"] == 15.305
    assert record["tool"]["version"] == "acf6614"
    assert record["device"]["model"] == "MI 9"
    assert record["settings"] == {"warmup": 10, "repeats": 20, "threads": 1, "power_mode": 0,
                                  "input_shape": "1,3,224,224"}


def test_model_option_is_refused_for_a_file_about_several_models(run_cli):
    result = run_cli("results", "import", str(SAMPLES / "oldest_avg_paddle_lite_v2.3_docs.txt"),
                     "--device", "sd855", "--model", "MobileNetV1")
    assert result.returncode == 2 and "several models" in result.stderr


def test_bad_inputs_are_one_line_errors(run_cli, tmp_path):
    unknown = run_cli("results", "import", str(SAMPLES / "oldest_avg_paddle_lite_v2.3_docs.txt"),
                      "--device", "sd999")
    assert unknown.returncode == 2 and "unknown device profile 'sd999'" in unknown.stderr
    missing = run_cli("results", "import", str(tmp_path / "none.txt"), "--device", "sd855")
    assert missing.returncode == 2 and "no such file" in missing.stderr
    noise = tmp_path / "noise.txt"
    noise.write_text("adb: error: failed to get feature set: no devices/emulators found\n")
    no_timing = run_cli("results", "import", str(noise), "--device", "sd855")
    assert no_timing.returncode == 2 and "no devices/emulators found" in no_timing.stderr
    for result in (unknown, missing, no_timing):
        assert len(result.stderr.strip().splitlines()) == 1


def test_files_that_are_no_benchmark_output_are_exit_2_with_one_clean_line(run_cli, workspace, tmp_path):
    # an empty file, a program and 50 MB of random text used to exit 4 ("a tool that failed"),
    # once with raw NUL bytes in the message, after reading the whole file
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    random_text = tmp_path / "random.txt"
    with open(random_text, "wb") as f:
        line = (b"lorem ipsum dolor sit amet " * 3 + b"\n") * 1000
        for _ in range(50_000_000 // len(line) + 1):
            f.write(line)
    cases = {empty: "is empty", Path("/bin/ls"): "binary file", random_text: "larger than 8 MiB"}
    for path, cause in cases.items():
        result = run_cli("results", "import", str(path), "--device", "sd855")
        assert result.returncode == 2, result.stderr
        assert cause in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert "\x00" not in result.stderr and "Traceback" not in result.stderr
    mojibake = tmp_path / "latin1.txt"
    mojibake.write_bytes(bytes(range(128, 256)) * 10)
    refused = run_cli("results", "import", str(mojibake), "--device", "sd855")
    assert refused.returncode == 2 and "not a text file" in refused.stderr
    assert not (workspace / "results" / "results.jsonl").exists()


def test_imported_results_in_the_report(run_cli, workspace, tmp_path):
    run_cli("results", "import", str(SAMPLES / "legacy_swapped_paddleclas_benchmark_sh.txt"), "--device", "sd855",
            check=True)
    markdown = run_cli("report", check=True).stdout
    # PaddleClas's 1, 2 and 4 threads side by side, as its table would show them
    assert "| MobileNetV1 | sd855 | 30.797 | 18.216 | 9.976 | - | 32.523 | 16.0 | -5.3% | - |" in markdown
    rows = run_cli("report", "--json", "--plots", str(tmp_path / "plots"), check=True).json()["rows"]
    assert len(rows) == 3 and {r["threads"] for r in rows} == {1, 2, 4}
    assert (tmp_path / "plots" / "top1_vs_latency.png").stat().st_size > 0
    csv_text = run_cli("report", "--format", "csv", "--device", "sd865", check=True).stdout
    assert csv_text.splitlines()[0].startswith("model,family,precision")
    assert len(csv_text.splitlines()) == 1  # nothing measured on an sd865
