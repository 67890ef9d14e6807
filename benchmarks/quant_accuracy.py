"""int8 accuracy on held-out hard images: fp32 against every preset, every calibration algorithm,
PaddleSlim's stronger PTQ (AdaRound, bias correction, quant_recon_static's AdaRound/BRECQ/QDrop)
and the accuracy target (``--max-drop 1.0``), on the trained network of edgekit.synthetic.

Images (rendered from the recipe's seeds, disjoint pixels, see edgekit.synthetic.render_roles):
calibration = 4 mixed images per class (24), tune = 25 hard per class (150, choices only),
eval = 100 hard per class (600, the reported figure, never used for a choice).

Per row: eval top-1 of the int8 model (Paddle Inference), its drop from fp32 in points, the arm
.nb bytes (Paddle Lite opt, ``edgekit convert --target arm``) and their share of fp32's .nb,
the layers kept float and the time the quantization took (the target row: the whole search).
Goals (issue 8): <= 1.0 point drop where plain presets lose several; arm .nb <= 40% of fp32's;
the target search <= 10x one plain quantization.

Artifacts are cached in the workspace (``--workspace``, default a folder under the edgekit
cache): a second run re-measures the accuracies and reuses the quantizations (its times are those
recorded when they were built).

    .venv/bin/python benchmarks/quant_accuracy.py [--workspace DIR] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Optional

from edgekit import synthetic
from edgekit.workspace import Workspace, default_workspace_root

ALGOS = ("hist", "KL", "avg", "mse", "abs_max")
# (row name, preset, QuantConfig overrides)
ROWS: tuple[tuple[str, str, dict], ...] = (
    *((f"paddleclas algo={algo}", "paddleclas", {"algo": algo}) for algo in ALGOS),
    ("full", "full", {}),
    ("paddleclas, fake-quant format", "paddleclas", {"onnx_format": False}),
    ("+ bias_correction", "paddleclas", {"onnx_format": False, "bias_correction": True}),
    ("+ adaround", "paddleclas", {"onnx_format": False, "round_type": "adaround"}),
    ("+ adaround + bias_correction", "paddleclas",
     {"onnx_format": False, "round_type": "adaround", "bias_correction": True}),
)
# quant_recon_static: minutes to hours per run on 2 cores (see RESULTS.md); only with --recon.
RECON_ROWS: tuple[tuple[str, str, dict], ...] = (
    ("recon layer-wise (AdaRound)", "paddleclas", {"onnx_format": False, "recon_level": "layer-wise", "epochs": 5}),
    ("recon region-wise (BRECQ)", "paddleclas", {"onnx_format": False, "recon_level": "region-wise", "epochs": 5}),
    ("recon region-wise + QDrop", "paddleclas",
     {"onnx_format": False, "recon_level": "region-wise", "simulate_activation_quant": True, "epochs": 5}),
)


def evaluate(model: Any, eval_dir: Path) -> float:
    """Top-1 of an inference model on the labelled folder (Paddle Inference, one image at a time)."""
    from edgekit import calibration
    from edgekit._paddle import PaddlePredictor

    images = calibration.eval_set(eval_dir, model.num_classes)
    run = PaddlePredictor(model.model_file, model.params_file)
    transform = calibration.preprocess_for(model.description)
    hits = sum(int(run(x).argmax()) == view.label for view, x in calibration.iter_tensors(images, transform))
    return hits / len(images)


def nb_bytes(model: Any, workspace: Workspace) -> int:
    from edgekit.convert import convert_model

    return convert_model(model, workspace, target="arm").bytes


def kept_float(report: dict) -> list[str]:
    return [entry["layer"] for entry in (report.get("layers") or {}).get("kept_float", [])]


def quantize_row(name: str, preset: str, overrides: dict, fp32: Any, workspace: Workspace,
                 roles: synthetic.RoleSets) -> dict:
    from edgekit.quant_config import QuantConfig
    from edgekit.quantize import quantize_model

    started = time.perf_counter()
    result = quantize_model(fp32, workspace, QuantConfig.from_preset(preset, **overrides), calib_dir=roles.calib)
    seconds = (result.report.get("seconds") or {}).get("total") or (time.perf_counter() - started)
    return {"row": name, "top1": evaluate(result.model, roles.eval), "nb_bytes": nb_bytes(result.model, workspace),
            "float_layers": kept_float(result.report), "seconds": seconds}


def target_row(fp32: Any, workspace: Workspace, roles: synthetic.RoleSets, max_drop: float) -> Optional[dict]:
    """The accuracy target of the default preset, or None where edgekit has no tuning yet."""
    try:
        from edgekit import tuning
    except ImportError:
        return None
    from edgekit.quant_config import DEFAULT_PRESET, QuantConfig

    tuned = tuning.tune_model(fp32, workspace, QuantConfig.from_preset(DEFAULT_PRESET),
                              tuning.Target(max_drop=max_drop), calib_dir=roles.calib, tune_dir=roles.tune)
    report = tuned.result.report["tuning"]
    row = {"row": f"target --max-drop {max_drop:g}", "top1": evaluate(tuned.result.model, roles.eval),
           "nb_bytes": nb_bytes(tuned.result.model, workspace),
           "float_layers": [entry["layer"] for entry in report["kept_float"]],
           "seconds": report["seconds"]["total"], "target_met_on_tune": report["target_met"],
           "search_seconds": report["seconds"]}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, default=default_workspace_root() / "bench_quant_accuracy")
    parser.add_argument("--quick", action="store_true", help="Only the default preset and the target.")
    parser.add_argument("--recon", action="store_true", help="Also quant_recon_static (slow).")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from edgekit.artifacts import load_inference_model

    workspace = Workspace.open(args.workspace)
    recipe = synthetic.QUANT_SENSITIVE
    started = time.perf_counter()
    trained = synthetic.trained_model(recipe, workspace.cache_dir)
    build_s = time.perf_counter() - started
    roles = synthetic.render_roles(workspace.cache_dir / "roles" / recipe.key(), recipe, calib_per_class=4,
                                   tune_per_class=25, eval_per_class=100)
    fp32 = load_inference_model(trained.directory)
    fp32_top1 = evaluate(fp32, roles.eval)
    fp32_nb = nb_bytes(fp32, workspace)
    rows = [r for r in ROWS + (RECON_ROWS if args.recon else ()) if not args.quick or r[0] == "paddleclas algo=hist"]
    results = [{"row": "fp32", "top1": fp32_top1, "nb_bytes": fp32_nb, "float_layers": [], "seconds": 0.0}]
    for name, preset, overrides in rows:
        results.append(quantize_row(name, preset, overrides, fp32, workspace, roles))
        print(f"  ... {name}", flush=True)
    target = target_row(fp32, workspace, roles, 1.0)
    if target is not None:
        results.append(target)
    for row in results:
        row["drop_points"] = round(100 * (fp32_top1 - row["top1"]), 2)
        row["nb_share"] = round(row["nb_bytes"] / fp32_nb, 3)

    summary = {"model": trained.recipe.trained_name, "recipe_key": recipe.key(), "trained": trained.report.get("train_s"),
               "build_s_this_run": round(build_s, 1), "roles": {k: str(v) for k, v in vars(roles).items()},
               "rows": results}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{summary['model']} (recipe {summary['recipe_key']}, trained in {summary['trained']} s); "
          f"eval {roles.eval} (600 hard images), calib 24 mixed, tune 150 hard")
    print(f"{'row':34} {'top-1':>7} {'drop':>6} {'arm .nb':>9} {'share':>6} {'time s':>7}  float layers")
    for row in results:
        floats = ", ".join(row["float_layers"]) or "-"
        print(f"{row['row']:34} {100 * row['top1']:6.2f}% {row['drop_points']:6.2f} {row['nb_bytes']:9d} "
              f"{100 * row['nb_share']:5.1f}% {row['seconds']:7.1f}  {floats}")
    plain = next(r for r in results if r["row"] == "paddleclas algo=hist")
    if target is not None:
        print(f"target search {target['seconds']:.1f} s = {target['seconds'] / plain['seconds']:.1f}x one plain "
              f"quantization ({plain['seconds']:.1f} s); met on tune: {target['target_met_on_tune']}")


if __name__ == "__main__":
    main()
