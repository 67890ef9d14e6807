"""File transfer with the virtual device (push, pull, stat, list) through the real adb client,
adbutils and edgekit's Device; and the sandbox: no way out with .., absolute paths or symlinks."""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import subprocess
from pathlib import Path

import adbutils
import pytest

from edgekit.device import Device, list_devices
from edgekit.errors import DeviceError


def adb(virtual_device, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    port = virtual_device.adb_server.rsplit(":", 1)[1]
    return subprocess.run(["adb", "-P", port, "-s", virtual_device.address, *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def adbutils_device(virtual_device) -> adbutils.AdbDevice:
    host, port = virtual_device.adb_server.rsplit(":", 1)
    return adbutils.AdbClient(host=host, port=int(port)).device(serial=virtual_device.address)


def edgekit_device(virtual_device) -> Device:
    return next(d for d in list_devices([virtual_device.adb_server]) if d.serial == virtual_device.address)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("files") / "big.bin"
    path.write_bytes(os.urandom(6 * 1024 * 1024 + 12345))  # several WRTEs and sync chunks, odd tail
    return path


def test_adb_cli_push_pull_round_trip(virtual_device, big_file: Path, tmp_path: Path) -> None:
    pushed = adb(virtual_device, "push", str(big_file), "/data/local/tmp/new/folder/big.bin")
    assert pushed.returncode == 0, pushed.stderr
    on_device = virtual_device.sandbox / "data/local/tmp/new/folder/big.bin"
    assert sha256(on_device) == sha256(big_file)
    assert on_device.stat().st_mtime == pytest.approx(big_file.stat().st_mtime, abs=1)  # DONE's mtime
    pulled = tmp_path / "pulled.bin"
    assert adb(virtual_device, "pull", "/data/local/tmp/new/folder/big.bin", str(pulled)).returncode == 0
    assert sha256(pulled) == sha256(big_file)


def test_adbutils_push_pull_stat_list(virtual_device, big_file: Path, tmp_path: Path) -> None:
    device = adbutils_device(virtual_device)
    device.sync.push(big_file, "/data/local/tmp/big.bin", mode=0o640)
    info = device.sync.stat("/data/local/tmp/big.bin")
    assert info.size == big_file.stat().st_size
    assert stat.S_ISREG(info.mode) and stat.S_IMODE(info.mode) == 0o640
    assert device.sync.stat("/data/local/tmp/absent").mode == 0
    names = {e.path: e for e in device.sync.list("/data/local/tmp")}
    assert {".", "..", "big.bin"} <= set(names)
    assert names["big.bin"].size == big_file.stat().st_size
    pulled = tmp_path / "pulled.bin"
    device.sync.pull("/data/local/tmp/big.bin", pulled)
    assert sha256(pulled) == sha256(big_file)
    assert device.sync.read_text("/system/build.prop").count("ro.board.platform=msmnile") == 1


def test_adb_cli_ls_uses_list_v2(virtual_device) -> None:
    (virtual_device.sandbox / "data/local/tmp/listed.txt").write_text("12345")
    listing = adb(virtual_device, "ls", "/data/local/tmp").stdout.splitlines()
    entry = next(line for line in listing if line.endswith(" listed.txt"))
    mode, size, _mtime, _name = entry.split()
    assert int(mode, 16) & 0o170000 == stat.S_IFREG and int(size, 16) == 5


def test_edgekit_push_keeps_mode_and_skips_unchanged(virtual_device, tmp_path: Path) -> None:
    device = edgekit_device(virtual_device)
    binary = tmp_path / "benchmark_bin"
    binary.write_bytes(b"#!/bin/sh\necho benchmark\n")
    binary.chmod(0o755)
    model = tmp_path / "model name; with spaces.nb"
    model.write_bytes(os.urandom(100_000))
    model.chmod(0o644)

    assert device.push(binary, "/data/local/tmp/edgekit/benchmark_bin") is True
    assert device.push(model, "/data/local/tmp/edgekit/") is True
    remote_model = "/data/local/tmp/edgekit/model name; with spaces.nb"
    assert stat.S_IMODE(device.stat("/data/local/tmp/edgekit/benchmark_bin").mode) == 0o755
    assert stat.S_IMODE(device.stat(remote_model).mode) == 0o644
    assert device.shell("/data/local/tmp/edgekit/benchmark_bin").stdout == "benchmark\n"
    assert device.sha256(remote_model) == sha256(model)
    assert device.sha256("/data/local/tmp/edgekit/absent.nb") is None

    assert device.push(binary, "/data/local/tmp/edgekit/benchmark_bin") is False  # same sha256 and mode
    assert device.push(model, remote_model) is False
    binary.chmod(0o700)
    assert device.push(binary, "/data/local/tmp/edgekit/benchmark_bin") is True  # mode changed
    model.write_bytes(os.urandom(100_000))
    assert device.push(model, remote_model) is True  # content changed
    assert device.push(model, remote_model, skip_unchanged=False) is True

    pulled = tmp_path / "back" / "model.nb"
    device.pull(remote_model, pulled)
    assert sha256(pulled) == sha256(model)
    assert sorted(device.listdir("/data/local/tmp/edgekit")) == ["benchmark_bin", "model name; with spaces.nb"]
    device.remove("/data/local/tmp/edgekit", recursive=True)
    assert not device.exists("/data/local/tmp/edgekit")


def test_edgekit_pull_of_a_missing_file_leaves_nothing(virtual_device, tmp_path: Path) -> None:
    device = edgekit_device(virtual_device)
    destination = tmp_path / "pulled"
    with pytest.raises(DeviceError) as caught:
        device.pull("/data/local/tmp/missing.nb", destination / "missing.nb")
    assert "/data/local/tmp/missing.nb" in str(caught.value) and "No such file" in str(caught.value)
    assert list(destination.iterdir()) == []  # no partial or temporary file


# --------------------------------------------------------------------------------- the sandbox


@pytest.fixture
def escape_setup(virtual_device, tmp_path: Path) -> dict:
    """A folder outside the sandbox with a file in it, and symlinks in the sandbox pointing out."""
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("original")
    tmp = virtual_device.sandbox / "data/local/tmp"
    (tmp / "out_link").symlink_to(outside)
    (tmp / "victim_link").symlink_to(victim)
    (tmp / "etc_link").symlink_to("/etc")
    # How many ".." from the device's / reach tmp_path: the sandbox is tmp_path/virtual_device.
    return {"outside": outside, "victim": victim, "relative": "../outside/victim.txt"}


def test_adb_cli_cannot_leave_the_sandbox(virtual_device, escape_setup: dict, tmp_path: Path) -> None:
    payload = tmp_path / "payload.txt"
    payload.write_text("evil")
    outside, victim = escape_setup["outside"], escape_setup["victim"]
    for target in ("../outside/new.txt", "/data/../../outside/new.txt", "/data/local/tmp/out_link/new.txt",
                   "/data/local/tmp/victim_link"):
        result = adb(virtual_device, "push", str(payload), target)
        assert result.returncode != 0, target
        # adb stats the target first (stat_v2) and stops at EACCES; SEND itself is refused too
        # (see the adbutils test, whose push goes straight to SEND).
        assert "Permission denied" in result.stdout + result.stderr
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
    assert victim.read_text() == "original"
    for source in ("../../etc/passwd", "/data/local/tmp/etc_link/passwd", "/data/local/tmp/out_link/victim.txt",
                   "/data/local/tmp/victim_link"):
        result = adb(virtual_device, "pull", source, str(tmp_path / "stolen.txt"))
        assert result.returncode != 0, source
        assert not (tmp_path / "stolen.txt").exists()
    assert adb(virtual_device, "ls", "/data/local/tmp/etc_link").stdout == ""
    assert adb(virtual_device, "ls", "/data/local/tmp/out_link").stdout == ""


def test_adbutils_cannot_leave_the_sandbox(virtual_device, escape_setup: dict) -> None:
    device = adbutils_device(virtual_device)
    for target in ("../outside/new.txt", "/data/../../outside/new.txt", "/data/local/tmp/out_link/new.txt"):
        with pytest.raises(adbutils.AdbError):
            device.sync.push(b"evil", target)
    assert sorted(p.name for p in escape_setup["outside"].iterdir()) == ["victim.txt"]
    for source in ("../../etc/passwd", "/data/local/tmp/etc_link/passwd", "/data/local/tmp/victim_link"):
        with pytest.raises(adbutils.AdbError):
            device.sync.read_bytes(source)
    for source in ("../../etc/passwd", "/data/local/tmp/etc_link/passwd"):
        assert device.sync.stat(source).mode == 0  # stat v1 cannot carry an error: "absent"
    # STAT v1 is an lstat: it describes the link itself and follows nothing.
    assert stat.S_ISLNK(device.sync.stat("/data/local/tmp/victim_link").mode)
    assert device.sync.list("/data/local/tmp/etc_link") == []
    assert device.sync.list("../..") == []
    # The symlinks themselves are visible (lstat), not followed.
    links = {e.path: e for e in device.sync.list("/data/local/tmp")}
    assert stat.S_ISLNK(links["etc_link"].mode) and stat.S_ISLNK(links["out_link"].mode)


def test_edgekit_device_reports_the_refusal(virtual_device, escape_setup: dict, tmp_path: Path) -> None:
    device = edgekit_device(virtual_device)
    payload = tmp_path / "payload.txt"
    payload.write_text("evil")
    with pytest.raises(DeviceError) as caught:
        device.push(payload, "/data/local/tmp/out_link/new.txt", skip_unchanged=False)
    assert "couldn't create file" in str(caught.value) and "outside" in str(caught.value)
    with pytest.raises(DeviceError):
        device.pull("/data/local/tmp/etc_link/passwd", tmp_path / "stolen")
    assert device.stat("/data/local/tmp/etc_link/passwd") is None
    assert not (escape_setup["outside"] / "new.txt").exists()


def raw_sync_reply(device: adbutils.AdbDevice, request: bytes, path: bytes) -> tuple[bytes, bytes]:
    """(id, data) of the device's first answer to a sync request."""
    connection = device.open_transport()
    try:
        connection.send_command("sync:")
        connection.check_okay()
        connection.conn.sendall(request + struct.pack("<I", len(path)) + path)
        reply, length = struct.unpack("<4sI", connection.read(8))
        return reply, connection.read(length) if reply == b"FAIL" else b""
    finally:
        connection.close()


def test_a_nul_byte_in_a_path_is_a_failure_reply(virtual_device, tmp_path: Path) -> None:
    device = adbutils_device(virtual_device)
    reply, reason = raw_sync_reply(device, b"RECV", b"/data/local\0/tmp/x")
    assert reply == b"FAIL" and b"Invalid argument" in reason
    payload = tmp_path / "payload.txt"
    payload.write_text("data")
    with pytest.raises(DeviceError, match="Invalid argument"):
        edgekit_device(virtual_device).push(payload, "/data/local/tmp/a\0b", skip_unchanged=False)
    assert device.sync.stat("/data/local\0/tmp").mode == 0
    assert device.sync.list("/data\0") == []
    assert device.shell2("echo still here").output == "still here\n"
