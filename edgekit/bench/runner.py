"""``edgekit bench``: run Paddle Lite's benchmark binary on devices over adb and store the results.

Order of work: check the options and the model names (nothing touches a device before), pick
the devices (``edgekit.device.select_devices``), settle the settings (the seed's conditions and
the profile's ``bench_defaults`` overridden by what the caller gives), drop what ``--resume`` finds
done, convert every model for the opt target the devices' ABI implies (all before the first run,
so that opt does not compete with a measurement on the same host; a ready ``.nb`` must be for that
target), then one worker thread per device takes models from a shared queue: push the binary and
the ``.nb`` (skipped when the device already holds the same bytes), run, parse, append the record.
Any error of a run is a failed run; a device that disappears puts its model back for the other
workers, and one that cannot be set up leaves the models to them; whatever no device could run is
reported as unfinished, and ``--resume`` finishes it later.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import threading
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

from edgekit.bench import DEFAULT_TIMEOUT_S, DEVICE_TMP, REMOTE_ROOT
from edgekit.bench.parse import ParsedRun, parse_single, quote_start
from edgekit.bench.results import FAILED, OK, BenchRecord, ResultStore, new_run_id, now_iso, settings_key
from edgekit.errors import (BenchmarkError, DeviceError, DeviceLostError, DeviceNotFoundError, EdgekitError,
                            InvalidInputError, MissingDependencyError, UsageError)
from edgekit.workspace import Workspace, atomic_write_text, read_manifest, sha256_file

if TYPE_CHECKING:
    from edgekit.device import Device, DeviceProfile, ShellResult

BENCHMARK_BIN_ENV = "EDGEKIT_BENCHMARK_BIN"
REMOTE_BIN = "benchmark_bin"
RAW_OUTPUT_DIR = "raw"
# opt target (and the benchmark tool's --backend) for each Android ABI.
TARGET_FOR_ABI = {"arm64-v8a": "arm", "armeabi-v7a": "arm", "armeabi": "arm", "x86_64": "x86", "x86": "x86"}
ANDROID_BUILD_HINT = ("the benchmark_bin Paddle Lite builds for Android armv8: "
                      "./lite/tools/build_android.sh --arch=armv8 --with_benchmark=ON full_publish, then "
                      "build.lite.android.armv8.*/lite/api/tools/benchmark/benchmark_bin")


# ---------------------------------------------------------------------------------- settings


@dataclasses.dataclass(frozen=True)
class BenchSettings:
    """What is measured: Paddle Lite benchmark_bin's own flags."""

    warmup: int
    repeats: int
    threads: int
    power_mode: int
    input_shape: str  # "1,3,224,224", as --input_shape takes it
    memory_profile: bool = False  # --enable_memory_profile: the tool samples peak memory in a thread

    @classmethod
    def resolve(cls, defaults: Optional[Mapping[str, Any]] = None, **overrides: Any) -> "BenchSettings":
        """The seed's conditions (devices.yaml) ← a profile's bench_defaults ← the non-None ``overrides``."""
        from edgekit.device.profiles import seed_conditions

        known = {f.name for f in dataclasses.fields(cls)}
        merged = {**seed_conditions(), **{k: v for k, v in (defaults or {}).items() if k in known}}
        merged.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(merged) - known
        if unknown:
            raise UsageError(f"unknown benchmark setting(s): {', '.join(sorted(unknown))}")
        settings = cls(warmup=int(merged["warmup"]), repeats=int(merged["repeats"]),
                       threads=int(merged["threads"]), power_mode=int(merged["power_mode"]),
                       input_shape=_normalize_shape(merged["input_shape"]),
                       memory_profile=bool(merged.get("memory_profile", False)))
        settings.check()
        return settings

    def check(self) -> None:
        if self.warmup < 0:
            raise UsageError(f"--warmup must be 0 or more (got {self.warmup})")
        if self.repeats < 1:
            raise UsageError(f"--repeats must be 1 or more (got {self.repeats})")
        if self.threads < 1:
            raise UsageError(f"--threads must be 1 or more (got {self.threads})")
        if not 0 <= self.power_mode <= 5:
            raise UsageError(f"--power-mode must be 0..5, Paddle Lite's PowerMode (got {self.power_mode})")

    def to_dict(self) -> dict:
        """The stored settings; memory_profile only when on, so plain runs keep the seed's keys."""
        data = dataclasses.asdict(self)
        if not self.memory_profile:
            del data["memory_profile"]
        return data

    def flags(self) -> list[str]:
        flags = [f"--input_shape={self.input_shape}", f"--warmup={self.warmup}", f"--repeats={self.repeats}",
                 f"--threads={self.threads}", f"--power_mode={self.power_mode}"]
        return flags + (["--enable_memory_profile=true"] if self.memory_profile else [])


def _normalize_shape(shape: Any) -> str:
    parts = shape if isinstance(shape, (list, tuple)) else str(shape).replace("x", ",").split(",")
    try:
        dims = [int(str(p).strip()) for p in parts if str(p).strip()]
    except ValueError:
        raise UsageError(f"input shape {shape!r} is not a list of integers like 1,3,224,224") from None
    if not dims or any(d < 1 for d in dims):
        raise UsageError(f"input shape {shape!r} must be positive integers like 1,3,224,224")
    return ",".join(str(d) for d in dims)


@dataclasses.dataclass(frozen=True)
class BenchOptions:
    """How edgekit runs the benchmark (not part of what is measured)."""

    benchmark_bin: Optional[Path] = None
    timeout_s: Optional[float] = DEFAULT_TIMEOUT_S  # per run; None: no limit
    cooldown_s: float = 0.0  # sleep between two runs on one device
    resume: bool = False
    cleanup: bool = False
    remote_dir: str = REMOTE_ROOT

    def checked(self) -> "BenchOptions":
        """These options with the work folder normalized; UsageError for values that cannot be."""
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise UsageError(f"--timeout must be more than 0 seconds (got {self.timeout_s:g}; 0 on the "
                             f"command line means no limit)")
        if self.cooldown_s < 0:
            raise UsageError(f"--cooldown must be 0 or more seconds (got {self.cooldown_s:g})")
        return dataclasses.replace(self, remote_dir=remote_work_dir(self.remote_dir))


def remote_work_dir(text: str) -> str:
    """The device work folder, normalized: an absolute folder below /data/local/tmp without
    ``..`` (``--cleanup`` removes it with ``rm -rf``, so it must never be anything else)."""
    if not text.startswith("/"):
        raise UsageError(f"--remote-dir {text!r} must be an absolute path below {DEVICE_TMP}/")
    if any(ord(ch) < 32 for ch in text):
        raise UsageError(f"--remote-dir {text!r} must not contain control characters")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UsageError(f"--remote-dir {text!r} must not contain '..'")
    normal = "/" + "/".join(parts)
    if not normal.startswith(DEVICE_TMP + "/"):
        raise UsageError(f"--remote-dir {text!r} must be a folder below {DEVICE_TMP}/, where adb's shell "
                         f"may write and run programs on every phone")
    return normal


# ------------------------------------------------------------------------------------ result


@dataclasses.dataclass(frozen=True)
class NbFile:
    """The .nb that a run pushes: a converted model of the workspace, or a file the user gave."""

    name: str
    path: Path
    bytes: int
    sha256: str
    target: Optional[str]
    precision: str  # "int8" or "fp32"

    def to_dict(self) -> dict:
        return {"path": str(self.path), "bytes": self.bytes, "sha256": self.sha256}


@dataclasses.dataclass(frozen=True)
class Failure:
    model: str
    device: Optional[str]  # serial
    error: EdgekitError

    def to_dict(self) -> dict:
        return {"model": self.model, "device": self.device, "error": str(self.error),
                "kind": type(self.error).__name__}


@dataclasses.dataclass(frozen=True)
class BenchOutcome:
    records: tuple[BenchRecord, ...]  # this invocation's runs, successful and failed, in the order they ended
    skipped: tuple[str, ...]  # models --resume found done
    unfinished: tuple[str, ...]  # models no device could run (the devices disappeared or failed)
    failures: tuple[Failure, ...]  # runs (or conversions) that failed
    lost_devices: tuple[dict, ...]  # {"serial", "error"} of devices that disappeared
    settings: BenchSettings
    store: Path
    failed_devices: tuple[dict, ...] = ()  # {"serial", "error"} of devices still there that could not be used

    @property
    def ok(self) -> bool:
        return not self.failures and not self.unfinished

    def to_dict(self) -> dict:
        return {"results": [r.to_dict() for r in self.records], "skipped": list(self.skipped),
                "unfinished": list(self.unfinished), "failures": [f.to_dict() for f in self.failures],
                "lost_devices": list(self.lost_devices), "failed_devices": list(self.failed_devices),
                "settings": self.settings.to_dict(), "store": str(self.store)}

    def raise_for_failures(self) -> None:
        """One error that sums up what went wrong, or nothing when every model ran."""
        if self.unfinished:
            dropped = "; ".join(f"{d['serial']}: {d['error']}" for d in (*self.lost_devices, *self.failed_devices))
            kind, what = ((DeviceLostError, "device lost") if self.lost_devices else
                          (DeviceError, "no device could run them"))
            failed = f"; {len(self.failures)} run(s) failed" if self.failures else ""
            raise kind(
                f"{what} ({dropped or 'no device left'}); not run: {', '.join(self.unfinished)}{failed}; the "
                f"{len(self.records)} result(s) so far are kept in {self.store}; run the same command with "
                f"--resume to finish")
        if self.failures:
            parts = "; ".join(f"{f.model} on {f.device or 'host'}: {f.error}" for f in self.failures)
            kind = _plain_error_class(self.failures[0].error)
            raise kind(f"{len(self.failures)} of {len(self.failures) + self._successes()} run(s) failed: {parts}")

    def _successes(self) -> int:
        return sum(1 for r in self.records if r.ok)


def _plain_error_class(error: EdgekitError) -> type:
    """The nearest class of ``error`` that takes a plain message (UnknownModelError does not)."""
    for cls in type(error).__mro__:
        if issubclass(cls, EdgekitError) and "__init__" not in vars(cls):
            return cls
    return EdgekitError


# ----------------------------------------------------------------------------- entry point


def bench_models(models: Sequence[str], workspace: Workspace, *, profile: Optional[str] = None,
                 serial: Optional[str] = None, adb_servers: Sequence[str] = (),
                 devices_file: Optional[Path] = None, settings: Optional[Mapping[str, Any]] = None,
                 options: BenchOptions = BenchOptions()) -> BenchOutcome:
    """Benchmark ``models`` (zoo names, ``<zoo name>_int8``, model folders or ``.nb`` files) on the
    devices matching ``profile``/``serial`` and append every run to the workspace's results store.

    ``settings`` overrides the profile's bench_defaults (warmup, repeats, threads, power_mode,
    input_shape). Failed runs are stored and reported in the outcome; call
    ``outcome.raise_for_failures()`` to turn them into one error.
    """
    if not models:
        raise UsageError("name at least one model to benchmark (or use --all)")
    options = options.checked()  # before any device work: a bad --remote-dir must touch nothing
    names = _unique(models)
    _check_sources(names)
    devices = _pick_devices(names, profile, serial, adb_servers, devices_file)
    device_profile = _load_device_profile(profile or devices[0].info.profile)
    chosen = BenchSettings.resolve(device_profile.bench_defaults if device_profile else None, **(settings or {}))
    store = ResultStore.for_workspace(workspace)
    profile_name = device_profile.name if device_profile else None
    kinds = {(d.info.virtual, _target_for(d)) for d in devices}
    todo, skipped = _split_resume(names, store, profile_name, chosen, kinds, options.resume)
    if not todo:
        return BenchOutcome((), tuple(skipped), (), (), (), chosen, store.path)
    binaries = {d.serial: _benchmark_bin(d, options, workspace) for d in devices}
    nbs, failures = _prepare(todo, workspace, {target for _, target in kinds})
    jobs = [name for name in todo if name in nbs]
    session = _Session(workspace, store, chosen, options, nbs, binaries)
    session.run(jobs, devices)
    return BenchOutcome(records=tuple(session.records), skipped=tuple(skipped),
                        unfinished=tuple(session.unfinished(jobs)), failures=tuple(failures + session.failures),
                        lost_devices=tuple(session.lost), settings=chosen, store=store.path,
                        failed_devices=tuple(session.failed_devices))


def _unique(models: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for name in models:
        seen.setdefault(str(name), None)
    return list(seen)


def _pick_devices(names: list[str], profile: Optional[str], serial: Optional[str], adb_servers: Sequence[str],
                  devices_file: Optional[Path]) -> list["Device"]:
    from edgekit.device import select_devices

    if profile is None and serial is None and not os.environ.get("ANDROID_SERIAL"):
        raise UsageError("choose the device: --device PROFILE (e.g. sd855) or --serial SERIAL")
    devices = select_devices(profile=profile, serial=serial, adb_servers=adb_servers, devices_file=devices_file)
    if len(devices) > 1 and len(names) == 1:
        listed = ", ".join(f"{d.serial} ({d.info.model})" for d in devices)
        raise DeviceNotFoundError(f"{len(devices)} devices match ({listed}); pass --serial to choose one, "
                                  f"or name several models to spread them over the devices")
    return devices


def _load_device_profile(name: Optional[str]) -> Optional["DeviceProfile"]:
    if not name:
        return None
    from edgekit.device.profiles import load_profile

    return load_profile(name)


def _split_resume(names: list[str], store: ResultStore, profile: Optional[str], settings: BenchSettings,
                  kinds: set[tuple[bool, str]], resume: bool) -> tuple[list[str], list[str]]:
    """(to run, already done): a model is done when the store has a successful run of it with
    these settings on this profile for every kind of device in this run (virtual or not, and
    the .nb target), so a virtual sd855's result never stands in for a phone's."""
    if not resume:
        return names, []
    done = store.completed()
    key = settings_key(settings.to_dict())

    def is_done(source: str) -> bool:
        model, precision = _record_identity(source)
        return all((model, precision, profile, key, virtual, target) in done for virtual, target in kinds)

    skipped = [n for n in names if is_done(n)]
    return [n for n in names if n not in skipped], skipped


def _record_identity(source: str) -> tuple[str, str]:
    """(model name, precision) that a run of ``source`` is stored under."""
    from edgekit.nb_info import describe_nb, precision_name

    path = Path(source).expanduser()
    if path.suffix == ".nb" and path.is_file():
        info = describe_nb(path)
        return info.name, info.precision
    name = source
    if path.exists():
        folder = path if path.is_dir() else path.parent
        manifest = read_manifest(folder)
        name = manifest.model if manifest else folder.resolve().name
    return name, precision_name(name)


def _target_for(device: "Device") -> str:
    target = TARGET_FOR_ABI.get(device.info.abi)
    if target is None:
        raise DeviceError(f"device {device.serial} reports ABI {device.info.abi!r}, for which edgekit knows "
                          f"no Paddle Lite target (known: {', '.join(sorted(TARGET_FOR_ABI))})")
    return target


def _benchmark_bin(device: "Device", options: BenchOptions, workspace: Workspace) -> Path:
    """--benchmark-bin, else $EDGEKIT_BENCHMARK_BIN, else the virtual device's host runner."""
    given = options.benchmark_bin or os.environ.get(BENCHMARK_BIN_ENV)
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise InvalidInputError(f"benchmark binary {path} does not exist")
        return path
    if device.info.virtual:
        from edgekit.device.emulator import host_benchmark_bin

        return host_benchmark_bin(workspace.cache_dir / "bench" / REMOTE_BIN)
    raise MissingDependencyError(f"no benchmark binary for {device.serial} ({device.info.model}): pass "
                                 f"--benchmark-bin or set {BENCHMARK_BIN_ENV} to {ANDROID_BUILD_HINT}")


def _check_sources(names: list[str]) -> None:
    """Stop on a wrong name or path before anything is converted or run."""
    from edgekit.reference import find_reference, split_int8

    for name in names:
        path = Path(name).expanduser()
        if path.exists():
            continue
        if "/" in name or name.endswith((".nb", ".pdmodel")):
            raise InvalidInputError(f"model file or folder {name} does not exist")
        base, _ = split_int8(name)
        if find_reference(base) is None:  # the seed's names need no registry (which imports paddle)
            from edgekit import zoo

            zoo.model_entry(base)  # UnknownModelError naming close matches


def _prepare(names: list[str], workspace: Workspace, targets: set[str]) -> tuple[dict, list[Failure]]:
    """{model: {target: NbFile}} for every model that converts; a failure for each that does not."""
    from edgekit.errors import ToolError

    prepared: dict[str, dict[str, NbFile]] = {}
    failures: list[Failure] = []
    for name in names:
        try:
            prepared[name] = {target: _nb_for(name, workspace, target) for target in sorted(targets)}
        except ToolError as error:  # opt or PaddleSlim failed on this model: the others still run
            failures.append(Failure(model=name, device=None, error=error))
    return prepared, failures


def _nb_for(source: str, workspace: Workspace, target: str) -> NbFile:
    from edgekit.nb_info import describe_nb, precision_name

    path = Path(source).expanduser()
    if path.suffix == ".nb" and path.is_file():
        # a ready .nb runs as it is, if it was made for the devices' target
        info = describe_nb(path)
        if info.target is not None and info.target != target:
            raise InvalidInputError(
                f"{path} was converted for {info.target}, but the device(s) of this run need {target} .nb "
                f"files; convert it with 'edgekit convert MODEL --target {target}', or name the model "
                f"and bench converts it")
        return NbFile(name=info.name, path=path.resolve(), bytes=path.stat().st_size, sha256=sha256_file(path),
                      target=info.target, precision=info.precision)
    from edgekit.convert import convert_model

    lite = convert_model(source, workspace, target=target)
    return NbFile(name=lite.name, path=lite.nb_path, bytes=lite.bytes, sha256=lite.sha256, target=lite.target,
                  precision=precision_name(lite.name, lite.quantized))


# ---------------------------------------------------------------------------------- running


class _Session:
    """The runs of one ``bench`` call: one worker thread per device, a shared queue of models.

    Every error a run can raise ends as a failed run of that model, except DeviceLostError,
    which drops the device and hands its model back to the others; a device that cannot be set
    up is dropped the same way. A bug in a worker stops only that worker and is raised again in
    the calling thread once the others are done."""

    def __init__(self, workspace: Workspace, store: ResultStore, settings: BenchSettings, options: BenchOptions,
                 nbs: dict[str, dict[str, NbFile]], binaries: dict[str, Path]):
        self.workspace = workspace
        self.store = store
        self.settings = settings
        self.options = options
        self.nbs = nbs
        self.binaries = binaries
        self.tool_sha256 = {serial: sha256_file(path) for serial, path in binaries.items()}
        self.records: list[BenchRecord] = []
        self.failures: list[Failure] = []
        self.lost: list[dict] = []
        self.failed_devices: list[dict] = []
        self._done: set[str] = set()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._crash: Optional[BaseException] = None

    # -- scheduling

    def run(self, jobs: list[str], devices: Sequence["Device"]) -> None:
        work: "queue.Queue[str]" = queue.Queue()
        for job in jobs:
            work.put(job)
        workers = [threading.Thread(target=self._worker, args=(device, work), name=f"bench-{device.serial}",
                                    daemon=True) for device in devices]
        for worker in workers:
            worker.start()
        for worker in workers:
            while worker.is_alive():
                worker.join(0.2)  # short joins keep Ctrl-C deliverable to the main thread
        if self._crash is not None:
            raise self._crash

    def unfinished(self, jobs: list[str]) -> list[str]:
        return [job for job in jobs if job not in self._done]

    def _take(self, work: "queue.Queue[str]") -> Optional[str]:
        """The next model, or None when none is left and no other worker could hand one back."""
        while True:
            try:
                job = work.get_nowait()
            except queue.Empty:
                if self._nothing_left(work):
                    return None
                time.sleep(0.05)  # a model in flight on another device may come back
                continue
            with self._lock:
                self._in_flight += 1
            return job

    def _nothing_left(self, work: "queue.Queue[str]") -> bool:
        with self._lock:
            return self._in_flight == 0 and work.empty()

    def _release(self, job: str, work: Optional["queue.Queue[str]"] = None) -> None:
        with self._lock:
            if work is not None:
                work.put(job)  # back for another device
            else:
                self._done.add(job)
            self._in_flight -= 1

    def _worker(self, device: "Device", work: "queue.Queue[str]") -> None:
        try:
            self._serve(device, work)
        except Exception as error:  # a bug, not a device's answer: the calling thread raises it
            with self._lock:
                self._crash = self._crash or error

    def _serve(self, device: "Device", work: "queue.Queue[str]") -> None:
        remote = RemoteDir(device, self.options.remote_dir)
        try:
            bin_pushed = remote.prepare(self.binaries[device.serial])
        except EdgekitError as error:
            self._drop(device, error)
            return
        first = True
        while True:
            if not first and self.options.cooldown_s > 0:
                if self._nothing_left(work):
                    break
                # let the SoC cool down; sleeping before taking the next model leaves it to idle devices
                time.sleep(self.options.cooldown_s)
            job = self._take(work)
            if job is None:
                break
            hand_back = False
            try:
                record = self._run_and_record(device, remote, job, bin_pushed=bin_pushed and first)
            except DeviceLostError as error:
                hand_back = True
                self._drop(device, error)
                return
            finally:  # whatever happened, the job is no longer in flight (or other workers would wait forever)
                self._release(job, work if hand_back else None)
            first = False
            with self._lock:
                self.records.append(record)
        if self.options.cleanup:
            try:
                remote.remove()
            except EdgekitError as error:
                self._drop(device, error)

    def _drop(self, device: "Device", error: EdgekitError) -> None:
        entry = {"serial": device.serial, "error": str(error)}
        with self._lock:
            (self.lost if isinstance(error, DeviceLostError) else self.failed_devices).append(entry)

    # -- one run

    def _run_and_record(self, device: "Device", remote: "RemoteDir", job: str, *, bin_pushed: bool) -> BenchRecord:
        nb = self.nbs[job][_target_for(device)]
        started, clock = now_iso(), time.perf_counter()
        run_id = new_run_id()
        timings: dict = {"bin_pushed": bin_pushed}
        try:
            timings["nb_pushed"] = remote.push_model(nb)
            timings["push_s"] = time.perf_counter() - clock
            result = remote.run(nb, self.settings, _target_for(device), self.options.timeout_s)
            timings["run_s"] = time.perf_counter() - clock - timings["push_s"]
            self._save_raw(run_id, result)
            parsed = _parse_run(job, device, result, self.settings)
        except DeviceLostError:
            raise
        except EdgekitError as error:
            record = self._record(run_id, device, nb, started, error=error, timings=timings)
            self.store.append(record)
            with self._lock:
                self.failures.append(Failure(model=nb.name, device=device.serial, error=error))
            return record
        timings["wall_s"] = time.perf_counter() - clock
        record = self._record(run_id, device, nb, started, parsed=parsed, timings=timings)
        self.store.append(record)
        return record

    def _save_raw(self, run_id: str, result: "ShellResult") -> None:
        """Keep what the tool printed, so any result can be checked against its source."""
        text = result.stdout + (f"\n--- stderr ---\n{result.stderr}" if result.stderr else "")
        atomic_write_text(self.store.path.parent / RAW_OUTPUT_DIR / f"{run_id}.txt", text)

    def _record(self, run_id: str, device: "Device", nb: NbFile, started: str, *, parsed: Optional[ParsedRun] = None,
                error: Optional[EdgekitError] = None, timings: dict) -> BenchRecord:
        info = device.info.to_dict()
        extra = {"timings": timings, "raw_output": f"{RAW_OUTPUT_DIR}/{run_id}.txt",
                 "remote_dir": self.options.remote_dir}
        if info.get("virtual"):
            extra["note"] = "virtual device: the latency is the host's, not a phone's"
        return BenchRecord(
            run_id=run_id,
            status=OK if parsed is not None else FAILED,
            source="bench",
            model=nb.name,
            precision=nb.precision,
            target=nb.target or _target_for(device),
            nb=nb.to_dict(),
            device=info,
            settings=self.settings.to_dict(),
            tool={"name": self.binaries[device.serial].name, "path": str(self.binaries[device.serial]),
                  "version": parsed.tool_version if parsed else None,
                  "sha256": self.tool_sha256[device.serial], "generation": parsed.generation if parsed else None},
            latency=parsed.latency.to_dict() if parsed else None,
            memory_mb=parsed.memory_mb if parsed else None,
            started=started,
            finished=now_iso(),
            error=f"{type(error).__name__}: {error}" if error is not None else None,
            extra=extra,
        )


def _parse_run(job: str, device: "Device", result: "ShellResult", settings: BenchSettings) -> ParsedRun:
    if result.returncode != 0:
        raise BenchmarkError(f"benchmark binary exited with status {result.returncode} on {device.serial} "
                             f"for {job}: {quote_start(result.stderr + result.stdout)}")
    parsed = parse_single(result.stdout)
    _check_conditions(parsed, settings, job)
    return parsed


def _check_conditions(parsed: ParsedRun, settings: BenchSettings, job: str) -> None:
    """The tool reports its settings: a mismatch means it ignored a flag (e.g. an older binary)."""
    wanted = settings.to_dict()
    for key in ("warmup", "repeats", "threads", "power_mode"):
        if key in parsed.settings and parsed.settings[key] != wanted[key]:
            raise BenchmarkError(f"{job}: the benchmark binary ran with {key}={parsed.settings[key]} although "
                                 f"{key}={wanted[key]} was asked; it does not take the current tool's flags")
    shape = parsed.settings.get("input_shape")
    if not shape:
        return
    try:
        ran_with = _normalize_shape(shape)
    except UsageError:  # the tool's output, not the user's input, is wrong
        raise BenchmarkError(f"{job}: the benchmark binary reports input_shape {shape!r}, which is not a "
                             f"shape") from None
    if ran_with != settings.input_shape:
        raise BenchmarkError(f"{job}: the benchmark binary ran with input_shape {shape}, "
                             f"not {settings.input_shape}")


class RemoteDir:
    """edgekit's work folder on a device: ``<root>/benchmark_bin`` and ``<root>/models/<name>.nb``."""

    def __init__(self, device: "Device", root: str = REMOTE_ROOT):
        self.device = device
        self.root = PurePosixPath(remote_work_dir(root))

    @property
    def binary(self) -> str:
        return str(self.root / REMOTE_BIN)

    def model_path(self, nb: NbFile) -> str:
        return str(self.root / "models" / f"{nb.name}.nb")

    def prepare(self, binary: Path) -> bool:
        """Create the folders and push the binary; False when the device already had it."""
        _check_shell(self.device.shell(["mkdir", "-p", str(self.root / "models")]), "mkdir -p", self.device)
        return self.device.push(binary, self.binary)

    def push_model(self, nb: NbFile) -> bool:
        return self.device.push(nb.path, self.model_path(nb))

    def command(self, nb: NbFile, settings: BenchSettings, backend: str) -> list[str]:
        """benchmark_bin's argument vector; the device layer quotes each argument."""
        return [self.binary, f"--optimized_model_file={self.model_path(nb)}", *settings.flags(),
                f"--backend={backend}"]

    def run(self, nb: NbFile, settings: BenchSettings, backend: str, timeout_s: Optional[float]) -> "ShellResult":
        return self.device.shell(self.command(nb, settings, backend), timeout=timeout_s)

    def remove(self) -> None:
        self.device.remove(str(self.root), recursive=True)


def _check_shell(result: "ShellResult", what: str, device: "Device") -> None:
    if result.returncode != 0:
        raise DeviceError(f"{what} failed on {device.serial} (status {result.returncode}): "
                          f"{quote_start(result.stderr + result.stdout, 200)}")



# --------------------------------------------------------------------------------- printing


def format_outcome(outcome: BenchOutcome) -> str:
    """The console view of a bench call: one line per run, then what was skipped or lost."""
    from edgekit._table import format_table

    rows = []
    for r in outcome.records:
        latency = r.latency or {}
        rows.append([r.model, r.device.get("serial"), r.profile or "-", _virtual_mark(r),
                     latency.get("avg_ms"), latency.get("min_ms"), latency.get("max_ms"),
                     (r.nb or {}).get("bytes"), r.status if r.ok else f"failed ({_error_kind(r.error)})"])
    headers = ("model", "device", "profile", "kind", "avg_ms", "min_ms", "max_ms", "nb_bytes", "status")
    lines = [format_table(headers, rows, digits=3)] if rows else ["no runs"]
    s = outcome.settings
    lines.append(f"settings: warmup {s.warmup}, repeats {s.repeats}, threads {s.threads}, "
                 f"power_mode {s.power_mode}, input {s.input_shape}; results in {outcome.store}")
    if any(r.virtual for r in outcome.records):
        lines.append("virtual device: latency is the host's (x86 .nb), not a phone's")
    if outcome.skipped:
        lines.append(f"already in the results store (--resume): {', '.join(outcome.skipped)}")
    for lost in outcome.lost_devices:
        lines.append(f"device {lost['serial']} dropped out: {lost['error']}")
    for failed in outcome.failed_devices:
        lines.append(f"device {failed['serial']} could not be used: {failed['error']}")
    return "\n".join(lines)


def _virtual_mark(record: BenchRecord) -> str:
    return "virtual" if record.virtual else "phone"


def _error_kind(error: Optional[str]) -> str:
    """"DeviceTimeoutError" of a stored "DeviceTimeoutError: ..." (the full text follows the table)."""
    return (error or "error").split(":", 1)[0]
