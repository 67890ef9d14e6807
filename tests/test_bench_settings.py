"""Benchmark settings: the seed's conditions, a device profile's defaults, the caller's overrides."""

from __future__ import annotations

import pytest

from edgekit.bench.results import BenchRecord
from edgekit.bench.runner import SEED_SETTINGS, BenchOutcome, BenchSettings, Failure
from edgekit.device.profiles import load_profile
from edgekit.errors import BenchmarkError, DeviceLostError, DeviceTimeoutError, UsageError


def test_defaults_are_the_seed_conditions():
    settings = BenchSettings.resolve()
    assert settings.to_dict() == SEED_SETTINGS == {
        "warmup": 10, "repeats": 30, "threads": 1, "power_mode": 0, "input_shape": "1,3,224,224"}
    assert settings.flags() == ["--input_shape=1,3,224,224", "--warmup=10", "--repeats=30", "--threads=1",
                                "--power_mode=0"]


def test_profile_defaults_then_overrides():
    sd855 = load_profile("sd855")
    assert BenchSettings.resolve(sd855.bench_defaults).to_dict() == SEED_SETTINGS
    custom = BenchSettings.resolve({**sd855.bench_defaults, "threads": 4, "power_mode": 2},
                                   repeats=3, warmup=None, input_shape="1x3x256x256")
    assert (custom.threads, custom.power_mode, custom.repeats, custom.warmup) == (4, 2, 3, 10)
    assert custom.input_shape == "1,3,256,256"


@pytest.mark.parametrize("overrides, message", [
    ({"repeats": 0}, "--repeats"),
    ({"warmup": -1}, "--warmup"),
    ({"threads": 0}, "--threads"),
    ({"power_mode": 7}, "--power-mode"),
    ({"input_shape": "1,3,a,224"}, "not a list of integers"),
    ({"input_shape": "1,0,224,224"}, "positive integers"),
    ({"batch": 4}, "unknown benchmark setting"),
])
def test_bad_settings_are_usage_errors(overrides, message):
    with pytest.raises(UsageError, match=message):
        BenchSettings.resolve(**overrides)


def _outcome(records=(), failures=(), unfinished=(), lost=()) -> BenchOutcome:
    return BenchOutcome(records=tuple(records), skipped=(), unfinished=tuple(unfinished), failures=tuple(failures),
                        lost_devices=tuple(lost), settings=BenchSettings.resolve(), store="/ws/results/results.jsonl")


def _ok(model: str) -> BenchRecord:
    return BenchRecord(run_id="r", status="ok", source="bench", model=model, precision="fp32", target="x86",
                       nb=None, device={}, settings={}, tool={}, latency={"avg_ms": 1.0}, memory_mb=None,
                       started=None, finished=None)


def test_outcome_without_trouble_raises_nothing():
    _outcome([_ok("MobileNetV1")]).raise_for_failures()


def test_failed_runs_become_one_error_of_the_first_failures_kind():
    failures = [Failure("MobileNetV1", "dev1", DeviceTimeoutError("run took longer than 5 s")),
                Failure("MobileNetV2", "dev1", BenchmarkError("no benchmark timing found"))]
    with pytest.raises(DeviceTimeoutError) as caught:
        _outcome([_ok("ShuffleNetV2")], failures).raise_for_failures()
    message = str(caught.value)
    assert message.startswith("2 of 3 run(s) failed: MobileNetV1 on dev1: run took longer than 5 s; ")
    assert "MobileNetV2 on dev1: no benchmark timing found" in message


def test_unfinished_models_point_to_resume():
    lost = [{"serial": "dev1", "error": "device dev1 disappeared"}]
    with pytest.raises(DeviceLostError) as caught:
        _outcome([_ok("MobileNetV1")], unfinished=["MobileNetV2"], lost=lost).raise_for_failures()
    message = str(caught.value)
    assert "dev1: device dev1 disappeared" in message and "not run: MobileNetV2" in message
    assert "--resume" in message and "/ws/results/results.jsonl" in message
