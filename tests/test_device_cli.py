"""`edgekit device emulate` as a user runs it: a foreground process, connected to an adb server,
seen by `edgekit devices`, gone (and disconnected) after SIGTERM or Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO


def start_emulator(adb_server: str, sandbox: Path, *extra: str) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, "-m", "edgekit", "device", "emulate", "--port", "0", "--profile",
                             "sd845", "--sandbox", str(sandbox), "--adb-server", adb_server, "--json", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    text = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        text += line
        if line.startswith("}"):
            return proc, json.loads(text)
    proc.kill()
    raise AssertionError(f"emulate printed no JSON: {text!r} {proc.stderr.read()!r}")


def listed_serials(run_cli, adb_server: str) -> set[str]:
    result = run_cli("devices", "--json", "--adb-server", adb_server, timeout=120)
    assert result.returncode == 0, result.stderr
    return {row["serialno"] for row in result.json()}


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_emulate_runs_until_stopped(adb_server, run_cli, tmp_path: Path, stop_signal: int) -> None:
    sandbox = tmp_path / "phone"
    proc, state = start_emulator(adb_server, sandbox, "--serial", f"cli-{int(stop_signal)}")
    try:
        assert state["serial"] == f"cli-{int(stop_signal)}" and state["profile"] == "sd845"
        assert state["adb_server"] == adb_server and Path(state["sandbox"]) == sandbox.resolve()
        assert state["serial"] in listed_serials(run_cli, adb_server)
        assert (sandbox / "system/build.prop").read_text().count("ro.board.platform=sdm845") == 1
    finally:
        proc.send_signal(stop_signal)
        _, stderr = proc.communicate(timeout=30)
    assert "runs shell commands on this host" in stderr
    assert "Traceback" not in stderr
    port = adb_server.rsplit(":", 1)[1]
    raw = subprocess.run(["adb", "-P", port, "devices"], capture_output=True, text=True, timeout=30).stdout
    assert state["address"] not in raw  # disconnected on the way out
    assert sandbox.is_dir()  # a sandbox the user chose stays


def test_emulate_refuses_an_unknown_profile(run_cli) -> None:
    result = run_cli("device", "emulate", "--profile", "sd000", "--no-connect", timeout=120)
    assert result.returncode == 2 and "unknown device profile 'sd000'" in result.stderr
