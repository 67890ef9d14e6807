"""One run per device at a time: a lock held on the device itself, so it holds across processes
and across hosts that share the device (several adb servers, a lab's remote server).

The lock is a folder, ``/data/local/tmp/edgekit.lock`` (beside edgekit's work folders, never
inside one, so that ``--cleanup`` cannot remove it): ``mkdir`` is atomic, so of two runs that
try at once exactly one gets it. Its ``owner`` file says who holds it (a description, host, pid,
run id, start time); the holder touches it every HEARTBEAT_S seconds. A lock is stale, and is
taken over, when its heartbeat is older than STALE_AFTER_S seconds by the device's clock (the
holder died or lost the device), or when its holder ran on this host and its pid is gone.
Taking over is serialized by a second folder (``edgekit.lock.breaking``), and only removes the
lock whose run id was judged stale, so two runs breaking the same stale lock cannot both win.
The lock is released (removed, if still ours) when the ``with`` block ends.

    with device_lock(device, "edgekit bench MobileNetV3", on_wait=print) as held:
        ...  # nobody else's edgekit run uses this device now
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shlex
import socket
import threading
import time
import uuid
from typing import TYPE_CHECKING, Callable, Iterator, Optional

from edgekit.errors import DeviceBusyError, DeviceError

if TYPE_CHECKING:
    from edgekit.device.adb import Device

__all__ = ["LOCK_PATH", "LockInfo", "device_lock", "read_lock"]

log = logging.getLogger(__name__)

LOCK_PATH = "/data/local/tmp/edgekit.lock"
HEARTBEAT_S = 10.0
STALE_AFTER_S = 60.0  # several missed heartbeats
POLL_S = 1.0  # how often a waiting run asks again
RELEASE_TIMEOUT_S = 5.0  # giving the lock back must not hang an exit on a stalled device
BREAKING_STALE_S = 60  # a breaker that died holding the .breaking folder
_ACQUIRED, _HELD = "EDGEKIT_LOCK_ACQUIRED", "EDGEKIT_LOCK_HELD"
_LOST = 3  # exit status of the heartbeat script: the lock is no longer ours


@dataclasses.dataclass(frozen=True)
class LockInfo:
    """Who holds a device's lock."""

    serial: str
    path: str
    owner: str  # what the holder said it is doing ("edgekit bench ...")
    host: str
    pid: int
    run_id: str
    started: float  # the holder's clock, seconds since the epoch
    age_s: Optional[float] = None  # since the last heartbeat, by the device's clock

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started)) if self.started else "?"
        beat = f", heartbeat {self.age_s:.0f} s ago" if self.age_s is not None else ""
        return f"{self.owner or 'an edgekit run'} (host {self.host or '?'}, pid {self.pid or '?'}, " \
               f"run {self.run_id or '?'}, since {since}{beat})"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _single_line(text: str) -> str:
    return " ".join(str(text).split())


def _owner_lines(info: LockInfo) -> list[str]:
    return [f"owner={_single_line(info.owner)}", f"host={_single_line(info.host)}", f"pid={info.pid}",
            f"run_id={info.run_id}", f"started={info.started:.3f}"]


def _age_lines(path: str) -> str:
    """Shell: print the age of the lock's heartbeat (the owner file, else the folder)."""
    d = shlex.quote(path)
    return (f"now=$(date +%s); m=$(stat -c %Y {d}/owner 2>/dev/null || stat -c %Y {d} 2>/dev/null || echo $now); "
            f"echo age=$((now - m))")


def _acquire_script(path: str, mine: LockInfo) -> str:
    d = shlex.quote(path)
    parent = shlex.quote(os.path.dirname(path) or "/")
    lines = " ".join(shlex.quote(line) for line in _owner_lines(mine))
    return (f"mkdir -p {parent} 2>/dev/null; "
            f"if mkdir {d} 2>/dev/null; then "
            f"printf '%s\\n' {lines} > {d}/owner.tmp && mv {d}/owner.tmp {d}/owner && echo {_ACQUIRED} && exit 0; "
            f"rm -rf {d}; echo 'cannot write the lock owner file' >&2; exit 4; fi; "
            f"[ -d {d} ] || {{ echo 'cannot create the lock folder' >&2; exit 5; }}; "
            f"echo {_HELD}; cat {d}/owner 2>/dev/null; {_age_lines(path)}")


def _break_script(path: str, stale_run_id: str) -> str:
    d = shlex.quote(path)
    b = shlex.quote(path + ".breaking")
    return (f"if ! mkdir {b} 2>/dev/null; then now=$(date +%s); m=$(stat -c %Y {b} 2>/dev/null || echo $now); "
            f"[ $((now - m)) -gt {BREAKING_STALE_S} ] && rmdir {b} 2>/dev/null; exit 3; fi; "
            f"cur=$(sed -n 's/^run_id=//p' {d}/owner 2>/dev/null); "
            f"[ \"$cur\" = {shlex.quote(stale_run_id)} ] && rm -rf {d}; rmdir {b}; true")


def _heartbeat_script(path: str, run_id: str) -> str:
    d = shlex.quote(path)
    return f"grep -qx {shlex.quote('run_id=' + run_id)} {d}/owner 2>/dev/null || exit {_LOST}; touch {d}/owner"


def _release_script(path: str, run_id: str) -> str:
    d = shlex.quote(path)
    return f"grep -qx {shlex.quote('run_id=' + run_id)} {d}/owner 2>/dev/null && rm -rf {d}; true"


def _parse_holder(serial: str, path: str, text: str) -> LockInfo:
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

    def number(key: str, kind: type) -> float:
        try:
            return kind(fields.get(key, "0"))
        except ValueError:
            return kind(0)

    age = number("age", float) if "age" in fields else None
    return LockInfo(serial, path, fields.get("owner", ""), fields.get("host", ""), int(number("pid", int)),
                    fields.get("run_id", ""), number("started", float), age)


def _try_acquire(device: "Device", path: str, mine: LockInfo) -> Optional[LockInfo]:
    """None when the lock is now ours, else who holds it."""
    result = device.shell(_acquire_script(path, mine))
    if result.returncode == 0 and _ACQUIRED in result.stdout:
        return None
    if result.returncode != 0 or _HELD not in result.stdout:
        raise DeviceError(f"cannot take the lock {path} on {device.serial} (status {result.returncode}): "
                          f"{(result.stderr or result.stdout).strip()[:200]}")
    return _parse_holder(device.serial, path, result.stdout.split(_HELD, 1)[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def is_stale(holder: LockInfo, stale_after_s: float = STALE_AFTER_S) -> bool:
    """Whether the holder is gone: no heartbeat for stale_after_s, or its pid on this host is dead."""
    if holder.age_s is not None and holder.age_s > stale_after_s:
        return True
    return holder.host == socket.gethostname() and holder.pid > 0 and not _pid_alive(holder.pid)


def read_lock(device: "Device", path: str = LOCK_PATH) -> Optional[LockInfo]:
    """Who holds the device's lock now; None when nobody does."""
    d = shlex.quote(path)
    result = device.shell(f"[ -d {d} ] || exit 3; cat {d}/owner 2>/dev/null; {_age_lines(path)}")
    if result.returncode == 3:
        return None
    return _parse_holder(device.serial, path, result.stdout)


class _Heartbeat(threading.Thread):
    def __init__(self, device: "Device", path: str, run_id: str, every_s: float):
        super().__init__(daemon=True, name=f"edgekit-lock-{device.serial}")
        self.device, self.path, self.run_id, self.every_s = device, path, run_id, every_s
        self.stopping = threading.Event()
        self.lost = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.every_s):
            try:
                result = self.device.shell(_heartbeat_script(self.path, self.run_id))
            except DeviceError as e:  # the run itself will meet the device's trouble
                log.warning("lock heartbeat on %s failed: %s", self.device.serial, e)
                continue
            if result.returncode == _LOST:
                log.warning("the lock %s on %s was taken over by another run", self.path, self.device.serial)
                self.lost.set()
                return


@contextlib.contextmanager
def device_lock(device: "Device", owner: str, *, wait: bool = True, timeout_s: Optional[float] = None,
                on_wait: Optional[Callable[[LockInfo], None]] = None, run_id: Optional[str] = None,
                path: str = LOCK_PATH, stale_after_s: float = STALE_AFTER_S, heartbeat_s: float = HEARTBEAT_S,
                poll_s: float = POLL_S) -> Iterator[LockInfo]:
    """Hold the device's lock for the ``with`` block; yields our LockInfo.

    When another run holds it: ``wait=False`` raises DeviceBusyError naming the holder at once;
    else ``on_wait(holder)`` is called (once per holder) and the lock is asked for every
    ``poll_s`` until it is free, up to ``timeout_s`` (None: as long as it takes), then
    DeviceBusyError. A stale lock (see the module doc) is taken over, with a warning."""
    mine = LockInfo(device.serial, path, _single_line(owner), socket.gethostname(), os.getpid(),
                    run_id or uuid.uuid4().hex[:12], time.time(), 0.0)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    announced: Optional[str] = None
    broken_at: dict[str, float] = {}  # stale holder's run id -> when we last tried to break its lock
    while True:
        holder = _try_acquire(device, path, mine)
        if holder is None:
            break
        last_try = broken_at.get(holder.run_id)
        # A break that did not free the lock (another run is breaking it, or the folder cannot be
        # removed) is tried again only after a poll interval, like a live holder's: no busy loop.
        if is_stale(holder, stale_after_s) and (last_try is None or time.monotonic() - last_try >= poll_s):
            log.warning("taking over the stale lock of %s on %s", holder.describe(), device.serial)
            broken_at[holder.run_id] = time.monotonic()
            device.shell(_break_script(path, holder.run_id))
            continue
        if not wait or (deadline is not None and time.monotonic() >= deadline):
            waited = "" if not wait else f" (waited {timeout_s:g} s)"
            raise DeviceBusyError(f"device {device.serial} is busy: {holder.describe()} holds {path}{waited}")
        if on_wait is not None and announced != holder.run_id:
            on_wait(holder)
        announced = holder.run_id
        pause = poll_s if deadline is None else max(0.0, min(poll_s, deadline - time.monotonic()))
        time.sleep(pause)
    heartbeat = _Heartbeat(device, path, mine.run_id, heartbeat_s)
    heartbeat.start()
    try:
        yield mine
    finally:
        heartbeat.stopping.set()
        heartbeat.join(timeout=1.0)
        release_lock(device, mine)


def release_lock(device: "Device", mine: LockInfo, *, timeout_s: float = RELEASE_TIMEOUT_S) -> None:
    """Give back the lock ``mine`` took (nothing happens when another run holds it now).

    ``device_lock`` calls it on leaving its block; a process interrupted while worker threads
    hold locks calls it from the main thread, as those threads die with the process."""
    try:
        device.shell(_release_script(mine.path, mine.run_id), timeout=timeout_s)
    except DeviceError as e:  # the device went away: the lock goes stale and is taken over
        log.warning("could not release the lock %s on %s: %s", mine.path, device.serial, e)
