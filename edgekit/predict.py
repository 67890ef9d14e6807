"""Predict: classify images on this machine with Paddle Lite's x86 runtime.

The MODEL is resolved by edgekit.resolve (with the description flags); the images go through
the evaluation transform of the model's description (``edgekit.preprocess.Transform``: its
resize, crop, normalization and channel order, at its input size), the x86 ``.nb`` runs in a
child process (``edgekit.lite_runtime``) and the top-k classes come with the description's
labels (class ids when it has none) and softmax scores. A model name, folder or .onnx file is
converted for x86 on demand; a ``.nb`` path is used as it is.

Results of a model exported without pretrained weights (random weights, as the export's manifest
records it, also for a reused export or a workspace ``.nb``) are flagged as untrusted. Host
results of int8 ``.nb`` files are flagged too: on Paddle Lite 2.13rc0's x86
runtime the int8 kernels segfault or give NaN with a quantized fc, and with the fc kept float
their int8 convolutions gave wrong answers (a pretrained classifier fell to chance while the
same program was right in Paddle Inference). Measure int8 accuracy with ``edgekit quantize``
(Paddle Inference) or on the phone instead.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from edgekit.artifacts import Pretrained, is_random_weights, manifest_weights
from edgekit.description import DescriptionOverrides, ModelDescription
from edgekit.errors import InvalidInputError, RuntimeCrashError, UsageError
from edgekit.workspace import Workspace, read_manifest

INT8_WARNING = ("int8 .nb on the host: Paddle Lite 2.13rc0's x86 int8 kernels are known to give wrong "
                "results (or crash), so these scores cannot be trusted; measure int8 accuracy with "
                "'edgekit quantize' (Paddle Inference) or on the phone")
DEFAULT_TOPK = 5  # classes shown per image when neither --topk nor the deploy config says (PaddleClas: 5)
NAN_WARNING = "the runtime returned NaN or infinite values: these scores cannot be trusted"
RANDOM_WEIGHTS_WARNING = ("random weights: the model was exported without pretrained weights, so these classes "
                          "mean nothing; give --pretrained (official, a .pdparams file or a URL)")


@dataclasses.dataclass(frozen=True)
class ClassScore:
    class_id: int
    label: str
    score: float


@dataclasses.dataclass(frozen=True)
class ImagePrediction:
    image: str
    top: tuple[ClassScore, ...]


@dataclasses.dataclass(frozen=True)
class PredictionResult:
    model: str
    nb_path: Path
    quantized: bool
    trusted: bool
    warning: Optional[str]
    predictions: tuple[ImagePrediction, ...]
    description: Optional[ModelDescription] = None

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "nb_path": str(self.nb_path),
            "description": self.description.summary() if self.description else None,
            "quantized": self.quantized,
            "trusted": self.trusted,
            "warning": self.warning,
            "predictions": [
                {"image": p.image, "top": [dataclasses.asdict(c) for c in p.top]} for p in self.predictions
            ],
        }


@dataclasses.dataclass(frozen=True)
class _HostModel:
    name: str
    nb_path: Path
    quantized: bool
    description: ModelDescription
    random_weights: bool


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax; rows that already are probabilities (≥ 0, summing to 1) pass unchanged."""
    logits = np.asarray(logits, dtype=np.float64)
    sums = logits.sum(axis=1, keepdims=True)
    if np.all(logits >= 0) and np.allclose(sums, 1.0, atol=1e-3):
        return logits  # a model exported with a softmax head already gives probabilities
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def top_k(probabilities: np.ndarray, k: int, labels: Optional[Sequence[str]]) -> tuple[ClassScore, ...]:
    """The k best classes; a class without a label (or no labels at all) is named by its id."""
    labels = labels or ()
    order = np.argsort(-probabilities, kind="stable")[:k]
    return tuple(ClassScore(int(i), labels[i] if i < len(labels) else f"class {i}", float(probabilities[i]))
                 for i in order)


def _nb_model(nb_path: Path, description: ModelDescription) -> _HostModel:
    """A user-given .nb: its manifest when it is a workspace artifact, else its kernel keys."""
    from edgekit.lite_runtime import inspect_nb

    if not nb_path.is_file():
        raise InvalidInputError(f"Paddle Lite model {nb_path} does not exist")
    kernels = inspect_nb(nb_path)
    if kernels.count and not kernels.runs_on_x86:
        raise UsageError(f"{nb_path} was optimized for {', '.join(sorted(kernels.targets - {'host', 'any'}))}, "
                         f"not x86; give the model name or folder and predict converts it for x86")
    manifest = read_manifest(nb_path.parent)
    quantized = kernels.int8 or bool(manifest and manifest.settings.get("quantized"))
    name = manifest.model if manifest else nb_path.stem
    return _HostModel(name=name, nb_path=nb_path, quantized=quantized, description=description,
                      random_weights=is_random_weights(manifest_weights(manifest)))


def _host_model(model: Union[str, Path], workspace: Workspace, pretrained: Pretrained,
                overrides: Optional[DescriptionOverrides]) -> _HostModel:
    from edgekit.convert import convert_model
    from edgekit.resolve import resolve_model

    resolved = resolve_model(model, workspace, pretrained=pretrained, overrides=overrides)
    if resolved.nb_path is not None:  # a .nb, or a convert folder's
        return _nb_model(resolved.nb_path, resolved.description)
    source = resolved.model
    source.described().feed_hw()  # a dynamic input without a size: say so before converting
    lite = convert_model(source, workspace, target="x86")
    return _HostModel(name=lite.name, nb_path=lite.nb_path, quantized=lite.quantized,
                      description=source.described(), random_weights=source.random_weights)


def _warning(host: _HostModel, finite: bool) -> Optional[str]:
    """Why the scores cannot be trusted (every reason, most serious first), or None."""
    reasons = [text for applies, text in ((host.quantized, INT8_WARNING), (not finite, NAN_WARNING),
                                          (host.random_weights, RANDOM_WEIGHTS_WARNING)) if applies]
    return "; ".join(reasons) or None


def predict_images(images: Sequence[Union[str, Path]], model: Union[str, Path], workspace: Workspace, *,
                   topk: Optional[int] = None, threads: int = 1, pretrained: Pretrained = None,
                   overrides: Optional[DescriptionOverrides] = None) -> PredictionResult:
    """Top-``topk`` classes of each image by the x86 .nb of ``model``, preprocessed and labelled
    as the model's description (with ``overrides``) says; ``topk`` None: the description's
    (its deploy config's PostProcess.Topk.topk), else DEFAULT_TOPK."""
    from edgekit.lite_runtime import run_nb
    from edgekit.preprocess import Transform, decode_image

    if not images:
        raise UsageError("give at least one image")
    if topk is not None and topk < 1:
        raise UsageError(f"--topk must be at least 1 (got {topk})")
    if threads < 1:
        raise UsageError(f"--threads must be at least 1 (got {threads})")
    # Decode first: an unreadable image (named in the InvalidInputError) fails before any conversion.
    decoded = [decode_image(Path(image)) for image in images]
    host = _host_model(model, workspace, pretrained, overrides)
    description = host.description
    description.feed_hw()  # UsageError naming what to give when a dynamic input has no size
    topk = topk if topk is not None else description.topk or DEFAULT_TOPK
    batch = Transform(description.preprocess).batch(decoded, names=[str(image) for image in images])
    try:
        logits = run_nb(host.nb_path, batch, threads=threads)
    except RuntimeCrashError as e:
        if host.quantized:  # known: say so, rather than leave the user to guess
            raise RuntimeCrashError(f"{e} (an int8 .nb: Paddle Lite 2.13rc0's x86 int8 kernels are known to "
                                    f"crash; measure int8 models with 'edgekit quantize' or on the phone)") from None
        raise
    logits = logits.reshape(len(logits), -1)
    if description.labels is not None and logits.shape[1] != len(description.labels):
        raise InvalidInputError(f"{len(description.labels)} labels ({description.source}) for {host.name}, whose "
                                f"output has {logits.shape[1]} classes")
    finite = bool(np.all(np.isfinite(logits)))
    probabilities = softmax(np.nan_to_num(logits, nan=0.0, posinf=0.0, neginf=0.0))
    labels = description.labels
    warning = _warning(host, finite)
    return PredictionResult(
        model=host.name, nb_path=host.nb_path, quantized=host.quantized, trusted=warning is None, warning=warning,
        predictions=tuple(ImagePrediction(str(image), top_k(row, topk, labels))
                          for image, row in zip(images, probabilities)),
        description=description,
    )


def format_predictions(result: PredictionResult) -> str:
    lines = [f"model {result.model} ({result.nb_path}, Paddle Lite x86)"]
    if result.description is not None:
        spec, shape = result.description.preprocess, result.description.feed_shape()
        lines.append(f"input {shape[2]}x{shape[3]} (HxW) {spec.channel_order}, {spec.interpolation}; "
                     f"description: {result.description.source}")
    if result.warning:
        lines.append(f"WARNING: {result.warning}")
    for prediction in result.predictions:
        lines.append(prediction.image)
        for rank, score in enumerate(prediction.top, 1):
            lines.append(f"  {rank}. {score.class_id:4d}  {score.score:.4f}  {score.label}")
    return "\n".join(lines)
