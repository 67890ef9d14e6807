"""edgekit select: models within a budget, their frontier, and the source of every figure."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from edgekit import reference
from edgekit.bench.results import ResultStore
from edgekit.estimate.select import select_models, selection_figure
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
    assert any(m["latency_source"].startswith("estimated (") for m in models)  # int8 variants without a table
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
    assert changed.latency_source == "measured here (Paddle Lite v2.13)" and changed.latency_ms == 12.5 and not changed.fits
    assert [m for m, c in after.items() if c.frontier] != [m for m, c in before.items() if c.frontier]


def test_imported_phone_results_change_the_selection(run_cli, workspace: Path, tmp_path: Path):
    """A benchmark.sh result file (no input shape in it) imported for sd855 counts as measured here."""
    result_file = tmp_path / "result_armv8.txt"
    result_file.write_text("PaddleLite Benchmark\nThreads=1 Warmup=10 Repeats=30\n"
                           "MobileNetV3_small_x0_75    min = 12.10000    max = 12.00000    average = 12.05000\n")
    run_cli("results", "import", str(result_file), "--device", "sd855", "--tool-version", "2.6", check=True)
    after = {c.model: c for c in select_models("sd855", 10, workspace=Workspace.open(workspace))}
    imported = after["MobileNetV3_small_x0_75"]
    assert imported.latency_source == "measured here (Paddle Lite 2.6)" and imported.latency_ms == 12.05 and not imported.fits


def test_every_latency_names_its_table_era_and_disagreements_are_flagged(run_cli):
    """The seed's int8 figure (Paddle Lite v2.6 era) ranked MobileNetV3_large_x1_0_ssld_int8 beside
    estimates fitted on Paddle Lite 2.11's int8 table, 14.39 ms against 8.66 ms [6.41-10.90], and
    nothing said so."""
    doc = json.loads(run_cli("select", "--device", "sd855", "--max-latency-ms", "20", "--int8", "--json",
                             check=True).stdout)
    models = {m["model"]: m for m in doc["models"]}
    assert doc["ranking"] == "measured here > published table > estimated"
    for m in models.values():  # every figure names its table and its version
        assert re.search(r"v2\.\d+|\([0-9a-f]{7}\)", m["latency_source"]), m
        assert m["latency_table"] and m["latency_table"] in m["latency_source"]
    seeded = models["MobileNetV3_large_x1_0_ssld_int8"]
    assert seeded["latency_ms"] == reference.get_reference("MobileNetV3_large_x1_0_ssld_int8").sd855_ms
    assert seeded["latency_table"] == "seed table, Paddle Lite v2.6 era"
    lo, hi = seeded["estimate_interval_ms"]
    assert not lo <= seeded["latency_ms"] <= hi
    assert "Paddle Lite v2.6 era" in seeded["disagreement"] and "release/v2.11" in seeded["disagreement"]
    estimated = models["MobileNetV3_large_x1_25_int8"]
    assert estimated["latency_source"] == "estimated (Paddle Lite release/v2.11 table)"
    assert estimated["latency_ms"] == estimated["estimate_ms"] and estimated["disagreement"] is None
    # a published figure within the estimate's interval is not flagged
    agreeing = [m for m in models.values() if m["latency_source"].startswith("published")
                and m["estimate_interval_ms"][0] <= m["latency_ms"] <= m["estimate_interval_ms"][1]]
    assert agreeing and all(m["disagreement"] is None for m in agreeing)
    assert set(doc["latency_tables"]["int8"]) == {"seed table, Paddle Lite v2.6 era", "Paddle Lite release/v2.11 table"}
    text = run_cli("select", "--device", "sd855", "--max-latency-ms", "20", "--int8", check=True).stdout
    assert "int8 figures mix 2 tables/eras" in text and "measured here > published table > estimated" in text
    assert f"{seeded['latency_ms']}!" in text
    assert f"  MobileNetV3_large_x1_0_ssld_int8: {seeded['disagreement']}" in text


def test_plot_names_every_frontier_model_without_covering_a_name_or_a_point():
    """The names were placed 3 points right of their points: ShuffleNetV2_x0_33_int8 and
    MobileNetV3_small_x0_35_int8 were printed over each other and over the points beside them."""
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    candidates = select_models("sd855", 10, int8=True)
    fig = selection_figure(candidates, profile="sd855", max_latency_ms=10, threads=1)
    (ax,) = fig.axes
    renderer = fig.canvas.get_renderer()
    for t in ax.texts:
        t.update_positions(renderer)
    # the name's own box (an annotation's window extent takes its leader line in too)
    boxes = {t.get_text().split()[0]: Text.get_window_extent(t, renderer) for t in ax.texts}
    assert set(boxes) == {c.model for c in candidates if c.frontier}
    assert {"ShuffleNetV2_x0_33_int8", "MobileNetV3_small_x0_35_int8"} <= set(boxes)
    names = sorted(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not boxes[a].overlaps(boxes[b]), (a, b)
    points = [ax.transData.transform(xy) for collection in ax.collections for xy in collection.get_offsets()]
    assert len(points) >= len(candidates) - 5
    legend = ax.get_legend().get_window_extent(renderer)
    for box in [*boxes.values(), legend]:
        grown = box.expanded(1.0, 1.0).padded(4)  # a marker's radius
        assert not any(grown.contains(x, y) for x, y in points), box
    for t in ax.texts:  # a leader line passes no point but its own (at least a marker's radius away)
        (x0, y0), (x1, y1) = t.arrow_patch.get_path().transformed(t.arrow_patch.get_transform()).vertices[[0, -1]]
        for x, y in points:
            if math.dist((x, y), (x1, y1)) > 6 and x0 - 4 < x < x1 + 4:
                along = y0 + (y1 - y0) * (x - x0) / (x1 - x0)
                assert abs(y - along) > 4, (t.get_text(), x, y)
    plt.close(fig)


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
