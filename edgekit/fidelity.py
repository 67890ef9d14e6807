"""How close an int8 program stays to its fp32 original, both run by Paddle Inference on CPU.

Paddle Inference runs the quantized program as PaddleSlim saved it (quantize/dequantize ops
simulate int8 in float), which is what the int8 model computes on a phone up to rounding.
Paddle Lite's own x86 int8 kernels are not used: on this CPU they give wrong answers.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

import numpy as np

from edgekit.calibration import ImageSet, iter_tensors
from edgekit.errors import ToolError
from edgekit.preprocess import Preprocess

# Per-image results are listed up to this many images (an evaluation set may hold thousands).
PER_IMAGE_LIMIT = 100
RUNTIME = "Paddle Inference (CPU), quantized program as saved by PaddleSlim"


class PaddlePredictor:
    """One Paddle Inference predictor, fed one sample at a time (edgekit exports batch 1)."""

    def __init__(self, model_file: Path, params_file: Path, *, threads: Optional[int] = None):
        from paddle import inference

        config = inference.Config(str(model_file), str(params_file))
        config.disable_gpu()
        config.disable_glog_info()
        # Run the program as saved: no fusion passes, so the int8 program computes exactly what
        # PaddleSlim wrote, and creating a predictor for the ~800-op quantized program is ~1 s faster.
        config.switch_ir_optim(False)
        config.set_cpu_math_library_num_threads(threads or os.cpu_count() or 1)
        try:
            self._predictor = inference.create_predictor(config)
        except Exception as e:  # paddle raises its own enforce errors for unreadable programs
            raise ToolError(f"Paddle Inference cannot load {model_file}: {error_gist(e)}") from None
        self._input = self._predictor.get_input_handle(self._predictor.get_input_names()[0])
        self._output = self._predictor.get_output_handle(self._predictor.get_output_names()[0])
        self.model_file = model_file

    def __call__(self, sample: np.ndarray) -> np.ndarray:
        """Logits of one CHW sample."""
        self._input.reshape([1, *sample.shape])
        self._input.copy_from_cpu(np.ascontiguousarray(sample[None], dtype=np.float32))
        self._predictor.run()
        return self._output.copy_to_cpu().reshape(-1)


def error_gist(error: BaseException) -> str:
    """The informative line of a paddle/PaddleSlim error: their messages span many lines (a
    Python stack, then ``SomeError: what happened``, then hints); keep the ``...Error:`` line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    summaries = [line for line in lines if re.match(r"^[A-Za-z]*Error: ", line)]
    text = (summaries or lines or [type(error).__name__])[-1]
    return text if len(text) <= 300 else text[:297] + "..."


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors; 1.0 when both are zero, 0.0 when only one is."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    if norms == 0.0:
        return 1.0 if not a.any() and not b.any() else 0.0
    return float(np.dot(a, b) / norms)


def topk_hit(logits: np.ndarray, label: int, k: int) -> bool:
    return bool(label in np.argsort(-logits, kind="stable")[:k])


def measure(fp32: PaddlePredictor, int8: PaddlePredictor, images: ImageSet, preprocess: Preprocess) -> dict:
    """Run both models on every image: top-1 agreement, cosine of the logits and, when the images
    carry labels, top-1/top-5 accuracy of each model."""
    agree, cosines, per_image = [], [], []
    hits = {"fp32": {1: 0, 5: 0}, "int8": {1: 0, 5: 0}}
    labelled = 0
    for view, sample in iter_tensors(images, preprocess):
        ref, quant = fp32(sample), int8(sample)
        if not np.all(np.isfinite(quant)):
            raise ToolError(f"the int8 program gives non-finite logits on {view.describe()}")
        agree.append(int(ref.argmax()) == int(quant.argmax()))
        cosines.append(cosine(ref, quant))
        per_image.append({"image": view.describe(), "fp32_top1": int(ref.argmax()),
                          "int8_top1": int(quant.argmax()), "cosine": round(cosines[-1], 6)})
        if view.label is not None:
            labelled += 1
            for name, logits in (("fp32", ref), ("int8", quant)):
                for k in (1, 5):
                    hits[name][k] += topk_hit(logits, view.label, k)
    result = {
        "runtime": RUNTIME,
        "images": len(agree),
        "top1_agreement": float(np.mean(agree)) if agree else None,
        "cosine_mean": float(np.mean(cosines)) if cosines else None,
        "cosine_min": float(np.min(cosines)) if cosines else None,
    }
    if len(per_image) <= PER_IMAGE_LIMIT:
        result["per_image"] = per_image
    if labelled:
        result["accuracy"] = {name: {"top1": hits[name][1] / labelled, "top5": hits[name][5] / labelled}
                              for name in ("fp32", "int8")}
        result["labelled_images"] = labelled
    return result
