"""Several runs of the benchmark binary (``--rounds N``) as one latency: every round's average
is a sample; the record keeps them all, their median, spread and extremes.

Rounds are whole runs of the binary (load, warm-up, measured repeats), so their spread shows what
a single run's average hides: another process, a frequency change, a thermal step in between.
"""

from __future__ import annotations

import statistics
from typing import Sequence

from edgekit.bench.parse import Latency, ParsedRun


def combine_rounds(runs: Sequence[ParsedRun]) -> Latency:
    """One Latency for the rounds ``runs`` (at least one).

    avg_ms is the mean of the rounds' averages (every round has the same repeats, so it is the
    mean of all measured runs); min_ms/max_ms stay the tool's (the fastest and slowest single
    run of any round); first_ms and init_ms are the first round's (a cold start); samples_ms,
    median_ms, std_ms (sample standard deviation; None for one round), round_min_ms and
    round_max_ms describe the distribution of the rounds' averages."""
    if not runs:
        raise ValueError("combine_rounds needs at least one round")
    averages = [run.latency.avg_ms for run in runs]
    mins = [run.latency.min_ms for run in runs if run.latency.min_ms is not None]
    maxes = [run.latency.max_ms for run in runs if run.latency.max_ms is not None]
    first = runs[0].latency
    return Latency(
        avg_ms=statistics.fmean(averages),
        min_ms=min(mins) if mins else None,
        max_ms=max(maxes) if maxes else None,
        first_ms=first.first_ms,
        init_ms=first.init_ms,
        std_ms=statistics.stdev(averages) if len(averages) > 1 else None,
        samples_ms=tuple(averages),
        median_ms=statistics.median(averages),
        round_min_ms=min(averages),
        round_max_ms=max(averages),
    )


def combine_memory(runs: Sequence[ParsedRun]) -> dict | None:
    """The largest figure of each memory key over the rounds (peak memory is a maximum)."""
    merged: dict = {}
    for run in runs:
        for key, value in (run.memory_mb or {}).items():
            merged[key] = max(value, merged.get(key, value))
    return merged or None
