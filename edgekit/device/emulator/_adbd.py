"""The virtual device's adbd: a TCP listener that serves each adb server connection as a transport."""

from __future__ import annotations

import logging
import socket
import threading
from typing import Optional

from edgekit.device.emulator._sandbox import Sandbox
from edgekit.device.emulator._shell import ShellRequest, shell_service
from edgekit.device.emulator._sync import sync_service
from edgekit.device.emulator._transport import Service, Transport

log = logging.getLogger(__name__)


class Adbd:
    """Accepts adb server connections on (host, port) and serves the device's services."""

    def __init__(self, sandbox: Sandbox, banner: bytes, host: str = "127.0.0.1", port: int = 0):
        self.sandbox = sandbox
        self.banner = banner
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server((host, port), family=family)
        self.host = host
        self.port = self._listener.getsockname()[1]
        self._transports: set[Transport] = set()
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._stopping = False
        self.running = threading.Event()  # cleared by pause(): every transport stops answering
        self.running.set()

    def resolve(self, destination: str) -> Optional[Service]:
        """The service for an OPEN's destination; None (answered with CLSE) for the rest, such as
        reboot:, root:, remount:, tcpip:, which a virtual device cannot do."""
        if destination == "sync:":
            return sync_service(self.sandbox)
        request = ShellRequest.parse(destination)
        if request is not None:
            return shell_service(self.sandbox, request)
        log.info("refusing service %r", destination)
        return None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._accept_loop, daemon=True, name=f"adbd-{self.port}")
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                break
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport = Transport(sock, self.banner, self.resolve, self._forget, self.running)
            with self._lock:
                if self._stopping:
                    sock.close()
                    break
                self._transports.add(transport)
            threading.Thread(target=transport.serve, daemon=True, name=f"adbd-{self.port}-transport").start()

    def _forget(self, transport: Transport) -> None:
        with self._lock:
            self._transports.discard(transport)

    def pause(self) -> None:
        """Stop answering (connections stay open): a hung adbd, as a stalled phone looks."""
        self.running.clear()

    def resume(self) -> None:
        self.running.set()

    def stop(self) -> None:
        """Stop listening and drop every connection: to the adb server the device is gone."""
        with self._lock:
            self._stopping = True
            transports = list(self._transports)
        self.running.set()  # threads held by a pause move on and see the transport closed
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for transport in transports:
            transport.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
