"""The results store: durable appends, torn lines, concurrent writers, resume keys, latest runs."""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
from pathlib import Path

from edgekit.bench.results import (FAILED, KIND_OTHER, KIND_PHONE, KIND_VIRTUAL, OK, BenchRecord, ResultStore,
                                   device_kind, latest_per_run_kind, new_run_id, now_iso, resume_key, settings_key)
from edgekit.nb_info import precision_name

SETTINGS = {"warmup": 10, "repeats": 30, "threads": 1, "power_mode": 0, "input_shape": "1,3,224,224"}


def make_record(model: str = "MobileNetV1", *, avg: float = 30.0, status: str = OK, profile: str = "sd855",
                serial: str = "phone-1", settings: dict | None = None, virtual: bool = False,
                nb_sha256: str = "0" * 64, tool_sha256: str = "1" * 64) -> BenchRecord:
    return BenchRecord(
        run_id=new_run_id(), status=status, source="bench", model=model, precision=precision_name(model),
        target="x86" if virtual else "arm", nb={"path": f"/ws/{model}.nb", "bytes": 1000, "sha256": nb_sha256},
        device={"serial": serial, "profile": profile, "virtual": virtual},
        settings=dict(settings or SETTINGS),
        tool={"name": "benchmark_bin", "version": "acf6614", "sha256": tool_sha256},
        latency={"avg_ms": avg} if status == OK else None, memory_mb=None,
        started=now_iso(), finished=now_iso(), error=None if status == OK else "timed out",
    )


def test_append_then_read_back(tmp_path: Path):
    store = ResultStore(tmp_path / "results" / "results.jsonl")
    first, second = make_record(avg=31.5), make_record("ShuffleNetV2_x0_25", avg=2.5)
    store.append(first)
    store.append(second)
    assert store.records() == [first, second]
    lines = store.path.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["latency"]["avg_ms"] == 31.5


def test_missing_store_reads_as_empty(tmp_path: Path):
    assert ResultStore(tmp_path / "nothing.jsonl").records() == []


def test_torn_last_line_is_skipped_with_a_warning_and_the_next_append_is_intact(tmp_path: Path, caplog):
    store = ResultStore(tmp_path / "results.jsonl")
    kept = make_record(avg=10.0)
    store.append(kept)
    whole = json.dumps(make_record(avg=99.0).to_dict())
    with open(store.path, "a") as f:
        f.write(whole[: len(whole) // 2])  # what a crash in the middle of a write leaves
    with caplog.at_level(logging.WARNING):
        assert store.records() == [kept]
    assert "skipping unreadable line 2" in caplog.text and "torn" in caplog.text

    after = make_record(avg=20.0)
    store.append(after)
    with caplog.at_level(logging.WARNING):
        assert store.records() == [kept, after]


def test_threads_appending_at_once_write_whole_lines(tmp_path: Path):
    store = ResultStore(tmp_path / "results.jsonl")

    def worker(index: int) -> None:
        for n in range(25):
            store.append(make_record(f"model{index}", avg=float(n)))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = store.records()
    assert len(records) == 100
    assert sorted(r.latency["avg_ms"] for r in records if r.model == "model2") == [float(n) for n in range(25)]


def _append_from_process(path: str, tag: str) -> None:
    store = ResultStore(Path(path))
    for n in range(20):
        store.append(make_record(tag, avg=float(n)))


def test_processes_appending_at_once_write_whole_lines(tmp_path: Path):
    path = tmp_path / "results.jsonl"
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=_append_from_process, args=(str(path), f"p{i}")) for i in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    records = ResultStore(path).records()
    assert len(records) == 60 and {r.model for r in records} == {"p0", "p1", "p2"}


def test_completed_counts_only_successful_runs(tmp_path: Path):
    store = ResultStore(tmp_path / "results.jsonl")
    store.append(make_record("MobileNetV1"))
    store.append(make_record("MobileNetV2", status=FAILED))
    store.append(make_record("MobileNetV3_large_x1_0_ssld_int8", profile="sd865"))
    store.append(make_record("ShuffleNetV2_x0_25", virtual=True))
    key = settings_key(SETTINGS)
    nb, tool = "0" * 64, "1" * 64
    assert store.completed() == {
        ("MobileNetV1", "fp32", "sd855", "phone", key, "arm", nb, tool),
        ("MobileNetV3_large_x1_0_ssld_int8", "int8", "sd865", "phone", key, "arm", nb, tool),
        # a virtual sd855's run is told apart from a phone's
        ("ShuffleNetV2_x0_25", "fp32", "sd855", "virtual", key, "x86", nb, tool),
    }


def test_resume_key_holds_the_nb_and_binary_sha256():
    # another quantization preset gives another .nb under the same name; another binary another tool
    base = make_record("MobileNetV3_large_x1_0_ssld_int8")
    assert resume_key(make_record("MobileNetV3_large_x1_0_ssld_int8", nb_sha256="a" * 64)) != resume_key(base)
    assert resume_key(make_record("MobileNetV3_large_x1_0_ssld_int8", tool_sha256="b" * 64)) != resume_key(base)
    assert resume_key(make_record("MobileNetV3_large_x1_0_ssld_int8")) == resume_key(base)


def test_device_kind_is_phone_only_for_arm_android_devices():
    assert device_kind({"abi": "arm64-v8a", "virtual": False}) == KIND_PHONE
    assert device_kind({"abi": "armeabi-v7a"}) == KIND_PHONE
    assert device_kind({"abi": "x86_64", "virtual": True}) == KIND_VIRTUAL
    # an x86_64 Android device that is not edgekit's virtual device: not a phone
    assert device_kind({"abi": "x86_64", "virtual": False}) == KIND_OTHER
    assert device_kind({"abi": "x86_64", "kind": "phone"}) == KIND_PHONE  # what bench recorded wins
    assert device_kind({"profile": "sd855"}) == KIND_PHONE  # an import names only the profile
    assert make_record(virtual=True).kind == KIND_VIRTUAL and not make_record(virtual=True).is_phone


def test_settings_key_ignores_order_but_not_values():
    reordered = dict(reversed(list(SETTINGS.items())))
    assert settings_key(reordered) == settings_key(SETTINGS)
    assert settings_key({**SETTINGS, "threads": 4}) != settings_key(SETTINGS)


def test_latest_per_model_device_and_settings():
    old = make_record("MobileNetV1", avg=40.0)
    other_threads = make_record("MobileNetV1", avg=12.0, settings={**SETTINGS, "threads": 4})
    other_phone = make_record("MobileNetV1", avg=33.0, serial="phone-2")
    failed = make_record("MobileNetV1", status=FAILED)
    new = make_record("MobileNetV1", avg=30.0)
    other_profile = make_record("MobileNetV1", avg=50.0, profile="sd625")
    latest = latest_per_run_kind([old, other_threads, other_phone, failed, new, other_profile])
    assert latest == [other_threads, other_phone, new, other_profile]
    assert latest_per_run_kind([old, new, other_profile], profile="sd625") == [other_profile]


def test_precision_from_name():
    assert precision_name("MobileNetV3_large_x1_0_ssld_int8") == "int8"
    assert precision_name("MobileNetV3_large_x1_0_ssld") == "fp32"


def test_console_states_the_input_shapes_the_runs_used(tmp_path: Path):
    """Each model runs at its own described shape: the settings line names those, not the sweep's
    default 1,3,224,224 (a 3x48x192 model's line said 224 while it ran at 48x192)."""
    from edgekit.bench.console import format_outcome
    from edgekit.bench.outcome import BenchOutcome
    from edgekit.bench.settings import BenchSettings

    default = BenchSettings(warmup=10, repeats=30, threads=1, power_mode=0, input_shape="1,3,224,224")
    textline = make_record("textline", settings={**SETTINGS, "input_shape": "1,3,48,192"}, virtual=True)
    zoo = make_record("MobileNetV1", virtual=True)

    def line(records: tuple) -> str:
        outcome = BenchOutcome(records=records, skipped=(), unfinished=(), failures=(), lost_devices=(),
                               settings=default, store=tmp_path / "results.jsonl")
        return next(l for l in format_outcome(outcome).splitlines() if l.startswith("settings:"))

    assert "input 1,3,48,192;" in line((textline,)) and "224" not in line((textline,))
    assert "inputs 1,3,48,192 (textline); 1,3,224,224 (MobileNetV1);" in line((textline, zoo))
    assert "input 1,3,224,224;" in line(())
