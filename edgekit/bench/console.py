"""The console view of a ``bench`` call: one line per run, then what was skipped, dropped or
worth a warning."""

from __future__ import annotations

from typing import Optional

from edgekit.bench.outcome import BenchOutcome
from edgekit.bench.results import KIND_PHONE, KIND_VIRTUAL, BenchRecord


def format_outcome(outcome: BenchOutcome) -> str:
    from edgekit._table import format_table

    rows = []
    for r in outcome.records:
        latency = r.latency or {}
        rows.append([r.model, r.device.get("serial"), r.profile or "-", kind_label(r), r.settings.get("threads"),
                     latency.get("median_ms", latency.get("avg_ms")), latency.get("std_ms"),
                     latency.get("min_ms"), latency.get("max_ms"), (r.nb or {}).get("bytes"),
                     r.status if r.ok else f"failed ({_error_kind(r.error)})"])
    headers = ("model", "device", "profile", "kind", "threads", "median_ms", "std_ms", "min_ms", "max_ms",
               "nb_bytes", "status")
    lines = [format_table(headers, rows, digits=3)] if rows else ["no runs"]
    s = outcome.settings
    threads = ", ".join(map(str, outcome.threads or (s.threads,)))
    rounds = f", {s.rounds} rounds (median and std of the rounds' averages)" if s.rounds > 1 else ""
    lines.append(f"settings: warmup {s.warmup}, repeats {s.repeats}, threads {threads}, "
                 f"power_mode {s.power_mode}, {_inputs(outcome)}{rounds}; results in {outcome.store}")
    if any(r.kind == KIND_VIRTUAL for r in outcome.records):
        lines.append("virtual device: latency is the host's (x86 .nb), not a phone's")
    if any(r.kind not in (KIND_PHONE, KIND_VIRTUAL) for r in outcome.records):
        lines.append("other: not an ARM Android device; its latency is not compared with the seed's figures")
    if outcome.skipped:
        lines.append(f"already in the results store (--resume): {', '.join(outcome.skipped)}")
    for lost in outcome.lost_devices:
        lines.append(f"device {lost['serial']} dropped out: {lost['error']}")
    for failed in outcome.failed_devices:
        lines.append(f"device {failed['serial']} could not be used: {failed['error']}")
    lines.extend(f"warning: {warning}" for warning in outcome.warnings)
    return "\n".join(lines)


def _inputs(outcome: BenchOutcome) -> str:
    """The input shapes the runs used: each model runs at its own described shape unless
    --input-shape said otherwise, so the sweep's default shape may be none of them."""
    models: dict[str, list[str]] = {}
    for r in outcome.records:
        shape = r.settings.get("input_shape") or outcome.settings.input_shape
        if r.model not in models.setdefault(shape, []):
            models[shape].append(r.model)
    if len(models) <= 1:
        return f"input {next(iter(models), outcome.settings.input_shape)}"
    return "inputs " + "; ".join(f"{shape} ({', '.join(names)})" for shape, names in models.items())


def kind_label(record: BenchRecord) -> str:
    kind = record.kind
    return f"{kind} ({record.device.get('abi')})" if kind not in (KIND_PHONE, KIND_VIRTUAL) else kind


def _error_kind(error: Optional[str]) -> str:
    """"DeviceTimeoutError" of a stored "DeviceTimeoutError: ..." (the full text follows the table)."""
    return (error or "error").split(":", 1)[0]
