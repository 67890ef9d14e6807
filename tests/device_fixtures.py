"""pytest plugin: real adb servers on free loopback ports, and virtual devices connected to them.

Fixtures:
  adb_server                     "127.0.0.1:PORT" of an adb server started for the session
                                 (``adb -P PORT start-server``), killed at the end.
  virtual_device                 a VirtualDevice (profile sd855) connected to that server with
                                 ``adb connect``; has .serial (ro.serialno), .address (its adb
                                 serial), .adb_server, .sandbox, .stop() (the device vanishes),
                                 .pause()/.resume() (it hangs) and .set_thermal(...).
  second_adb_server              another adb server, for several-hosts tests.
  second_adb_server_with_device  a VirtualDevice (sd855) connected to the second server.
  make_virtual_device            factory: make_virtual_device(adb_server, profile="sd855", ...).

The servers are edgekit.device.servers.private_server()s: they do not probe the emulator ports
5555-5585, so a virtual device someone runs on 5555 cannot appear in a test.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Mapping, Optional, Sequence

import pytest

if TYPE_CHECKING:
    from edgekit.device.emulator import VirtualDevice


@contextlib.contextmanager
def running_adb_server() -> Iterator[str]:
    """A fresh adb server on a free loopback port; killed on exit."""
    from edgekit.device.servers import adb_executable, private_server
    from edgekit.errors import MissingDependencyError

    try:
        adb_executable()
    except MissingDependencyError:
        pytest.skip("the adb command is not installed (scripts/bootstrap.sh --test installs it)")
    with private_server() as address:
        yield address


@dataclasses.dataclass
class ConnectedVirtualDevice:
    """A virtual device, connected to an adb server with `adb connect`."""

    device: "VirtualDevice"
    adb_server: str

    @property
    def serial(self) -> str:
        return self.device.serial

    @property
    def address(self) -> str:
        return self.device.address

    @property
    def sandbox(self) -> Path:
        return self.device.sandbox

    @property
    def profile(self) -> str:
        return self.device.profile.name

    def stop(self) -> None:
        """The device disappears: its adbd stops and drops its connections."""
        self.device.stop()

    def pause(self) -> None:
        """The device hangs: it stops answering, the adb server still lists it online."""
        self.device.pause()

    def resume(self) -> None:
        self.device.resume()

    def set_thermal(self, **kwargs) -> None:
        """VirtualDevice.set_thermal: zone_temps={type: °C}, cpu_max_khz={cpu: kHz}, cpu_cur_khz=..."""
        self.device.set_thermal(**kwargs)


@contextlib.contextmanager
def connected_virtual_device(adb_server: str, sandbox: Path, profile: str = "sd855", serial: Optional[str] = None,
                             features: Optional[Sequence[str]] = None,
                             props: Optional[Mapping[str, str]] = None) -> Iterator[ConnectedVirtualDevice]:
    from edgekit.device.adb import connect_device, disconnect_device
    from edgekit.device.emulator import VirtualDevice

    with VirtualDevice(profile, sandbox=sandbox, serial=serial, features=features, props=props) as vd:
        connect_device(vd.address, adb_server)
        try:
            yield ConnectedVirtualDevice(vd, adb_server)
        finally:
            disconnect_device(vd.address, adb_server)


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (tests check that what edgekit started is killed)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose (its parent, our adbd thread, reaps it soon).
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # it went away between kill() and the read
        return False


@pytest.fixture(scope="session")
def adb_server() -> Iterator[str]:
    with running_adb_server() as address:
        yield address


@pytest.fixture(scope="session")
def second_adb_server() -> Iterator[str]:
    with running_adb_server() as address:
        yield address


@pytest.fixture
def virtual_device(adb_server: str, tmp_path: Path) -> Iterator[ConnectedVirtualDevice]:
    with connected_virtual_device(adb_server, tmp_path / "virtual_device") as device:
        yield device


@pytest.fixture
def second_adb_server_with_device(second_adb_server: str, tmp_path: Path) -> Iterator[ConnectedVirtualDevice]:
    with connected_virtual_device(second_adb_server, tmp_path / "second_virtual_device") as device:
        yield device


@pytest.fixture
def make_virtual_device(tmp_path: Path) -> Iterator[Callable[..., ConnectedVirtualDevice]]:
    """Factory for more virtual devices: make_virtual_device(adb_server, profile=..., serial=...,
    features=..., props=...) (fewer features: an older adbd, e.g. without shell_v2; props: system
    properties set or, with "", removed)."""
    numbers = itertools.count()
    with contextlib.ExitStack() as stack:
        def make(adb_server: str, profile: str = "sd855", serial: Optional[str] = None,
                 features: Optional[Sequence[str]] = None,
                 props: Optional[Mapping[str, str]] = None) -> ConnectedVirtualDevice:
            sandbox = tmp_path / f"device_{next(numbers)}_{profile}"
            return stack.enter_context(connected_virtual_device(adb_server, sandbox, profile, serial, features, props))

        yield make
