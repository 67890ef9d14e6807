"""A model's deployment description: its input shape, its preprocessing and its labels.

Every artifact's manifest carries one (``"description"``), the Android app gets it as
``description.json``, and calibration, evaluation, the fidelity check, ``predict`` and
``bench`` read it instead of assuming ImageNet at 224x224. Where it comes from:

- a zoo model: PaddleClas's ImageNet evaluation (resize the short side to 256, crop 224,
  bilinear, RGB, ImageNet mean/std, the 1000 ImageNet labels);
- a model folder: a PaddleClas deploy config (``--config FILE``, or one found beside the model:
  see ``CONFIG_NAMES``), in the format PaddleClas's predictor and FastDeploy read
  (``PreProcess.transform_ops``, ``PostProcess.Topk.class_id_map_file``);
- else a default: ImageNet preprocessing sized for the model's input, class ids only;
- command-line flags override single fields (``DescriptionOverrides``).

This module imports nothing heavy (no paddle, no cv2): the CLI and the app builder use it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

from edgekit.errors import InvalidInputError, UsageError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area", "lanczos")
CHANNEL_ORDERS = ("RGB", "BGR")
# PaddleClas evaluates at a crop of 224 after resizing the short side to 256: crop = 0.875 x short side.
CROP_RATIO = 0.875
ZOO_SOURCE = "zoo (PaddleClas ImageNet eval)"
DEFAULT_SOURCE = "default (ImageNet preprocessing at the model's input size; no deploy config)"
# Deploy configs looked for beside a model, in this order: PaddleClas's export writes
# inference.yml; its deploy/configs and FastDeploy's examples use inference_cls.yaml.
CONFIG_NAMES = ("inference.yml", "inference.yaml", "inference_cls.yaml", "inference_cls.yml")
# Transforms of a deploy config edgekit applies; anything else is refused by name.
KNOWN_TRANSFORMS = ("DecodeImage", "ResizeImage", "CropImage", "NormalizeImage", "ToCHWImage")

Size = tuple[int, int]  # (width, height), as PaddleClas's ResizeImage/CropImage write sizes


@dataclasses.dataclass(frozen=True)
class PreprocessSpec:
    """PaddleClas's evaluation transform with its parameters (see edgekit.preprocess for the arithmetic).

    At most one of ``resize_short`` / ``resize_size`` (neither: no resize). Sizes are (width, height).
    ``channel_order`` is the order of the channels fed to the model; the layout is always CHW.
    """

    resize_short: Optional[int] = 256
    resize_size: Optional[Size] = None
    interpolation: str = "bilinear"
    crop: Optional[Size] = (224, 224)
    scale: float = 1 / 255
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    channel_order: str = "RGB"

    def __post_init__(self) -> None:
        def set_(name: str, value: Any) -> None:  # the dataclass is frozen
            object.__setattr__(self, name, value)

        set_("resize_size", _size(self.resize_size, "resize size"))
        set_("crop", _size(self.crop, "crop"))
        set_("mean", _triple(self.mean, "mean"))
        set_("std", _triple(self.std, "std"))
        set_("interpolation", str(self.interpolation).lower())
        set_("channel_order", str(self.channel_order).upper())
        if self.resize_short is not None:
            if not _positive_int(self.resize_short):
                raise UsageError(f"resize short side must be a positive integer, not {self.resize_short!r}")
            if self.resize_size is not None:
                raise UsageError("give either a short-side resize or a fixed resize size, not both")
        if self.interpolation not in INTERPOLATIONS:
            raise UsageError(f"unknown interpolation {self.interpolation!r} (known: {', '.join(INTERPOLATIONS)})")
        if self.channel_order not in CHANNEL_ORDERS:
            raise UsageError(f"unknown channel order {self.channel_order!r} (known: RGB, BGR)")
        if not isinstance(self.scale, (int, float)) or isinstance(self.scale, bool) or not self.scale > 0:
            raise UsageError(f"normalize scale must be a positive number, not {self.scale!r}")
        set_("scale", float(self.scale))
        if any(s == 0 for s in self.std):
            raise UsageError(f"std {self.std} has a zero: normalizing would divide by zero")

    @property
    def output_size(self) -> Optional[Size]:
        """(width, height) of the tensor this transform makes, when fixed (crop, else fixed resize)."""
        return self.crop or self.resize_size

    def to_dict(self) -> dict:
        return {"resize_short": self.resize_short,
                "resize_size": list(self.resize_size) if self.resize_size else None,
                "interpolation": self.interpolation,
                "crop": list(self.crop) if self.crop else None,
                "scale": self.scale, "mean": list(self.mean), "std": list(self.std),
                "channel_order": self.channel_order}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PreprocessSpec":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(f"unknown preprocessing field(s) {', '.join(unknown)}")
        return cls(**dict(data))


@dataclasses.dataclass(frozen=True)
class ModelDescription:
    """What a deployment needs to know about a model besides its program and weights."""

    input_shape: tuple[int, ...]  # NCHW; -1 for dynamic dims (batch or H/W)
    preprocess: PreprocessSpec
    labels: Optional[tuple[str, ...]]  # index = class id; None = class ids only
    source: str
    topk: Optional[int] = None  # PostProcess.Topk.topk: how many classes predict shows; None = not said

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(int(d) for d in self.input_shape))
        if self.labels is not None:
            object.__setattr__(self, "labels", tuple(str(label) for label in self.labels))
        if self.topk is not None and not _positive_int(self.topk):
            raise InvalidInputError(f"topk must be a positive integer, not {self.topk!r}")

    def to_dict(self) -> dict:
        data = {"input_shape": list(self.input_shape), "preprocess": self.preprocess.to_dict(),
                "labels": list(self.labels) if self.labels is not None else None, "source": self.source}
        if self.topk is not None:  # only when said: descriptions stored before topk keep their digest
            data["topk"] = self.topk
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelDescription":
        try:
            return cls(input_shape=tuple(data["input_shape"]), preprocess=PreprocessSpec.from_dict(data["preprocess"]),
                       labels=tuple(data["labels"]) if data.get("labels") is not None else None,
                       source=str(data.get("source", "")), topk=data.get("topk"))
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidInputError(f"malformed model description: {e}") from None

    def summary(self) -> dict:
        """to_dict with the labels counted, not listed (for command output)."""
        return {**self.to_dict(), "labels": None if self.labels is None else len(self.labels)}

    def digest(self) -> str:
        """sha256 of the canonical JSON: part of the keys of artifacts that store the description."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def dynamic_hw(self) -> bool:
        return len(self.input_shape) == 4 and (self.input_shape[2] <= 0 or self.input_shape[3] <= 0)

    def feed_hw(self) -> tuple[int, int]:
        """(height, width) of the images fed to the model: the input's when fixed, else the
        preprocessing's output size; UsageError (saying what to give) when neither fixes it."""
        if len(self.input_shape) == 4 and not self.dynamic_hw:
            return int(self.input_shape[2]), int(self.input_shape[3])
        size = self.preprocess.output_size
        if size is None:
            raise UsageError(f"the model's input height/width are dynamic ({shape_text(self.input_shape)}) and its "
                             f"description ({self.source}) fixes no size: give --input-size HxW, or a deploy config "
                             "with a CropImage or ResizeImage size (--config, or inference_cls.yaml beside the "
                             "model)")
        return size[1], size[0]

    def feed_shape(self, batch: int = 1) -> tuple[int, int, int, int]:
        """The NCHW shape fed at run time (dynamic batch → ``batch``, dynamic H/W → feed_hw)."""
        height, width = self.feed_hw()
        n = self.input_shape[0] if self.input_shape and self.input_shape[0] > 0 else batch
        return n, 3, height, width

    def label(self, class_id: int) -> str:
        if self.labels is not None and 0 <= class_id < len(self.labels):
            return self.labels[class_id]
        return f"class {class_id}"


def shape_text(shape: Sequence[int]) -> str:
    return "x".join("?" if d < 0 else str(d) for d in shape)


# -------------------------------------------------------------------------------- defaults


def zoo_description(input_size: Union[int, Sequence[int]] = 224) -> ModelDescription:
    """A zoo model exported by edgekit: PaddleClas's ImageNet evaluation with the 1000 labels.
    ``input_size``: the side of a square input, or (height, width)."""
    height, width = _hw(input_size)
    return dataclasses.replace(default_description((1, 3, height, width)), labels=tuple(imagenet_labels()),
                               source=ZOO_SOURCE)


def default_description(input_shape: Sequence[int]) -> ModelDescription:
    """ImageNet preprocessing sized for ``input_shape``, no labels: a square input is resized on
    its short side to side/0.875 and center-cropped (PaddleClas's evaluation); a non-square one
    is resized to its size (as PaddleClas's non-square PULC models are); dynamic H/W: no size."""
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 4 or shape[1] != 3:
        raise InvalidInputError(f"model input shape {shape_text(shape)} is not (N, 3, H, W): "
                                "edgekit feeds RGB images")
    return ModelDescription(shape, preprocess_for_size(shape[2], shape[3]), None, DEFAULT_SOURCE)


def preprocess_for_size(height: int, width: int) -> PreprocessSpec:
    """The default transform for an input of height x width (see default_description)."""
    if height <= 0 or width <= 0:
        return PreprocessSpec(resize_short=None, crop=None)
    if height == width:
        return PreprocessSpec(resize_short=int(round(height / CROP_RATIO)), crop=(width, height))
    return PreprocessSpec(resize_short=None, resize_size=(width, height), crop=None)


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet-1k class names; index = class id."""
    from importlib import resources

    return resources.files("edgekit.data").joinpath("imagenet1k_labels.txt").read_text().splitlines()


# ------------------------------------------------------------------------------ label files


def read_labels(path: Union[str, Path]) -> tuple[str, ...]:
    """Labels of a PaddleClas ``class_id_map_file`` (``id name`` per line, the name may hold
    spaces; ids 0..N-1, each once) or of a plain list (one name per line, index = class id).
    Lines of one word each are names, numbers included (``0 90 180 270``: rotation classes); a
    UTF-8 byte-order mark (Windows editors write one) is not part of the first line."""
    path = Path(path).expanduser()
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInputError(f"cannot read label file {path}: {getattr(e, 'strerror', None) or e}") from None
    lines = [line for line in lines if line]
    if not lines:
        raise InvalidInputError(f"label file {path} holds no label")
    if not all(line.split(maxsplit=1)[0].isdecimal() for line in lines) or all(len(line.split()) == 1 for line in lines):
        return tuple(lines)
    labels: dict[int, str] = {}
    for number, line in enumerate(lines, start=1):
        parts = line.split(maxsplit=1)
        class_id = int(parts[0])
        if class_id in labels:
            raise InvalidInputError(f"label file {path}: class id {class_id} appears twice")
        labels[class_id] = parts[1] if len(parts) > 1 else str(class_id)
    missing = sorted(set(range(len(labels))) - set(labels))
    if missing:
        raise InvalidInputError(f"label file {path}: class ids must run 0..{len(labels) - 1}; "
                                f"{missing[0]} is missing")
    return tuple(labels[i] for i in range(len(labels)))


def check_labels(description: ModelDescription, num_classes: Optional[int], model: str,
                 labels_file: Optional[Path] = None) -> None:
    """InvalidInputError when the description's labels do not count the model's classes; the
    message names ``labels_file`` (--labels) when the labels came from it, else the source."""
    if description.labels is None or num_classes is None or num_classes <= 0:
        return
    if len(description.labels) != num_classes:
        where = f"from {labels_file}, given with --labels" if labels_file is not None else description.source
        raise InvalidInputError(f"{len(description.labels)} labels ({where}) for {model}, whose "
                                f"output has {num_classes} classes")


# ---------------------------------------------------------------------------- deploy configs


def find_config(model_dir: Path) -> Optional[Path]:
    """A PaddleClas deploy config beside a model: one of CONFIG_NAMES, else the only
    ``inference_*.yaml``/``.yml`` (PULC's names); InvalidInputError when several could be meant."""
    for name in CONFIG_NAMES:
        if (model_dir / name).is_file():
            return model_dir / name
    others = sorted(p for pattern in ("inference_*.yaml", "inference_*.yml") for p in model_dir.glob(pattern))
    if len(others) > 1:
        raise InvalidInputError(f"{model_dir} holds several deploy configs ({', '.join(p.name for p in others)}): "
                                "give one with --config")
    return others[0] if others else None


def read_config(path: Union[str, Path], input_shape: Sequence[int]) -> ModelDescription:
    """The description a PaddleClas deploy config gives a model whose input is ``input_shape``;
    a PaddleClas training config's ``Infer`` section (``transforms``, ``PostProcess`` with
    ``name: Topk``) is read the same way."""
    import yaml

    path = Path(path).expanduser()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InvalidInputError(f"cannot read deploy config {path}: {e.strerror or e}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise InvalidInputError(f"deploy config {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        data = {}
    if isinstance(data.get("PreProcess"), dict):
        section, post = "PreProcess.transform_ops", data.get("PostProcess")
        ops = data["PreProcess"].get("transform_ops")
    elif isinstance(data.get("Infer"), dict) and "transforms" in data["Infer"]:  # a training config
        ops, section, post = data["Infer"]["transforms"], "Infer.transforms", _by_name(data["Infer"].get("PostProcess"))
    else:
        raise InvalidInputError(f"deploy config {path} has no PreProcess section (PaddleClas's "
                                "PreProcess.transform_ops, or a training config's Infer.transforms)")
    if not isinstance(ops, list) or not ops:
        raise InvalidInputError(f"deploy config {path}: {section} must be a list of transforms")
    spec = _spec_from_ops(ops, path)
    labels = _labels_from_postprocess(post, path)
    description = ModelDescription(tuple(int(d) for d in input_shape), spec, labels, str(path),
                                   _topk_from_postprocess(post, path))
    check_size(description)
    return description


def _by_name(post: Any) -> Any:
    """A training config's ``PostProcess: {name: Topk, topk: .., class_id_map_file: ..}`` in the
    deploy config's form ``{Topk: {topk: .., class_id_map_file: ..}}``."""
    if not isinstance(post, dict) or not isinstance(post.get("name"), str):
        return post
    return {post["name"]: {k: v for k, v in post.items() if k != "name"}}


def _spec_from_ops(ops: list, path: Path) -> PreprocessSpec:
    fields: dict[str, Any] = {"resize_short": None, "crop": None}
    seen: list[str] = []
    for number, op in enumerate(ops, start=1):
        if not isinstance(op, dict) or len(op) != 1:
            raise InvalidInputError(f"deploy config {path}: transform {number} must be one 'Name: {{params}}' entry")
        name, params = next(iter(op.items()))
        params = params or {}
        if name not in KNOWN_TRANSFORMS:
            raise InvalidInputError(f"deploy config {path}: unknown transform {name!r} (edgekit applies "
                                    f"{', '.join(KNOWN_TRANSFORMS)})")
        if not isinstance(params, dict):
            raise InvalidInputError(f"deploy config {path}: {name} needs a mapping of parameters")
        where = f"deploy config {path}: {name}"
        try:
            fields.update(_TRANSFORM_READERS[name](params, where))
        except (TypeError, ValueError) as e:
            raise InvalidInputError(f"{where}: {e}") from None
        seen.append(name)
    if seen != sorted(seen, key=KNOWN_TRANSFORMS.index) or len(set(seen)) != len(seen):
        raise InvalidInputError(f"deploy config {path}: transforms in the order {' → '.join(seen)}; edgekit applies "
                                f"each at most once, in the order {' → '.join(KNOWN_TRANSFORMS)}")
    if "ToCHWImage" not in seen:
        raise InvalidInputError(f"deploy config {path}: transform_ops has no ToCHWImage (edgekit feeds NCHW tensors)")
    try:
        return PreprocessSpec(**fields)
    except UsageError as e:
        raise InvalidInputError(f"deploy config {path}: {e}") from None


def _read_decode(params: dict, where: str) -> dict:
    _only(params, ("to_rgb", "to_np", "channel_first"), where)
    if params.get("channel_first"):
        raise ValueError("channel_first is not supported (ToCHWImage makes the layout)")
    return {"channel_order": "RGB" if params.get("to_rgb", True) else "BGR"}


def _read_resize(params: dict, where: str) -> dict:
    _only(params, ("resize_short", "size", "interpolation", "backend", "return_numpy"), where)
    if str(params.get("backend", "cv2")).lower() != "cv2":
        raise ValueError(f"backend {params['backend']!r} is not supported: edgekit resizes with OpenCV (cv2)")
    interpolation = params.get("interpolation") or "bilinear"
    if params.get("resize_short") is not None and params["resize_short"] > 0:
        return {"resize_short": int(params["resize_short"]), "resize_size": None, "interpolation": interpolation}
    if params.get("size") is None:
        raise ValueError("needs resize_short or size")
    return {"resize_short": None, "resize_size": _wh(params["size"]), "interpolation": interpolation}


def _read_crop(params: dict, where: str) -> dict:
    _only(params, ("size",), where)
    if params.get("size") is None:
        raise ValueError("needs size")
    return {"crop": _wh(params["size"])}


def _read_normalize(params: dict, where: str) -> dict:
    _only(params, ("scale", "mean", "std", "order", "channel_num", "output_fp16"), where)
    if params.get("channel_num", 3) != 3:
        raise ValueError(f"channel_num {params['channel_num']} is not supported (edgekit feeds 3 channels)")
    if params.get("output_fp16"):
        raise ValueError("output_fp16 is not supported (edgekit feeds float32)")
    if str(params.get("order") or "hwc").lower() not in ("hwc", "chw"):
        raise ValueError(f"order {params['order']!r} is neither hwc nor chw")
    return {"scale": _scale(params.get("scale", 1 / 255)),
            "mean": tuple(params.get("mean") or IMAGENET_MEAN), "std": tuple(params.get("std") or IMAGENET_STD)}


def _read_to_chw(params: dict, where: str) -> dict:
    _only(params, (), where)
    return {}


_TRANSFORM_READERS = {"DecodeImage": _read_decode, "ResizeImage": _read_resize, "CropImage": _read_crop,
                      "NormalizeImage": _read_normalize, "ToCHWImage": _read_to_chw}


def _labels_from_postprocess(post: Any, path: Path) -> Optional[tuple[str, ...]]:
    """Labels of PostProcess.Topk (class_id_map_file relative to the config, or label_list as
    PaddleClas's export writes it) or of ThreshOutput (label_0/label_1); None otherwise."""
    if not isinstance(post, dict):
        return None
    topk = post.get("Topk")
    if isinstance(topk, dict):
        if topk.get("label_list"):
            return tuple(str(label) for label in topk["label_list"])
        if topk.get("class_id_map_file"):
            labels_file = Path(str(topk["class_id_map_file"])).expanduser()
            labels_file = labels_file if labels_file.is_absolute() else path.parent / labels_file
            if not labels_file.is_file():
                raise InvalidInputError(f"deploy config {path}: class_id_map_file {labels_file} does not exist "
                                        "(paths are relative to the config's folder); fix it or give --labels FILE")
            return read_labels(labels_file)
    thresh = post.get("ThreshOutput")
    if isinstance(thresh, dict) and "label_0" in thresh and "label_1" in thresh:
        return str(thresh["label_0"]), str(thresh["label_1"])
    return None


def _topk_from_postprocess(post: Any, path: Path) -> Optional[int]:
    """PostProcess.Topk.topk (how many classes PaddleClas's predictor prints); None when not set."""
    topk = post.get("Topk") if isinstance(post, dict) else None
    if not isinstance(topk, dict) or topk.get("topk") is None:
        return None
    if not _positive_int(topk["topk"]):
        raise InvalidInputError(f"deploy config {path}: PostProcess.Topk.topk must be a positive integer, "
                                f"not {topk['topk']!r}")
    return int(topk["topk"])


def _only(params: dict, allowed: Sequence[str], where: str) -> None:
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InvalidInputError(f"{where}: unknown parameter(s) {', '.join(unknown)}")


def _scale(value: Any) -> float:
    """NormalizeImage.scale: a number, or PaddleClas's fraction string such as '1.0/255.0'."""
    if isinstance(value, str):
        parts = value.split("/")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"scale {value!r} is not a number or a fraction like 1.0/255.0") from None
        if len(numbers) == 2 and numbers[1] != 0:
            return numbers[0] / numbers[1]
        if len(numbers) == 1:
            return numbers[0]
        raise ValueError(f"scale {value!r} is not a number or a fraction like 1.0/255.0")
    return float(value)


# -------------------------------------------------------------------------------- overrides


@dataclasses.dataclass(frozen=True)
class DescriptionOverrides:
    """What the command line says about a model's deployment; None = not said.

    ``config`` replaces the preprocessing and labels wholesale; the other fields then replace
    single values. ``input_size`` is (height, width): the size to feed a model whose H/W are
    dynamic (for a fixed input it must match). ``crop=(0, 0)`` means no crop.
    """

    config: Optional[Path] = None
    input_size: Optional[tuple[int, int]] = None
    labels: Optional[Path] = None
    resize_short: Optional[int] = None
    resize: Optional[Size] = None
    crop: Optional[Size] = None
    interpolation: Optional[str] = None
    mean: Optional[tuple[float, float, float]] = None
    std: Optional[tuple[float, float, float]] = None
    channel_order: Optional[str] = None

    @property
    def empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in dataclasses.fields(self))

    def apply(self, base: ModelDescription, model_input_shape: Sequence[int]) -> ModelDescription:
        """``base`` with these overrides, checked (sizes agree with a fixed input)."""
        if self.empty:
            return base
        described = read_config(self.config, model_input_shape) if self.config is not None else base
        shape, spec = tuple(described.input_shape), described.preprocess
        if self.input_size is not None:
            shape = _with_hw(model_input_shape, self.input_size)
            if described.source.startswith(DEFAULT_SOURCE) or described.source == ZOO_SOURCE \
                    or spec.output_size is None:
                spec = dataclasses.replace(preprocess_for_size(*self.input_size), mean=spec.mean, std=spec.std,
                                           scale=spec.scale, channel_order=spec.channel_order,
                                           interpolation=spec.interpolation)
        spec = self._apply_spec(spec)
        labels = read_labels(self.labels) if self.labels is not None else described.labels
        flags = self.flag_fields()
        source = f"{described.source} + flags ({', '.join(flags)})" if flags else described.source
        result = ModelDescription(shape, spec, labels, source, described.topk)
        check_size(result)
        return result

    def flag_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self) if f.name != "config" and getattr(self, f.name) is not None)

    def _apply_spec(self, spec: PreprocessSpec) -> PreprocessSpec:
        changes: dict[str, Any] = {}
        if self.resize_short is not None:
            changes.update(resize_short=self.resize_short, resize_size=None)
        if self.resize is not None:
            changes.update(resize_size=self.resize, resize_short=None)
        if self.crop is not None:
            changes["crop"] = None if tuple(self.crop) == (0, 0) else self.crop
        for name in ("interpolation", "mean", "std", "channel_order"):
            if getattr(self, name) is not None:
                changes[name] = getattr(self, name)
        return dataclasses.replace(spec, **changes) if changes else spec


def check_size(description: ModelDescription) -> None:
    """InvalidInputError when the preprocessing makes images of another size than a fixed input takes."""
    shape, size = description.input_shape, description.preprocess.output_size
    if len(shape) != 4 or shape[1] != 3:
        raise InvalidInputError(f"model input shape {shape_text(shape)} is not (N, 3, H, W): edgekit feeds RGB images")
    if description.dynamic_hw:
        return
    if size is None:
        raise InvalidInputError(f"the preprocessing ({description.source}) makes images of varying size (no crop, "
                                f"no fixed resize) but the model's input is fixed at {shape[3]}x{shape[2]} (WxH)")
    if (size[1], size[0]) != (shape[2], shape[3]):
        raise InvalidInputError(f"the preprocessing ({description.source}) makes {size[0]}x{size[1]} (WxH) images but "
                                f"the model's input is {shape[3]}x{shape[2]} (WxH, shape {shape_text(shape)})")


def parse_hw(text: str) -> tuple[int, int]:
    """--input-size: 'S' (square) or 'HxW' → (height, width)."""
    return _parse_pair(text, "--input-size", "HxW")


def parse_wh(text: str, option: str) -> Size:
    """--resize / --crop: 'S' or 'WxH' → (width, height)."""
    return _parse_pair(text, option, "WxH")


def _parse_pair(text: str, option: str, form: str) -> tuple[int, int]:
    parts = str(text).lower().replace(",", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a size like 224 or {form} (e.g. 48x192)") from None
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or any(v < 1 for v in values):
        raise UsageError(f"{option} {text!r} must be one positive size or {form}")
    return values[0], values[1]


def parse_triple(text: str, option: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(p) for p in str(text).split(","))
    except ValueError:
        raise UsageError(f"{option} {text!r} must be three comma-separated numbers") from None
    if len(values) != 3:
        raise UsageError(f"{option} {text!r} must be three comma-separated numbers")
    return values  # type: ignore[return-value]


# ------------------------------------------------------------------------------------ helpers


def _with_hw(shape: Sequence[int], hw: tuple[int, int]) -> tuple[int, ...]:
    shape = tuple(int(d) for d in shape)
    if len(shape) != 4:
        raise InvalidInputError(f"model input shape {shape_text(shape)} is not (N, 3, H, W)")
    for given, dim, what in ((hw[0], shape[2], "height"), (hw[1], shape[3], "width")):
        if dim > 0 and given != dim:
            raise UsageError(f"--input-size {hw[0]}x{hw[1]}: the model's input {what} is fixed at {dim} "
                             f"(shape {shape_text(shape)})")
    return shape[0], shape[1], hw[0], hw[1]


def _hw(size: Union[int, Sequence[int]]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    height, width = (int(v) for v in size)
    return height, width


def _size(value: Any, what: str) -> Optional[Size]:
    if value is None:
        return None
    try:
        width, height = _wh(value)
    except ValueError as e:
        raise UsageError(f"{what}: {e}") from None
    if width < 1 or height < 1:
        raise UsageError(f"{what} {value!r} must be positive")
    return width, height


def _wh(value: Any) -> Size:
    """A PaddleClas size: an int (square) or [width, height]."""
    if isinstance(value, bool):
        raise ValueError(f"size {value!r} is not an integer or [width, height]")
    if isinstance(value, (int, float)) and float(value).is_integer():
        return int(value), int(value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer() for v in value):
        return int(value[0]), int(value[1])
    raise ValueError(f"size {value!r} is not an integer or [width, height]")


def _triple(value: Any, what: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise UsageError(f"{what} {value!r} must be three numbers") from None
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise UsageError(f"{what} {value!r} must be three finite numbers")
    return values  # type: ignore[return-value]


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
