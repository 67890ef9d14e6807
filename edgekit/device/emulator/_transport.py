"""The device side of adb transports: the CNXN handshake, streams and their flow control.

One ``Transport`` per TCP connection from an adb server. Its reader thread dispatches messages;
each OPEN starts the named service in its own thread on a ``Stream``. Flow control is adb's
original one: a WRTE may be sent only after the peer's OKAY for the previous one, in both
directions, so a stream acknowledges the host's data (OKAY) only when its service has taken it.
WRTEs a host sends early are queued (up to MAX_QUEUED_BYTES), as adbd queues them.
"""

from __future__ import annotations

import collections
import logging
import socket
import threading
from typing import Callable, Deque, Optional

from edgekit.device.emulator import _wire as wire
from edgekit.device.emulator._wire import Message

log = logging.getLogger(__name__)
MAX_QUEUED_BYTES = 8 * wire.MAX_PAYLOAD  # host data a stream holds before its service takes it

_ALWAYS = threading.Event()
_ALWAYS.set()

# A service gets its stream and runs until done; None from the resolver means "no such service".
Service = Callable[["Stream"], None]
ServiceResolver = Callable[[str], Optional[Service]]


class StreamClosed(Exception):
    """The stream was closed (by the host, or because the transport went away)."""


class Stream:
    """One adb stream: a byte pipe between a service and a client of the adb server."""

    def __init__(self, transport: "Transport", local_id: int, remote_id: int, destination: str):
        self.transport = transport
        self.local_id = local_id
        self.remote_id = remote_id
        self.destination = destination
        self._cond = threading.Condition()
        self._inbox: Deque[bytes] = collections.deque()
        self._queued = 0  # bytes in the inbox
        self._buffer = bytearray()
        self._may_send = True  # the host's OPEN implies a READY for our first WRTE
        self._closed = False
        self._close_sent = False
        self.closed_by_host = False

    # -- called by the transport's reader thread ------------------------------------------

    def _deliver(self, payload: bytes) -> None:
        # A host should wait for our OKAY before its next WRTE, but adb servers send what is left
        # in a burst when their client closes (exec-in); adbd queues such WRTEs, and so do we,
        # up to a bound that only a runaway host reaches.
        with self._cond:
            if self._queued + len(payload) > MAX_QUEUED_BYTES:
                raise wire.ProtocolError(f"host sent more than {MAX_QUEUED_BYTES} bytes on stream "
                                         f"{self.local_id} without waiting for our OKAY")
            self._inbox.append(payload)
            self._queued += len(payload)
            self._cond.notify_all()

    def _ready(self) -> None:
        with self._cond:
            self._may_send = True
            self._cond.notify_all()

    def _close_from_host(self) -> bool:
        """The host closed the stream; True when our CLSE is still owed (adbd answers a host's
        CLSE with its own, and clients such as adb-shell wait for it)."""
        with self._cond:
            owed = not self._close_sent
            self._close_sent = True
            self.closed_by_host = True
            self._closed = True
            self._cond.notify_all()
        return owed

    # -- called by the service ------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def wait_closed(self, timeout: Optional[float] = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._closed, timeout)

    def recv(self) -> Optional[bytes]:
        """The next payload from the host, or None once the stream is closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._inbox or self._closed)
            if not self._inbox:
                return None
            payload = self._inbox.popleft()
            self._queued -= len(payload)
        # Acknowledge only now that the service has the data: the host's next WRTE may come.
        self.transport.send(Message(wire.A_OKAY, self.local_id, self.remote_id))
        return payload

    def read_exactly(self, size: int) -> bytes:
        """Exactly ``size`` bytes of the host's data; StreamClosed when it ends before that."""
        while len(self._buffer) < size:
            payload = self.recv()
            if payload is None:
                raise StreamClosed(f"stream {self.destination!r} closed")
            self._buffer += payload
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def write(self, data: bytes) -> None:
        """Send ``data`` in WRTEs of at most max-payload bytes, each after the host's OKAY."""
        view = memoryview(data)
        step = self.transport.max_payload
        for start in range(0, len(view), step):
            with self._cond:
                self._cond.wait_for(lambda: self._may_send or self._closed)
                if self._closed:
                    raise StreamClosed(f"stream {self.destination!r} closed")
                self._may_send = False
            self.transport.send(Message(wire.A_WRTE, self.local_id, self.remote_id,
                                        bytes(view[start:start + step])))

    def close(self) -> None:
        """Close our side: one CLSE, unless one was sent already (as the answer to the host's)."""
        with self._cond:
            send_close = not self._close_sent
            self._close_sent = True
            self._closed = True
            self._cond.notify_all()
        if send_close:
            self.transport.send(Message(wire.A_CLSE, self.local_id, self.remote_id))
        self.transport.forget(self.local_id)


class Transport:
    """One adb server's connection to the device."""

    def __init__(self, sock: socket.socket, banner: bytes, resolve: ServiceResolver,
                 on_close: Callable[["Transport"], None], running: Optional[threading.Event] = None):
        """``running``: cleared, the transport neither reads nor sends (a device that hangs)."""
        self.sock = sock
        self._running = running or _ALWAYS
        self.banner = banner
        self.resolve = resolve
        self.on_close = on_close
        self.version = wire.A_VERSION
        self.max_payload = wire.MAX_PAYLOAD_V1
        self.online = False
        self._send_lock = threading.Lock()
        self._streams: dict[int, Stream] = {}
        self._streams_lock = threading.Lock()
        self._next_id = 1
        self._alive = True

    # -- sending ----------------------------------------------------------------------------

    def send(self, message: Message) -> None:
        self._running.wait()
        if not self._alive:
            return
        data = wire.pack(message, with_checksum=self.version < wire.A_VERSION_SKIP_CHECKSUM)
        try:
            with self._send_lock:
                self.sock.sendall(data)
        except OSError:
            self.shutdown()

    # -- receiving --------------------------------------------------------------------------

    def serve(self) -> None:
        """Read and dispatch messages until the connection ends."""
        try:
            while self._alive:
                message = wire.read_message(self.sock, wire.MAX_PAYLOAD)
                self._running.wait()
                self._dispatch(message)
        except wire.ProtocolError as e:
            log.warning("closing adb connection: %s", e)
        except (EOFError, OSError):
            pass
        finally:
            self.shutdown()

    def _dispatch(self, message: Message) -> None:
        if message.command == wire.A_CNXN:
            self._handshake(message)
        elif not self.online:
            return  # "Any messages received before a CONNECT message MUST be ignored."
        elif message.command == wire.A_OPEN:
            self._open(message)
        elif message.command == wire.A_OKAY:
            stream = self._stream(message.arg1)
            if stream is not None:
                stream._ready()
        elif message.command == wire.A_WRTE:
            stream = self._stream(message.arg1)
            if stream is not None:
                stream._deliver(message.payload)
        elif message.command == wire.A_CLSE:
            stream = self._stream(message.arg1)
            if stream is not None:
                # As adbd: closing the local socket closes its peer, which sends CLSE back.
                if stream._close_from_host():
                    self.send(Message(wire.A_CLSE, stream.local_id, stream.remote_id))
                self.forget(stream.local_id)
        elif message.command in (wire.A_AUTH, wire.A_STLS, wire.A_SYNC):
            # We never ask for AUTH or TLS (ro.adb.secure=0), so the host has no reason to send them.
            raise wire.ProtocolError(f"unexpected {message.name}")

    def _handshake(self, message: Message) -> None:
        if message.arg0 < wire.A_VERSION_MIN:
            raise wire.ProtocolError(f"host protocol version 0x{message.arg0:08x} is too old")
        self.version = min(message.arg0, wire.A_VERSION)
        self.max_payload = max(wire.MAX_PAYLOAD_V1, min(message.arg1, wire.MAX_PAYLOAD))
        self.online = True
        self.send(Message(wire.A_CNXN, self.version, self.max_payload, self.banner))

    def _open(self, message: Message) -> None:
        destination = message.payload.rstrip(b"\0").decode("utf-8", "replace")
        remote_id = message.arg0
        if remote_id == 0:
            raise wire.ProtocolError("OPEN with local-id 0")
        service = self.resolve(destination)
        if service is None:
            self.send(Message(wire.A_CLSE, 0, remote_id))
            return
        with self._streams_lock:
            local_id = self._next_id
            self._next_id += 1
            stream = Stream(self, local_id, remote_id, destination)
            self._streams[local_id] = stream
        self.send(Message(wire.A_OKAY, local_id, remote_id))
        threading.Thread(target=self._run_service, args=(service, stream), daemon=True,
                         name=f"adbd-{destination.split(':')[0]}-{local_id}").start()

    @staticmethod
    def _run_service(service: Service, stream: Stream) -> None:
        try:
            service(stream)
        except StreamClosed:
            pass
        except Exception:  # a broken service must not take the device down
            log.exception("service %r failed", stream.destination)
        finally:
            stream.close()

    def _stream(self, local_id: int) -> Optional[Stream]:
        with self._streams_lock:
            return self._streams.get(local_id)

    def forget(self, local_id: int) -> None:
        with self._streams_lock:
            self._streams.pop(local_id, None)

    def shutdown(self) -> None:
        """Close the connection; every open stream sees itself closed by the host."""
        if not self._alive:
            return
        self._alive = False
        with self._streams_lock:
            streams = list(self._streams.values())
            self._streams.clear()
        for stream in streams:
            stream._close_from_host()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.on_close(self)
