"""edgekit select: models within a budget, their frontier, and the source of every figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgekit import reference
from edgekit.bench.results import ResultStore
from edgekit.estimate.select import select_models
from edgekit.workspace import Workspace
from tests.test_estimate import phone_record


def test_select_sd855_10ms_frontier_with_sources(run_cli, workspace: Path):
    result = run_cli("select", "--device", "sd855", "--max-latency-ms", "10", "--int8", "--json",
                     "--plot", str(workspace / "front.png"), check=True)
    doc = json.loads(result.stdout)
    models = doc["models"]
    assert models and all(m["latency_ms"] <= 10 for m in models)
    assert all(m["latency_source"].startswith(("published: ", "estimated", "measured here")) for m in models)
    assert any(m["latency_source"].startswith("published") for m in models)
    assert any(m["latency_source"] == "estimated" for m in models)  # int8 variants without a table
    front = sorted((m for m in models if m["frontier"]), key=lambda m: m["latency_ms"])
    assert front and all(a["top1"] < b["top1"] for a, b in zip(front, front[1:]))
    # nothing fitting is both faster and more accurate than a frontier model
    for f in front:
        assert not any(m["latency_ms"] < f["latency_ms"] and m["top1"] > f["top1"] for m in models)
    assert (workspace / "front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = run_cli("select", "--device", "sd855", "--max-latency-ms", "10", check=True).stdout
    assert "Pareto frontier" in text


def test_phone_results_change_the_selection(workspace: Path):
    before = {c.model: c for c in select_models("sd855", 10, workspace=Workspace.open(workspace))}
    assert before["MobileNetV3_small_x1_0_ssld"].frontier  # 6.5 ms in the table, the best top-1 below 10 ms
    store = ResultStore.for_workspace(Workspace.open(workspace))
    store.append(phone_record("MobileNetV3_small_x1_0_ssld", 12.5))  # this phone is slower
    after = {c.model: c for c in select_models("sd855", 10, workspace=Workspace.open(workspace))}
    changed = after["MobileNetV3_small_x1_0_ssld"]
    assert changed.latency_source == "measured here" and changed.latency_ms == 12.5 and not changed.fits
    assert [m for m, c in after.items() if c.frontier] != [m for m, c in before.items() if c.frontier]


def test_imported_phone_results_change_the_selection(run_cli, workspace: Path, tmp_path: Path):
    """A benchmark.sh result file (no input shape in it) imported for sd855 counts as measured here."""
    result_file = tmp_path / "result_armv8.txt"
    result_file.write_text("PaddleLite Benchmark\nThreads=1 Warmup=10 Repeats=30\n"
                           "MobileNetV3_small_x0_75    min = 12.10000    max = 12.00000    average = 12.05000\n")
    run_cli("results", "import", str(result_file), "--device", "sd855", "--tool-version", "2.6", check=True)
    after = {c.model: c for c in select_models("sd855", 10, workspace=Workspace.open(workspace))}
    imported = after["MobileNetV3_small_x0_75"]
    assert imported.latency_source == "measured here" and imported.latency_ms == 12.05 and not imported.fits


@pytest.mark.parametrize("flags, message", [
    (["--max-latency-ms", "nan"], "--max-latency-ms must be a positive number"),  # was: "no model fits", exit 0
    (["--max-latency-ms", "10", "--max-storage-mb", "-5"], "--max-storage-mb must be a positive number"),
    (["--max-latency-ms", "10", "--threads", "0"], "--threads must be at least 1"),
    # no figure at all for the condition: say what data there is, not "no model fits"
    (["--max-latency-ms", "10", "--threads", "3"], "no latency figure for any model on sd855 at 3 threads. "
                                                  "Data for sd855: 1 thread fp32"),
])
def test_bad_budgets_and_conditions_without_data_are_usage_errors(run_cli, flags, message):
    result = run_cli("select", "--device", "sd855", *flags)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_plot_that_cannot_be_written_is_one_line(run_cli, tmp_path: Path):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    result = run_cli("select", "--device", "sd855", "--max-latency-ms", "10", "--plot", str(a_file / "front.png"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"edgekit: error: cannot write the plot {a_file / 'front.png'}: ") and f"({a_file})" in line


def test_storage_budget_and_no_data_profile(workspace: Path):
    chosen = [c for c in select_models("sd855", 50, max_storage_mb=6, workspace=Workspace.open(workspace)) if c.fits]
    assert chosen and all(c.storage_mb <= 6 for c in chosen)
    assert all(c.storage_source == "published: seed table" for c in chosen)
    # sd625 has no 2-thread data: nothing is estimated, nothing fits
    none = select_models("sd625", 1000, threads=2, workspace=Workspace.open(workspace))
    assert all(c.latency_source == "no data" and not c.fits for c in none)
    assert reference.get_reference("MobileNetV1").storage_mb == 16.0
