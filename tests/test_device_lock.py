"""The lock held on a device (edgekit.device.lock) on virtual devices behind a real adb server:
one holder at a time across threads and processes, a clear error naming the holder, waiting,
stale locks taken over (old heartbeat, dead holder on this host), release on exit."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from edgekit.device import Device, device_lock, read_lock, select_device
from edgekit.device.lock import LOCK_PATH
from edgekit.errors import DeviceBusyError, DeviceError


def device_of(virtual_device) -> Device:
    return select_device(serial=virtual_device.serial, adb_servers=[virtual_device.adb_server])


def lock_folder(virtual_device) -> Path:
    return virtual_device.sandbox / LOCK_PATH.lstrip("/")


def test_a_second_run_gets_a_clear_error_naming_the_holder(virtual_device) -> None:
    device = device_of(virtual_device)
    with device_lock(device, "edgekit bench MobileNetV3", run_id="run-a") as held:
        assert (held.owner, held.pid, held.host, held.run_id) == ("edgekit bench MobileNetV3", os.getpid(),
                                                                  socket.gethostname(), "run-a")
        holder = read_lock(device)
        assert holder is not None and holder.run_id == "run-a" and holder.age_s is not None and holder.age_s < 5
        with pytest.raises(DeviceBusyError) as caught:
            with device_lock(device, "another bench", wait=False):
                pytest.fail("two holders")
        message = str(caught.value)
        assert "busy" in message and "edgekit bench MobileNetV3" in message and "run-a" in message
        assert f"pid {os.getpid()}" in message and virtual_device.address in message
        assert caught.value.exit_code == DeviceError.exit_code
    assert read_lock(device) is None and not lock_folder(virtual_device).exists()


def test_waiting_for_the_lock(virtual_device) -> None:
    device = device_of(virtual_device)
    seen = []
    release = threading.Event()

    def hold() -> None:
        with device_lock(device, "first run", run_id="first"):
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        while read_lock(device) is None:
            time.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(DeviceBusyError, match=r"first run .*waited 0.8 s"):
            with device_lock(device, "impatient", timeout_s=0.8, poll_s=0.2, on_wait=seen.append):
                pytest.fail("two holders")
        assert 0.7 < time.monotonic() - started < 4
        assert [h.run_id for h in seen] == ["first"]  # told once, naming the holder
        threading.Timer(0.5, release.set).start()
        with device_lock(device, "patient", timeout_s=20, poll_s=0.1, on_wait=seen.append) as mine:
            assert read_lock(device).run_id == mine.run_id
    finally:
        release.set()
        holder.join(10)


HOLDER_SCRIPT = textwrap.dedent("""
    import json, sys, time
    from edgekit.device import device_lock, select_device
    device = select_device(serial=sys.argv[1], adb_servers=[sys.argv[2]])
    with device_lock(device, "process " + sys.argv[3], poll_s=0.1):
        start = time.time()
        time.sleep(1.0)
        end = time.time()
    print(json.dumps([start, end]))
""")


def test_processes_take_turns(virtual_device) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", HOLDER_SCRIPT, virtual_device.serial, virtual_device.adb_server,
                               str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(3)]
    spans = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        spans.append(json.loads(out))
    spans.sort()
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end, f"two holders at once: {spans}"
    assert read_lock(device_of(virtual_device)) is None


def plant_lock(virtual_device, *, host: str, pid: int, run_id: str, age_s: float) -> None:
    """A lock another run left on the device, its heartbeat age_s seconds old."""
    folder = lock_folder(virtual_device)
    folder.mkdir(parents=True)
    owner = folder / "owner"
    owner.write_text(f"owner=edgekit bench elsewhere\nhost={host}\npid={pid}\nrun_id={run_id}\n"
                     f"started={time.time() - age_s:.3f}\n")
    then = time.time() - age_s
    os.utime(owner, (then, then))


def test_a_live_lock_of_another_host_is_respected(virtual_device) -> None:
    plant_lock(virtual_device, host="lab-runner-7", pid=4242, run_id="remote-run", age_s=2)
    with pytest.raises(DeviceBusyError, match="lab-runner-7"):
        with device_lock(device_of(virtual_device), "mine", wait=False):
            pytest.fail("took a live lock")
    assert read_lock(device_of(virtual_device)).run_id == "remote-run"


def test_a_lock_without_heartbeat_is_taken_over(virtual_device, caplog) -> None:
    plant_lock(virtual_device, host="lab-runner-7", pid=4242, run_id="crashed-run", age_s=600)
    with device_lock(device_of(virtual_device), "mine", wait=False) as mine:
        assert read_lock(device_of(virtual_device)).run_id == mine.run_id
    assert "stale lock" in caplog.text and "crashed-run" in caplog.text


def test_a_lock_whose_holder_died_on_this_host_is_taken_over(virtual_device) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    plant_lock(virtual_device, host=socket.gethostname(), pid=dead.pid, run_id="killed-run", age_s=1)
    with device_lock(device_of(virtual_device), "mine", wait=False) as mine:
        assert read_lock(device_of(virtual_device)).run_id == mine.run_id


def test_heartbeat_release_on_error_and_cleanup_of_the_work_folder(virtual_device) -> None:
    device = device_of(virtual_device)
    with pytest.raises(RuntimeError):
        with device_lock(device, "beating", heartbeat_s=0.2) as mine:
            owner = lock_folder(virtual_device) / "owner"
            old = time.time() - 300
            os.utime(owner, (old, old))
            time.sleep(0.8)
            assert read_lock(device).age_s < 5  # the heartbeat touched it again
            # removing edgekit's work folder (bench --cleanup) leaves the lock alone
            device.remove("/data/local/tmp/edgekit", recursive=True)
            assert read_lock(device).run_id == mine.run_id
            raise RuntimeError("the run failed")
    assert read_lock(device) is None
