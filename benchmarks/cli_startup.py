"""Wall time of `edgekit --help` and `edgekit models`, each run in a fresh process.

    python benchmarks/cli_startup.py [--runs 10] [--json]

Runs the installed console script (``edgekit`` beside this Python) when there is one, else
``python -m edgekit``. Prints median and min over the runs; the goal is under 0.5 s each.
Start-up time is what a user waits for before anything happens, and it is what lazy imports
(no paddle in cheap commands) buy.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = (("--help",), ("models",))
GOAL_S = 0.5


def edgekit_command() -> list[str]:
    script = Path(sys.executable).parent / "edgekit"
    if script.is_file():
        return [str(script)]
    found = shutil.which("edgekit")
    return [found] if found else [sys.executable, "-m", "edgekit"]


def time_once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(base: list[str], args: tuple[str, ...], runs: int) -> dict:
    time_once(base + list(args))  # warm the OS file cache; not counted
    samples = [time_once(base + list(args)) for _ in range(runs)]
    return {
        "command": "edgekit " + " ".join(args),
        "runs": runs,
        "median_s": round(statistics.median(samples), 4),
        "min_s": round(min(samples), 4),
        "max_s": round(max(samples), 4),
        "goal_s": GOAL_S,
        "meets_goal": statistics.median(samples) < GOAL_S,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    options = parser.parse_args()
    base = edgekit_command()
    results = [measure(base, args, options.runs) for args in COMMANDS]
    if options.json:
        print(json.dumps({"executable": " ".join(base), "results": results}, indent=2))
        return
    print(f"{'command':<16} {'median s':>9} {'min s':>7} {'max s':>7}  goal < {GOAL_S} s")
    for r in results:
        print(f"{r['command']:<16} {r['median_s']:>9.3f} {r['min_s']:>7.3f} {r['max_s']:>7.3f}  "
              f"{'ok' if r['meets_goal'] else 'MISSED'}")
    print(f"({options.runs} runs each, fresh process per run: {' '.join(base)})")


if __name__ == "__main__":
    main()
