"""How close an int8 program stays to its fp32 original, both run by Paddle Inference on CPU.

Paddle Inference runs the quantized program as PaddleSlim saved it (quantize/dequantize ops
simulate int8 in float), which is what the int8 model computes on a phone up to rounding.
Paddle Lite's own x86 int8 kernels are not used: on this CPU they give wrong answers.
"""

from __future__ import annotations

import numpy as np

from edgekit._paddle import PaddlePredictor
from edgekit.calibration import ImageSet, iter_tensors
from edgekit.errors import ToolError
from edgekit.preprocess import Transform

# Per-image results are listed up to this many images (an evaluation set may hold thousands).
PER_IMAGE_LIMIT = 100
RUNTIME = "Paddle Inference (CPU), quantized program as saved by PaddleSlim"


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


def measure(fp32: PaddlePredictor, int8: PaddlePredictor, images: ImageSet, preprocess: Transform) -> dict:
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
