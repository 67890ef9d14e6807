"""edgekit's overhead on quantization: ``edgekit.quantize.quantize_model`` against calling
``paddleslim.quant.quant_post_static`` directly with the same settings (the default preset).

MobileNetV3_large_x1_0 (random weights; the time does not depend on them), exported once.

  direct   preprocess the calibration photographs (edgekit.preprocess, PaddleClas's transform),
           a paddle.io.DataLoader over them, quant_post_static into a fresh folder
  edgekit  quantize_model(MODEL, force=True): the same, plus finding the export, hashing the
           calibration images, the manifest, reading the program back for the layer report,
           and the fidelity check (fp32 and int8 run by Paddle Inference on the held-out photos)

Runs alternate (direct, edgekit, ...) after one warm-up run of each, in this process (paddle and
PaddleSlim imported once). Printed: medians, the ratio with and without the fidelity check
(goal ≤ 1.1 for the quantization itself), and edgekit's time split as its report gives it.

    .venv/bin/python benchmarks/quantize_overhead.py [--repeats 3] [--json]

``benchmarks/pipeline_overhead.py`` uses ``quantize_callables`` for its quantize row.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from edgekit.workspace import Workspace

MODEL = "MobileNetV3_large_x1_0"


def quantize_callables(scratch: Path, reports: list | None = None) -> tuple[Callable[[], None], Callable[[], None]]:
    """(direct, through_edgekit): one quantization each; edgekit's reports go to ``reports``."""
    import numpy as np
    import paddle
    from paddleslim.quant import quant_post_static

    from edgekit import calibration
    from edgekit.export import export_model
    from edgekit.preprocess import Preprocess
    from edgekit.ptq import paddleslim_arguments
    from edgekit.quant_config import DEFAULT_PRESET, QuantConfig
    from edgekit.quantize import quantize_model

    workspace = Workspace.open(scratch / "ws_quantize")
    model = export_model(MODEL, workspace)
    config = QuantConfig.from_preset(DEFAULT_PRESET)
    arguments = paddleslim_arguments(model, config, [])  # the same settings, spelled as PaddleSlim's
    images = [v.path for v in calibration.calibration_set(None, config.batch_size * config.batch_nums).views]

    def direct() -> None:
        destination = Path(tempfile.mkdtemp(prefix="direct_quant.", dir=scratch))
        samples = np.stack([Preprocess()(path) for path in images])

        class Samples(paddle.io.Dataset):
            def __len__(self) -> int:
                return len(samples)

            def __getitem__(self, index: int):
                return (samples[index],)

        paddle.enable_static()
        with paddle.static.program_guard(paddle.static.Program(), paddle.static.Program()):
            image = paddle.static.data("x", [-1, 3, 224, 224], "float32")
        loader = paddle.io.DataLoader(Samples(), feed_list=[image], places=paddle.CPUPlace(),
                                      batch_size=config.batch_size, return_list=False)
        executor = paddle.static.Executor(paddle.CPUPlace())
        quant_post_static(executor=executor, quantize_model_path=str(destination), data_loader=loader,
                          **arguments)
        paddle.disable_static()
        shutil.rmtree(destination)

    def through_edgekit() -> None:
        result = quantize_model(MODEL, workspace, config, force=True)
        if reports is not None:
            reports.append(result.report)

    return direct, through_edgekit


def _timed(fn: Callable[[], None]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def measure(repeats: int) -> dict:
    reports: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="edgekit-quant-overhead-") as scratch:
        direct, through_edgekit = quantize_callables(Path(scratch), reports)
        direct(), through_edgekit()  # warm-up: imports, page cache
        reports.clear()
        direct_s, edgekit_s = [], []
        for _ in range(repeats):
            direct_s.append(_timed(direct))
            edgekit_s.append(_timed(through_edgekit))
    fidelity_s = [r["seconds"]["fidelity"] for r in reports]
    without_fidelity = [total - fid for total, fid in zip(edgekit_s, fidelity_s)]
    median = statistics.median
    return {
        "model": MODEL,
        "repeats": repeats,
        "direct_s": direct_s,
        "edgekit_s": edgekit_s,
        "edgekit_paddleslim_s": [r["seconds"]["paddleslim"] for r in reports],
        "edgekit_fidelity_s": fidelity_s,
        "ratio": median(edgekit_s) / median(direct_s),
        "ratio_without_fidelity": median(without_fidelity) / median(direct_s),
        "fidelity_images": reports[-1]["fidelity"]["images"] if reports else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="Print one JSON document.")
    args = parser.parse_args()
    figures = measure(args.repeats)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    median = statistics.median
    print(f"{MODEL}, default preset, {args.repeats} alternating runs per side (median s)")
    print(f"direct quant_post_static      {median(figures['direct_s']):7.2f}")
    print(f"edgekit quantize_model        {median(figures['edgekit_s']):7.2f}   ratio {figures['ratio']:.3f}")
    print(f"  of which PaddleSlim         {median(figures['edgekit_paddleslim_s']):7.2f}")
    print(f"  of which fidelity check     {median(figures['edgekit_fidelity_s']):7.2f}   "
          f"({figures['fidelity_images']} held-out images, fp32 + int8)")
    print(f"edgekit without the fidelity check: ratio {figures['ratio_without_fidelity']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
