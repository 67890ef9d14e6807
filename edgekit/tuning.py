"""An accuracy target for int8: keep the most sensitive layers float until the int8 model is
close enough to fp32 on the TUNE images, then build that model with PaddleSlim.

1. One plain quantization (the preset as given: the untuned default, an artifact of its own).
2. sensitivity.analyze ranks its layers on (up to MAX_ANALYSIS_IMAGES of) the tune images.
3. The search keeps float the k most sensitive layers, k found by bisection between 0 and the
   bound (``--max-float-layers``); each step runs the int8 program with those layers' weights
   float, derived from the same calibration (what ``quant_post_static`` saves with that skip
   list; see sensitivity.py), so the search re-calibrates nothing.
4. PaddleSlim quantizes once more with the chosen layers skipped (exact layer names); the result
   is measured again on the tune images (``verified``) and, when given, on the eval images, which
   play no part in any choice.

Targets: ``max_drop`` (top-1 points lost on labelled tune images) or ``min_agreement`` (percent of
tune images where int8's top-1 is fp32's; labels not needed). A target that cannot be met within
the bound keeps the best model found and says so (``target_met`` false).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from edgekit import calibration, image_roles
from edgekit.errors import InvalidInputError, UsageError
from edgekit.artifacts import InferenceModel
from edgekit.fidelity import PaddlePredictor
from edgekit.quant_config import QuantConfig
from edgekit.quant_eval import count_classes
from edgekit.quantize import QuantizedModel, quantize_model
from edgekit.sensitivity import MAX_ANALYSIS_IMAGES, ProgramVariants, Sensitivity, analyze
from edgekit.workspace import Workspace

# Exit code of `edgekit quantize` when an accuracy target cannot be met (the report is still printed).
TARGET_NOT_MET_EXIT = 6
# Tune images used at most (each search step runs every one of them).
MAX_TUNE_IMAGES = 256


@dataclasses.dataclass(frozen=True)
class Target:
    """What "close enough to fp32" means; percentages and points are on a 0-100 scale."""

    max_drop: Optional[float] = None
    min_agreement: Optional[float] = None
    max_float_layers: Optional[int] = None

    def __post_init__(self) -> None:
        if (self.max_drop is None) == (self.min_agreement is None):
            raise UsageError("give one accuracy target: --max-drop PTS (labelled --tune-dir) or --min-agreement PCT")
        for name in ("max_drop", "min_agreement"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and 0 <= value <= 100):
                raise UsageError(f"--{name.replace('_', '-')} must be between 0 and 100, not {value!r}")
        if self.max_float_layers is not None and (not isinstance(self.max_float_layers, int)
                                                  or self.max_float_layers < 0):
            raise UsageError(f"--max-float-layers must be a whole number >= 0, not {self.max_float_layers!r}")

    @property
    def needs_labels(self) -> bool:
        return self.max_drop is not None

    def describe(self) -> str:
        if self.max_drop is not None:
            return f"int8 top-1 within {self.max_drop:g} points of fp32 on the tune images"
        return f"int8 top-1 agrees with fp32 on at least {self.min_agreement:g}% of the tune images"

    def met(self, step: dict) -> bool:
        if self.max_drop is not None:
            return step["drop_points"] <= self.max_drop + 1e-9
        return step["agreement_percent"] >= self.min_agreement - 1e-9

    def score(self, step: dict) -> float:
        """Higher is better (for naming the best model when the target is not met)."""
        return -step["drop_points"] if self.max_drop is not None else step["agreement_percent"]


def tune_set(tune_dir: Path, classes: int, *, labels_needed: bool,
             class_names: Optional[Sequence[str]] = None) -> calibration.ImageSet:
    """The tune images (labelled when the target needs it; folders may be named by ``class_names``),
    at most MAX_TUNE_IMAGES."""
    folder = Path(tune_dir).expanduser().resolve()
    try:
        images = calibration.eval_set(folder, classes, class_names)
    except InvalidInputError as e:
        if labels_needed or "needs labels" not in str(e):
            raise InvalidInputError(f"--tune-dir: {e}") from None
        images = calibration.calibration_set(folder, None)
    if len(images) > MAX_TUNE_IMAGES:
        views = tuple(calibration.pick_evenly(images.views, MAX_TUNE_IMAGES))
        images = calibration.ImageSet(views, images.source, images.available,
                                      f"{len(views)} of {images.available} images (cap {MAX_TUNE_IMAGES})")
    return images


def analysis_images(images: calibration.ImageSet) -> calibration.ImageSet:
    if len(images) <= MAX_ANALYSIS_IMAGES:
        return images
    views = tuple(calibration.pick_evenly(images.views, MAX_ANALYSIS_IMAGES))
    return calibration.ImageSet(views, images.source, images.available,
                                f"{len(views)} of {len(images)} images, evenly spaced (cap {MAX_ANALYSIS_IMAGES})")


# ---------------------------------------------------------------------------------- search


class _StepRunner:
    """Measures "the int8 model with these layers float" on the tune images."""

    def __init__(self, fp32: InferenceModel, variants: ProgramVariants, images: calibration.ImageSet):
        self.variants = variants
        self.tensors = calibration.tensors(images, calibration.preprocess_for(fp32.described()))
        self.labels = [view.label for view in images.views]
        self.labelled = all(label is not None for label in self.labels)
        predictor = PaddlePredictor(fp32.model_file, fp32.params_file)
        self.fp32_top1 = [int(predictor(sample).argmax()) for sample in self.tensors]
        hits = [label == top for label, top in zip(self.labels, self.fp32_top1)]
        self.fp32_accuracy = float(np.mean(hits)) if self.labelled else None

    def measure(self, float_weights: list[str]) -> dict:
        desc = self.variants.variant(float_weights)
        logits = self.variants.run_batch(desc, self.tensors)[0].reshape(len(self.tensors), -1)
        self.variants.forget(desc)
        return self.figures([int(t) for t in logits.argmax(1)])

    def figures(self, tops: list[int]) -> dict:
        agreement = float(np.mean([a == b for a, b in zip(tops, self.fp32_top1)]))
        step = {"agreement_percent": 100 * agreement}
        if self.labelled:
            top1 = float(np.mean([label == t for label, t in zip(self.labels, tops)]))
            step.update(top1=top1, drop_points=100 * (self.fp32_accuracy - top1))
        return step


def search(ranking: list[dict], runner: _StepRunner, target: Target) -> tuple[int, list[dict]]:
    """(how many of the ranked layers to keep float, the steps measured in order)."""
    bound = len(ranking) if target.max_float_layers is None else min(target.max_float_layers, len(ranking))
    steps: dict[int, dict] = {}

    def measure(k: int) -> dict:
        if k not in steps:
            figures = runner.measure([e["weight"] for e in ranking[:k]])
            steps[k] = {"float_layers": k, "layers": [e["layer"] for e in ranking[:k]], **figures,
                        "met": target.met(figures)}
        return steps[k]

    if measure(0)["met"]:
        return 0, list(steps.values())
    if not measure(bound)["met"]:
        best = max(steps.values(), key=lambda s: (target.score(s), -s["float_layers"]))
        return best["float_layers"], list(steps.values())
    low, high = 0, bound  # low misses, high meets
    while high - low > 1:
        middle = (low + high) // 2
        if measure(middle)["met"]:
            high = middle
        else:
            low = middle
    return high, list(steps.values())


# ---------------------------------------------------------------------------- orchestration


@dataclasses.dataclass(frozen=True)
class Tuned:
    """The tuned int8 model, its report (with ``tuning`` and ``images`` sections), the analysis."""

    result: QuantizedModel
    sensitivity: Sensitivity
    target_met: bool


def check_format(config: QuantConfig) -> None:
    """The analysis derives its programs from PaddleSlim's ONNX format (quantize/dequantize_linear)."""
    if not config.onnx_format:
        raise UsageError("--analyze and accuracy targets work on PaddleSlim's ONNX format: drop --no-onnx-format")


def prepare(fp32: InferenceModel, config: QuantConfig, *, calib_dir: Optional[Path], tune_dir: Optional[Path],
            eval_dir: Optional[Path], labels_needed: bool) -> tuple[calibration.ImageSet, dict]:
    """Every check that needs no quantization: tune/eval labels, disjoint roles. (tune set, images section)."""
    check_format(config)
    classes = count_classes(fp32)
    names = fp32.described().labels
    tune = tune_set(tune_dir, classes, labels_needed=labels_needed, class_names=names) if tune_dir is not None else None
    evaluation = calibration.eval_set(Path(eval_dir).expanduser().resolve(), classes, names) if eval_dir else None
    count = None if config.batch_nums is None else config.batch_size * config.batch_nums
    calib = calibration.calibration_set(calib_dir, count)
    roles = image_roles.check_disjoint({"calibration": calib, "tune": tune, "eval": evaluation})
    if tune is None:
        raise UsageError("--tune-dir is needed: the images the choices are made on")
    return tune, roles


def analyze_model(fp32: InferenceModel, workspace: Workspace, config: QuantConfig, *,
                  calib_dir: Optional[Path] = None, tune_dir: Optional[Path] = None,
                  force: bool = False) -> tuple[QuantizedModel, Sensitivity]:
    """``--analyze``: the plain int8 model and its layers ranked on the tune images (or, without
    them, on the calibration images, which the analysis then says)."""
    check_format(config)
    if tune_dir is not None:
        images, _ = prepare(fp32, config, calib_dir=calib_dir, tune_dir=tune_dir, eval_dir=None, labels_needed=False)
    else:
        count = None if config.batch_nums is None else config.batch_size * config.batch_nums
        images = calibration.calibration_set(calib_dir, count)
        images = dataclasses.replace(images, note=(images.note + "; " if images.note else "")
                                     + "the calibration images (no --tune-dir given)")
    base = quantize_model(fp32, workspace, config, calib_dir=calib_dir, force=force)
    return base, analyze(fp32, base, analysis_images(images))


def tune_model(fp32: InferenceModel, workspace: Workspace, config: QuantConfig, target: Target, *,
               calib_dir: Optional[Path], tune_dir: Optional[Path], eval_dir: Optional[Path] = None,
               force: bool = False) -> Tuned:
    """Search the fewest float layers that meet ``target`` on the tune images; build that model."""
    started = time.perf_counter()
    tune, roles = prepare(fp32, config, calib_dir=calib_dir, tune_dir=tune_dir, eval_dir=eval_dir,
                          labels_needed=target.needs_labels)
    base = quantize_model(fp32, workspace, config, calib_dir=calib_dir, force=force)
    plain_seconds = base.report.get("seconds", {}).get("total")
    variants = ProgramVariants(fp32, base.model)
    sensitivity = analyze(fp32, base, analysis_images(tune), variants=variants)
    searched = time.perf_counter()
    runner = _StepRunner(fp32, variants, tune)
    chosen, steps = search(sensitivity.layers, runner, target)
    kept = sensitivity.layers[:chosen]
    searched = time.perf_counter() - searched
    names = tuple(dict.fromkeys([*config.skip_patterns, *(e["layer"] for e in kept)]))
    final_config = dataclasses.replace(config, skip_patterns=names)
    final = quantize_model(fp32, workspace, final_config, calib_dir=calib_dir, eval_dir=eval_dir, force=force)
    verified = _verify(fp32, final.model, runner)
    met = target.met(verified)
    tuning = {
        "target": dataclasses.asdict(target), "target_text": target.describe(), "target_met": met,
        "tune": {"dir": str(tune.source), "images": len(tune), "labelled": runner.labelled,
                 **({"fp32_top1": runner.fp32_accuracy} if runner.labelled else {}), "note": tune.note},
        "kept_float": [{"layer": e["layer"], "rank": e["rank"], "op_type": e["op_type"], "cosine": e["cosine"],
                        "rmse_over_scale": e["rmse_over_scale"], "weight_bytes_fp32": e["weight_bytes_fp32"],
                        "weight_bytes_int8": e["weight_bytes_int8"],
                        "extra_bytes": e["weight_bytes_fp32"] - e["weight_bytes_int8"]} for e in kept],
        "steps": steps,
        "verified": {**verified, "model": final.model.name, "artifact": str(final.model.directory),
                     "note": "the built model measured again on the tune images (Paddle Inference)"},
        "best_model": str(final.model.directory),
        "seconds": {"plain_quantization": plain_seconds, "analysis": sensitivity.seconds, "search": searched,
                    "total": time.perf_counter() - started},
        "untuned_artifact": str(base.model.directory),
    }
    if not met:
        bound = len(sensitivity.layers) if target.max_float_layers is None else target.max_float_layers
        tuning["note"] = (f"target not met with up to {min(bound, len(sensitivity.layers))} float layers; "
                          f"best model found: {final.model.directory}")
    report = {**final.report, "layers": _chosen_reasons(final.report.get("layers"), kept, config.skip_patterns),
              "tuning": tuning, "images": roles,
              "sensitivity": {k: v for k, v in sensitivity.to_dict().items() if k != "model"}}
    return Tuned(dataclasses.replace(final, report=report), sensitivity, met)


def _chosen_reasons(layers: Optional[dict], kept: list[dict], user_patterns: tuple[str, ...]) -> Optional[dict]:
    """The layer report with the target's choices named as such (not as --skip patterns)."""
    if not layers:
        return layers
    ranks = {entry["layer"]: entry["rank"] for entry in kept}
    chosen = set(ranks) - set(user_patterns)
    kept_float = [{**k, "reason": f"accuracy target (sensitivity rank {ranks[k['layer']]})"}
                  if k["layer"] in chosen else k for k in layers["kept_float"]]
    resolved = {p: names for p, names in layers.get("skip_resolved", {}).items() if p not in chosen}
    return {**layers, "kept_float": kept_float, "skip_resolved": resolved}


def _verify(fp32: InferenceModel, int8: InferenceModel, runner: _StepRunner) -> dict:
    predictor = PaddlePredictor(int8.model_file, int8.params_file)
    return runner.figures([int(predictor(sample).argmax()) for sample in runner.tensors])
