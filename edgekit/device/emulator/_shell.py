"""The ``shell:``, ``shell,v2,...:`` and ``exec:`` services: host commands in the device's sandbox.

* ``shell:CMD`` (v1) and ``exec:CMD``: a raw byte stream, stderr merged into stdout, no exit code.
* ``shell,v2,[TERM=..,][raw|pty]:CMD``: the shell protocol — packets of 1 byte id, 4 bytes
  little-endian length, data; ids 0 stdin, 1 stdout, 2 stderr, 3 exit (one byte), 4 close stdin,
  5 window size ("rows x cols,xpixels x ypixels" in ASCII).
* An empty command, or the ``pty`` argument, gets a pseudo-terminal (interactive ``adb shell``).

Commands run with /bin/sh in their own process group. When the stream closes before they finish,
what happens is what adbd does: with the shell protocol (the client was killed or timed out) or a
pty the group gets SIGHUP, then SIGKILL; a raw v1 stream (``exec:``, ``shell:`` without a pty) only
closes the command's stdin and lets it run to its end, so ``echo hi | adb exec-in 'cat > f'``
writes ``f``. Output nobody can receive any more is read and dropped, so the command never blocks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import pty
import signal
import struct
import subprocess
import termios
import threading
from typing import Callable, Optional

from edgekit.device.emulator._sandbox import MAPPED_ROOTS, OutputRewriter, Sandbox
from edgekit.device.emulator._transport import Stream, StreamClosed

ID_STDIN, ID_STDOUT, ID_STDERR, ID_EXIT, ID_CLOSE_STDIN, ID_WINDOW_SIZE = 0, 1, 2, 3, 4, 5
PACKET_HEADER = struct.Struct("<BI")
READ_SIZE = 64 * 1024
KILL_GRACE = 0.3  # seconds between SIGHUP and SIGKILL
REFUSED_EXIT = 126  # what sh answers for a command it cannot execute


@dataclasses.dataclass(frozen=True)
class ShellRequest:
    command: str
    v2: bool
    pty: bool
    term: Optional[str]

    @classmethod
    def parse(cls, destination: str) -> Optional["ShellRequest"]:
        """``shell[,arg...]:CMD`` or ``exec:CMD``; None when it is neither."""
        head, colon, command = destination.partition(":")
        if not colon:
            return None
        name, *args = head.split(",")
        if name == "exec":
            return cls(command, v2=False, pty=False, term=None)
        if name != "shell":
            return None
        term = next((a.split("=", 1)[1] for a in args if a.startswith("TERM=")), None)
        use_pty = "pty" in args or ("raw" not in args and not command)
        return cls(command, v2="v2" in args, pty=use_pty, term=term)


def _environment(sandbox: Sandbox, term: Optional[str]) -> dict[str, str]:
    env = dict(os.environ)
    root = str(sandbox.root)
    env["PATH"] = f"{root}/system/bin:{env.get('PATH', '/usr/bin:/bin')}"
    env["TMPDIR"] = f"{root}/data/local/tmp"
    env["EDGEKIT_DEVICE_ROOT"] = root  # lets device-aware programs map paths they build themselves
    if term:
        env["TERM"] = term
    return env


def _kill_group(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGHUP, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=KILL_GRACE)
            if sig == signal.SIGHUP:
                # The shell is gone; its children may linger in the group.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue


class ShellSession:
    def __init__(self, stream: Stream, sandbox: Sandbox, request: ShellRequest):
        self.stream = stream
        self.sandbox = sandbox
        self.request = request
        self._write_lock = threading.Lock()
        self._pty_master: Optional[int] = None
        self._finished = False  # set once the command ended and its output was sent

    # -- output to the host ---------------------------------------------------------------------

    def _send(self, packet_id: int, data: bytes) -> None:
        with self._write_lock:
            if self.request.v2:
                self.stream.write(PACKET_HEADER.pack(packet_id, len(data)) + data)
            else:
                self.stream.write(data)

    def _pump_output(self, fd: int, packet_id: int) -> None:
        rewriter = OutputRewriter(str(self.sandbox.root).encode())
        sending = True
        while True:
            try:
                data = os.read(fd, READ_SIZE)
            except OSError:  # EIO from a pty master once the child side is closed
                data = b""
            if not data:
                break
            if sending:
                sending = self._send_output(packet_id, rewriter.feed(data))
            # else: the host is gone; keep draining so the command never blocks on a full pipe
        if sending:
            self._send_output(packet_id, rewriter.flush())

    def _send_output(self, packet_id: int, data: bytes) -> bool:
        """Send ``data`` (when there is any); False once the stream is closed."""
        try:
            if data:
                self._send(packet_id, data)
            return True
        except StreamClosed:
            return False

    # -- input from the host --------------------------------------------------------------------

    def _pump_input(self, proc: subprocess.Popen, stdin_fd: Optional[int]) -> None:
        buffer = bytearray()
        while True:
            payload = self.stream.recv()
            if payload is None:
                break
            if not self.request.v2:
                stdin_fd = self._write_stdin(stdin_fd, payload)
                continue
            buffer += payload
            while len(buffer) >= PACKET_HEADER.size:
                packet_id, length = PACKET_HEADER.unpack_from(buffer)
                if len(buffer) < PACKET_HEADER.size + length:
                    break
                data = bytes(buffer[PACKET_HEADER.size:PACKET_HEADER.size + length])
                del buffer[:PACKET_HEADER.size + length]
                stdin_fd = self._handle_packet(packet_id, data, stdin_fd)
        if stdin_fd is not None:
            with contextlib.suppress(OSError):
                os.close(stdin_fd)
        if not self._finished and (self.request.v2 or self._pty_master is not None):
            # The host went away before the command finished: stop it and whatever it started
            # (even if the shell itself is gone, a child may still hold the output open).
            _kill_group(proc)
        # A raw v1 stream: the command saw its stdin close and runs to its end, as under adbd.

    def _handle_packet(self, packet_id: int, data: bytes, stdin_fd: Optional[int]) -> Optional[int]:
        if packet_id == ID_STDIN:
            return self._write_stdin(stdin_fd, data)
        if packet_id == ID_CLOSE_STDIN and stdin_fd is not None and self._pty_master is None:
            with contextlib.suppress(OSError):
                os.close(stdin_fd)
            return None
        if packet_id == ID_WINDOW_SIZE and self._pty_master is not None:
            self._resize(data)
        return stdin_fd

    @staticmethod
    def _write_stdin(stdin_fd: Optional[int], data: bytes) -> Optional[int]:
        if stdin_fd is None:
            return None
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(stdin_fd, view):]
            return stdin_fd
        except OSError:  # the command closed its stdin
            with contextlib.suppress(OSError):
                os.close(stdin_fd)
            return None

    def _resize(self, data: bytes) -> None:
        try:
            rows_cols = data.decode().split(",")[0]
            rows, cols = (int(v) for v in rows_cols.split("x"))
        except (ValueError, UnicodeDecodeError):
            return
        with contextlib.suppress(OSError):
            fcntl.ioctl(self._pty_master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    # -- the command ----------------------------------------------------------------------------

    def _spawn(self) -> tuple[subprocess.Popen, int, Optional[int], Optional[int]]:
        """Start the command: (process, stdin fd, stdout fd, stderr fd or None)."""
        command = self.sandbox.translate_command(self.request.command)
        argv = ["/bin/sh", "-c", command] if command else ["/bin/sh", "-i"]
        env = _environment(self.sandbox, self.request.term)
        common = dict(cwd=self.sandbox.root, env=env, start_new_session=True, close_fds=True)
        if self.request.pty:
            master, slave = pty.openpty()
            proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, **common)
            os.close(slave)
            self._pty_master = master
            return proc, os.dup(master), master, None
        separate_stderr = self.request.v2
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE if separate_stderr else subprocess.STDOUT, **common)
        stdin_fd = os.dup(proc.stdin.fileno())
        proc.stdin.close()
        return proc, stdin_fd, proc.stdout.fileno(), proc.stderr.fileno() if separate_stderr else None

    def _refuse(self, message: str, code: int) -> None:
        """Answer without running anything: the message on stderr (v1: the one stream), the code."""
        self._send(ID_STDERR, f"/system/bin/sh: {message}\n".encode())
        if self.request.v2:
            self._send(ID_EXIT, bytes([code]))

    def run(self) -> None:
        outside = self.sandbox.outside_paths(self.request.command)
        if outside:
            self._refuse(f"{outside[0]}: outside the edgekit virtual device's file system (it has "
                         f"{', '.join(MAPPED_ROOTS)}); refused, as it would be this host's path", REFUSED_EXIT)
            return
        try:
            proc, stdin_fd, stdout_fd, stderr_fd = self._spawn()
        except (OSError, ValueError) as e:  # ValueError: a NUL byte in the command
            self._refuse(getattr(e, "strerror", None) or str(e) or "cannot run the command", 127)
            return
        pumps = [threading.Thread(target=self._pump_output, args=(stdout_fd, ID_STDOUT), daemon=True)]
        if stderr_fd is not None:
            pumps.append(threading.Thread(target=self._pump_output, args=(stderr_fd, ID_STDERR), daemon=True))
        input_pump = threading.Thread(target=self._pump_input, args=(proc, stdin_fd), daemon=True)
        for thread in pumps + [input_pump]:
            thread.start()
        for thread in pumps:
            thread.join()
        code = proc.wait()
        self._finished = not self.stream.closed_by_host
        if self._pty_master is not None:
            with contextlib.suppress(OSError):
                os.close(self._pty_master)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        if self.request.v2 and not self.stream.closed:
            # A command killed by a signal exits like the shell reports it: 128 + signal.
            self._send(ID_EXIT, bytes([(128 - code) & 0xFF if code < 0 else code & 0xFF]))


def shell_service(sandbox: Sandbox, request: ShellRequest) -> Callable[[Stream], None]:
    def run(stream: Stream) -> None:
        ShellSession(stream, sandbox, request).run()

    return run
