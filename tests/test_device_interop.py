"""The virtual device against an independent adb client that talks to adbd directly over TCP, with
no adb server between them: the ``adb-shell`` library (pure Python). Besides the adb CLI and
adbutils tests (test_device_sync, test_device_emulator), this checks what an adb server would
hide: adbd's own answers, such as the CLSE it sends back when the host closes a stream (adb-shell
waits for it after every push, pull, stat and list)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

adb_shell_device = pytest.importorskip("adb_shell.adb_device", reason="adb-shell is a test extra")

READ_TIMEOUT_S = 5.0  # adb-shell waits this long for an answer: long enough, short when one is missing


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def emulated(tmp_path: Path) -> Iterator[dict]:
    """``edgekit device emulate`` in its own process, not connected to any adb server."""
    sandbox = tmp_path / "sandbox"
    proc = subprocess.Popen([sys.executable, "-m", "edgekit", "device", "emulate", "--port", "0", "--no-connect",
                             "--sandbox", str(sandbox), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL)
    try:
        text = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"device emulate ended: {proc.stderr.read()}")
            text += line
            if line.startswith("}"):
                break
        state = json.loads(text)
        yield {**state, "sandbox": sandbox}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture
def client(emulated: dict) -> Iterator:
    host, port = emulated["address"].rsplit(":", 1)
    device = adb_shell_device.AdbDeviceTcp(host, int(port), default_transport_timeout_s=READ_TIMEOUT_S)
    assert device.connect(rsa_keys=None, read_timeout_s=READ_TIMEOUT_S)
    yield device
    device.close()


def test_adb_shell_library_shell_push_pull_stat_list(client, emulated: dict, tmp_path: Path) -> None:
    timeouts = dict(read_timeout_s=READ_TIMEOUT_S)
    assert client.shell("getprop ro.edgekit.virtual", **timeouts).strip() == "1"
    assert client.shell("echo out; echo err >&2", **timeouts) == "out\nerr\n"  # shell: v1, stderr merged

    local = tmp_path / "model.nb"
    local.write_bytes(os.urandom(300 * 1024 + 17))  # several sync DATA chunks, an odd tail
    started = time.monotonic()
    client.push(str(local), "/data/local/tmp/edgekit/model.nb", st_mode=stat.S_IFREG | 0o644, mtime=1_600_000_000,
                **timeouts)
    # Each stream ends with the host's CLSE answered by adbd's: no wait for the read timeout.
    assert time.monotonic() - started < READ_TIMEOUT_S
    on_device = emulated["sandbox"] / "data/local/tmp/edgekit/model.nb"
    assert sha256(on_device) == sha256(local)

    pulled = tmp_path / "pulled.nb"
    client.pull("/data/local/tmp/edgekit/model.nb", str(pulled), **timeouts)
    assert sha256(pulled) == sha256(local)

    mode, size, mtime = client.stat("/data/local/tmp/edgekit/model.nb", **timeouts)
    assert stat.S_ISREG(mode) and stat.S_IMODE(mode) == 0o644
    assert (size, mtime) == (local.stat().st_size, 1_600_000_000)
    assert client.stat("/data/local/tmp/absent", **timeouts)[0] == 0

    entries = {e.filename.decode(): e for e in client.list("/data/local/tmp/edgekit", **timeouts)}
    assert set(entries) == {".", "..", "model.nb"}
    assert entries["model.nb"].size == local.stat().st_size and stat.S_ISDIR(entries["."].mode)

    # many short streams in a row on one transport: every one closes cleanly
    started = time.monotonic()
    for _ in range(10):
        client.stat("/data/local/tmp/edgekit/model.nb", **timeouts)
    assert time.monotonic() - started < READ_TIMEOUT_S
    assert client.shell("echo still here", **timeouts) == "still here\n"
