"""The ``sync:`` service (AOSP adb ``docs/dev/sync.md``, ``file_sync_protocol.h``), confined to the
sandbox.

Requests are an id (4 ASCII bytes), a little-endian length and a path. Implemented: STAT (lstat,
v1), STA2/LST2 (stat_v2), LIST and LIS2 (ls_v2), SEND (v1: "path,mode", DATA chunks of at most
64 KiB, DONE with the mtime), RECV (v1) and QUIT. A path that would leave the sandbox is refused
the way adbd reports a failure of that request: FAIL for SEND/RECV, an empty listing for LIST,
all-zero (absent) for STAT, EACCES for stat_v2.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import struct
import tempfile
from pathlib import Path
from typing import Callable, NoReturn, Optional

from edgekit.device.emulator._sandbox import Sandbox, SandboxEscape
from edgekit.device.emulator._transport import Stream

SYNC_DATA_MAX = 64 * 1024
MAX_PATH = 1024
REQUEST = struct.Struct("<4sI")
STAT_V1 = struct.Struct("<4sIII")
STAT_V2 = struct.Struct("<4sIQQIIIIQqqq")
DENT_V1 = struct.Struct("<4sIIII")
DENT_V2 = struct.Struct("<4sIQQIIIIQqqqI")


class _Finished(Exception):
    """The request ended the sync session (QUIT, or a failure after which adbd closes)."""


class SyncSession:
    def __init__(self, stream: Stream, sandbox: Sandbox):
        self.stream = stream
        self.sandbox = sandbox
        self._out = bytearray()

    # -- output buffering: small replies are gathered into one WRTE ----------------------------

    def _emit(self, data: bytes) -> None:
        self._out += data
        if len(self._out) >= self.stream.transport.max_payload:
            self._flush()

    def _flush(self) -> None:
        if self._out:
            data, self._out = bytes(self._out), bytearray()
            self.stream.write(data)

    def _fail(self, reason: str) -> None:
        encoded = reason.encode("utf-8", "replace")
        self._emit(REQUEST.pack(b"FAIL", len(encoded)) + encoded)

    # -- the request loop ----------------------------------------------------------------------

    def run(self) -> None:
        handlers: dict[bytes, Callable[[str], None]] = {
            b"STAT": self._stat_v1, b"STA2": self._stat_v2, b"LST2": self._lstat_v2,
            b"LIST": self._list_v1, b"LIS2": self._list_v2, b"SEND": self._send, b"RECV": self._recv,
        }
        try:
            while True:
                self._flush()
                request_id, length = REQUEST.unpack(self.stream.read_exactly(REQUEST.size))
                if length > MAX_PATH:
                    self._fail("path too long")
                    return
                path = self.stream.read_exactly(length).decode("utf-8", "surrogateescape")
                if request_id == b"QUIT":
                    return
                handler = handlers.get(request_id)
                if handler is None:
                    self._fail(f"unknown command {int.from_bytes(request_id, 'little'):08x}")
                    return
                handler(path)
        except _Finished:
            pass
        finally:
            with contextlib.suppress(Exception):
                self._flush()

    # -- stat ----------------------------------------------------------------------------------

    def _lstat(self, device_path: str, follow: bool) -> os.stat_result:
        host = self.sandbox.host_path(device_path, follow_last=follow)
        return os.stat(host) if follow else os.lstat(host)

    def _stat_v1(self, path: str) -> None:
        try:
            st = self._lstat(path, follow=False)
            self._emit(STAT_V1.pack(b"STAT", st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime)))
        except (OSError, SandboxEscape):
            self._emit(STAT_V1.pack(b"STAT", 0, 0, 0))  # v1 cannot carry an error: "absent"

    def _stat_v2(self, path: str, request: bytes = b"STA2", follow: bool = True) -> None:
        try:
            st = self._lstat(path, follow=follow)
        except (OSError, SandboxEscape) as e:
            self._emit(STAT_V2.pack(request, e.errno or errno.EIO, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
            return
        self._emit(STAT_V2.pack(request, 0, st.st_dev, st.st_ino, st.st_mode, st.st_nlink, st.st_uid,
                                st.st_gid, st.st_size, int(st.st_atime), int(st.st_mtime), int(st.st_ctime)))

    def _lstat_v2(self, path: str) -> None:
        self._stat_v2(path, b"LST2", follow=False)

    # -- list ----------------------------------------------------------------------------------

    def _entries(self, path: str) -> list[tuple[str, Optional[os.stat_result]]]:
        try:
            folder = self.sandbox.host_path(path)
            names = sorted(os.listdir(folder))
        except (OSError, SandboxEscape):
            return []  # adbd: opendir failed → just DONE
        # ".." of the device's root is the root itself, as on any Unix /.
        parent = folder if folder == self.sandbox.root else folder.parent
        entries: list[tuple[str, Optional[os.stat_result]]] = [(".", os.lstat(folder)), ("..", os.lstat(parent))]
        for name in names:
            try:
                entries.append((name, os.lstat(folder / name)))
            except OSError:
                entries.append((name, None))
        return entries

    def _list_v1(self, path: str) -> None:
        for name, st in self._entries(path):
            if st is None:
                continue
            encoded = name.encode("utf-8", "surrogateescape")
            self._emit(DENT_V1.pack(b"DENT", st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime),
                                    len(encoded)) + encoded)
        self._emit(DENT_V1.pack(b"DONE", 0, 0, 0, 0))

    def _list_v2(self, path: str) -> None:
        for name, st in self._entries(path):
            encoded = name.encode("utf-8", "surrogateescape")
            if st is None:
                header = DENT_V2.pack(b"DNT2", errno.ENOENT, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, len(encoded))
            else:
                header = DENT_V2.pack(b"DNT2", 0, st.st_dev, st.st_ino, st.st_mode, st.st_nlink, st.st_uid,
                                      st.st_gid, st.st_size, int(st.st_atime), int(st.st_mtime),
                                      int(st.st_ctime), len(encoded))
            self._emit(header + encoded)
        self._emit(DENT_V2.pack(b"DONE", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))

    # -- send (push) ---------------------------------------------------------------------------

    def _send(self, spec: str) -> None:
        path, comma, mode_text = spec.rpartition(",")
        if not comma:
            self._fail("missing , in ID_SEND_V1")
            self._drain_and_finish()
        if not mode_text.isdigit():
            self._fail("bad mode")
            self._drain_and_finish()
        mode = int(mode_text)
        if stat.S_ISLNK(mode):
            self._fail("symlinks cannot be pushed to the edgekit virtual device")
            self._drain_and_finish()
        try:
            target = self.sandbox.host_path(path)
            if target.is_dir():
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
            target.parent.mkdir(parents=True, exist_ok=True)
            # Re-check after creating folders: nothing may have led them outside.
            target = self.sandbox.host_path(path)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".sync", dir=target.parent)
        except SandboxEscape as e:
            self._fail(f"couldn't create file: {os.strerror(e.errno)} ({e})")
            self._drain_and_finish()
        except OSError as e:
            self._fail(f"couldn't create file: {e.strerror}")
            self._drain_and_finish()
        self._receive_file(fd, Path(tmp), target, stat.S_IMODE(mode) or 0o644)

    def _receive_file(self, fd: int, tmp: Path, target: Path, permissions: int) -> None:
        done = False
        try:
            with os.fdopen(fd, "wb") as f:
                while True:
                    chunk_id, size = REQUEST.unpack(self.stream.read_exactly(REQUEST.size))
                    if chunk_id == b"DONE":
                        mtime = size
                        break
                    if chunk_id != b"DATA":
                        self._fail("invalid data message")
                        raise _Finished()
                    if size > SYNC_DATA_MAX:
                        self._fail("oversize data message")
                        self._drain_and_finish()
                    f.write(self.stream.read_exactly(size))
            os.chmod(tmp, permissions)
            os.utime(tmp, (mtime, mtime))
            os.replace(tmp, target)
            done = True
            self._emit(REQUEST.pack(b"OKAY", 0))
        except OSError as e:
            self._fail(f"write failed: {e.strerror}")
            self._drain_and_finish()
        finally:
            if not done:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()

    def _drain_and_finish(self) -> NoReturn:
        """After a failed SEND, read and drop the host's DATA until DONE (as adbd does, so the
        host sees the FAIL), then end the session."""
        self._flush()
        while True:
            chunk_id, size = REQUEST.unpack(self.stream.read_exactly(REQUEST.size))
            if chunk_id != b"DATA" or size > SYNC_DATA_MAX:
                break
            self.stream.read_exactly(size)
        raise _Finished()

    # -- recv (pull) ---------------------------------------------------------------------------

    def _recv(self, path: str) -> None:
        try:
            source = self.sandbox.host_path(path)
            f = open(source, "rb")
        except SandboxEscape as e:
            self._fail(f"open failed: {os.strerror(e.errno)} ({e})")
            raise _Finished() from None
        except OSError as e:
            self._fail(f"open failed: {e.strerror}")
            raise _Finished() from None
        with f:
            while True:
                try:
                    chunk = f.read(SYNC_DATA_MAX)
                except OSError as e:
                    self._fail(f"read failed: {e.strerror}")
                    raise _Finished() from None
                if not chunk:
                    break
                self._emit(REQUEST.pack(b"DATA", len(chunk)) + chunk)
        self._emit(REQUEST.pack(b"DONE", 0))


def sync_service(sandbox: Sandbox) -> Callable[[Stream], None]:
    def run(stream: Stream) -> None:
        SyncSession(stream, sandbox).run()

    return run
