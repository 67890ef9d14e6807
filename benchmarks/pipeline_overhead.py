"""edgekit's overhead on the pipeline stages, and ``zoo build --all`` cold and warm.

Per stage, for MobileNetV3_large_x1_0 (random weights: the time does not depend on them), the
stage through edgekit against the same work done directly with the tools and the same settings:

  export    edgekit.export.export_model(force=True)      vs  zoo.create_model + paddle.jit.save
  convert   edgekit.convert.convert_model(force=True)    vs  the paddle_lite_opt command on the
            (legalize + opt in a child + manifest)           already-legalized program
  quantize  edgekit.quantize.quantize_model(force=True)  vs  paddleslim.quant.quant_post_static with
            (see benchmarks/quantize_overhead.py)           the same settings (DEFAULT_PRESET)

Runs alternate (direct, edgekit, direct, ...) so background load hits both alike; the medians
and their ratio (goal ≤ 1.1) are printed. Both sides run in this warmed-up process (paddle
imported once), except the parts that are child processes on both sides (opt).

Then ``edgekit zoo build --all`` in a fresh workspace (cold) and again (warm; goal: under 10 s),
each as a fresh ``edgekit`` process, as a user would run it.

    .venv/bin/python benchmarks/pipeline_overhead.py [--repeats 5] [--target arm] [--skip-zoo] [--jobs 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, NamedTuple

from edgekit.workspace import Workspace

MODEL = "MobileNetV3_large_x1_0"


class StageTiming(NamedTuple):
    stage: str
    direct_s: list[float]
    edgekit_s: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.edgekit_s) / statistics.median(self.direct_s)


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _alternate(stage: str, direct: Callable[[], object], through_edgekit: Callable[[], object],
               repeats: int) -> StageTiming:
    direct(), through_edgekit()  # warm-up: imports, page cache
    direct_s, edgekit_s = [], []
    for _ in range(repeats):
        direct_s.append(_timed(direct))
        edgekit_s.append(_timed(through_edgekit))
    return StageTiming(stage, direct_s, edgekit_s)


# ------------------------------------------------------------------------------------ stages


def export_stage(scratch: Path, repeats: int, target: str) -> StageTiming:
    import paddle

    from edgekit import zoo
    from edgekit.export import INIT_SEED, INPUT_NAME, export_model

    workspace = Workspace.open(scratch / "ws_export")

    def direct() -> None:
        # A fresh folder each time, as edgekit's export writes a fresh one (overwriting is slower).
        folder = Path(tempfile.mkdtemp(prefix="direct_export.", dir=scratch))
        paddle.seed(INIT_SEED)
        model = zoo.create_model(MODEL)
        spec = paddle.static.InputSpec([1, 3, 224, 224], "float32", name=INPUT_NAME)
        paddle.jit.save(model, str(folder / "inference"), input_spec=[spec])
        shutil.rmtree(folder)

    return _alternate("export", direct, lambda: export_model(MODEL, workspace, force=True), repeats)


def convert_stage(scratch: Path, repeats: int, target: str) -> StageTiming:
    from edgekit.convert import convert_model, resolve_target
    from edgekit.export import export_model
    from edgekit.legalize import legalize_model_file

    workspace = Workspace.open(scratch / "ws_convert")
    model = export_model(MODEL, workspace)
    legal = scratch / "legal.pdmodel"
    legalize_model_file(model.model_file, legal)  # the direct path needs the fixes too, or opt aborts
    opt = [str(Path(sys.executable).parent / "paddle_lite_opt"), f"--model_file={legal}",
           f"--param_file={model.params_file}", "--optimize_out_type=naive_buffer",
           f"--optimize_out={scratch / 'direct'}", f"--valid_targets={resolve_target(target).valid_targets}"]

    def direct() -> None:
        subprocess.run(opt, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    return _alternate("convert", direct, lambda: convert_model(model, workspace, target=target, force=True), repeats)


def quantize_stage(scratch: Path, repeats: int, target: str) -> StageTiming:
    # benchmarks/quantize_overhead.py (beside this script) holds both sides and a finer split
    from quantize_overhead import quantize_callables

    direct, through_edgekit = quantize_callables(scratch)
    return _alternate("quantize", direct, through_edgekit, repeats)


STAGES: list[Callable[[Path, int, str], StageTiming]] = [export_stage, convert_stage, quantize_stage]


# -------------------------------------------------------------------------------- zoo build


def zoo_build_wall(workspace: Path, jobs: int) -> tuple[float, int]:
    """Seconds of one ``edgekit zoo build --all`` process, and its exit status."""
    command = [sys.executable, "-m", "edgekit", "zoo", "build", "--all", "--jobs", str(jobs),
               "--workspace", str(workspace)]
    started = time.perf_counter()
    proc = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode:
        print(f"  (zoo build exited {proc.returncode}: {proc.stderr.strip().splitlines()[-1]})")
    return elapsed, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--target", default="arm")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--skip-zoo", action="store_true", help="Skip the zoo build --all timings.")
    args = parser.parse_args()

    print(f"{MODEL}, target {args.target}, {args.repeats} alternating runs per side (median s)")
    print(f"{'stage':10} {'direct':>8} {'edgekit':>8} {'ratio':>6}")
    with tempfile.TemporaryDirectory(prefix="edgekit-overhead-") as scratch:
        for stage in STAGES:
            timing = stage(Path(scratch), args.repeats, args.target)
            print(f"{timing.stage:10} {statistics.median(timing.direct_s):8.2f} "
                  f"{statistics.median(timing.edgekit_s):8.2f} {timing.ratio:6.3f}")
        if not args.skip_zoo:
            workspace = Path(scratch) / "ws_zoo"
            cold, _ = zoo_build_wall(workspace, args.jobs)
            warm, _ = zoo_build_wall(workspace, args.jobs)
            print(f"zoo build --all --jobs {args.jobs}: cold {cold:.1f} s, warm {warm:.2f} s")
            shutil.rmtree(workspace, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
