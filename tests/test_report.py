"""Reports: rows beside the seed's SD855 values, Markdown/CSV/JSON writers, PNG plots."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from edgekit import reference
from edgekit.bench.results import BenchRecord, ResultStore, new_run_id, now_iso
from edgekit.nb_info import precision_name
from edgekit.errors import ConfigError, UsageError
from edgekit.report import MIB, PLOT_FILES, Report, build_rows, make_report, render, render_csv, plot_figure, render_markdown
from edgekit.workspace import Workspace

SETTINGS = {"warmup": 10, "repeats": 30, "threads": 1, "power_mode": 0, "input_shape": "1,3,224,224"}


def record(model: str, avg: float, nb_bytes: int | None, *, virtual: bool = False, profile: str = "sd855",
           threads: int = 1, abi: str = "arm64-v8a", rounds: list[float] | None = None) -> BenchRecord:
    latency = {"avg_ms": avg, "min_ms": avg * 0.9, "max_ms": avg * 1.2}
    if rounds:
        latency.update(samples_ms=rounds, median_ms=statistics.median(rounds), std_ms=statistics.stdev(rounds))
    return BenchRecord(
        run_id=new_run_id(), status="ok", source="bench", model=model, precision=precision_name(model),
        target="arm", nb={"path": f"/ws/{model}.nb", "bytes": nb_bytes, "sha256": "0" * 64} if nb_bytes else None,
        device={"serial": "s1", "profile": profile, "virtual": virtual, "abi": "x86_64" if virtual else abi},
        settings={**SETTINGS, "threads": threads}, tool={"name": "benchmark_bin"},
        latency=latency, memory_mb=None, started=now_iso(), finished=now_iso())


def test_rows_compare_with_the_seed_and_follow_its_order():
    records = [
        record("ShuffleNetV2_x0_25", 2.329 * 1.1, int(2.7 * MIB)),
        record("MobileNetV3_large_x1_0_ssld_int8", 14.395 * 0.5, 10 * MIB),
        record("MobileNetV1", 30.0, 16 * MIB),
    ]
    rows = build_rows(records)
    assert [r.model for r in rows] == ["MobileNetV1", "MobileNetV3_large_x1_0_ssld_int8", "ShuffleNetV2_x0_25"]
    v1, int8, shuffle = rows
    assert v1.seed_latency_ms == 32.523 and v1.seed_storage_mb == 16.0
    assert v1.latency_delta_pct == pytest.approx((30.0 - 32.523) / 32.523 * 100)
    assert v1.storage_mib == 16.0 and v1.storage_delta_pct == pytest.approx(0.0)
    assert v1.storage_delta_unit == "MiB" and v1.storage_mb == pytest.approx(16 * MIB / 1e6)
    assert int8.precision == "int8" and int8.latency_delta_pct == pytest.approx(-50.0)
    assert int8.top1 == reference.get_reference("MobileNetV3_large_x1_0_ssld_int8").top1
    assert shuffle.family == "ShuffleNetV2" and shuffle.latency_delta_pct == pytest.approx(10.0)


def test_storage_delta_reads_the_seeds_m_as_mb_or_mib_whichever_is_closer():
    # sizes of Paddle Lite 2.13 arm .nb files (benchmarks/RESULTS.md): the seed lists 5.6 and 16
    mobilenet, shufflenet = build_rows([record("ShuffleNetV2_x0_5", 4.0, 5623366),
                                        record("MobileNetV1", 30.0, 16942118)])  # rows in the seed's order
    assert shufflenet.storage_delta_unit == "MB" and shufflenet.storage_delta_pct == pytest.approx(0.417, abs=1e-3)
    assert mobilenet.storage_delta_unit == "MiB" and mobilenet.storage_delta_pct == pytest.approx(0.983, abs=1e-3)


def test_a_model_outside_the_seed_table_has_no_reference_values():
    (row,) = build_rows([record("my_model", 5.0, 1000)])
    assert row.family == "other" and row.seed_latency_ms is None and row.latency_delta_pct is None


def test_an_int8_model_the_table_lacks_keeps_its_family_but_has_no_seed_values():
    (row,) = build_rows([record("ShuffleNetV2_x0_25_int8", 2.0, 1000)])
    assert row.family == "ShuffleNetV2" and row.precision == "int8"
    assert row.seed_latency_ms is None and row.top1 is None


def test_imported_result_without_nb_has_no_storage():
    (row,) = build_rows([record("MobileNetV1", 30.0, None)])
    assert row.storage_mib is None and row.storage_delta_pct is None


def test_markdown_table_marks_virtual_devices_and_compares_only_phones():
    rows = build_rows([record("MobileNetV1", 30.0, 16 * MIB, virtual=True),
                       record("MobileNetV2", 20.0, 14 * MIB, threads=4),
                       record("ShuffleNetV2", 9.0, 9 * MIB, abi="x86_64")])
    text = render_markdown(rows)
    lines = text.splitlines()
    assert lines[0].startswith("| Model | Device | 1 thread (ms) | 4 threads (ms) | Storage (MiB)")
    # the virtual device's latency is the host's: no delta against the SD855 (it used to get -7.8%)
    assert "| MobileNetV1 | sd855 † | 30.000 | - | 16.00 | 32.523 | 16.0 | - | +0.0% (MiB) |" in lines
    # 4 threads is not the seed's condition: no latency delta
    assert "| MobileNetV2 | sd855 | - | 20.000 | 14.00 | 23.318 | 14.0 | - | +0.0% (MiB) |" in lines
    # an x86_64 device that is not edgekit's virtual one is not a phone either
    assert "| ShuffleNetV2 | sd855 ‡ | 9.000 | - | 9.00 | 10.941 | 9.0 | - | +0.0% (MiB) |" in lines
    assert any(line.startswith("† edgekit's virtual device") for line in lines)
    assert any(line.startswith("‡ not an ARM Android device") for line in lines)
    assert [r.kind for r in rows] == ["virtual", "phone", "other"]


def test_thread_counts_side_by_side_and_rounds_as_median_and_spread():
    rows = build_rows([record("MobileNetV1", 31.0, 16 * MIB, rounds=[30.0, 31.0, 33.0]),
                       record("MobileNetV1", 17.0, 16 * MIB, threads=2, rounds=[17.0, 17.5, 16.5]),
                       record("MobileNetV1", 9.0, 16 * MIB, threads=4)])
    assert [r.threads for r in rows] == [1, 2, 4]
    one = rows[0]
    assert one.latency_ms == 31.0 and one.latency_std_ms == pytest.approx(1.5275, abs=1e-4)  # median, std
    assert one.latency_rounds == 3 and one.latency_delta_pct == pytest.approx((31.0 - 32.523) / 32.523 * 100)
    lines = render_markdown(rows).splitlines()
    assert lines[0].startswith("| Model | Device | 1 thread (ms) | 2 threads (ms) | 4 threads (ms) |")
    assert ("| MobileNetV1 | sd855 | 31.000 ± 1.528 | 17.000 ± 0.500 | 9.000 | 16.00 | 32.523 | 16.0 | -4.7% | "
            "+0.0% (MiB) |") in lines


def test_a_newer_run_with_other_rounds_replaces_the_older_one_everywhere():
    """Rounds say how often a setting was measured, not another setting: one row (the latest),
    in the table, the JSON and the plots alike (the plot once drew one point per rounds value)."""
    older = record("MobileNetV1", 31.0, 16 * MIB, rounds=[30.0, 31.0, 33.0])
    older = dataclasses.replace(older, settings={**older.settings, "rounds": 3})
    newer = record("MobileNetV1", 29.0, 16 * MIB)
    newer = dataclasses.replace(newer, settings={**newer.settings, "rounds": 1})
    rows = build_rows([older, newer])
    assert [(r.latency_ms, r.latency_rounds) for r in rows] == [(29.0, 1)]


def test_markdown_without_results_says_how_to_get_some():
    assert "edgekit bench" in render_markdown([])


def test_csv_and_json_hold_every_field():
    rows = build_rows([record("MobileNetV1", 30.0, 16 * MIB)])
    parsed = list(csv.DictReader(io.StringIO(render_csv(rows))))
    assert parsed[0]["model"] == "MobileNetV1" and float(parsed[0]["latency_ms"]) == 30.0
    assert parsed[0]["storage_bytes"] == str(16 * MIB)


def test_make_report_reads_the_store_filters_by_device_and_writes_plots(tmp_path: Path):
    workspace = Workspace.open(tmp_path / "ws")
    store = ResultStore.for_workspace(workspace)
    for rec in [record("MobileNetV1", 30.0, 16 * MIB), record("MobileNetV3_small_x0_35", 3.0, 7 * MIB),
                record("ShuffleNetV2_x0_25", 2.0, 3 * MIB), record("MobileNetV2_x0_25", 4.0, 6 * MIB),
                record("MobileNetV1", 60.0, 16 * MIB, profile="sd625")]:
        store.append(rec)
    plots = tmp_path / "plots"
    report = make_report(workspace, profile="sd855", plots_dir=plots)
    assert {r.device for r in report.rows} == {"sd855"} and len(report.rows) == 4
    assert sorted(p.name for p in report.plots) == sorted(PLOT_FILES.values())
    for path in report.plots:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert not [p for p in plots.iterdir() if p.name.startswith(".")]  # no temporary files left
    document = json.loads(render(report, "json"))
    assert len(document["rows"]) == 4 and len(document["plots"]) == 2


def test_a_plots_folder_that_cannot_be_made_is_one_line_not_a_traceback(run_cli, workspace, tmp_path: Path):
    ResultStore.for_workspace(Workspace.open(workspace)).append(record("MobileNetV1", 30.0, 16 * MIB))
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    result = run_cli("report", "--plots", str(a_file / "plots"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("edgekit: error: cannot write the plot ") and "a_file/plots" in line


def test_unknown_format_is_a_usage_error(tmp_path: Path):
    with pytest.raises(UsageError, match="'html'"):
        render(make_report(Workspace.open(tmp_path)), "html")


def test_a_device_filter_is_checked_and_named_when_it_has_no_results(tmp_path: Path):
    workspace = Workspace.open(tmp_path / "ws")
    ResultStore.for_workspace(workspace).append(record("MobileNetV1", 30.0, 16 * MIB))
    with pytest.raises(ConfigError, match="unknown device profile 'nope'"):
        make_report(workspace, profile="nope")
    empty = make_report(workspace, profile="sd865")
    assert render(empty, "md").startswith("No benchmark results for device profile sd865")


def test_an_empty_store_gives_a_message_and_no_empty_charts(run_cli, workspace, tmp_path: Path):
    plots = tmp_path / "plots"
    result = run_cli("report", "--plots", str(plots), check=True)
    assert "No benchmark results yet" in result.stdout and "No plots written" in result.stdout
    assert not plots.exists()
    as_json = run_cli("report", "--plots", str(plots), "--json", check=True)
    assert as_json.json()["rows"] == [] and "No plots written" in as_json.stderr


def test_plots_draw_every_seed_model_and_the_measured_points():
    # what the figure holds: every model of the seed as a hollow point on its architecture's line
    # (or beside it), measured points on top with their names, the legend outside the axes
    rows = build_rows([record("MobileNetV1", 30.0, 16 * MIB),
                       record("MobileNetV3_small_x0_35", 3.0, 7 * MIB, virtual=True)])
    figure = plot_figure(rows, "storage")
    figure.canvas.draw()
    (ax,) = figure.axes
    seed_points = sum(len(line.get_xdata()) for line in ax.get_lines())
    hollow = [c for c in ax.collections if len(c.get_offsets()) and not len(c.get_facecolors())]
    seeded = [m for m in reference.reference_models() if m.top1 is not None and m.storage_mb is not None]
    assert seed_points + sum(len(c.get_offsets()) for c in hollow) == len(seeded) == 32
    assert sorted(t.get_text() for t in ax.texts) == ["MobileNetV1", "MobileNetV3_small_x0_35"]
    (legend,) = figure.legends
    assert not ax.get_legend() and legend.get_window_extent().x0 >= ax.get_window_extent().x1
    for text in ax.texts:  # labels stay inside the axes
        assert text.get_window_extent().x1 <= ax.get_window_extent().x1 + 1


def test_the_latency_plot_puts_non_phone_devices_on_a_panel_of_their_own():
    rows = build_rows([record("MobileNetV1", 30.0, 16 * MIB, rounds=[29.0, 30.0, 32.0]),
                       record("MobileNetV1_x0_25", 3.0, 2 * MIB, virtual=True),
                       record("MobileNetV1", 15.0, 16 * MIB, threads=2)])
    figure = plot_figure(rows, "latency")
    phone, host = figure.axes
    assert [t.get_text() for t in phone.texts] == ["MobileNetV1"]  # 1 thread only: the seed's condition
    assert [t.get_text() for t in host.texts] == ["MobileNetV1_x0_25"] and not host.get_lines()
    assert "not comparable" in host.get_title()


def test_plots_leave_the_callers_matplotlib_backend_alone(tmp_path: Path):
    script = ("import sys, matplotlib; matplotlib.use('pdf'); from pathlib import Path; "
              "from edgekit.report import write_plots; write_plots([], Path(sys.argv[1])); "
              "print(matplotlib.get_backend())")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.strip() == "pdf"
    assert (tmp_path / PLOT_FILES["latency"]).read_bytes()[:4] == b"\x89PNG"


def _snapshot(hottest: float, throttled: bool) -> dict:
    return {"taken_at": 0.0, "zones": {"cpu-1-0-usr": hottest}, "cpus": [], "hottest_c": hottest,
            "hottest_zone": "cpu-1-0-usr", "throttled": throttled, "throttled_cpus": [0] if throttled else []}


def test_report_shows_the_thermal_state_of_runs_that_recorded_it():
    """bench records thermal snapshots (extra.thermal); the report showed none of it."""
    cool = record("MobileNetV1", 30.0, 16 * MIB)
    cool.extra["thermal"] = {"before": _snapshot(41.2, False), "after": _snapshot(47.6, False)}
    hot = record("ShuffleNetV2_x0_25", 2.5, int(2.7 * MIB))
    hot.extra["thermal"] = {"before": _snapshot(70.0, False), "after": _snapshot(78.4, True)}
    unreadable = record("MobileNetV2", 23.0, 14 * MIB)
    unreadable.extra["thermal"] = {"before": {"error": "no access"}, "after": {"error": "no access"}}
    imported = record("MobileNetV3_small_x0_35", 2.6, 7 * MIB)  # a results import: no thermal key at all
    rows = {r.model: r for r in build_rows([cool, hot, unreadable, imported])}
    assert (rows["MobileNetV1"].hottest_before_c, rows["MobileNetV1"].hottest_after_c,
            rows["MobileNetV1"].throttled) == (41.2, 47.6, False)
    assert (rows["ShuffleNetV2_x0_25"].hottest_after_c, rows["ShuffleNetV2_x0_25"].throttled) == (78.4, True)
    assert rows["MobileNetV2"].throttled is None and rows["MobileNetV3_small_x0_35"].throttled is None

    markdown = render_markdown(list(rows.values()))
    assert "| Hottest °C (before→after) |" in markdown.splitlines()[0]
    line = {l.split(" | ")[0]: l for l in markdown.splitlines() if l.startswith("| ")}
    assert "| 41→48 |" in line["| MobileNetV1"] and "| 70→78 ! throttled |" in line["| ShuffleNetV2_x0_25"]
    assert "| - |" in line["| MobileNetV2"]
    assert "Hottest °C: the device's hottest thermal zone before → after the run" in markdown
    parsed = {r["model"]: r for r in csv.DictReader(io.StringIO(render_csv(list(rows.values()))))}
    assert (parsed["ShuffleNetV2_x0_25"]["hottest_before_c"], parsed["ShuffleNetV2_x0_25"]["throttled"]) == ("70.0", "True")
    doc = json.loads(render(Report(rows=tuple(rows.values())), "json"))
    assert {r["model"]: r["throttled"] for r in doc["rows"]}["MobileNetV1"] is False
    # a report of runs without thermal readings keeps its columns
    assert "Hottest" not in render_markdown([rows["MobileNetV2"], rows["MobileNetV3_small_x0_35"]])
