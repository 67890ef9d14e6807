"""Measuring a quantized model: the stored report's fidelity on held-out photographs, and the
``eval`` section of a labelled evaluation folder (``--eval-dir``). Both models run in Paddle
Inference (see fidelity.py); calibration.py says which images are held out.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from edgekit import calibration
from edgekit.artifacts import InferenceModel

# Top-k reported beside top-1 for models with more than k classes.
TOP_K = 5
# Image paths listed in a report's held-out section (an evaluation set may hold thousands).
LISTED_IMAGES = 100


def held_out_fidelity(fp32: InferenceModel, int8_model: InferenceModel, calibrated: calibration.ImageSet) -> dict:
    """The stored report's ``fidelity`` section: both models on held-out images of the user's
    calibration folder, else on the shipped photographs (mirrored where they were calibration
    images; see calibration.held_out_set), preprocessed as the model's description says."""
    from edgekit import fidelity

    images, overlaps = calibration.held_out_set(calibrated)
    measured = fidelity.measure(fidelity.PaddlePredictor(fp32.model_file, fp32.params_file),
                                fidelity.PaddlePredictor(int8_model.model_file, int8_model.params_file),
                                images, calibration.preprocess_for(fp32.described()))
    measured.pop("accuracy", None)
    measured.pop("labelled_images", None)
    return {**measured, "held_out": images.describe(limit=LISTED_IMAGES), "overlaps_calibration": overlaps}


def count_classes(model: InferenceModel, predictor: Any = None) -> int:
    """The model's number of classes: from its program when it fixes them, else one run on zeros
    of the input size its description feeds (dynamic H/W included)."""
    if model.num_classes:
        return model.num_classes
    from edgekit import fidelity

    predictor = predictor or fidelity.PaddlePredictor(model.model_file, model.params_file)
    return int(predictor(np.zeros(model.described().feed_shape()[1:], np.float32)).size)


@dataclasses.dataclass(frozen=True)
class EvalPlan:
    """A labelled evaluation folder, read (and checked) before any quantization work."""

    fp32: InferenceModel
    folder: Path
    images: calibration.ImageSet
    fp32_run: Any  # fidelity.PaddlePredictor of the float model, reused for the evaluation
    num_classes: int = 0

    @classmethod
    def load(cls, fp32: InferenceModel, eval_dir: Path) -> "EvalPlan":
        from edgekit import fidelity

        fp32_run = fidelity.PaddlePredictor(fp32.model_file, fp32.params_file)
        num_classes = count_classes(fp32, fp32_run)
        folder = Path(eval_dir).expanduser().resolve()
        images = calibration.eval_set(folder, num_classes, fp32.described().labels)
        return cls(fp32, folder, images, fp32_run, num_classes)

    def run(self, int8_model: InferenceModel, calibration_digests: set[str]) -> dict:
        """The ``eval`` section: top-1/top-5 of both models, their agreement and cosine."""
        from edgekit import fidelity

        overlap = calibration.count_overlap(calibration_digests, self.images)
        measured = fidelity.measure(self.fp32_run,
                                    fidelity.PaddlePredictor(int8_model.model_file, int8_model.params_file),
                                    self.images, calibration.preprocess_for(self.fp32.described()))
        accuracy = measured.pop("accuracy")
        if self.num_classes <= TOP_K:  # top-5 of a model with 5 classes or fewer is always 1.0
            for figures in accuracy.values():
                figures.pop(f"top{TOP_K}", None)
        labelled = measured.pop("labelled_images")
        note = (f"{overlap} evaluation image(s) are also calibration images" if overlap
                else "no evaluation image is a calibration image")
        return {"dir": str(self.folder), "images": labelled, **accuracy, "labels": self.images.note,
                "overlaps_calibration": overlap > 0, "note": note, **measured}
