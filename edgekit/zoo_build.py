"""``edgekit zoo build``: export, (quantize,) convert many zoo models in parallel, resumably, and
lay the ``.nb`` sizes beside the Storage Size column of PaddleClas's table.

Finished artifacts are found in the main process first (no paddle import, so a warm rebuild
takes seconds); only models with missing artifacts go to worker processes, one model per task.
Worker processes are spawned, not forked: each imports paddle afresh, and a crash in one model's
tools (opt runs in its own child anyway) cannot take the others down.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import os
import sys
import time
from typing import Iterable, Optional, Sequence

from edgekit import reference
from edgekit.errors import EdgekitError, UsageError
from edgekit.workspace import Workspace

# The seed's "M" is MiB for some rows and 10^6 bytes for others; a size matches within this.
STORAGE_TOLERANCE_PCT = 3.0
INT8_STORAGE_NOTE = ("the 3% storage rule applies to fp32 models; an int8 .nb's size depends on which layers "
                     "the quantization preset keeps in float")
NO_SEED_STORAGE = "the seed table has no storage size for this model"


@dataclasses.dataclass(frozen=True)
class BuildOutcome:
    """What happened to one model: its .nb, or the error that stopped it."""

    model: str
    target: str
    nb_path: Optional[str] = None
    bytes: Optional[int] = None
    reused: bool = False
    seconds: float = 0.0
    error: Optional[str] = None
    random_weights: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> str:
        return "failed" if self.error else ("reused" if self.reused else "built")

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "status": self.status,
                "storage": storage_comparison(self.model, self.bytes) if self.bytes else None}


@dataclasses.dataclass(frozen=True)
class ZooBuildResult:
    target: str
    outcomes: tuple[BuildOutcome, ...]
    seconds: float
    jobs: int

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    def to_dict(self) -> dict:
        return {"target": self.target, "seconds": round(self.seconds, 2), "jobs": self.jobs, "ok": self.ok,
                "built": sum(o.status == "built" for o in self.outcomes),
                "reused": sum(o.status == "reused" for o in self.outcomes),
                "failed": sum(o.status == "failed" for o in self.outcomes),
                "models": [o.to_dict() for o in self.outcomes]}


# ---------------------------------------------------------------------------- storage check


def storage_comparison(model: str, nb_bytes: int) -> dict:
    """The .nb size against the seed's Storage Size, read both as 10^6 bytes and as MiB.

    ``unit`` is the reading that is closer; ``matches`` says whether it is within 3%, or is None
    with a ``reason`` where the rule does not apply (no seed figure, an int8 model).
    """
    row = reference.find_reference(model)
    seed = row.storage_mb if row is not None else None
    result = {"bytes": nb_bytes, "mb": round(nb_bytes / 1e6, 3), "mib": round(nb_bytes / 2**20, 3),
              "seed_storage_m": seed, "delta_mb_pct": None, "delta_mib_pct": None, "unit": None, "matches": None,
              "reason": None}
    int8 = reference.split_int8(model)[1]
    if not seed:
        result["reason"] = INT8_STORAGE_NOTE if int8 else NO_SEED_STORAGE
        return result
    delta_mb = (nb_bytes / 1e6 - seed) / seed * 100
    delta_mib = (nb_bytes / 2**20 - seed) / seed * 100
    unit, best = ("MB", delta_mb) if abs(delta_mb) <= abs(delta_mib) else ("MiB", delta_mib)
    result.update(delta_mb_pct=round(delta_mb, 2), delta_mib_pct=round(delta_mib, 2), unit=unit)
    if int8:
        result["reason"] = INT8_STORAGE_NOTE
    else:
        result["matches"] = abs(best) <= STORAGE_TOLERANCE_PCT
    return result


def storage_verdict(storage: dict) -> Optional[str]:
    """The table's short word on a storage comparison: 'yes (MB)', 'NO', 'int8: see note', or None."""
    if storage["matches"] is not None:
        return f"yes ({storage['unit']})" if storage["matches"] else "NO"
    return "int8: see note" if storage["reason"] == INT8_STORAGE_NOTE and storage["seed_storage_m"] else None


# --------------------------------------------------------------------------- model selection


def select_models(models: Sequence[str], *, all_models: bool, int8: bool) -> list[str]:
    """The build list: the names given (or the seed's 32 with ``all_models``), plus ``_int8``
    variants of the float models with ``int8``; order kept, duplicates dropped."""
    if all_models and models:
        raise UsageError("give model names or --all, not both")
    if not all_models and not models:
        raise UsageError("give model names, or --all for the 32 models of PaddleClas's table")
    chosen = reference.reference_names() if all_models else [_checked_name(m) for m in models]
    if int8:
        chosen = [n for m in chosen for n in (m, reference.int8_name(m))]
    return list(dict.fromkeys(chosen))


def _checked_name(name: str) -> str:
    base, _ = reference.split_int8(name)
    if reference.find_reference(base) is None:
        from edgekit import zoo  # the registry may know models the table does not (imports paddle)

        zoo.model_entry(base)  # UnknownModelError with close matches
    return name


# ---------------------------------------------------------------------------------- building


def build_one(name: str, workspace_root: str, target: str, force: bool) -> BuildOutcome:
    """Export (or quantize) and convert one model; errors come back in the outcome."""
    from edgekit.convert import convert_model
    from edgekit.resolve import resolve_inference_model

    started = time.perf_counter()
    try:
        workspace = Workspace.open(workspace_root)
        source = resolve_inference_model(name, workspace, force=force)
        lite = convert_model(source, workspace, target=target, force=force)
    except EdgekitError as e:
        return BuildOutcome(name, target, error=str(e), seconds=time.perf_counter() - started)
    except Exception as e:  # one model's unexpected failure must not end the other builds
        return BuildOutcome(name, target, error=f"{type(e).__name__}: {e}", seconds=time.perf_counter() - started)
    reused = lite.reused and source.reused
    return BuildOutcome(name, target, nb_path=str(lite.nb_path), bytes=lite.bytes, reused=reused,
                        seconds=time.perf_counter() - started, random_weights=source.random_weights)


def find_built(name: str, workspace: Workspace, target: str) -> Optional[BuildOutcome]:
    """The outcome of a float model whose export and .nb both exist already, else None (cheap)."""
    from edgekit.convert import find_converted
    from edgekit.export import find_exported

    if reference.split_int8(name)[1]:
        return None  # the quantization stage decides about its own reuse, in a worker
    started = time.perf_counter()
    exported = find_exported(name, workspace)
    lite = find_converted(exported, workspace, target=target) if exported else None
    if lite is None:
        return None
    return BuildOutcome(name, target, nb_path=str(lite.nb_path), bytes=lite.bytes, reused=True,
                        seconds=time.perf_counter() - started, random_weights=exported.random_weights)


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


def zoo_build(models: Sequence[str], workspace: Workspace, *, target: str = "arm", jobs: Optional[int] = None,
              force: bool = False, progress: bool = True) -> ZooBuildResult:
    """Build the .nb of every model in ``models`` (see ``select_models``), ``jobs`` at a time."""
    from edgekit.convert import resolve_target
    from tqdm import tqdm

    resolve_target(target)  # an unknown target fails before any work
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1 (got {jobs})")
    started = time.perf_counter()
    outcomes: dict[str, BuildOutcome] = {}
    with tqdm(total=len(models), desc="zoo build", unit="model", file=sys.stderr, disable=not progress) as bar:
        pending = []
        for name in models:
            found = None if force else find_built(name, workspace, target)
            if found is None:
                pending.append(name)
            else:
                outcomes[name] = found
                bar.update(1)
        for outcome in _run_pending(pending, workspace, target, force, jobs):
            outcomes[outcome.model] = outcome
            bar.set_postfix_str(f"{outcome.model} {outcome.status}")
            bar.update(1)
    ordered = tuple(outcomes[name] for name in models)
    return ZooBuildResult(target=target, outcomes=ordered, seconds=time.perf_counter() - started, jobs=jobs)


def _run_pending(names: Sequence[str], workspace: Workspace, target: str, force: bool,
                 jobs: int) -> Iterable[BuildOutcome]:
    """Run ``build_one`` for each name in worker processes; outcomes in order of completion.

    An ``X_int8`` whose ``X`` is also pending starts only when ``X`` is done: quantization
    exports ``X`` itself, and two workers exporting the same model at once would both do it.
    """
    if not names:
        return
    bases = {name: reference.split_int8(name)[0] for name in names}
    waiting = {name: base for name, base in bases.items() if base != name and base in names}
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(names)), mp_context=context) as pool:
        running: dict[concurrent.futures.Future, str] = {}

        def submit(name: str) -> None:
            try:
                future = pool.submit(build_one, name, str(workspace.root), target, force)
            except concurrent.futures.process.BrokenProcessPool as e:  # a worker died earlier
                future = concurrent.futures.Future()
                future.set_exception(e)
            running[future] = name

        for name in names:
            if name not in waiting:
                submit(name)
        try:
            while running:
                done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    name = running.pop(future)
                    yield _outcome(future, name, target)
                    for dependent in [d for d, base in waiting.items() if base == name]:
                        del waiting[dependent]
                        submit(dependent)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _outcome(future: concurrent.futures.Future, name: str, target: str) -> BuildOutcome:
    try:
        return future.result()
    except concurrent.futures.process.BrokenProcessPool as e:
        return BuildOutcome(name, target, error=f"worker process died: {e}")


# ------------------------------------------------------------------------------------ output


TABLE_COLUMNS = ("model", "status", "nb MB", "nb MiB", "seed M", "Δ MB %", "Δ MiB %", "match")


def table_rows(result: ZooBuildResult) -> list[list]:
    rows = []
    for outcome in result.outcomes:
        if not outcome.ok:
            rows.append([outcome.model, "failed", None, None, None, None, None, None])
            continue
        s = storage_comparison(outcome.model, outcome.bytes or 0)
        rows.append([outcome.model, outcome.status, s["mb"], s["mib"], s["seed_storage_m"], s["delta_mb_pct"],
                     s["delta_mib_pct"], storage_verdict(s)])
    return rows


def format_build(result: ZooBuildResult) -> str:
    from edgekit._table import format_table

    lines = [format_table(TABLE_COLUMNS, table_rows(result), digits=2)]
    counts = result.to_dict()
    lines.append(f"\n{counts['built']} built, {counts['reused']} reused, {counts['failed']} failed "
                 f"for target {result.target} in {result.seconds:.1f} s ({result.jobs} jobs)")
    if any(reference.split_int8(o.model)[1] and o.ok for o in result.outcomes):
        lines.append(f"note: {INT8_STORAGE_NOTE}")
    if any(o.random_weights for o in result.outcomes):
        from edgekit.zoo import RANDOM_WEIGHTS_NOTE

        lines.append(f"note: {RANDOM_WEIGHTS_NOTE} (zoo build exports with random weights)")
    for outcome in result.outcomes:
        if outcome.error:
            lines.append(f"{outcome.model}: {outcome.error}")
    return "\n".join(lines)
