"""What layer sensitivity (--analyze) and an accuracy target cost, against one plain quantization.

On a trained inference model and three disjoint labelled folders (calibration, tune, eval), in
a fresh workspace, one after the other in this process:

  plain     quantize_model(default preset)                          the untuned default
  analyze   sensitivity.analyze on the tune images (up to 64)       one forward pass per layer
                                                                     and image, from the plain
                                                                     model's calibration
  target    tuning.tune_model(--max-drop PTS)                        reuses nothing from above:
                                                                     its own plain quantization,
                                                                     analysis, search and final
                                                                     quantization

Printed: seconds of each, the target run's split and its ratio to one plain quantization (goal
<= 10x), seconds per analysed layer (the analysis grows linearly with layers x images), the
layers kept float, and fp32 / plain int8 / tuned int8 top-1 on the eval images (which play no
part in any choice).

    .venv/bin/python benchmarks/quant_tuning.py MODEL_DIR CALIB TUNE EVAL [--max-drop 1.0] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("model", "calib", "tune", "eval"):
        parser.add_argument(name, type=Path)
    parser.add_argument("--max-drop", type=float, default=1.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from edgekit import sensitivity, tuning
    from edgekit.artifacts import load_inference_model
    from edgekit.quant_config import DEFAULT_PRESET, QuantConfig
    from edgekit.quantize import quantize_model
    from edgekit.workspace import Workspace

    fp32 = load_inference_model(args.model)
    config = QuantConfig.from_preset(DEFAULT_PRESET)
    figures: dict = {"model": str(args.model)}
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        plain = quantize_model(fp32, Workspace.open(Path(scratch) / "a"), config, calib_dir=args.calib,
                               eval_dir=args.eval)
        figures["plain_s"] = time.perf_counter() - started
        tune = tuning.tune_set(args.tune, tuning.num_classes(fp32), labels_needed=True)
        started = time.perf_counter()
        analysis = sensitivity.analyze(fp32, plain, tuning.analysis_images(tune))
        figures["analyze_s"] = time.perf_counter() - started
        figures["layers"] = len(analysis.layers)
        figures["analysis_images"] = analysis.images["count"]
        figures["analyze_s_per_layer"] = figures["analyze_s"] / max(len(analysis.layers), 1)
        started = time.perf_counter()
        tuned = tuning.tune_model(fp32, Workspace.open(Path(scratch) / "b"), config,
                                  tuning.Target(max_drop=args.max_drop), calib_dir=args.calib, tune_dir=args.tune,
                                  eval_dir=args.eval)
        figures["target_s"] = time.perf_counter() - started
    report = tuned.result.report
    figures.update(
        target_split=report["tuning"]["seconds"], target_ratio=figures["target_s"] / figures["plain_s"],
        target_met=report["tuning"]["target_met"], kept_float=[k["layer"] for k in report["tuning"]["kept_float"]],
        extra_bytes=sum(k["extra_bytes"] for k in report["tuning"]["kept_float"]),
        steps=[(s["float_layers"], round(s["drop_points"], 2)) for s in report["tuning"]["steps"]],
        tune_images=len(tune), eval_images=report["eval"]["images"],
        eval_fp32_top1=report["eval"]["fp32"]["top1"], eval_plain_int8_top1=plain.report["eval"]["int8"]["top1"],
        eval_tuned_int8_top1=report["eval"]["int8"]["top1"])
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"model {figures['model']}: {figures['layers']} int8 layers; tune {figures['tune_images']} images, "
          f"eval {figures['eval_images']} images")
    print(f"plain quantization        {figures['plain_s']:7.1f} s")
    print(f"analyze ({figures['analysis_images']} images)      {figures['analyze_s']:7.1f} s  "
          f"({figures['analyze_s_per_layer']:.2f} s per layer)")
    split = figures["target_split"]
    print(f"target --max-drop {args.max_drop:g}     {figures['target_s']:7.1f} s  = "
          f"{figures['target_ratio']:.1f}x plain "
          f"(plain {split['plain_quantization']:.1f}, analysis {split['analysis']:.1f}, search {split['search']:.1f})")
    print(f"target met {figures['target_met']}; kept float {', '.join(figures['kept_float']) or '(none)'} "
          f"(+{figures['extra_bytes']} bytes); steps (float layers, drop) {figures['steps']}")
    print(f"eval top-1: fp32 {figures['eval_fp32_top1']:.4f}  plain int8 {figures['eval_plain_int8_top1']:.4f}  "
          f"tuned int8 {figures['eval_tuned_int8_top1']:.4f}")


if __name__ == "__main__":
    main()
