"""The adb transport's wire format (AOSP adb ``docs/dev/protocol.md``).

A message is a 24-byte header of six little-endian 32-bit words — command, arg0, arg1, payload
length, payload checksum, command ^ 0xffffffff — followed by the payload.
"""

from __future__ import annotations

import dataclasses
import socket
import struct

A_SYNC = 0x434E5953
A_CNXN = 0x4E584E43
A_AUTH = 0x48545541
A_OPEN = 0x4E45504F
A_OKAY = 0x59414B4F
A_CLSE = 0x45534C43
A_WRTE = 0x45545257
A_STLS = 0x534C5453
COMMAND_NAMES = {A_SYNC: "SYNC", A_CNXN: "CNXN", A_AUTH: "AUTH", A_OPEN: "OPEN", A_OKAY: "OKAY",
                 A_CLSE: "CLSE", A_WRTE: "WRTE", A_STLS: "STLS"}

A_VERSION_MIN = 0x01000000
# From this version on both sides skip the payload checksum (adb 1.0.39+ sends it).
A_VERSION_SKIP_CHECKSUM = 0x01000001
A_VERSION = 0x01000001
MAX_PAYLOAD_V1 = 4 * 1024  # what hosts older than A_VERSION_SKIP_CHECKSUM accept
MAX_PAYLOAD = 1024 * 1024

HEADER = struct.Struct("<6I")


class ProtocolError(Exception):
    """The peer broke the protocol; the connection must be closed."""


@dataclasses.dataclass(frozen=True)
class Message:
    command: int
    arg0: int
    arg1: int
    payload: bytes = b""

    @property
    def name(self) -> str:
        return COMMAND_NAMES.get(self.command, f"0x{self.command:08x}")


def checksum(payload: bytes) -> int:
    """adb's "crc32" is in fact the byte sum of the payload."""
    return sum(payload) & 0xFFFFFFFF


def pack(message: Message, with_checksum: bool) -> bytes:
    crc = checksum(message.payload) if with_checksum else 0
    header = HEADER.pack(message.command, message.arg0, message.arg1, len(message.payload), crc,
                         message.command ^ 0xFFFFFFFF)
    return header + message.payload


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    buffer = bytearray()
    while len(buffer) < size:
        chunk = sock.recv(size - len(buffer))
        if not chunk:
            raise EOFError("connection closed")
        buffer += chunk
    return bytes(buffer)


def read_message(sock: socket.socket, max_payload: int) -> Message:
    """The next message from ``sock``; ProtocolError for a corrupt header, EOFError at the end."""
    command, arg0, arg1, length, _crc, magic = HEADER.unpack(_read_exactly(sock, HEADER.size))
    if magic != command ^ 0xFFFFFFFF:
        raise ProtocolError(f"bad magic in message header (command 0x{command:08x})")
    if command not in COMMAND_NAMES:
        raise ProtocolError(f"unknown command 0x{command:08x}")
    if length > max_payload:
        raise ProtocolError(f"{COMMAND_NAMES[command]} payload of {length} bytes exceeds {max_payload}")
    payload = _read_exactly(sock, length) if length else b""
    return Message(command, arg0, arg1, payload)
