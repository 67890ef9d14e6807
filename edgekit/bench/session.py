"""The runs of one ``bench`` call: one worker thread per device, a shared queue of jobs.

Each worker holds its device's lock (``edgekit.device.lock``) for its whole stay on the device,
so runs of other ``bench`` processes or hosts never overlap with its runs, and its files (named by
content, see ``remote``) are never replaced under it. Per job: push the ``.nb`` (skipped when the
device has the same bytes), optionally wait until the device is cool, read its thermal state, run
the binary ``rounds`` times, read its thermal state again, parse, append the record.

Every error a run can raise ends as a failed run of that job, except DeviceLostError, which drops
the device and hands its job back to the others; a device that cannot be set up (or is busy, with
``--no-wait``) is dropped the same way. A bug in a worker stops only that worker and is raised
again in the calling thread once the others are done.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Optional, Sequence

from edgekit.bench import thermal
from edgekit.bench.devices import kind_of, target_for
from edgekit.bench.jobs import Job, JobQueue
from edgekit.bench.outcome import Failure
from edgekit.bench.parse import ParsedRun, parse_single, quote_failure
from edgekit.bench.remote import RemoteDir
from edgekit.bench.results import FAILED, OK, BenchRecord, ResultStore, new_run_id, now_iso
from edgekit.bench.rounds import combine_memory, combine_rounds
from edgekit.bench.settings import BenchOptions, BenchSettings, normalize_shape
from edgekit.bench.sources import NbFile
from edgekit.errors import BenchmarkError, DeviceLostError, EdgekitError, UsageError
from edgekit.workspace import atomic_write_text, sha256_file

if TYPE_CHECKING:
    from edgekit.device import Device, ShellResult
    from edgekit.device.lock import LockInfo

RAW_OUTPUT_DIR = "raw"
Notify = Callable[[str], None]


def lock_owner() -> str:
    """What holds a device (shown to a run that waits for it); the lock itself records the host
    and pid, and LockInfo.describe() prints them."""
    return "edgekit bench"


@contextlib.contextmanager
def device_locked(device: "Device", options: BenchOptions, notify: Notify) -> Iterator["LockInfo"]:
    """Hold ``device``'s lock: wait for it (saying so once), or with --no-wait fail at once
    (DeviceBusyError naming the holder)."""
    from edgekit.device.lock import device_lock

    def waiting(holder: "LockInfo") -> None:
        notify(f"device {device.serial} is in use by {holder.describe()}; waiting for it "
               f"(--no-wait fails instead)")

    with device_lock(device, lock_owner(), wait=options.wait, timeout_s=options.lock_timeout_s,
                     on_wait=waiting) as mine:
        yield mine


class Session:
    """One ``bench`` call's runs on its devices (see the module's doc)."""

    def __init__(self, store: ResultStore, options: BenchOptions, nbs: dict[str, dict[str, NbFile]],
                 binaries: dict[str, Path], *, notify: Notify = lambda message: None):
        self.store = store
        self.options = options
        self.nbs = nbs
        self.binaries = binaries
        self.notify = notify
        self.tool_sha256 = {serial: sha256_file(path) for serial, path in binaries.items()}
        self.records: list[BenchRecord] = []
        self.failures: list[Failure] = []
        self.lost: list[dict] = []
        self.failed_devices: list[dict] = []
        self.warnings: list[str] = []
        self._finished: set[Job] = set()
        self._lock = threading.Lock()
        self._crash: Optional[BaseException] = None
        self._held: dict[str, tuple["Device", "LockInfo"]] = {}  # serial -> the lock its worker holds

    # -- scheduling

    def run(self, jobs: Sequence[Job], devices: Sequence["Device"], *, locked: bool = False) -> None:
        """Run ``jobs`` on ``devices``; ``locked``: the caller already holds every device's lock."""
        work: JobQueue[Job] = JobQueue(jobs)
        workers = [threading.Thread(target=self._worker, args=(device, work, locked), name=f"bench-{device.serial}",
                                    daemon=True) for device in devices]
        for worker in workers:
            worker.start()
        try:
            for worker in workers:
                while worker.is_alive():
                    worker.join(0.2)  # short joins keep Ctrl-C deliverable to the main thread
        except BaseException:  # Ctrl-C: the daemon workers die with the process, their locks must not
            self._release_held()
            raise
        if self._crash is not None:
            raise self._crash

    def unfinished(self, jobs: Sequence[Job]) -> list[Job]:
        return [job for job in jobs if job not in self._finished]

    def _worker(self, device: "Device", work: JobQueue[Job], locked: bool) -> None:
        try:
            if locked:
                self._serve(device, work)
            else:
                with device_locked(device, self.options, self.notify) as mine:
                    with self._lock:
                        self._held[device.serial] = (device, mine)
                    try:
                        self._serve(device, work)
                    finally:
                        with self._lock:
                            self._held.pop(device.serial, None)
        except EdgekitError as error:  # busy (--no-wait), lost or unusable while locking
            self._drop(device, error)
        except Exception as error:  # a bug, not a device's answer: the calling thread raises it
            with self._lock:
                self._crash = self._crash or error

    def _release_held(self) -> None:
        from edgekit.device.lock import release_lock

        with self._lock:
            held = list(self._held.values())
        for device, mine in held:
            release_lock(device, mine)

    def _serve(self, device: "Device", work: JobQueue[Job]) -> None:
        remote = RemoteDir(device, self.options.remote_dir, call_timeout_s=self.options.device_timeout_s)
        try:
            bin_pushed = remote.prepare(self.binaries[device.serial], self.tool_sha256[device.serial])
        except EdgekitError as error:
            self._drop(device, error)
            return
        first = True
        while True:
            if not first and self.options.cooldown_s > 0:
                if work.exhausted():
                    break
                # let the SoC cool down; sleeping before taking the next job leaves it to idle devices
                time.sleep(self.options.cooldown_s)
            job = work.take()
            if job is None:
                break
            try:
                record = self._run_and_record(device, remote, job, bin_pushed=bin_pushed and first)
            except DeviceLostError as error:
                work.hand_back(job)
                self._drop(device, error)
                return
            except BaseException:
                work.done(job)  # whatever happened, the job is no longer in flight (or others would wait forever)
                raise
            with self._lock:
                self._finished.add(job)
                self.records.append(record)
            work.done(job)
            first = False
        if self.options.cleanup:
            try:
                remote.cleanup()
            except EdgekitError as error:
                self._drop(device, error)

    def _drop(self, device: "Device", error: EdgekitError) -> None:
        entry = {"serial": device.serial, "error": str(error)}
        with self._lock:
            (self.lost if isinstance(error, DeviceLostError) else self.failed_devices).append(entry)

    def _warn(self, messages: list[str]) -> None:
        for message in messages:
            with self._lock:
                self.warnings.append(message)
            self.notify(f"warning: {message}")

    # -- one job

    def _run_and_record(self, device: "Device", remote: RemoteDir, job: Job, *, bin_pushed: bool) -> BenchRecord:
        target = target_for(device)
        nb = self.nbs[job.source][target]
        settings = job.settings
        started, clock = now_iso(), time.perf_counter()
        run_id = new_run_id()
        timings: dict = {"bin_pushed": bin_pushed}
        state: dict = {}
        outputs: list["ShellResult"] = []
        try:
            timings["nb_pushed"] = remote.push_model(nb)
            timings["push_s"] = time.perf_counter() - clock
            state.update(self._before(device))
            rounds_started = time.perf_counter()
            timings["before_s"] = rounds_started - clock - timings["push_s"]  # cool-down wait, thermal snapshot
            runs = [self._one_round(device, remote, nb, settings, target, job, outputs)
                    for _ in range(settings.rounds)]
            timings["run_s"] = time.perf_counter() - rounds_started  # the binary's runs (shell calls)
            state["after"] = thermal.snapshot(device, self.options.device_timeout_s)
        except DeviceLostError:
            raise
        except EdgekitError as error:
            raw = self._save_raw(run_id, outputs) if outputs else None
            record = self._record(run_id, device, remote, nb, job, started, error=error, timings=timings,
                                  thermal_state=state, raw=raw)
            self.store.append(record)
            with self._lock:
                self.failures.append(Failure(model=job.named(nb.name), device=device.serial, error=error))
            return record
        raw = self._save_raw(run_id, outputs)
        timings["wall_s"] = time.perf_counter() - clock
        where = f"{device.serial} ({job.label})"
        limit = self.options.cooldown_temp_c
        self._warn(thermal.warnings_for(state.get("before"), "before", where, cooldown_temp_c=limit)
                   + thermal.warnings_for(state.get("after"), "after", where, cooldown_temp_c=limit)
                   + _cooldown_warnings(state.get("cooldown"), where))
        record = self._record(run_id, device, remote, nb, job, started, runs=runs, timings=timings,
                              thermal_state=state, raw=raw)
        self.store.append(record)
        return record

    def _before(self, device: "Device") -> dict:
        state: dict = {}
        if self.options.cooldown_temp_c is not None:
            state["cooldown"] = thermal.wait_until_cool(
                device, self.options.cooldown_temp_c, self.options.cooldown_timeout_s,
                self.options.device_timeout_s, on_wait=self.notify)
        state["before"] = thermal.snapshot(device, self.options.device_timeout_s)
        return state

    def _one_round(self, device: "Device", remote: RemoteDir, nb: NbFile, settings: BenchSettings, target: str,
                   job: Job, outputs: list) -> ParsedRun:
        result = remote.run(nb, settings, target, self.options.timeout_s)
        outputs.append(result)
        return parse_run(job.label, device, result, settings)

    def _save_raw(self, run_id: str, outputs: Sequence["ShellResult"]) -> str:
        """Keep what the tool printed (each round's output, in order), so any result can be
        checked against its source; returns the file's path relative to the store's folder."""
        parts = []
        for number, result in enumerate(outputs, start=1):
            head = f"# edgekit: round {number} of {len(outputs)}\n" if len(outputs) > 1 else ""
            parts.append(head + result.stdout + (f"\n--- stderr ---\n{result.stderr}" if result.stderr else ""))
        relative = f"{RAW_OUTPUT_DIR}/{run_id}.txt"
        atomic_write_text(self.store.path.parent / relative, "\n".join(parts))
        return relative

    def _record(self, run_id: str, device: "Device", remote: RemoteDir, nb: NbFile, job: Job, started: str, *,
                runs: Optional[list[ParsedRun]] = None, error: Optional[EdgekitError] = None, timings: dict,
                thermal_state: dict, raw: Optional[str]) -> BenchRecord:
        info = {**device.info.to_dict(), "kind": kind_of(device)}
        extra: dict = {"timings": timings, "remote_dir": self.options.remote_dir, "thermal": thermal_state}
        if raw is not None:  # only a file that was written
            extra["raw_output"] = raw
        if info.get("virtual"):
            extra["note"] = "virtual device: the latency is the host's, not a phone's"
        elif info["kind"] != "phone":
            extra["note"] = (f"not an ARM Android device (ABI {info.get('abi') or '?'}): not a phone's latency, "
                             f"not compared with the seed's figures")
        binary = self.binaries[device.serial]
        first = runs[0] if runs else None
        return BenchRecord(
            run_id=run_id,
            status=OK if runs else FAILED,
            source="bench",
            model=nb.name,
            precision=nb.precision,
            target=nb.target or target_for(device),
            nb={**nb.to_dict(), "remote_path": remote.model_path(nb)},
            device=info,
            settings=job.settings.to_dict(),
            tool={"name": binary.name, "path": str(binary), "remote_path": remote.binary,
                  "version": first.tool_version if first else None, "sha256": self.tool_sha256[device.serial],
                  "generation": first.generation if first else None},
            latency=combine_rounds(runs).to_dict() if runs else None,
            memory_mb=combine_memory(runs) if runs else None,
            started=started,
            finished=now_iso(),
            error=f"{type(error).__name__}: {error}" if error is not None else None,
            extra=extra,
        )


def _cooldown_warnings(cooldown: Optional[dict], where: str) -> list[str]:
    if not cooldown or cooldown.get("reached") is not False:
        return []
    return [f"{where}: still {cooldown['hottest_c']:.1f} °C after waiting {cooldown['waited_s']:.0f} s for "
            f"{cooldown['limit_c']:g} °C (--cooldown-timeout); it ran anyway"]


def parse_run(label: str, device: "Device", result: "ShellResult", settings: BenchSettings) -> ParsedRun:
    if result.returncode != 0:
        raise BenchmarkError(f"benchmark binary exited with status {result.returncode} on {device.serial} "
                             f"for {label}: {quote_failure(result.stderr + result.stdout)}")
    parsed = parse_single(result.stdout)
    check_conditions(parsed, settings, label)
    return parsed


def check_conditions(parsed: ParsedRun, settings: BenchSettings, label: str) -> None:
    """The tool reports its settings: a mismatch means it ignored a flag (e.g. an older binary)."""
    wanted = settings.to_dict()
    for key in ("warmup", "repeats", "threads", "power_mode"):
        if key in parsed.settings and parsed.settings[key] != wanted[key]:
            raise BenchmarkError(f"{label}: the benchmark binary ran with {key}={parsed.settings[key]} although "
                                 f"{key}={wanted[key]} was asked; it does not take the current tool's flags")
    shape = parsed.settings.get("input_shape")
    if not shape:
        return
    try:
        ran_with = normalize_shape(shape)
    except UsageError:  # the tool's output, not the user's input, is wrong
        raise BenchmarkError(f"{label}: the benchmark binary reports input_shape {shape!r}, which is not a "
                             f"shape") from None
    if ran_with != settings.input_shape:
        raise BenchmarkError(f"{label}: the benchmark binary ran with input_shape {shape}, "
                             f"not {settings.input_shape}")
