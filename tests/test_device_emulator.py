"""The virtual device's adbd: the wire protocol spoken by hand, and the real adb client through a
real adb server."""

from __future__ import annotations

import platform
import socket
import struct
import subprocess
import time

import pytest

from device_fixtures import process_alive
from edgekit.device.emulator import VirtualDevice
from edgekit.device.emulator import _wire as wire
from edgekit.device.emulator._wire import Message


class RawHost:
    """The host side of an adb transport, written from the protocol description, to check what
    an adb server would get from the device."""

    def __init__(self, device: VirtualDevice):
        self.sock = socket.create_connection(("127.0.0.1", device.port), timeout=5)

    def send(self, message: Message) -> None:
        self.sock.sendall(wire.pack(message, with_checksum=True))

    def recv(self, timeout: float = 5.0) -> Message:
        self.sock.settimeout(timeout)
        return wire.read_message(self.sock, wire.MAX_PAYLOAD)

    def recv_raw(self) -> tuple[bytes, Message]:
        self.sock.settimeout(5)
        header = b""
        while len(header) < wire.HEADER.size:
            header += self.sock.recv(wire.HEADER.size - len(header))
        command, arg0, arg1, length, crc, _magic = wire.HEADER.unpack(header)
        payload = b""
        while len(payload) < length:
            payload += self.sock.recv(length - len(payload))
        return header, Message(command, arg0, arg1, payload)

    def handshake(self, version: int = wire.A_VERSION, max_payload: int = wire.MAX_PAYLOAD) -> Message:
        self.send(Message(wire.A_CNXN, version, max_payload, b"host::features=shell_v2\0"))
        return self.recv()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def device(tmp_path):
    with VirtualDevice("sd855", sandbox=tmp_path / "sandbox") as vd:
        yield vd


def test_handshake_negotiates_an_old_host_down(device: VirtualDevice) -> None:
    host = RawHost(device)
    try:
        host.send(Message(wire.A_CNXN, wire.A_VERSION_MIN, 4096, b"host::\0"))
        header, reply = host.recv_raw()
        assert reply.command == wire.A_CNXN
        assert (reply.arg0, reply.arg1) == (wire.A_VERSION_MIN, 4096)
        # Before A_VERSION_SKIP_CHECKSUM the payload carries its byte-sum checksum.
        assert wire.HEADER.unpack(header)[4] == sum(reply.payload)
        banner = reply.payload.decode()
        assert banner.startswith("device::")
        fields = dict(item.split("=", 1) for item in banner[len("device::"):].split(";"))
        assert fields["ro.product.name"] == "edgekit_sd855"
        assert set(fields["features"].split(",")) == {"shell_v2", "stat_v2", "ls_v2", "fixed_push_mkdir"}
    finally:
        host.close()


def test_one_write_in_flight_and_payloads_within_the_negotiated_size(device: VirtualDevice) -> None:
    host = RawHost(device)
    try:
        host.handshake(max_payload=4096)
        host.send(Message(wire.A_OPEN, 7, 0, b"shell:head -c 10000 /dev/zero\0"))
        ready = host.recv()
        assert (ready.command, ready.arg1) == (wire.A_OKAY, 7)
        device_id = ready.arg0
        received = b""
        while True:
            message = host.recv()
            if message.command == wire.A_CLSE:
                break
            assert message.command == wire.A_WRTE and (message.arg0, message.arg1) == (device_id, 7)
            assert len(message.payload) <= 4096
            received += message.payload
            # Until we acknowledge, the device must not send the next WRTE.
            if len(received) < 10000:
                with pytest.raises(socket.timeout):
                    host.recv(timeout=0.3)
            host.send(Message(wire.A_OKAY, 7, device_id))
        assert received == b"\0" * 10000
    finally:
        host.close()


def test_messages_before_connect_are_ignored_and_unknown_services_refused(device: VirtualDevice) -> None:
    host = RawHost(device)
    try:
        host.send(Message(wire.A_OPEN, 1, 0, b"shell:echo too early\0"))
        assert host.handshake().command == wire.A_CNXN  # the OPEN got no answer
        for number, service in enumerate((b"reboot:", b"root:", b"tcp:5000"), start=3):
            host.send(Message(wire.A_OPEN, number, 0, service + b"\0"))
            refused = host.recv()
            assert (refused.command, refused.arg0, refused.arg1) == (wire.A_CLSE, 0, number)
    finally:
        host.close()


def test_writes_sent_before_the_devices_okay_are_queued_not_lost(device: VirtualDevice) -> None:
    # adb servers send the rest of a closing client's data at once (exec-in); adbd queues it
    host = RawHost(device)
    try:
        host.handshake()
        host.send(Message(wire.A_OPEN, 5, 0, b"exec:cat > /data/local/tmp/burst.bin\0"))
        device_id = host.recv().arg0
        for part in range(3):  # without waiting for the device's OKAY in between
            host.send(Message(wire.A_WRTE, 5, device_id, bytes([part]) * 200_000))
        host.send(Message(wire.A_CLSE, 5, device_id))
        target = device.sandbox / "data/local/tmp/burst.bin"
        deadline = time.monotonic() + 10
        while (not target.exists() or target.stat().st_size < 600_000) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert target.read_bytes() == bytes([0]) * 200_000 + bytes([1]) * 200_000 + bytes([2]) * 200_000
    finally:
        host.close()


def test_a_runaway_host_is_disconnected(device: VirtualDevice) -> None:
    host = RawHost(device)
    try:
        host.handshake()
        host.send(Message(wire.A_OPEN, 5, 0, b"shell:sleep 5\0"))
        device_id = host.recv().arg0
        deadline = time.monotonic() + 5
        with pytest.raises((EOFError, ConnectionError)):  # the device hangs up, maybe while we still send
            for _ in range(12):  # 12 MiB never acknowledged: past what any adb server sends ahead
                host.send(Message(wire.A_WRTE, 5, device_id, b"x" * wire.MAX_PAYLOAD))
            while time.monotonic() < deadline:
                host.recv()
    finally:
        host.close()


def test_interactive_shell_v2_with_a_pty(device: VirtualDevice) -> None:
    host = RawHost(device)

    def packet(packet_id: int, data: bytes) -> bytes:
        return struct.pack("<BI", packet_id, len(data)) + data

    try:
        host.handshake()
        host.send(Message(wire.A_OPEN, 3, 0, b"shell,v2,TERM=xterm-256color,pty:\0"))
        device_id = host.recv().arg0
        # Window size (id 5), then a line on stdin (id 0), as `adb shell` sends them.
        host.send(Message(wire.A_WRTE, 3, device_id,
                          packet(5, b"40x100,0x0") + packet(0, b"stty size; echo $TERM; exit 4\n")))
        output, exit_code = b"", None
        while True:
            message = host.recv()
            if message.command == wire.A_CLSE:
                break
            if message.command != wire.A_WRTE:
                continue
            host.send(Message(wire.A_OKAY, 3, device_id))
            data = message.payload
            while data:
                packet_id, length = struct.unpack_from("<BI", data)
                if packet_id == 1:
                    output += data[5:5 + length]
                elif packet_id == 3:
                    exit_code = data[5]
                data = data[5 + length:]
        assert exit_code == 4
        assert b"40 100\r\n" in output and b"xterm-256color\r\n" in output  # a terminal: \r\n
    finally:
        host.close()


# ------------------------------------------------------------------------ the real adb client


def adb(virtual_device, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    port = virtual_device.adb_server.rsplit(":", 1)[1]
    return subprocess.run(["adb", "-P", port, "-s", virtual_device.address, *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_adb_devices_lists_the_connected_virtual_device(virtual_device) -> None:
    port = virtual_device.adb_server.rsplit(":", 1)[1]
    out = subprocess.run(["adb", "-P", port, "devices", "-l"], capture_output=True, text=True, timeout=30).stdout
    line = next(l for l in out.splitlines() if l.startswith(virtual_device.address))
    assert " device " in line and "product:edgekit_sd855" in line and "device:edgekit_sd855" in line


def test_getprop_with_and_without_a_name(virtual_device) -> None:
    assert adb(virtual_device, "shell", "getprop", "ro.board.platform").stdout == "msmnile\n"
    assert adb(virtual_device, "shell", "getprop", "ro.serialno").stdout.strip() == virtual_device.serial
    expected_abi = "x86_64" if platform.machine() == "x86_64" else None
    abi = adb(virtual_device, "shell", "getprop ro.product.cpu.abi").stdout.strip()
    assert abi == expected_abi or (expected_abi is None and abi)
    assert adb(virtual_device, "shell", "getprop", "no.such.prop").stdout == "\n"
    assert adb(virtual_device, "shell", "getprop", "no.such.prop", "fallback").stdout == "fallback\n"
    listing = adb(virtual_device, "shell", "getprop").stdout.splitlines()
    assert "[ro.edgekit.virtual]: [1]" in listing
    assert "[ro.edgekit.profile]: [sd855]" in listing
    assert "[ro.build.version.release]: [10]" in listing and "[ro.build.version.sdk]: [29]" in listing


def test_shell_v2_exit_codes_and_separate_stderr(virtual_device) -> None:
    result = adb(virtual_device, "shell", "echo to-stdout; echo to-stderr >&2; exit 7")
    assert result.returncode == 7
    assert result.stdout == "to-stdout\n"
    assert result.stderr == "to-stderr\n"
    assert adb(virtual_device, "shell", "true").returncode == 0


def test_shell_sees_the_device_file_system(virtual_device) -> None:
    assert adb(virtual_device, "shell", "cat /sys/devices/system/cpu/possible").stdout == "0-7\n"
    freqs = adb(virtual_device, "shell", "cat /sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq "
                                         "/sys/devices/system/cpu/cpu7/cpufreq/cpuinfo_max_freq").stdout.split()
    assert freqs == ["1780000", "2840000"]  # little cores first, as Linux numbers them on a phone
    # The working directory is the device's /, and sandbox paths come back as device paths.
    assert adb(virtual_device, "shell", "pwd").stdout == "/\n"
    result = adb(virtual_device, "shell", "cd /data/local/tmp && pwd && echo hi > note.txt && ls /data/local/tmp")
    assert result.stdout == "/data/local/tmp\nnote.txt\n"
    assert (virtual_device.sandbox / "data/local/tmp/note.txt").read_text() == "hi\n"
    assert adb(virtual_device, "shell", "which getprop").stdout == "/system/bin/getprop\n"


def test_the_shell_refuses_host_paths_and_dot_dot_above_the_root(virtual_device, tmp_path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("host file")
    refused = adb(virtual_device, "shell", f"rm -rf {victim}")
    assert refused.returncode == 126 and str(victim) in refused.stderr and "outside" in refused.stderr
    assert (victim / "keep.txt").read_text() == "host file"
    climbing = "/data/local/tmp/../../../../edgekit-escaped/models"
    assert adb(virtual_device, "shell", "mkdir", "-p", climbing).returncode == 126
    assert not (virtual_device.sandbox.parent / "edgekit-escaped").exists()
    assert adb(virtual_device, "shell", "cat $(echo /etc/hostname)").returncode == 126  # words in $(...) too
    # the device's own paths, / itself and the harmless host files still work
    assert {"data", "sdcard", "system"} <= set(adb(virtual_device, "shell", "ls /").stdout.split())
    assert adb(virtual_device, "shell", "cd /data/../data/local/tmp && pwd").stdout == "/data/local/tmp\n"
    fine = adb(virtual_device, "shell", "echo gone > /dev/null && head -c 4 /dev/zero | wc -c "
                                        "&& /system/bin/sh -c 'echo from sh' && test -r /proc/self/status")
    assert (fine.returncode, fine.stdout.split()) == (0, ["4", "from", "sh"])


def test_exec_in_writes_all_of_stdin_after_the_client_closes(virtual_device) -> None:
    port = virtual_device.adb_server.rsplit(":", 1)[1]
    # a line, and more than one write (more than a pipe holds)
    for name, payload in (("small.txt", b"hello\n"), ("large.bin", b"hello\n" + bytes(range(256)) * 1024)):
        sent = subprocess.run(["adb", "-P", port, "-s", virtual_device.address, "exec-in",
                               f"cat > /data/local/tmp/{name}"], input=payload, capture_output=True, timeout=30)
        assert sent.returncode == 0, sent.stderr
        target = virtual_device.sandbox / "data/local/tmp" / name
        deadline = time.monotonic() + 10  # the command ends after the client has gone
        while (not target.exists() or target.stat().st_size < len(payload)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert target.read_bytes() == payload


def test_exec_out_and_refused_services(virtual_device) -> None:
    assert adb(virtual_device, "exec-out", "printf", "raw").stdout == "raw"
    for service in ("reboot", "remount", "root"):
        refused = adb(virtual_device, service)
        assert refused.returncode != 0 and "closed" in refused.stderr


def test_the_command_of_a_killed_client_is_stopped(virtual_device) -> None:
    pid_file = virtual_device.sandbox / "data/local/tmp/sleeper.pid"
    port = virtual_device.adb_server.rsplit(":", 1)[1]
    client = subprocess.Popen(["adb", "-P", port, "-s", virtual_device.address, "shell",
                               "echo $$ > /data/local/tmp/sleeper.pid; exec sleep 60"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not (pid_file.exists() and pid_file.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = int(pid_file.read_text())
        assert process_alive(pid)
    finally:
        client.kill()
        client.wait()
    deadline = time.monotonic() + 10
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process_alive(pid)
