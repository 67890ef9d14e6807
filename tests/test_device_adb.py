"""edgekit's device layer (Device over its own adb protocol client) against virtual devices behind real adb
servers: shell, timeouts (every call on a hung device), a device that disappears, a server that
dies (nothing restarted), discovery over several servers with bad ones beside the good and no
side effects, selection, device kinds, and the `edgekit devices` command."""

from __future__ import annotations

import platform
import subprocess
import threading
import time
from pathlib import Path

import pytest

from device_fixtures import process_alive
from edgekit.device import Device, list_devices, parse_server, select_device, select_devices
from edgekit.device.adb import connect_device, load_devices_file
from edgekit.device.servers import free_port, kill_server, server_running
from edgekit.errors import (ConfigError, DeviceError, DeviceLostError, DeviceNotFoundError, DeviceTimeoutError,
                            InvalidInputError, UsageError)


def device_of(virtual_device) -> Device:
    return select_device(serial=virtual_device.serial, adb_servers=[virtual_device.adb_server])


def adb_devices(adb_server: str) -> str:
    """What `adb devices` prints for a server."""
    port = adb_server.rsplit(":", 1)[1]
    return subprocess.run(["adb", "-P", port, "devices"], capture_output=True, text=True, timeout=30).stdout


def test_parse_server() -> None:
    assert parse_server("127.0.0.1:5037") == ("127.0.0.1", 5037)
    assert parse_server("phone-lab.example.org:15037") == ("phone-lab.example.org", 15037)
    assert parse_server("[::1]:5037") == ("::1", 5037)
    for bad in ("5037", "host:", "host:port", "host:70000", ":5037", "a b:1"):
        with pytest.raises(UsageError):
            parse_server(bad)


def test_device_info(virtual_device) -> None:
    device = device_of(virtual_device)
    info = device.info
    assert info.serial == virtual_device.address and info.serialno == virtual_device.serial
    assert info.adb_server == virtual_device.adb_server
    assert (info.board, info.soc, info.profile, info.cores) == ("msmnile", "Snapdragon 855", "sd855", 8)
    assert (info.android_version, info.sdk, info.virtual) == ("10", 29, True)
    assert info.abi == ("x86_64" if platform.machine() == "x86_64" else info.abi)
    assert info.model == "edgekit virtual sd855" and info.manufacturer == "edgekit"
    assert info.to_dict()["profile"] == "sd855"
    assert device.prop("ro.edgekit.virtual") == "1"
    assert device.prop("no.such.property") == ""
    assert "shell_v2" in device.features()


def test_shell_exit_codes_stderr_and_quoting(virtual_device) -> None:
    device = device_of(virtual_device)
    result = device.shell("echo out; echo err >&2; exit 5")
    assert (result.returncode, result.stdout, result.stderr) == (5, "out\n", "err\n")
    # A sequence is quoted argument by argument: spaces and ';' stay inside one argument.
    tricky = "/data/local/tmp/my model; rm -rf x.nb"
    (virtual_device.sandbox / "data/local/tmp/x.nb").write_text("keep me")
    assert device.shell(["sh", "-c", 'printf %s "$1" > "$2"', "sh", "content", tricky]).returncode == 0
    assert (virtual_device.sandbox / "data/local/tmp/my model; rm -rf x.nb").read_text() == "content"
    assert (virtual_device.sandbox / "data/local/tmp/x.nb").exists()
    assert device.shell(["cat", tricky]).stdout == "content"
    assert device.shell("read line; echo got:$line").stdout == "got:\n"  # stdin is closed, not hanging


def test_shell_v1_fallback_keeps_the_exit_code(adb_server, make_virtual_device) -> None:
    make_virtual_device(adb_server, serial="edgekit-old-android", features=("stat_v2",))
    device = select_device(serial="edgekit-old-android", adb_servers=[adb_server])
    assert "shell_v2" not in device.features()
    result = device.shell("echo out; echo err >&2; exit 9")
    assert result.returncode == 9
    assert result.stdout == "out\nerr\n" and result.stderr == ""  # v1 merges stderr into stdout
    assert device.shell(["exit", "0"]).returncode == 0


def test_shell_v1_keeps_output_written_after_the_status_line(adb_server, make_virtual_device) -> None:
    make_virtual_device(adb_server, serial="edgekit-old-android-2", features=("stat_v2",))
    device = select_device(serial="edgekit-old-android-2", adb_servers=[adb_server])
    # a background job writes after the wrapper's status line; the stream ends when it does
    result = device.shell("(sleep 0.3; echo late) & echo early; exit 4")
    assert result.returncode == 4
    assert result.stdout.split() == ["early", "late"]
    printed = device.shell("echo EDGEKIT_EXIT_CODE:abc")  # the command printing the marker itself
    assert (printed.returncode, printed.stdout) == (0, "EDGEKIT_EXIT_CODE:abc\n")


def test_error_words_in_a_path_do_not_make_a_device_lost(virtual_device, tmp_path: Path) -> None:
    device = device_of(virtual_device)
    for remote in ("/data/local/tmp/closed_models/m.nb", "/data/local/tmp/offline/not found.nb"):
        with pytest.raises(DeviceError) as caught:
            device.pull(remote, tmp_path / "pulled.nb")
        assert not isinstance(caught.value, DeviceLostError), caught.value
        assert remote in str(caught.value)
    assert device.shell("echo online").stdout == "online\n"


def test_timeout_stops_the_command(virtual_device) -> None:
    device = device_of(virtual_device)
    pid_file = virtual_device.sandbox / "data/local/tmp/hung.pid"
    started = time.monotonic()
    with pytest.raises(DeviceTimeoutError) as caught:
        device.shell("echo $$ > /data/local/tmp/hung.pid; exec sleep 60", timeout=1.5)
    assert time.monotonic() - started < 5
    assert virtual_device.address in str(caught.value) and "1.5 s" in str(caught.value)
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process_alive(pid), "the hung command was not killed"
    assert device.shell("echo still usable").stdout == "still usable\n"


def test_a_device_that_disappears_mid_command(adb_server, make_virtual_device) -> None:
    vanishing = make_virtual_device(adb_server, serial="edgekit-vanishing")
    device = select_device(serial="edgekit-vanishing", adb_servers=[adb_server])
    device.info  # read the properties before it goes
    errors: list[BaseException] = []

    def run() -> None:
        try:
            device.shell("sleep 30", timeout=60)
        except BaseException as e:  # the assertion below inspects it
            errors.append(e)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.5)
    vanishing.stop()
    worker.join(timeout=20)
    assert not worker.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], DeviceLostError)
    assert vanishing.address in str(errors[0])
    with pytest.raises(DeviceLostError):
        device.shell("echo again")
    with pytest.raises(DeviceLostError):
        device.push(Path(__file__), "/data/local/tmp/x.py", skip_unchanged=False)


def test_list_devices_lists_a_device_reached_twice_once(virtual_device) -> None:
    alias = f"localhost:{virtual_device.device.port}"
    connect_device(alias, virtual_device.adb_server)
    port = virtual_device.adb_server.rsplit(":", 1)[1]
    raw = subprocess.run(["adb", "-P", port, "devices"], capture_output=True, text=True, timeout=30).stdout
    assert virtual_device.address in raw and alias in raw  # the adb server sees two
    devices = [d for d in list_devices([virtual_device.adb_server]) if d.info.serialno == virtual_device.serial]
    assert len(devices) == 1


def test_two_adb_servers(virtual_device, second_adb_server_with_device) -> None:
    servers = [virtual_device.adb_server, second_adb_server_with_device.adb_server]
    found = {d.info.serialno: d for d in list_devices(servers)}
    assert found[virtual_device.serial].adb_server == virtual_device.adb_server
    assert found[second_adb_server_with_device.serial].adb_server == second_adb_server_with_device.adb_server
    chosen = select_devices(profile="sd855", adb_servers=servers)
    assert {d.info.serialno for d in chosen} >= {virtual_device.serial, second_adb_server_with_device.serial}
    # Each device works through its own server.
    for device in chosen:
        assert device.shell("getprop ro.serialno").stdout.strip() == device.info.serialno


def test_devices_command_connects_only_when_asked(second_adb_server, run_cli, tmp_path: Path) -> None:
    from edgekit.device.emulator import VirtualDevice

    with VirtualDevice("sd710", sandbox=tmp_path / "lab") as lab_phone:
        devices_file = tmp_path / "devices.yaml"
        devices_file.write_text(f"adb_servers:\n  - address: {second_adb_server}\n"
                                f"    connect: [{lab_phone.address}]\n")
        try:
            listed = run_cli("devices", "--devices-file", str(devices_file), timeout=120)
            assert listed.returncode == 0, listed.stderr
            assert f"not connected (the devices file lists them; --connect connects): {lab_phone.address}" \
                in listed.stdout
            assert lab_phone.address not in adb_devices(second_adb_server)
            connected = run_cli("devices", "--devices-file", str(devices_file), "--connect", "--json", timeout=120)
            assert connected.returncode == 0, connected.stderr
            row = next(r for r in connected.json() if r["serial"] == lab_phone.address)
            assert (row["state"], row["profile"], row["kind"]) == ("device", "sd710", "virtual")
        finally:
            subprocess.run(["adb", "-P", second_adb_server.rsplit(":", 1)[1], "disconnect", lab_phone.address],
                           capture_output=True, timeout=30)


def test_devices_file_with_servers_and_connect(second_adb_server, make_virtual_device, tmp_path: Path) -> None:
    from edgekit.device.emulator import VirtualDevice

    with VirtualDevice("sd710", sandbox=tmp_path / "lab") as lab_phone:
        devices_file = tmp_path / "devices.yaml"
        devices_file.write_text(f"adb_servers:\n  - address: {second_adb_server}\n"
                                f"    connect: [{lab_phone.address}]\n")
        assert load_devices_file(devices_file)[0].connect == (lab_phone.address,)
        # Listing and selecting have no side effect: the address is connected only when asked.
        assert list_devices(devices_file=devices_file) == []
        with pytest.raises(DeviceNotFoundError, match="--connect"):
            select_device(profile="sd710", devices_file=devices_file)
        assert lab_phone.address not in adb_devices(second_adb_server)
        found = select_device(profile="sd710", devices_file=devices_file, connect=True)
        assert found.info.serialno == lab_phone.serial and found.adb_server == second_adb_server
        subprocess.run(["adb", "-P", second_adb_server.rsplit(":", 1)[1], "disconnect", lab_phone.address],
                       capture_output=True, timeout=30)


@pytest.mark.parametrize("text", ["[]", "adb_servers: []", "adb_servers: [{connect: x}]",
                                  "adb_servers: [bad-address]", ": : :"])
def test_bad_devices_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "devices.yaml"
    path.write_text(text)
    with pytest.raises(UsageError):
        load_devices_file(path)
    with pytest.raises(InvalidInputError):
        load_devices_file(tmp_path / "absent.yaml")


def test_selection_by_profile_and_serial(adb_server, virtual_device, make_virtual_device, monkeypatch) -> None:
    other = make_virtual_device(adb_server, profile="sd865", serial="edgekit-sd865-selection")
    servers = [adb_server]
    assert [d.info.serialno for d in select_devices(profile="sd865", adb_servers=servers)] == [other.serial]
    assert select_device(serial=other.address, adb_servers=servers).info.serialno == other.serial
    with pytest.raises(DeviceNotFoundError) as several:
        select_device(adb_servers=servers)
    assert other.address in str(several.value) and virtual_device.address in str(several.value)
    with pytest.raises(DeviceNotFoundError) as none:
        select_device(profile="sd625", adb_servers=servers)
    assert "sd625" in str(none.value) and other.address in str(none.value)
    with pytest.raises(ConfigError):
        select_device(profile="sd9000", adb_servers=servers)
    monkeypatch.setenv("ANDROID_SERIAL", other.serial)
    assert select_device(adb_servers=servers).info.serialno == other.serial


def test_the_default_adb_server_is_started_when_needed(monkeypatch) -> None:
    port = free_port()
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(port))  # the default server, as for the adb client
    monkeypatch.setenv("ADB_LOCAL_TRANSPORT_MAX_PORT", "5553")  # no emulator someone runs on 5555
    try:
        assert list_devices() == []
        assert server_running("127.0.0.1", port)
    finally:
        kill_server(port)


def test_a_named_adb_server_that_is_not_running_is_not_started(run_cli) -> None:
    port = free_port()
    with pytest.raises(DeviceError, match=f"adb server 127.0.0.1:{port} is not reachable"):
        list_devices([f"127.0.0.1:{port}"])
    result = run_cli("devices", "--adb-server", f"127.0.0.1:{port}", timeout=120)
    assert result.returncode == 5 and f"adb -P {port} start-server" in result.stderr
    assert not server_running("127.0.0.1", port)


def test_install_reports_the_device_answer(virtual_device, tmp_path: Path) -> None:
    apk = tmp_path / "demo.apk"
    apk.write_bytes(b"PK\x03\x04 not really an apk")
    with pytest.raises(DeviceError) as caught:
        device_of(virtual_device).install(apk)
    assert "demo.apk" in str(caught.value) and "pm" in str(caught.value)
    assert device_of(virtual_device).listdir("/data/local/tmp") == []  # the pushed copy is removed


def test_edgekit_devices_command(virtual_device, run_cli) -> None:
    result = run_cli("devices", "--json", "--adb-server", virtual_device.adb_server, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = {row["serialno"]: row for row in result.json()}
    row = rows[virtual_device.serial]
    assert (row["profile"], row["board"], row["cores"], row["virtual"]) == ("sd855", "msmnile", 8, True)
    text = run_cli("devices", "--adb-server", virtual_device.adb_server, timeout=120)
    assert virtual_device.address in text.stdout and "sd855" in text.stdout
    bad = run_cli("devices", "--adb-server", "nonsense", timeout=120)
    assert bad.returncode == 2 and "nonsense" in bad.stderr and "Traceback" not in bad.stderr


def test_edgekit_devices_command_over_two_servers(virtual_device, second_adb_server_with_device, run_cli) -> None:
    servers = [virtual_device.adb_server, second_adb_server_with_device.adb_server]
    result = run_cli("devices", "--adb-server", servers[0], "--adb-server", servers[1], timeout=120)
    assert result.returncode == 0, result.stderr
    header, _rule, *rows = result.stdout.splitlines()
    assert header.split()[-1] == "adb_server"
    assert any(virtual_device.address in r and r.endswith(servers[0]) for r in rows)
    assert any(second_adb_server_with_device.address in r and r.endswith(servers[1]) for r in rows)


def test_every_call_on_a_stalled_device_is_bounded(adb_server, make_virtual_device, tmp_path: Path) -> None:
    hung = make_virtual_device(adb_server, serial="edgekit-hung")
    device = select_device(serial="edgekit-hung", adb_servers=[adb_server])
    device.timeout_s = 0.5  # the limit of every call that names none
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"x" * 1000)
    device.info  # properties and features are read before the device hangs
    hung.pause()
    try:
        calls = {
            "stat": lambda: device.stat("/data/local/tmp"),
            "list": lambda: device.listdir("/data/local/tmp"),
            "push": lambda: device.push(payload, "/data/local/tmp/p.bin", skip_unchanged=False),
            "pull": lambda: device.pull("/data/local/tmp/p.bin", tmp_path / "pulled.bin"),
            "mkdir": lambda: device.mkdir("/data/local/tmp/edgekit/models"),
            "shell": lambda: device.shell("echo hi"),
            "thermal": lambda: device.thermal_snapshot(),
        }
        for name, call in calls.items():
            started = time.monotonic()
            with pytest.raises(DeviceTimeoutError) as caught:
                call()
            assert time.monotonic() - started < 3, name
            assert hung.address in str(caught.value), name
            if name == "shell":  # said "it was stopped", which a device that does not answer cannot tell
                assert str(caught.value).endswith(": no answer (exit status) within 0.5 s; edgekit closed its "
                                                  "stream, which stops the command if adbd still responds")
        # a call's own limit overrides the device's
        started = time.monotonic()
        with pytest.raises(DeviceTimeoutError, match="0.2 s"):
            device.stat("/data/local/tmp", timeout=0.2)
        assert time.monotonic() - started < 2
    finally:
        hung.resume()
    assert device.shell("echo back", timeout=30).stdout == "back\n"
    assert not (tmp_path / "pulled.bin").exists()


def test_a_named_adb_server_that_dies_is_a_clear_error_and_no_server_is_started(make_virtual_device, monkeypatch):
    from edgekit.device.servers import private_server

    default_port = free_port()
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(default_port))  # where a default server would start
    with private_server() as named:
        make_virtual_device(named, serial="edgekit-orphan")
        device = select_device(serial="edgekit-orphan", adb_servers=[named])
        device.info
        kill_server(int(named.rsplit(":", 1)[1]))
        for call in (lambda: device.shell("echo hi"), lambda: device.stat("/data"),
                     lambda: device.push(Path(__file__), "/data/local/tmp/x.py", skip_unchanged=False)):
            with pytest.raises(DeviceError, match=f"adb server {named}"):
                call()
    assert not server_running("127.0.0.1", default_port), "the default adb server was started"
    assert not server_running(*parse_server(named)), "the named adb server was restarted"


@pytest.mark.slow
def test_one_bad_device_is_reported_beside_the_good_ones(adb_server, virtual_device, make_virtual_device, run_cli):
    from edgekit.device import scan_devices

    hung = make_virtual_device(adb_server, serial="edgekit-hung-listing")
    hung.pause()
    dead_server = f"127.0.0.1:{free_port()}"
    try:
        started = time.monotonic()
        scan = scan_devices([adb_server, dead_server], timeout_s=3.0)
        assert time.monotonic() - started < 12  # one timeout, not one per device
        assert virtual_device.serial in {d.info.serialno for d in scan.devices}
        problems = {p.serial or p.adb_server: p for p in scan.problems}
        assert problems[hung.address].state == "no answer"
        assert problems[dead_server].state == "unreachable" and "not reachable" in problems[dead_server].error
        # the selection still finds the good device; the command lists both
        assert select_device(serial=virtual_device.serial, adb_servers=[adb_server], timeout_s=3.0)
        result = run_cli("devices", "--json", "--timeout", "3", "--adb-server", adb_server,
                         "--adb-server", dead_server, timeout=120)
        assert result.returncode == 0, result.stderr
        rows = {row["serial"] or row["adb_server"]: row for row in result.json()}
        assert rows[virtual_device.address]["state"] == "device" and rows[virtual_device.address]["kind"] == "virtual"
        assert rows[hung.address]["state"] == "no answer" and rows[dead_server]["state"] == "unreachable"
        text = run_cli("devices", "--timeout", "3", "--adb-server", adb_server, "--adb-server", dead_server,
                       timeout=120)
        assert virtual_device.address in text.stdout and f"not usable: {hung.address} (no answer)" in text.stdout
    finally:
        hung.resume()


def test_device_kind_comes_from_the_device(adb_server, virtual_device, make_virtual_device) -> None:
    assert device_of(virtual_device).info.kind == "virtual" and not device_of(virtual_device).is_phone
    # An x86_64 Android device that is not edgekit's (an SDK emulator): not a phone.
    make_virtual_device(adb_server, serial="edgekit-x86-emulator", props={"ro.edgekit.virtual": "",
                                                                          "ro.product.cpu.abi": "x86_64"})
    other = select_device(serial="edgekit-x86-emulator", adb_servers=[adb_server])
    assert (other.info.virtual, other.info.kind, other.is_phone) == (False, "other", False)
    # What an ARM phone says about itself.
    make_virtual_device(adb_server, serial="edgekit-arm-phone", props={"ro.edgekit.virtual": "",
                                                                       "ro.product.cpu.abi": "arm64-v8a"})
    phone = select_device(serial="edgekit-arm-phone", adb_servers=[adb_server])
    assert (phone.info.kind, phone.is_phone, phone.info.to_dict()["kind"]) == ("phone", True, "phone")
