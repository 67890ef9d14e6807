"""Benchmark settings: the seed's conditions, a device profile's defaults, the caller's overrides."""

from __future__ import annotations

import pytest

from edgekit.bench.results import BenchRecord
from edgekit.bench.outcome import BenchOutcome, Failure
from edgekit.bench.settings import (BenchOptions, BenchSettings, default_input_shape, normalize_shape, remote_work_dir,
                                    thread_counts)
from edgekit.device.profiles import load_profile, seed_conditions
from edgekit.errors import BenchmarkError, DeviceError, DeviceLostError, DeviceTimeoutError, UsageError

SEED_SETTINGS = seed_conditions()  # devices.yaml's _seed_conditions: the one place they are written


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
    ({"rounds": 0}, "--rounds"),
    ({"threads": "1,two"}, "--threads takes thread counts"),
    ({"threads": ","}, "--threads takes thread counts"),
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


def test_devices_that_failed_without_being_lost_are_not_called_lost():
    failed = [{"serial": "dev1", "error": "mkdir -p failed on dev1 (status 1): Read-only file system"}]
    outcome = BenchOutcome(records=(), skipped=(), unfinished=("MobileNetV2",), failures=(), lost_devices=(),
                           settings=BenchSettings.resolve(), store="/ws/results/results.jsonl", failed_devices=failed)
    with pytest.raises(DeviceError) as caught:
        outcome.raise_for_failures()
    assert not isinstance(caught.value, DeviceLostError)
    assert "no device could run them" in str(caught.value) and "Read-only file system" in str(caught.value)
    assert outcome.to_dict()["failed_devices"] == failed


@pytest.mark.parametrize("given, normal", [
    ("/data/local/tmp/edgekit", "/data/local/tmp/edgekit"),
    ("/data/local/tmp//edgekit/./runs/", "/data/local/tmp/edgekit/runs"),
    ("/data/local/tmp/a b;touch x", "/data/local/tmp/a b;touch x"),
])
def test_remote_dir_is_normalized(given, normal):
    assert remote_work_dir(given) == normal
    assert BenchOptions(remote_dir=given).checked().remote_dir == normal


@pytest.mark.parametrize("given, message", [
    ("relative/dir", "absolute"),
    ("/tmp/review/victim", "below /data/local/tmp/"),
    ("/data/local/tmp", "below /data/local/tmp/"),  # --cleanup would empty the whole folder
    ("/data/local/tmp/../../../../lostx", "'..'"),
    ("/data/local/tmp/x\n", "control characters"),
])
def test_remote_dir_outside_the_device_tmp_folder_is_refused(given, message):
    with pytest.raises(UsageError, match=message):
        remote_work_dir(given)


def test_a_thread_list_gives_one_settings_per_count_and_rounds_are_stored_only_when_more_than_one():
    sweep = BenchSettings.resolve_sweep(threads="1,2,4,2", rounds=3)
    assert [s.threads for s in sweep] == [1, 2, 4]
    assert all(s.rounds == 3 and s.to_dict()["rounds"] == 3 for s in sweep)
    assert "rounds" not in BenchSettings.resolve().to_dict()  # plain runs keep the seed's keys (and resume identity)
    assert thread_counts(4) == [4] and thread_counts((1, 2)) == [1, 2]
    with pytest.raises(UsageError, match="resolve_sweep"):
        BenchSettings.resolve(threads="1,2")


@pytest.mark.parametrize("given", ["1,,2", "1,2,", ",4"])
def test_a_thread_list_with_an_empty_count_is_a_usage_error_naming_it(given, run_cli):
    """'1,,2' was read as 1,2 without a word."""
    with pytest.raises(UsageError, match=f"'{given}' leaves one empty"):
        BenchSettings.resolve_sweep(threads=given)
    # and before any device is looked for (no device here: that would be exit 5)
    result = run_cli("bench", "MobileNetV1", "--device", "sd855", "--threads", given)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"edgekit: error: --threads takes thread counts like 1 or 1,2,4 ('{given}' leaves one empty)"


@pytest.mark.parametrize("shape, cause", [
    ("1,3,100000,100000", "at most 65536 per dimension"),
    ("64,3,4096,4096", "3.22e+09 values (12 GiB as float32)"),
    ("1," * 20 + "1", "21 dimensions"),
    ("9" * 40, "not a list of integers"),
])
def test_an_absurd_input_shape_names_its_cause(shape, cause):
    with pytest.raises(UsageError, match="input shape") as caught:
        normalize_shape(shape)
    assert cause in str(caught.value) and len(str(caught.value)) < 300


def test_the_models_own_input_shape_is_the_default_where_it_is_fixed():
    assert default_input_shape((1, 3, 256, 256)) == "1,3,256,256"
    assert default_input_shape((-1, 3, 224, 224)) == "1,3,224,224"  # a dynamic batch runs at the seed's 1
    assert default_input_shape((1, 3, -1, -1)) is None  # dynamic size: the profile's default
    assert default_input_shape(None) is None


@pytest.mark.parametrize("options, message", [
    (BenchOptions(device_timeout_s=0), "--device-timeout"),
    (BenchOptions(cooldown_temp_c=5), "--cooldown-temp"),
    (BenchOptions(cooldown_timeout_s=0), "--cooldown-timeout"),
    (BenchOptions(timeout_s=0), "--timeout"),
    (BenchOptions(timeout_s=-5), "--timeout"),
    (BenchOptions(cooldown_s=-1), "--cooldown"),
    (BenchOptions(device_timeout_s=float("nan")), "--device-timeout"),  # once a traceback from socket
    (BenchOptions(timeout_s=float("inf")), "--timeout"),
    (BenchOptions(cooldown_s=float("nan")), "--cooldown"),
    (BenchOptions(cooldown_timeout_s=1e12), "--cooldown-timeout"),
    (BenchOptions(cooldown_temp_c=float("nan")), "--cooldown-temp"),
])
def test_bad_run_options_are_usage_errors(options, message):
    with pytest.raises(UsageError, match=message):
        options.checked()
