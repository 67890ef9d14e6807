"""``edgekit bench``: run Paddle Lite's benchmark binary on devices over adb and store the results.

Order of work: check the options and the model names (nothing touches a device before), pick
the devices (``devices``), settle the settings (``settings``: the seed's conditions and the
profile's ``bench_defaults`` overridden by what the caller gives; one per ``--threads`` count),
choose and check each device's benchmark binary, take every device's lock at once with
``--no-wait``, convert every model for the opt target the devices' ABI implies (``sources``; all
before the first run, so that opt does not compete with a measurement on the same host), drop
what ``--resume`` finds done (same model, ``.nb`` and binary bytes, settings, kind of device),
then one worker per device runs the jobs (``session``). Whatever no device could run is reported
as unfinished, and ``--resume`` finishes it later.

Modules, in the one direction they import: settings → results/parse → outcome → sources, devices
→ jobs, remote, rounds, thermal → session → runner; console formats an outcome.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

from edgekit.bench.console import format_outcome
from edgekit.bench.devices import benchmark_bin, kind_of, load_device_profile, pick_devices, target_for
from edgekit.bench.jobs import Job
from edgekit.bench.outcome import BenchOutcome, Failure
from edgekit.bench.results import ResultStore, settings_key
from edgekit.bench.session import Notify, Session, device_locked
from edgekit.bench.settings import BenchOptions, BenchSettings, default_input_shape
from edgekit.bench.sources import NbFile, check_sources, prepare, unique
from edgekit.errors import UsageError
from edgekit.workspace import Workspace, sha256_file

if TYPE_CHECKING:
    from edgekit.description import DescriptionOverrides
    from edgekit.device import Device

__all__ = ["BenchOptions", "BenchOutcome", "BenchSettings", "Failure", "bench_models", "format_outcome"]


def bench_models(models: Sequence[str], workspace: Workspace, *, profile: Optional[str] = None,
                 serial: Optional[str] = None, adb_servers: Sequence[str] = (),
                 devices_file: Optional[Path] = None, settings: Optional[Mapping[str, Any]] = None,
                 options: BenchOptions = BenchOptions(), notify: Notify = lambda message: None,
                 description: Optional["DescriptionOverrides"] = None) -> BenchOutcome:
    """Benchmark ``models`` (zoo names, ``<zoo name>_int8``, model folders or ``.nb`` files) on the
    devices matching ``profile``/``serial`` and append every run to the workspace's results store.

    ``settings`` overrides the profile's bench_defaults (warmup, repeats, threads — an int or a
    list for a sweep —, power_mode, input_shape, rounds, memory_profile). ``notify`` receives what
    a user should see while it runs (waiting for a busy or hot device, thermal warnings). Failed
    runs are stored and reported in the outcome; ``outcome.raise_for_failures()`` makes one error.
    ``description``: the description flags (--config, --input-size, ...) for the models converted.
    """
    if not models:
        raise UsageError("name at least one model to benchmark (or use --all)")
    options = options.checked()  # before any device work: a bad --remote-dir must touch nothing
    overrides = dict(settings or {})
    names = unique(models)
    check_sources(names)
    BenchSettings.resolve_sweep(None, **overrides)  # the caller's settings, checked before any device work
    devices = pick_devices(names, profile, serial, adb_servers, devices_file,
                           device_timeout_s=options.device_timeout_s)
    device_profile = load_device_profile(profile or devices[0].info.profile)
    sweep = BenchSettings.resolve_sweep(device_profile.bench_defaults if device_profile else None, **overrides)
    binaries = {d.serial: benchmark_bin(d, options.benchmark_bin, workspace) for d in devices}
    store = ResultStore.for_workspace(workspace)
    with contextlib.ExitStack() as held:
        if not options.wait:  # --no-wait: a busy device stops everything before any conversion
            for device in devices:
                held.enter_context(device_locked(device, options, notify))
        user_shape = overrides.get("input_shape")
        nbs, failures = prepare(names, workspace, {target_for(d) for d in devices}, overrides=description,
                                input_shape=[int(d) for d in sweep[0].input_shape.split(",")] if user_shape else None)
        jobs = _jobs([n for n in names if n in nbs], nbs, sweep, user_shape=overrides.get("input_shape"))
        todo, skipped = _split_resume(jobs, nbs, store, device_profile.name if device_profile else None,
                                      devices, binaries, options.resume)
        session = Session(store, options, nbs, binaries, notify=notify)
        if todo:
            session.run(todo, devices, locked=not options.wait)
    return BenchOutcome(records=tuple(session.records), skipped=tuple(j.label for j in skipped),
                        unfinished=tuple(j.label for j in session.unfinished(todo)),
                        failures=tuple(failures + session.failures), lost_devices=tuple(session.lost),
                        settings=sweep[0], store=store.path, failed_devices=tuple(session.failed_devices),
                        threads=tuple(s.threads for s in sweep), warnings=tuple(session.warnings))


def _jobs(names: list[str], nbs: dict[str, dict[str, NbFile]], sweep: list[BenchSettings], *,
          user_shape: Optional[str]) -> list[Job]:
    """One job per model and thread count, model after model (its thread counts one after the other)."""
    jobs = []
    for name in names:
        described = next(iter(nbs[name].values())).input_shape
        shape = None if user_shape else default_input_shape(described)
        for settings in sweep:
            if shape is not None:
                settings = dataclasses.replace(settings, input_shape=shape)
            jobs.append(Job(name, settings, sweep=len(sweep) > 1))
    return jobs


def _split_resume(jobs: list[Job], nbs: dict[str, dict[str, NbFile]], store: ResultStore, profile: Optional[str],
                  devices: Sequence["Device"], binaries: dict[str, Path], resume: bool) -> tuple[list[Job], list[Job]]:
    """(to run, already done): a job is done when the store has a successful run of the same .nb
    (sha256) with the same binary (sha256) and settings on this profile, for every device of this
    run (its kind and target), so a virtual sd855's result never stands in for a phone's, nor the
    default preset's int8 model for the full preset's."""
    if not resume:
        return list(jobs), []
    done = store.completed()
    tool_sha = {serial: sha256_file(path) for serial, path in binaries.items()}

    def is_done(job: Job) -> bool:
        key = settings_key(job.settings.to_dict())
        for device in devices:
            nb = nbs[job.source][target_for(device)]
            if (nb.name, nb.precision, profile, kind_of(device), key, nb.target or target_for(device), nb.sha256,
                    tool_sha[device.serial]) not in done:
                return False
        return True

    skipped = [job for job in jobs if is_done(job)]
    return [job for job in jobs if job not in skipped], skipped
