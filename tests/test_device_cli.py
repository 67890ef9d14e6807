"""`edgekit device emulate` as a user runs it: a foreground process, connected to an adb server,
seen by `edgekit devices`, gone (and disconnected) after SIGTERM or Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO

from edgekit.device.adb import parse_server
from edgekit.device.servers import server_running


def start_emulator(adb_server: str, sandbox: Path, *extra: str) -> tuple[subprocess.Popen, dict]:
    server = ["--adb-server", adb_server] if adb_server else ["--private-adb-server"]
    proc = subprocess.Popen([sys.executable, "-m", "edgekit", "device", "emulate", "--port", "0", "--profile",
                             "sd845", "--sandbox", str(sandbox), *server, "--json", *extra],
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


def test_emulate_refuses_what_it_cannot_listen_on_and_leaves_no_folder(run_cli, tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"  # the emulator's TMPDIR: where its own sandbox would be made
    scratch.mkdir()
    env = {"TMPDIR": str(scratch)}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        in_use = run_cli("device", "emulate", "--port", port, "--no-connect", env=env, timeout=120)
    assert in_use.returncode == 2 and f"127.0.0.1:{port}" in in_use.stderr and "--port 0" in in_use.stderr
    bad_host = run_cli("device", "emulate", "--port", "0", "--host", "999.1.1.1", "--no-connect", env=env,
                       timeout=120)
    assert bad_host.returncode == 2 and "999.1.1.1" in bad_host.stderr
    out_of_range = run_cli("device", "emulate", "--port", "70000", "--no-connect", env=env, timeout=120)
    assert out_of_range.returncode == 2 and "70000" in out_of_range.stderr
    spaced = tmp_path / "with space"
    refused = run_cli("device", "emulate", "--port", "0", "--sandbox", str(spaced), "--no-connect", env=env,
                      timeout=120)
    assert refused.returncode == 2 and "may only contain" in refused.stderr
    for result in (in_use, bad_host, out_of_range, refused):
        assert "Traceback" not in result.stderr
    assert list(scratch.iterdir()) == [] and not spaced.exists()


def test_emulate_with_a_private_adb_server_stops_it_too(run_cli, tmp_path: Path) -> None:
    proc, state = start_emulator("", tmp_path / "phone", "--serial", "private-one")
    try:
        server = state["adb_server"]
        assert server_running(*parse_server(server))
        assert listed_serials(run_cli, server) == {"private-one"}  # its own server lists it alone
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert "Traceback" not in stderr
    deadline = time.monotonic() + 10
    while server_running(*parse_server(server)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not server_running(*parse_server(server))
    both = run_cli("device", "emulate", "--private-adb-server", "--no-connect", timeout=60)
    assert both.returncode == 2 and "--no-connect" in both.stderr
