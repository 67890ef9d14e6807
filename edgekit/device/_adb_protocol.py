"""The parts of adb's host protocol edgekit speaks, each bounded in time.

Why edgekit speaks it itself rather than through adbutils: the calls edgekit needs — a stream to
a device service with a deadline on every wait, the sync requests with the device's FAIL reason,
shell v2 packets — are only reachable through adbutils' connection internals (its socket
attribute, its private request helpers), and adbutils runs ``adb start-server`` whenever a
connection is refused, which would silently start the default local server when a named or
remote one dies. The protocol is small and documented (AOSP packages/modules/adb:
``docs/dev/services.md`` / SERVICES.TXT for the host requests, ``docs/dev/sync.md`` /
SYNC.TXT for sync, ``shell_protocol.h`` for the v2 packets), so it lives here, in one module.

Host requests: 4 hex digits of length, then the request; the server answers ``OKAY`` or ``FAIL``
followed by a length-prefixed message. ``host:transport:SERIAL`` then a service name turns the
connection into a stream to that service on the device.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from typing import BinaryIO, Callable, Iterator, Optional

SYNC_DATA_MAX = 64 * 1024  # the sync protocol's limit for one DATA chunk
SYNC_REQUEST = struct.Struct("<4sI")
SYNC_STAT = struct.Struct("<4sIII")
SYNC_DENT = struct.Struct("<4sIIII")
SHELL_PACKET = struct.Struct("<BI")  # shell v2: id, little-endian length
SHELL_STDOUT, SHELL_STDERR, SHELL_EXIT, SHELL_CLOSE_STDIN = 1, 2, 3, 4


class ServerUnreachable(OSError):
    """Nothing answers at the adb server's address (refused, unreachable, no route)."""


class HostFailure(Exception):
    """The adb server answered FAIL; the message is its reason."""


class DeadlineExpired(socket.timeout):
    """A wait went past the call's limit (a ``socket.timeout``, as a socket wait would raise)."""


class Clock:
    """The limits of one call: ``total_s`` for the whole call and/or ``idle_s`` for each wait
    (no progress for that long). None means no such limit."""

    def __init__(self, total_s: Optional[float] = None, idle_s: Optional[float] = None):
        self.deadline = None if total_s is None else time.monotonic() + total_s
        self.idle_s = idle_s

    def wait_s(self) -> Optional[float]:
        """How long the next wait may take; DeadlineExpired when the call is out of time."""
        limits = [] if self.idle_s is None else [self.idle_s]
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExpired("deadline")
            limits.append(remaining)
        return min(limits) if limits else None

    @property
    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline - 0.05


class HostConnection:
    """One TCP connection to an adb server; every read and write waits at most ``clock.wait_s()``."""

    def __init__(self, host: str, port: int, clock: Clock):
        self.clock = clock
        try:
            self.sock = socket.create_connection((host, port), timeout=clock.wait_s())
        except socket.timeout:
            raise
        except OSError as e:
            raise ServerUnreachable(e.errno, e.strerror or str(e)) from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        # Closing makes the server close the device stream (adbd then stops a v2 shell command).
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> "HostConnection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- raw bytes ----------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.sock.settimeout(self.clock.wait_s())
        self.sock.sendall(data)

    def recv_some(self, size: int = 65536) -> bytes:
        """Up to ``size`` bytes; b"" at the end of the stream."""
        self.sock.settimeout(self.clock.wait_s())
        return self.sock.recv(size)

    def recv_exact(self, size: int) -> bytes:
        buffer = bytearray()
        while len(buffer) < size:
            chunk = self.recv_some(size - len(buffer))
            if not chunk:
                raise EOFError("stream closed")
            buffer += chunk
        return bytes(buffer)

    # -- host requests ------------------------------------------------------------------------

    def request(self, service: str) -> None:
        """Send a host request; HostFailure with the server's reason unless it answers OKAY."""
        encoded = service.encode()
        self.send(b"%04x" % len(encoded) + encoded)
        status = self.recv_exact(4)
        if status == b"OKAY":
            return
        if status == b"FAIL":
            raise HostFailure(self.read_string())
        raise HostFailure(f"unexpected reply {status!r} to {service!r}")

    def read_string(self) -> str:
        """A length-prefixed string (4 hex digits, then the bytes)."""
        length = self.recv_exact(4)
        try:
            size = int(length, 16)
        except ValueError:
            raise HostFailure(f"malformed length {length!r} in the adb server's answer") from None
        return self.recv_exact(size).decode("utf-8", "replace")


def query(host: str, port: int, service: str, clock: Clock) -> str:
    """A host request whose answer is one string (``host:devices``, ``host:connect:...``)."""
    with HostConnection(host, port, clock) as connection:
        connection.request(service)
        return connection.read_string()


def device_states(host: str, port: int, clock: Clock) -> list[tuple[str, str]]:
    """(serial, state) of every device the server knows (``host:devices``)."""
    lines = query(host, port, "host:devices", clock).splitlines()
    return [(parts[0], parts[1]) for parts in (line.split("\t") for line in lines) if len(parts) >= 2]


def open_service(host: str, port: int, serial: str, service: str, clock: Clock) -> HostConnection:
    """A stream to ``service`` on the device ``serial``: ``host:transport:SERIAL``, which every
    adb server understands (no version query first), then the service."""
    connection = HostConnection(host, port, clock)
    try:
        connection.request(f"host:transport:{serial}")
        connection.request(service)
    except BaseException:
        connection.close()
        raise
    return connection


# ------------------------------------------------------------------------------------ sync


class SyncFailure(Exception):
    """The device answered FAIL to a sync request; the message is its reason."""


def _sync_request(connection: HostConnection, request: bytes, path: str) -> None:
    encoded = path.encode("utf-8", "surrogateescape")
    connection.send(SYNC_REQUEST.pack(request, len(encoded)) + encoded)


def _sync_quit(connection: HostConnection) -> None:
    with contextlib.suppress(OSError):
        connection.send(SYNC_REQUEST.pack(b"QUIT", 0))


def _sync_fail(connection: HostConnection, length: int) -> SyncFailure:
    return SyncFailure(connection.recv_exact(length).decode("utf-8", "replace"))


def sync_stat(connection: HostConnection, path: str) -> tuple[int, int, int]:
    """(mode, size, mtime) of ``path`` (STAT v1, an lstat); mode 0 when it does not exist."""
    _sync_request(connection, b"STAT", path)
    reply, mode, size, mtime = SYNC_STAT.unpack(connection.recv_exact(SYNC_STAT.size))
    if reply != b"STAT":
        raise SyncFailure(f"unexpected sync reply {reply!r}")
    _sync_quit(connection)
    return mode, size, mtime


def sync_list(connection: HostConnection, path: str) -> list[tuple[str, int, int, int]]:
    """(name, mode, size, mtime) of each entry of a folder (LIST v1), . and .. included."""
    _sync_request(connection, b"LIST", path)
    entries = []
    while True:
        reply, mode, size, mtime, length = SYNC_DENT.unpack(connection.recv_exact(SYNC_DENT.size))
        if reply == b"DONE":
            break
        if reply == b"FAIL":
            raise _sync_fail(connection, mode)  # FAIL carries its length where DENT has the mode
        if reply != b"DENT":
            raise SyncFailure(f"unexpected sync reply {reply!r}")
        entries.append((connection.recv_exact(length).decode("utf-8", "replace"), mode, size, mtime))
    _sync_quit(connection)
    return entries


def sync_send(connection: HostConnection, source: BinaryIO, path: str, mode: int, mtime: int) -> None:
    """SEND v1: "path,mode", DATA chunks of at most 64 KiB, DONE with the mtime; SyncFailure
    with the device's reason when it answers FAIL."""
    _sync_request(connection, b"SEND", f"{path},{mode}")
    while chunk := source.read(SYNC_DATA_MAX):
        connection.send(SYNC_REQUEST.pack(b"DATA", len(chunk)) + chunk)
    connection.send(SYNC_REQUEST.pack(b"DONE", mtime))
    status, length = SYNC_REQUEST.unpack(connection.recv_exact(SYNC_REQUEST.size))
    if status == b"FAIL":
        raise _sync_fail(connection, length)
    if status != b"OKAY":
        raise SyncFailure(f"unexpected sync reply {status!r}")
    _sync_quit(connection)


def sync_recv(connection: HostConnection, path: str, write: Callable[[bytes], object]) -> None:
    """RECV v1: the file's bytes to ``write`` chunk by chunk."""
    _sync_request(connection, b"RECV", path)
    while True:
        reply, length = SYNC_REQUEST.unpack(connection.recv_exact(SYNC_REQUEST.size))
        if reply == b"DONE":
            break
        if reply == b"FAIL":
            raise _sync_fail(connection, length)
        if reply != b"DATA" or length > SYNC_DATA_MAX:
            raise SyncFailure(f"unexpected sync reply {reply!r}")
        write(connection.recv_exact(length))
    _sync_quit(connection)


# ------------------------------------------------------------------------------------ shell


def shell_v2_packets(connection: HostConnection) -> Iterator[tuple[int, bytes]]:
    """The (id, data) packets of a ``shell,v2`` stream after closing its stdin (commands that
    read stdin see EOF, as with ``adb shell < /dev/null``), until the exit packet."""
    connection.send(SHELL_PACKET.pack(SHELL_CLOSE_STDIN, 0))
    while True:
        packet_id, length = SHELL_PACKET.unpack(connection.recv_exact(SHELL_PACKET.size))
        data = connection.recv_exact(length) if length else b""
        yield packet_id, data
        if packet_id == SHELL_EXIT:
            return
