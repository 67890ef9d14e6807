"""Precomputed features of the zoo's architectures (fp32 and ``_int8``), shipped as
``edgekit/data/latency/zoo_features.csv`` so estimating a zoo name needs no export and no paddle.

``compute_zoo_features`` regenerates them (export of every architecture, then the program read);
a test checks the shipped file against a fresh computation. ``_ssld`` weight sets share their
base's program, so only architectures are stored.
"""

from __future__ import annotations

import csv
import functools
import io
from importlib import resources
from pathlib import Path
from typing import Optional

from edgekit import reference
from edgekit.estimate.data import FEATURES_FILE, LATENCY_DATA, architecture
from edgekit.estimate.features import ModelFeatures, feature_names, model_file_features


def quantized_types() -> tuple[str, ...]:
    """Operator types the default quantization preset makes int8 (what ``NAME_int8`` is built with)."""
    from edgekit.quant_config import DEFAULT_PRESET, QuantConfig

    return tuple(QuantConfig.from_preset(DEFAULT_PRESET).quantizable_op_type)


def architectures() -> list[str]:
    """The zoo's architectures: every registered name but the ``_ssld`` weight sets."""
    from edgekit import zoo

    return [name for name in zoo.list_models() if architecture(name) == name]


@functools.lru_cache(maxsize=1)
def zoo_features() -> dict[str, ModelFeatures]:
    """Shipped features by name (``MobileNetV2``, ``MobileNetV2_int8``)."""
    with resources.files("edgekit.data").joinpath(LATENCY_DATA, FEATURES_FILE).open(newline="") as f:
        return {row["model"]: ModelFeatures.from_row(row) for row in csv.DictReader(f)}


def features_key(name: str) -> str:
    """The key of ``name`` in zoo_features(): its architecture, plus ``_int8`` for int8 names."""
    return reference.int8_name(architecture(name)) if reference.split_int8(name)[1] else architecture(name)


def find_zoo_features(name: str) -> Optional[ModelFeatures]:
    return zoo_features().get(features_key(name))


def compute_zoo_features(workspace, names: Optional[list[str]] = None) -> list[ModelFeatures]:
    """Export each architecture (random weights: the program is all that counts) and read its
    features as fp32 and as int8 with the default preset's quantized operator types."""
    from edgekit.export import export_model

    int8_types = quantized_types()
    features = []
    for name in names or architectures():
        model = export_model(name, workspace)
        features.append(model_file_features(model.model_file, name))
        features.append(model_file_features(model.model_file, reference.int8_name(name), quantized_types=int8_types))
    return features


def features_csv(features: list[ModelFeatures]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, ["model", "precision", "input_shape", "weight_bytes", *feature_names()],
                            lineterminator="\n")
    writer.writeheader()
    for f in features:
        writer.writerow(f.to_row())
    return out.getvalue()


def shipped_features_path() -> Path:
    return Path(str(resources.files("edgekit.data").joinpath(LATENCY_DATA, FEATURES_FILE)))
