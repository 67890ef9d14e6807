"""`edgekit bench` end to end: the real adb server, edgekit's virtual device (which runs x86 .nb
files with the host runner), the real command line, the results store and the report.

Costs are kept down: small models, warmup 1, repeats 3, and one module-wide workspace of
converted models that the tests copy instead of converting again.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from device_fixtures import process_alive
from edgekit.bench.results import BenchRecord, ResultStore, new_run_id, now_iso
from edgekit.workspace import sha256_file

FAST = ("--warmup", "1", "--repeats", "3")
SMALL_MODELS = ("ShuffleNetV2_x0_25", "MobileNetV3_small_x0_35", "MobileNetV1_x0_25")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def converted_workspace(tmp_path_factory) -> Path:
    """A workspace holding x86 .nb files of SMALL_MODELS (what the virtual device runs)."""
    root = tmp_path_factory.mktemp("converted") / "workspace"
    env = dict(os.environ, EDGEKIT_WORKSPACE=str(root))
    for model in SMALL_MODELS:
        subprocess.run([sys.executable, "-m", "edgekit", "convert", model, "--target", "x86"], check=True,
                       capture_output=True, env=env, cwd=REPO, timeout=600)
    return root


@pytest.fixture
def ready_workspace(converted_workspace: Path, workspace: Path) -> Path:
    """The test's own workspace, with the converted models already in it."""
    shutil.copytree(converted_workspace, workspace, dirs_exist_ok=True)
    return workspace


def results(workspace: Path) -> list:
    return ResultStore(workspace / "results" / "results.jsonl").records()


def when(stamp: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(stamp)


def sandbox_file(device, remote: str) -> Path:
    return device.sandbox / remote.lstrip("/")


# ---------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_quantize_convert_bench_report_one_model_per_family(run_cli, workspace, adb_server, virtual_device,
                                                            tmp_path):
    models = ["MobileNetV1_x0_25", "MobileNetV2_x0_25", "MobileNetV3_small_x0_35", "ShuffleNetV2_x0_25",
              "MobileNetV3_small_x0_35_int8"]
    result = run_cli("bench", *models, "--device", "sd855", "--adb-server", adb_server, *FAST, "--json",
                     timeout=1800)
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert [r["model"] for r in sorted(document["results"], key=lambda r: models.index(r["model"]))] == models
    for record in document["results"]:
        assert record["status"] == "ok"
        assert record["latency"]["avg_ms"] > 0 and record["latency"]["init_ms"] > 0
        assert record["latency"]["min_ms"] <= record["latency"]["avg_ms"] <= record["latency"]["max_ms"]
        nb = Path(record["nb"]["path"])
        assert record["nb"]["bytes"] == nb.stat().st_size  # the exact .nb size
        # the file that ran is named by its content: no other run can replace it under this one
        assert record["nb"]["remote_path"] == (f"/data/local/tmp/edgekit/models/{record['model']}-"
                                               f"{record['nb']['sha256'][:12]}.nb")
        assert sandbox_file(virtual_device, record["nb"]["remote_path"]).read_bytes() == nb.read_bytes()
        assert record["tool"]["remote_path"].endswith(f"/benchmark_bin-{record['tool']['sha256'][:12]}")
        assert record["device"]["kind"] == "virtual"
        assert record["latency"]["samples_ms"] == [record["latency"]["avg_ms"]]  # one round
        assert record["extra"]["thermal"]["before"]["hottest_c"] > 0 and record["extra"]["thermal"]["after"]["cpus"]
        assert record["device"]["virtual"] is True and record["device"]["profile"] == "sd855"
        assert record["target"] == "x86" and record["tool"]["generation"] == "current"
        assert record["settings"] == {"warmup": 1, "repeats": 3, "threads": 1, "power_mode": 0,
                                      "input_shape": "1,3,224,224"}
    int8 = next(r for r in document["results"] if r["model"].endswith("_int8"))
    assert int8["precision"] == "int8"
    assert [r.to_dict() for r in results(workspace)] == document["results"]

    report = run_cli("report", "--json", "--plots", str(tmp_path / "plots"), check=True).json()
    rows = {row["model"]: row for row in report["rows"]}
    assert set(rows) == set(models)
    assert {rows[m]["family"] for m in models} == {"MobileNetV1", "MobileNetV2", "MobileNetV3", "ShuffleNetV2"}
    assert all(row["virtual"] and row["latency_ms"] > 0 for row in rows.values())
    assert rows["ShuffleNetV2_x0_25"]["seed_latency_ms"] == 2.329
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["top1_vs_latency.png", "top1_vs_storage.png"]
    markdown = run_cli("report", check=True).stdout
    line = next(line for line in markdown.splitlines() if line.startswith("| ShuffleNetV2_x0_25 | sd855 † |"))
    assert line.endswith(" | 2.329 | 2.7 | - | " + line.split(" | ")[-1])  # no Δ latency for a virtual device


def test_unchanged_files_are_not_pushed_again(run_cli, ready_workspace, adb_server, virtual_device):
    args = ("bench", "ShuffleNetV2_x0_25", "--device", "sd855", "--adb-server", adb_server, *FAST, "--json")
    first = run_cli(*args, check=True).json()["results"][0]
    second = run_cli(*args, check=True).json()["results"][0]
    assert first["extra"]["timings"]["nb_pushed"] and first["extra"]["timings"]["bin_pushed"]
    assert not second["extra"]["timings"]["nb_pushed"] and not second["extra"]["timings"]["bin_pushed"]
    raw = ready_workspace / "results" / second["extra"]["raw_output"]
    assert "Time(unit: ms):" in raw.read_text()


# -------------------------------------------------------------------------------- reliability


@pytest.mark.slow
def test_device_that_disappears_keeps_the_results_and_resume_finishes(run_cli, ready_workspace, adb_server,
                                                                      virtual_device, make_virtual_device):
    args = ["bench", *SMALL_MODELS, "--device", "sd855", "--adb-server", adb_server, *FAST]
    env = dict(os.environ, EDGEKIT_WORKSPACE=str(ready_workspace))
    # a long cool-down leaves time to pull the plug after the first run
    proc = subprocess.Popen([sys.executable, "-m", "edgekit", *args, "--cooldown", "6"], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not results(ready_workspace) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        virtual_device.stop()
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 5, stderr
    assert "--resume" in stderr and "not run:" in stderr and "Traceback" not in stderr
    kept = results(ready_workspace)
    assert len(kept) == 1 and kept[0].ok

    make_virtual_device(adb_server)  # another sd855 comes in
    finished = run_cli(*args, "--resume", "--json", check=True).json()
    assert finished["skipped"] == [kept[0].model]
    assert sorted(r["model"] for r in finished["results"]) == sorted(set(SMALL_MODELS) - {kept[0].model})
    assert sorted(r.model for r in results(ready_workspace) if r.ok) == sorted(SMALL_MODELS)
    again = run_cli(*args, "--resume", "--json", check=True).json()
    assert again["results"] == [] and sorted(again["skipped"]) == sorted(SMALL_MODELS)


def test_model_path_and_work_folder_with_spaces_and_semicolons(run_cli, ready_workspace, adb_server,
                                                               virtual_device, tmp_path):
    exported = next((ready_workspace / "export" / "ShuffleNetV2_x0_25").iterdir())
    folder = tmp_path / "my model;v2"
    folder.mkdir()
    for name in ("inference.pdmodel", "inference.pdiparams"):
        shutil.copy(exported / name, folder / name)
    remote_dir = "/data/local/tmp/edgekit/a b;touch injected"
    record = run_cli("bench", str(folder), "--device", "sd855", "--adb-server", adb_server, *FAST,
                     "--remote-dir", remote_dir, "--json", check=True).json()["results"][0]
    assert record["status"] == "ok" and record["model"] == "my model;v2"
    assert record["nb"]["remote_path"].startswith(f"{remote_dir}/models/my model;v2-")
    pushed = sandbox_file(virtual_device, record["nb"]["remote_path"])
    assert pushed.stat().st_size == record["nb"]["bytes"]
    assert [p.name for p in (virtual_device.sandbox / "data/local/tmp/edgekit").iterdir()] == ["a b;touch injected"]
    assert not list(virtual_device.sandbox.rglob("injected"))
    assert record["extra"]["remote_dir"] == remote_dir


def test_per_run_timeout_stops_a_hung_binary(run_cli, ready_workspace, adb_server, virtual_device, tmp_path):
    pid_file = tmp_path / "hung.pid"
    hung = tmp_path / "hung_benchmark_bin"
    hung.write_text(f"#!/bin/sh\necho $$ > '{pid_file}'\nexec sleep 300\n")  # runs on this host
    hung.chmod(0o755)
    started = time.monotonic()
    result = run_cli("bench", "ShuffleNetV2_x0_25", "--device", "sd855", "--adb-server", adb_server,
                     "--benchmark-bin", str(hung), "--timeout", "3", *FAST)
    assert time.monotonic() - started < 60
    assert result.returncode == 5, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("edgekit: error:")]
    assert len(errors) == 1 and "ShuffleNetV2_x0_25" in errors[0] and "Traceback" not in result.stderr
    (failed,) = results(ready_workspace)
    assert failed.status == "failed" and failed.latency is None and "DeviceTimeoutError" in failed.error
    assert "raw_output" not in failed.extra  # nothing was printed, so no file was written (or named)
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not process_alive(pid), "the hung benchmark binary is still running"


def test_binary_that_prints_no_timing_is_a_failed_run_showing_its_output(run_cli, ready_workspace, adb_server,
                                                                        virtual_device, tmp_path):
    # Paddle Lite's tool prints its complaints and usage and exits 0 when flags are wrong
    silent = tmp_path / "usage_only_benchmark_bin"
    silent.write_text("#!/bin/sh\necho 'Must set --backend option!'\necho 'Usage: ./benchmark_bin ...'\nexit 0\n")
    silent.chmod(0o755)
    result = run_cli("bench", "ShuffleNetV2_x0_25", "--device", "sd855", "--adb-server", adb_server,
                     "--benchmark-bin", str(silent), *FAST)
    assert result.returncode == 4
    assert "no benchmark timing found" in result.stderr and "Must set --backend option!" in result.stderr
    (failed,) = results(ready_workspace)
    assert failed.status == "failed" and "BenchmarkError" in failed.error
    assert "Must set --backend option!" in (ready_workspace / "results" / failed.extra["raw_output"]).read_text()


def test_cooldown_waits_between_runs(run_cli, ready_workspace, adb_server, virtual_device):
    document = run_cli("bench", "ShuffleNetV2_x0_25", "MobileNetV3_small_x0_35", "--device", "sd855",
                       "--adb-server", adb_server, *FAST, "--cooldown", "2", "--json", check=True).json()
    first, second = sorted(document["results"], key=lambda r: r["started"])
    assert (when(second["started"]) - when(first["finished"])).total_seconds() >= 2.0


def test_memory_profile_is_recorded_when_asked(run_cli, ready_workspace, adb_server, virtual_device):
    record = run_cli("bench", "ShuffleNetV2_x0_25", "--device", "sd855", "--adb-server", adb_server, *FAST,
                     "--memory", "--json", check=True).json()["results"][0]
    assert record["memory_mb"]["peak"] >= record["memory_mb"]["init"] > 0
    assert record["settings"]["memory_profile"] is True  # a different condition from a plain run


def test_work_folder_outside_the_device_tmp_folder_is_refused_before_any_device_work(
        run_cli, ready_workspace, adb_server, virtual_device, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("host file")
    escaped = f"edgekit-escaped-{os.getpid()}"
    for remote_dir, message in ((str(victim), "below /data/local/tmp/"),
                                (f"/data/local/tmp/../../../../{escaped}", "'..'"),
                                ("relative/dir", "absolute")):
        result = run_cli("bench", "ShuffleNetV2_x0_25", "--device", "sd855", "--adb-server", adb_server, *FAST,
                         "--remote-dir", remote_dir, "--cleanup")
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and "Exception in thread" not in result.stderr
    assert (victim / "keep.txt").read_text() == "host file"
    assert not (virtual_device.sandbox.parent / escaped).exists() and not Path("/" + escaped).exists()
    assert not sandbox_file(virtual_device, "/data/local/tmp/edgekit").exists()
    assert results(ready_workspace) == []


def test_a_work_folder_the_device_cannot_create_is_a_failed_device_not_a_lost_one(
        run_cli, ready_workspace, adb_server, virtual_device):
    sandbox_file(virtual_device, "/data/local/tmp/blocker").write_text("a file, not a folder")
    result = run_cli("bench", "ShuffleNetV2_x0_25", "--device", "sd855", "--adb-server", adb_server, *FAST,
                     "--remote-dir", "/data/local/tmp/blocker/edgekit")
    assert result.returncode == 5, result.stderr
    assert "no device could run them" in result.stderr and "mkdir -p" in result.stderr
    assert "device lost" not in result.stderr and "Traceback" not in result.stderr
    assert "not run: ShuffleNetV2_x0_25" in result.stderr
    assert f"device {virtual_device.address} could not be used: mkdir -p failed" in result.stdout


# A stand-in for Paddle Lite's current benchmark_bin: its report, with a shape no tool prints for a.nb.
FAKE_TOOL = r"""#!/bin/sh
case "$*" in */models/a-*) shape=1,3,abc;; *) shape=1,3,224,224;; esac
printf '======= Model Info =======\ninput_shape: %s\n' "$shape"
printf '======= Perf Info =======\nTime(unit: ms):\n'
for k in init first min max avg; do echo "$k = 1.0"; done
"""


def test_a_run_whose_output_cannot_be_read_fails_alone_and_nothing_hangs(
        run_cli, ready_workspace, adb_server, virtual_device, make_virtual_device, tmp_path):
    make_virtual_device(adb_server)  # two devices: a worker waiting for another's model must not wait forever
    x86_nb = next((ready_workspace / "convert" / "ShuffleNetV2_x0_25").glob("*/model.nb"))
    copies = []
    for name in ("a", "b", "c"):
        copies.append(tmp_path / f"{name}.nb")
        shutil.copy(x86_nb, copies[-1])
    fake = tmp_path / "fake_benchmark_bin"  # current tool's report; a shape it cannot have for a.nb
    fake.write_text(FAKE_TOOL)
    fake.chmod(0o755)
    result = run_cli("bench", *map(str, copies), "--device", "sd855", "--adb-server", adb_server, *FAST,
                     "--benchmark-bin", str(fake), "--json", timeout=180)
    assert result.returncode == 4, result.stderr
    assert "a.nb: the benchmark binary reports input_shape '1,3,abc', which is not a shape" in result.stderr
    assert "Traceback" not in result.stderr and "Exception in thread" not in result.stderr
    by_model = {r.model: r for r in results(ready_workspace)}
    assert sorted(by_model) == ["a", "b", "c"]
    assert not by_model["a"].ok and "BenchmarkError" in by_model["a"].error
    assert by_model["b"].ok and by_model["c"].ok


def test_resume_does_not_take_a_phones_result_for_the_virtual_devices(run_cli, ready_workspace, adb_server,
                                                                      virtual_device):
    args = ("bench", "ShuffleNetV2_x0_25", "MobileNetV3_small_x0_35", "--device", "sd855", "--adb-server",
            adb_server, *FAST, "--resume", "--json")
    run_cli("bench", "ShuffleNetV2_x0_25", "--device", "sd855", "--adb-server", adb_server, *FAST, check=True)
    phone = BenchRecord(  # what a real sd855 phone (arm .nb) stored for the other model
        run_id=new_run_id(), status="ok", source="bench", model="MobileNetV3_small_x0_35", precision="fp32",
        target="arm", nb=None, device={"serial": "R58M123", "profile": "sd855", "virtual": False},
        settings={"warmup": 1, "repeats": 3, "threads": 1, "power_mode": 0, "input_shape": "1,3,224,224"},
        tool={}, latency={"avg_ms": 9.0}, memory_mb=None, started=now_iso(), finished=now_iso())
    ResultStore(ready_workspace / "results" / "results.jsonl").append(phone)
    document = run_cli(*args, check=True).json()
    assert document["skipped"] == ["ShuffleNetV2_x0_25"]
    assert [r["model"] for r in document["results"]] == ["MobileNetV3_small_x0_35"]
    assert document["results"][0]["device"]["virtual"] is True


@pytest.mark.slow
def test_a_converted_nb_keeps_its_model_name_and_an_arm_nb_is_refused(run_cli, ready_workspace, adb_server,
                                                                      virtual_device):
    x86_nb = next((ready_workspace / "convert" / "ShuffleNetV2_x0_25").glob("*/model.nb"))
    record = run_cli("bench", str(x86_nb), "--device", "sd855", "--adb-server", adb_server, *FAST, "--json",
                     check=True).json()["results"][0]
    assert record["model"] == "ShuffleNetV2_x0_25" and record["target"] == "x86"  # from the convert manifest
    assert sandbox_file(virtual_device, record["nb"]["remote_path"]).is_file()
    arm = run_cli("convert", "ShuffleNetV2_x0_25", "--target", "arm", "--json", check=True).json()
    lone = ready_workspace.parent / "lone" / "ShuffleNetV2_x0_25.nb"  # no manifest beside it: its kernels tell
    lone.parent.mkdir()
    shutil.copy(arm["nb_path"], lone)
    for nb in (arm["nb_path"], str(lone)):
        refused = run_cli("bench", nb, "--device", "sd855", "--adb-server", adb_server, *FAST)
        assert refused.returncode == 2 and "was converted for arm" in refused.stderr, refused.stderr
    assert len(results(ready_workspace)) == 1


def test_cleanup_removes_the_work_folder(run_cli, ready_workspace, adb_server, virtual_device):
    run_cli("bench", "ShuffleNetV2_x0_25", "--device", "sd855", "--adb-server", adb_server, *FAST, "--cleanup",
            check=True)
    assert not sandbox_file(virtual_device, "/data/local/tmp/edgekit").exists()
    assert results(ready_workspace)[0].ok


def test_cleanup_leaves_what_this_run_did_not_use(run_cli, ready_workspace, adb_server, virtual_device):
    # it used to `rm -rf` the whole work folder, under other runs' jobs
    foreign = sandbox_file(virtual_device, "/data/local/tmp/edgekit/models/another-run-0123456789ab.nb")
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(b"another run's model")
    record = run_cli("bench", "ShuffleNetV2_x0_25", "--device", "sd855", "--adb-server", adb_server, *FAST,
                     "--cleanup", "--json", check=True).json()["results"][0]
    assert foreign.read_bytes() == b"another run's model"
    assert not sandbox_file(virtual_device, record["nb"]["remote_path"]).exists()
    assert not sandbox_file(virtual_device, record["tool"]["remote_path"]).exists()


# ------------------------------------------------------------------------- choosing devices


def test_models_are_spread_over_devices_of_two_adb_servers(run_cli, ready_workspace, adb_server, virtual_device,
                                                           second_adb_server, second_adb_server_with_device):
    document = run_cli("bench", "ShuffleNetV2_x0_25", "MobileNetV3_small_x0_35", "--device", "sd855",
                       "--adb-server", adb_server, "--adb-server", second_adb_server, *FAST, "--cooldown", "2",
                       "--json", check=True).json()
    records = document["results"]
    assert all(r["status"] == "ok" for r in records) and len(records) == 2
    assert {r["device"]["serialno"] for r in records} == {virtual_device.serial, second_adb_server_with_device.serial}
    assert {r["device"]["adb_server"] for r in records} == {adb_server, second_adb_server}
    # at the same time: each device took a model at once (one after the other would need 2 s of cool-down between)
    assert max(when(r["started"]) for r in records) < min(when(r["finished"]) for r in records)


def test_one_model_and_several_matching_devices_needs_a_serial(run_cli, ready_workspace, adb_server, virtual_device,
                                                               make_virtual_device):
    other = make_virtual_device(adb_server)
    refused = run_cli("bench", "ShuffleNetV2_x0_25", "--device", "sd855", "--adb-server", adb_server, *FAST)
    assert refused.returncode == 5 and "pass --serial" in refused.stderr
    assert virtual_device.address in refused.stderr and other.address in refused.stderr
    chosen = run_cli("bench", "ShuffleNetV2_x0_25", "--serial", other.serial, "--adb-server", adb_server, *FAST,
                     "--json", check=True).json()["results"][0]
    assert chosen["device"]["serialno"] == other.serial


def test_no_matching_device_is_a_clear_error(run_cli, ready_workspace, adb_server, virtual_device):
    result = run_cli("bench", "ShuffleNetV2_x0_25", "--device", "sd865", "--adb-server", adb_server)
    assert result.returncode == 5
    assert "no connected device matches profile sd865" in result.stderr and virtual_device.address in result.stderr


def test_unknown_model_stops_before_anything_runs(run_cli, ready_workspace, adb_server, virtual_device):
    result = run_cli("bench", "ShuffleNetV2_x0_25", "MobileNetV9", "--device", "sd855", "--adb-server", adb_server)
    assert result.returncode == 2 and "MobileNetV9" in result.stderr
    assert results(ready_workspace) == []


def test_no_device_choice_is_a_usage_error(run_cli):
    result = run_cli("bench", "ShuffleNetV2_x0_25", env={"ANDROID_SERIAL": ""})
    assert result.returncode == 2 and "--device" in result.stderr


# ------------------------------------------------------------------- one run per device at a time


def marked_binary(tmp_path: Path, workspace: Path, mark: str) -> Path:
    """The virtual device's benchmark binary with a line of its own: other bytes (another sha256),
    and it says on stderr which one ran (the raw output keeps stderr)."""
    from edgekit.device.emulator import host_benchmark_bin

    launcher = host_benchmark_bin(tmp_path / f"launcher_{mark}").read_text()
    path = tmp_path / f"benchmark_bin_{mark}"
    path.write_text(launcher.replace("exec ", f"echo 'ran binary {mark}' >&2\nexec ", 1))
    path.chmod(0o755)
    return path


@pytest.mark.slow
def test_two_bench_processes_on_one_device_take_turns_and_record_what_ran(ready_workspace, adb_server,
                                                                          virtual_device, tmp_path):
    env = dict(os.environ, EDGEKIT_WORKSPACE=str(ready_workspace))
    procs = {}
    for mark, models in (("A", SMALL_MODELS[:2]), ("B", SMALL_MODELS[1:])):
        binary = marked_binary(tmp_path, ready_workspace, mark)
        procs[mark] = (binary, subprocess.Popen(
            [sys.executable, "-m", "edgekit", "bench", *models, "--device", "sd855", "--adb-server", adb_server,
             *FAST, "--benchmark-bin", str(binary), "--cleanup", "--json"],
            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    documents, stderrs = {}, {}
    for mark, (binary, proc) in procs.items():
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        documents[mark], stderrs[mark] = json.loads(out), err
    assert any("is in use by edgekit bench" in err and "waiting" in err for err in stderrs.values())
    waiting = next(line for err in stderrs.values() for line in err.splitlines() if "is in use by" in line)
    assert waiting.count("pid ") == 1, waiting  # the holder's host and pid, said once
    spans = {}
    for mark, document in documents.items():
        binary = procs[mark][0]
        assert len(document["results"]) == 2
        for record in document["results"]:
            assert record["status"] == "ok"
            assert record["tool"]["sha256"] == sha256_file(binary)  # the binary named is the one that ran
            raw = (ready_workspace / "results" / record["extra"]["raw_output"]).read_text()
            assert f"ran binary {mark}" in raw and f"ran binary {'B' if mark == 'A' else 'A'}" not in raw
            assert record["nb"]["sha256"] == sha256_file(Path(record["nb"]["path"]))
            assert f"optimized_model_file: {record['nb']['remote_path']}" in raw  # the tool's own report
        spans[mark] = (min(when(r["started"]) for r in document["results"]),
                       max(when(r["finished"]) for r in document["results"]))
    first, second = sorted(spans.values())
    assert first[1] <= second[0], f"the runs overlapped on the device: {spans}"
    # --cleanup took only each run's own files; nothing of either is left, the lock is released
    assert not sandbox_file(virtual_device, "/data/local/tmp/edgekit").exists()
    assert not sandbox_file(virtual_device, "/data/local/tmp/edgekit.lock").exists()


@pytest.mark.slow
def test_ctrl_c_during_a_run_gives_the_device_lock_back(ready_workspace, adb_server, virtual_device):
    """The workers are daemon threads that die with the process: the main thread releases the
    locks they hold, so an interrupted bench does not leave the device busy for other hosts."""
    import signal

    lock = sandbox_file(virtual_device, "/data/local/tmp/edgekit.lock")
    env = dict(os.environ, EDGEKIT_WORKSPACE=str(ready_workspace))
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgekit", "bench", SMALL_MODELS[0], "--device", "sd855", "--adb-server", adb_server,
         "--warmup", "1", "--repeats", "3", "--rounds", "200"],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not lock.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert lock.exists(), "the run never took the device's lock"
    time.sleep(1.0)  # well inside the 200 rounds
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert not lock.exists(), "an interrupted bench left the device locked"


def test_no_wait_fails_at_once_on_a_busy_device_before_converting(run_cli, workspace, adb_server, virtual_device):
    from edgekit.device import select_device
    from edgekit.device.lock import device_lock

    device = select_device(serial=virtual_device.serial, adb_servers=[adb_server])
    with device_lock(device, "a test holding the device"):
        started = time.monotonic()
        result = run_cli("bench", "ShuffleNetV2_x0_25", "--device", "sd855", "--adb-server", adb_server, *FAST,
                         "--no-wait")
        assert time.monotonic() - started < 30
    assert result.returncode == 5, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "is busy" in line and "a test holding the device" in line
    assert not (workspace / "convert").exists() and results(workspace) == []


# ---------------------------------------------------------------- rounds, threads, thermal state


@pytest.mark.slow
def test_rounds_and_a_thread_sweep_give_distributions_thermal_snapshots_and_a_side_by_side_report(
        run_cli, ready_workspace, adb_server, virtual_device):
    document = run_cli("bench", "ShuffleNetV2_x0_25", "--device", "sd855", "--adb-server", adb_server, *FAST,
                       "--rounds", "3", "--threads", "1,2", "--json", check=True).json()
    records = document["results"]
    assert [r["settings"]["threads"] for r in records] == [1, 2] and document["threads"] == [1, 2]
    for record in records:
        latency = record["latency"]
        assert record["settings"]["rounds"] == 3 and len(latency["samples_ms"]) == 3
        assert latency["median_ms"] == sorted(latency["samples_ms"])[1]
        assert latency["std_ms"] > 0 and latency["round_min_ms"] <= latency["median_ms"] <= latency["round_max_ms"]
        assert latency["min_ms"] <= latency["round_min_ms"] and latency["max_ms"] >= latency["round_max_ms"]
        for when_ in ("before", "after"):
            snapshot = record["extra"]["thermal"][when_]
            assert snapshot["zones"] and snapshot["cpus"][0]["max_khz"] > 0 and snapshot["throttled"] is False
        raw = (ready_workspace / "results" / record["extra"]["raw_output"]).read_text()
        assert raw.count("Time(unit: ms):") == 3 and "# edgekit: round 3 of 3" in raw
    markdown = run_cli("report", check=True).stdout
    assert "| 1 thread (ms) | 2 threads (ms) |" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| ShuffleNetV2_x0_25 |"))
    one, two = (f"{r['latency']['median_ms']:.3f} ± {r['latency']['std_ms']:.3f}" for r in records)
    assert f"| {one} | {two} |" in row
    # the thermal snapshots in the report: hottest zone before → after, one per thread count
    assert "| 2 threads (ms) | Hottest °C (before→after) |" in markdown
    temps = " / ".join(f"{r['extra']['thermal']['before']['hottest_c']:.0f}→{r['extra']['thermal']['after']['hottest_c']:.0f}"
                       for r in records)
    assert f"| {two} | {temps} |" in row


def test_a_hot_throttled_device_is_warned_about_and_cooldown_temp_waits_within_its_limit(
        run_cli, ready_workspace, adb_server, virtual_device):
    virtual_device.set_thermal(zone_temps={"cpu-1-0-usr": 78.0}, cpu_max_khz={0: 1_000_000})
    started = time.monotonic()
    result = run_cli("bench", "ShuffleNetV2_x0_25", "--device", "sd855", "--adb-server", adb_server, *FAST,
                     "--cooldown-temp", "60", "--cooldown-timeout", "3", "--json")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 3
    (record,) = result.json()["results"]
    cooldown = record["extra"]["thermal"]["cooldown"]
    assert cooldown["reached"] is False and cooldown["hottest_c"] == 78.0 and cooldown["waited_s"] >= 3
    assert record["extra"]["thermal"]["before"]["throttled"] is True
    warnings = result.json()["warnings"]
    assert any("throttled" in w for w in warnings) and any("78.0 °C" in w for w in warnings)
    assert any("still 78.0 °C after waiting" in w for w in warnings)
    assert not any("--cooldown-temp waits" in w for w in warnings)  # it was given: no advice to give it
    assert "waiting until it is below 60 °C" in result.stderr and "warning:" in result.stderr

    hardware_max = int(sandbox_file(virtual_device, "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text())
    virtual_device.set_thermal(zone_temps={"cpu-1-0-usr": 40.0}, cpu_max_khz={0: hardware_max})
    cool = run_cli("bench", "ShuffleNetV2_x0_25", "--device", "sd855", "--adb-server", adb_server, *FAST,
                   "--cooldown-temp", "60", "--json", check=True).json()
    assert cool["warnings"] == [] and cool["results"][0]["extra"]["thermal"]["cooldown"]["reached"] is True


def test_the_hot_device_advice_names_cooldown_temp_only_to_who_did_not_give_it():
    from edgekit.bench.thermal import warnings_for

    hot = {"hottest_c": 78.0, "throttled": False}
    (advised,) = warnings_for(hot, "before", "phone-1")
    assert advised.endswith("; --cooldown-temp waits until the device is cooler")
    (plain,) = warnings_for(hot, "after", "phone-1", cooldown_temp_c=60.0)
    assert plain == "phone-1: 78.0 °C after the run (hot; 65 °C and above)"


# ------------------------------------------------------------------------- kinds and bad input


def test_an_x86_device_that_is_not_edgekits_is_no_phone_and_gets_no_armv8_hint(
        run_cli, ready_workspace, adb_server, make_virtual_device):
    other = make_virtual_device(adb_server, props={"ro.edgekit.virtual": ""})
    missing = run_cli("bench", "ShuffleNetV2_x0_25", "--serial", other.serial, "--adb-server", adb_server, *FAST)
    assert missing.returncode == 3 and "x86_64" in missing.stderr
    assert "armv8" not in missing.stderr  # it used to say to build for armv8
    from edgekit.device.emulator import host_benchmark_bin

    binary = host_benchmark_bin(ready_workspace / "host_bin")
    record = run_cli("bench", "ShuffleNetV2_x0_25", "--serial", other.serial, "--adb-server", adb_server, *FAST,
                     "--benchmark-bin", str(binary), "--json", check=True).json()["results"][0]
    assert record["device"]["kind"] == "other" and record["device"]["virtual"] is False
    (row,) = run_cli("report", "--json", check=True).json()["rows"]
    assert row["kind"] == "other" and row["latency_delta_pct"] is None and row["seed_latency_ms"] == 2.329
    assert "sd855 ‡" in run_cli("report", check=True).stdout


def test_a_non_executable_or_foreign_benchmark_binary_fails_before_anything_is_converted_or_pushed(
        run_cli, workspace, adb_server, virtual_device, tmp_path):
    plain = tmp_path / "benchmark_bin"
    plain.write_text("#!/bin/sh\necho hi\n")  # no x bit: used to be converted and pushed, then exit 126
    arm = tmp_path / "benchmark_bin_arm"
    arm.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\xb7\x00" + bytes(44))  # an aarch64 ELF header
    arm.chmod(0o755)
    for binary, cause in ((plain, "is not executable"), (arm, "built for aarch64")):
        result = run_cli("bench", "ShuffleNetV2_x0_25", "--device", "sd855", "--adb-server", adb_server, *FAST,
                         "--benchmark-bin", str(binary))
        assert result.returncode == 2 and cause in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (workspace / "convert").exists() and not (workspace / "export").exists()
    assert not sandbox_file(virtual_device, "/data/local/tmp/edgekit").exists()


def test_an_absurd_input_shape_gives_its_cause(run_cli, ready_workspace, adb_server, virtual_device):
    result = run_cli("bench", "ShuffleNetV2_x0_25", "--device", "sd855", "--adb-server", adb_server, *FAST,
                     "--input-shape", "1,3,100000,100000")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "input shape 1,3,100000,100000" in line and "at most 65536 per dimension" in line


def test_a_binary_that_dies_in_a_traceback_is_quoted_by_its_cause(run_cli, ready_workspace, adb_server,
                                                                  virtual_device, tmp_path):
    crashing = tmp_path / "crashing_benchmark_bin"
    crashing.write_text("#!/bin/sh\nprintf 'Traceback (most recent call last):\\n  File \"x.py\", line 1\\n"
                        "    run()\\nMemoryError: cannot allocate 112 GiB for the input\\n' >&2\nexit 1\n")
    crashing.chmod(0o755)
    result = run_cli("bench", "ShuffleNetV2_x0_25", "--device", "sd855", "--adb-server", adb_server, *FAST,
                     "--benchmark-bin", str(crashing))
    assert result.returncode == 4
    assert "MemoryError: cannot allocate 112 GiB for the input" in result.stderr
    assert "Traceback" not in result.stderr


def test_resume_counts_a_result_only_for_the_same_binary(run_cli, ready_workspace, adb_server, virtual_device,
                                                         tmp_path):
    args = ("bench", "ShuffleNetV2_x0_25", "--device", "sd855", "--adb-server", adb_server, *FAST, "--json")
    run_cli(*args, check=True)
    same = run_cli(*args, "--resume", check=True).json()
    assert same["skipped"] == ["ShuffleNetV2_x0_25"] and same["results"] == []
    other = marked_binary(tmp_path, ready_workspace, "C")
    again = run_cli(*args, "--resume", "--benchmark-bin", str(other), check=True).json()
    assert again["skipped"] == [] and again["results"][0]["tool"]["sha256"] == sha256_file(other)


def test_a_device_that_hangs_mid_run_ends_the_bench_within_its_time_limits(ready_workspace, adb_server,
                                                                           virtual_device, tmp_path):
    # Before, the push, stat and mkdir had no time limit: a stalled phone held a worker forever.
    marker = tmp_path / "ran"
    stalling = tmp_path / "stalling_benchmark_bin"  # says that it runs, then answers late: the device hangs
    stalling.write_text(f"#!/bin/sh\ntouch '{marker}'\nsleep 2\necho 'never read'\n")
    stalling.chmod(0o755)
    env = dict(os.environ, EDGEKIT_WORKSPACE=str(ready_workspace))
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "edgekit", "bench", *SMALL_MODELS[:2], "--device", "sd855",
                             "--adb-server", adb_server, *FAST, "--benchmark-bin", str(stalling), "--timeout", "4",
                             "--device-timeout", "3"], env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        virtual_device.pause()
        _, stderr = proc.communicate(timeout=120)
    finally:
        virtual_device.resume()
        if proc.poll() is None:
            proc.kill()
    assert time.monotonic() - started < 90
    assert proc.returncode == 5, stderr
    assert "Traceback" not in stderr and stderr.count("edgekit: error:") == 1
    failed = results(ready_workspace)
    assert failed and all(not r.ok for r in failed) and "DeviceTimeoutError" in failed[0].error
