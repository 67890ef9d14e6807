"""Trained networks for tests and benchmarks: a labelled image set rendered from a seed, and a zoo
network trained on it for a few minutes on CPU, exported as a Paddle inference model and cached.

Random weights say nothing about accuracy, and no trained weights or data sets can be
downloaded here, so accuracy claims (int8 vs fp32, sensitivity, accuracy targets) are proven on
a network trained on images edgekit renders itself:

- ``render_split(folder, recipe, split, count_per_class)`` writes ``folder/<class id>/*.png`` (the
  layout ``calibration.eval_set`` reads) and ``labels.txt`` (PaddleClas's ``id name`` lines).
  Every split draws its pixels from its own seed, so calibration, tune and eval images never
  share pixels. ``difficulty`` "easy" gives large, high-contrast, clean shapes; "hard" gives
  small, low-contrast shapes in noise, blur and clutter; "mixed" spans both (training).
- ``trained_model(recipe, cache_root)`` trains the recipe's zoo network (paddle dygraph, CPU,
  seeded), exports it with a fixed batch of 1 as ``export.py`` does, and caches it under
  ``cache_root/trained/<key>/`` keyed by the recipe, so it is built once per machine.

The recipe (``Recipe``) is frozen data: change any field (or how images are rendered) and the key
changes. ``QUANT_SENSITIVE``, the default, is a network whose default int8 loses clearly on hard
images while keeping a few layers float recovers. Measured when it was chosen (600 hard eval
images, 24 mixed calibration images): fp32 95.3%, default int8 92.2% (-3.2), KL -1.8, mse -23.7,
the three rescaled depthwise layers kept float 95.7%; trained in ~170 s on 2 busy cores.
How it got there: the class is the hue of an object; hard images make it small and pale (the
class is then a small difference between channels) with black/white strokes around it. Trained
for 3 minutes, that alone left the default int8 within 0.5 points of fp32 (its errors flip about
as many wrong answers right as right ones wrong), so the recipe also rescales channels after
training (``spread_channel_ranges``: the float function unchanged, per-channel ranges of three
depthwise inputs spread 30x, the MobileNet int8 failure that cross-layer equalization exists for).
benchmarks/quant_accuracy.py measures every preset and algorithm on it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from edgekit.workspace import artifact_key, building, write_manifest

STAGE = "trained"
LABELS_FILE = "labels.txt"
DEPLOY_CONFIG = "inference.yml"
CLASSES = ("red", "yellow", "green", "cyan", "blue", "magenta")
SPLITS = {"train": 1, "calib": 2, "tune": 3, "eval": 4}
DIFFICULTIES = ("easy", "hard", "mixed")
# Bump when rendering or training changes in a way the recipe's fields do not capture.
SYNTHETIC_RECIPE = 1


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Everything that determines a trained network: data, architecture, training."""

    model: str = "MobileNetV3_small_x0_35"
    input_size: int = 64
    classes: tuple[str, ...] = CLASSES
    train_per_class: int = 400
    train_difficulty: str = "mixed"
    epochs: int = 8
    batch_size: int = 16
    learning_rate: float = 0.002
    # After training: channels of the ReLU layers rescaled by factors spread over [1/channel_spread, 1],
    # the float function unchanged (see spread_channel_ranges); 1 = as trained.
    channel_spread: float = 30.0
    seed: int = 0

    @property
    def render_size(self) -> int:
        """Images are rendered at the size the evaluation transform resizes to (crop / 0.875), so
        its resize is the identity and only the centre crop remains."""
        return int(round(self.input_size / 0.875))

    @property
    def trained_name(self) -> str:
        """The model's name in manifests and artifacts (not a zoo name: other weights, other classes)."""
        return f"{self.model}_synthetic{len(self.classes)}"

    def key(self) -> str:
        """Recipe fields, the code's recipe number and a digest of sample pixels: a change in how
        images are rendered changes the key even when nobody bumps SYNTHETIC_RECIPE."""
        return artifact_key({**dataclasses.asdict(self), "synthetic_recipe": SYNTHETIC_RECIPE,
                             "pixels": _pixel_digest(self)})


# The default recipe: see the module doc.
QUANT_SENSITIVE = Recipe()


# ------------------------------------------------------------------------------- rendering


def _hsv_to_rgb(hue_deg: float, saturation: float, value: float) -> np.ndarray:
    """One colour, RGB in 0..255 (hue in degrees)."""
    h = (hue_deg % 360.0) / 60.0
    c = value * saturation
    x = c * (1 - abs(h % 2 - 1))
    rgb = [(c, x, 0), (x, c, 0), (0, c, x), (0, x, c), (x, 0, c), (c, 0, x)][int(h) % 6]
    return (np.array(rgb) + (value - c)) * 255.0


def _level(rng: np.random.Generator, difficulty: str) -> float:
    """How hard one image is, 0 (easy) to 1 (hard)."""
    if difficulty == "easy":
        return float(rng.uniform(0.0, 0.3))
    if difficulty == "hard":
        return float(rng.uniform(0.7, 1.0))
    return float(rng.uniform(0.0, 1.0))


def render_image(label: int, rng: np.random.Generator, size: int, difficulty: str,
                 classes: Sequence[str] = CLASSES) -> np.ndarray:
    """One HWC uint8 RGB image of class ``label``: an object whose hue is the class (class k is
    centred on 60k degrees, jittered by up to 10 either way) on a shaded, faintly tinted background.
    Harder = smaller, paler (low saturation, so the class is a small difference between
    channels on top of a large brightness), blurrier, noisier, with pale strokes of other hues."""
    import cv2

    level = _level(rng, difficulty)
    value = rng.uniform(0.25, 0.9)
    background = _hsv_to_rgb(rng.uniform(0, 360), rng.uniform(0, 0.02), value)
    gradient = np.linspace(-1, 1, size, dtype=np.float32)
    direction = rng.uniform(-1, 1, size=2) * 40
    image = (np.ones((size, size, 3), np.float32) * background
             + (gradient[None, :, None] * direction[0] + gradient[:, None, None] * direction[1]))

    for _ in range(int(rng.integers(1, 4))):  # clutter: grey strokes, black to white
        grey = rng.choice([rng.uniform(0, 40), rng.uniform(215, 255)])
        p1, p2 = rng.uniform(0, size, 2), rng.uniform(0, size, 2)
        stroke = np.zeros((size, size), np.float32)
        cv2.line(stroke, tuple(int(v) for v in p1), tuple(int(v) for v in p2), 1.0, int(rng.integers(1, 3)),
                 cv2.LINE_AA)
        image += stroke[:, :, None] * (grey - image)

    radius = size * rng.uniform(0.22, 0.36) * (1.0 - 0.45 * level)
    slack = max(0.0, size / 2 - radius) * 0.6
    cy, cx = size / 2 + rng.uniform(-slack, slack), size / 2 + rng.uniform(-slack, slack)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    if rng.random() < 0.5:
        inside = radius - np.hypot(x - cx, y - cy)
    else:
        inside = radius * 0.9 - np.maximum(np.abs(x - cx), np.abs(y - cy))
    mask = np.clip(inside / 1.5, 0.0, 1.0)
    hue = 60.0 * label + rng.uniform(-10, 10)
    saturation = rng.uniform(0.45, 0.8) * (1.0 - 0.92 * level)
    colour = _hsv_to_rgb(hue, saturation, np.clip(value + rng.uniform(-0.2, 0.2), 0.25, 0.95))
    image += mask[:, :, None] * (colour - image)

    blur = level * rng.uniform(0.0, 0.8)
    if blur > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    image += rng.normal(0, 1.0, size=image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def _pixel_digest(recipe: Recipe) -> str:
    """sha256 of two images per class and difficulty (a few milliseconds)."""
    import hashlib

    digest = hashlib.sha256()
    for difficulty in DIFFICULTIES:
        digest.update(render_arrays(recipe, "train", 2, difficulty)[0].tobytes())
    return digest.hexdigest()[:16]


def _image_rng(seed: int, split: str, label: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, SPLITS[split], label, index])


def render_arrays(recipe: Recipe, split: str, count_per_class: int, difficulty: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W, 3) uint8 images and (N,) labels of one split, class by class."""
    images, labels = [], []
    for label in range(len(recipe.classes)):
        for index in range(count_per_class):
            rng = _image_rng(recipe.seed, split, label, index)
            images.append(render_image(label, rng, recipe.render_size, difficulty, recipe.classes))
            labels.append(label)
    return np.stack(images), np.array(labels, dtype=np.int64)


def write_labels(folder: Path, classes: Sequence[str]) -> Path:
    """PaddleClas's class_id_map_file: ``id name`` per line."""
    path = Path(folder) / LABELS_FILE
    path.write_text("".join(f"{i} {name}\n" for i, name in enumerate(classes)))
    return path


def render_split(folder: Path, recipe: Recipe, split: str, count_per_class: int,
                 difficulty: str = "hard") -> Path:
    """Write ``count_per_class`` images per class of ``split`` into ``folder/<class id>/`` (PNG,
    lossless) and ``folder/labels.txt``; returns ``folder``. Deterministic: same arguments, same
    bytes. ``split``: train, calib, tune or eval (each its own seed stream)."""
    import cv2

    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"unknown difficulty {difficulty!r} (known: {', '.join(DIFFICULTIES)})")
    folder = Path(folder)
    images, labels = render_arrays(recipe, split, count_per_class, difficulty)
    for number, (image, label) in enumerate(zip(images, labels)):
        class_dir = folder / str(int(label))
        class_dir.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(class_dir / f"{split}_{difficulty}_{number:05d}.png"), np.ascontiguousarray(image[:, :, ::-1]))
    write_labels(folder, recipe.classes)
    return folder


@dataclasses.dataclass(frozen=True)
class RoleSets:
    """Disjoint labelled folders, one per role of issue 8: calibration (scales), tune (choices of
    layers and settings) and eval (the reported figure, never used for a choice)."""

    calib: Path
    tune: Path
    eval: Path


def render_roles(folder: Path, recipe: Recipe, *, calib_per_class: int = 4, tune_per_class: int = 25,
                 eval_per_class: int = 50, calib_difficulty: str = "mixed", difficulty: str = "hard") -> RoleSets:
    """Render the three role sets under ``folder`` (``calib/``, ``tune/``, ``eval/``), reusing
    any already there (rendering is deterministic). Calibration is a small mixed set, as users
    give; tune and eval are hard images."""
    folder = Path(folder)
    sets = {"calib": (calib_per_class, calib_difficulty), "tune": (tune_per_class, difficulty),
            "eval": (eval_per_class, difficulty)}
    for split, (count, level) in sets.items():
        target = folder / split
        if not (target / LABELS_FILE).is_file():
            with building(target) as tmp:
                render_split(tmp, recipe, split, count, level)
    return RoleSets(folder / "calib", folder / "tune", folder / "eval")


# -------------------------------------------------------------------------------- training


@dataclasses.dataclass(frozen=True)
class TrainedModel:
    """A trained, exported network: its inference model folder and how it was made."""

    directory: Path
    recipe: Recipe
    labels_file: Path
    report: dict

    @property
    def num_classes(self) -> int:
        return len(self.recipe.classes)


def _preprocessed(images: np.ndarray, input_size: int) -> np.ndarray:
    """The evaluation transform of edgekit.preprocess, batched (float32 NCHW)."""
    from edgekit.preprocess import Preprocess

    return Preprocess(crop=input_size).batch(list(images)).astype(np.float32)


def _augment(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flip NCHW samples left-right at random (every class is mirror-symmetric up to its random
    rotation): more data for free."""
    flips = rng.random(len(batch)) < 0.5
    batch = batch.copy()
    batch[flips] = batch[flips, :, :, ::-1]
    return batch


def train(recipe: Recipe, log: Optional[Any] = None) -> tuple[Any, dict]:
    """Train the recipe's network from scratch on CPU; (the paddle Layer in eval mode, figures)."""
    from edgekit import zoo
    from edgekit._paddle import import_paddle

    paddle = import_paddle()
    paddle.set_device("cpu")
    paddle.seed(recipe.seed)
    started = time.perf_counter()
    images, labels = render_arrays(recipe, "train", recipe.train_per_class, recipe.train_difficulty)
    samples = _preprocessed(images, recipe.input_size)
    rendered_s = time.perf_counter() - started
    rng = np.random.default_rng([recipe.seed, 99])
    with paddle.utils.unique_name.guard():  # random initial weights, drawn after paddle.seed
        model = zoo.model_entrypoint(recipe.model)(class_num=len(recipe.classes))
    model.train()
    steps_per_epoch = math.ceil(len(images) / recipe.batch_size)
    schedule = paddle.optimizer.lr.CosineAnnealingDecay(recipe.learning_rate, T_max=recipe.epochs * steps_per_epoch)
    optimizer = paddle.optimizer.Adam(learning_rate=schedule, parameters=model.parameters())
    loss_fn = paddle.nn.CrossEntropyLoss()
    history = []
    for epoch in range(recipe.epochs):
        order = rng.permutation(len(images))
        losses, correct = [], 0
        for step in range(steps_per_epoch):
            chosen = order[step * recipe.batch_size:(step + 1) * recipe.batch_size]
            x = paddle.to_tensor(_augment(samples[chosen], rng))
            y = paddle.to_tensor(labels[chosen])
            logits = model(x)
            loss = loss_fn(logits, y)
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            schedule.step()
            losses.append(float(loss))
            correct += int((logits.argmax(axis=1).numpy() == labels[chosen]).sum())
        history.append({"epoch": epoch + 1, "loss": round(float(np.mean(losses)), 4),
                        "train_top1": round(correct / len(images), 4),
                        "elapsed_s": round(time.perf_counter() - started, 1)})
        if log is not None:
            log(f"epoch {epoch + 1}/{recipe.epochs}: {history[-1]}")
    model.eval()
    figures = {"render_s": round(rendered_s, 1), "train_s": round(time.perf_counter() - started, 1),
               "history": history}
    if recipe.channel_spread != 1:
        probe = paddle.to_tensor(samples[:64])
        before = model(probe).numpy()
        figures["rescaled_depthwise_weights"] = spread_channel_ranges(model, recipe.channel_spread, recipe.seed)
        change = float(np.max(np.abs(model(probe).numpy() - before)) / np.max(np.abs(before)))
        if change > 1e-4:
            raise RuntimeError(f"rescaling channels changed the float network's logits by {change:.3g} (relative)")
        figures["rescaling_max_rel_logit_change"] = change
    return model, figures


def spread_channel_ranges(model: Any, spread: float, seed: int) -> list[str]:
    """Rescale the output channels of every ReLU expand conv of a MobileNetV3 (its BatchNorm's scale
    and shift) by factors log-uniform in [1/spread, 1], and the depthwise conv reading them by the
    inverse: relu(s*z) = s*relu(z) for s > 0, so the float network computes the same function
    (up to float rounding), but the depthwise conv's input channels now span ``spread``x in range.

    Why: this is the property that makes real MobileNets lose accuracy under int8 (Nagel et al.,
    "Data-Free Quantization", 2019: per-channel ranges of depthwise layers differing by orders of
    magnitude, quantized with one per-tensor activation scale), and what cross-layer equalization
    undoes. A network trained for three minutes does not develop it: its default int8 stays within
    0.5 points of fp32 on hard images (measured). Returns the names of the rescaled depthwise convs."""
    from edgekit._paddle import import_paddle

    paddle = import_paddle()
    rng = np.random.default_rng([seed, 7])
    rescaled = []
    for unit in getattr(model, "blocks", []):
        expand, depthwise = getattr(unit, "expand_conv", None), getattr(unit, "bottleneck_conv", None)
        if expand is None or depthwise is None or not isinstance(expand.act, paddle.nn.ReLU):
            continue
        scale = spread ** -rng.uniform(0.0, 1.0, size=expand.bn.weight.shape[0])
        scale[rng.integers(len(scale))] = 1.0  # one channel keeps its range: the per-tensor scale follows it
        expand.bn.weight.set_value((expand.bn.weight.numpy() * scale).astype(np.float32))
        expand.bn.bias.set_value((expand.bn.bias.numpy() * scale).astype(np.float32))
        weight = depthwise.conv.weight
        weight.set_value((weight.numpy() / scale[:, None, None, None]).astype(np.float32))
        rescaled.append(weight.name)
    return rescaled


def _export(model: Any, recipe: Recipe, folder: Path) -> None:
    """Save as export.py saves zoo models: batch 1, input ``x``, no call stacks in the program."""
    from edgekit._paddle import import_paddle
    from edgekit.export import INPUT_NAME, MODEL_FILE
    from edgekit.legalize import clear_callstacks, read_program

    paddle = import_paddle()
    with paddle.utils.unique_name.guard():
        spec = paddle.static.InputSpec([1, 3, recipe.input_size, recipe.input_size], "float32", name=INPUT_NAME)
        paddle.jit.save(model, str(folder / "inference"), input_spec=[spec])
    program = read_program(folder / MODEL_FILE)
    if clear_callstacks(program):
        (folder / MODEL_FILE).write_bytes(program.SerializeToString())


def write_deploy_config(folder: Path, recipe: Recipe) -> Path:
    """PaddleClas's deploy config (``inference.yml``) for the trained model: the evaluation
    transform it was trained with (resize to the render size, centre crop, ImageNet mean/std)
    and its labels (``labels.txt``), so every stage reads the right description."""
    import yaml

    config = {
        "PreProcess": {"transform_ops": [
            {"DecodeImage": {"to_rgb": True, "channel_first": False}},
            {"ResizeImage": {"resize_short": recipe.render_size}},
            {"CropImage": {"size": recipe.input_size}},
            {"NormalizeImage": {"scale": 1.0 / 255.0, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                                "order": ""}},
            {"ToCHWImage": None},
        ]},
        "PostProcess": {"main_indicator": "Topk", "Topk": {"topk": 1, "class_id_map_file": LABELS_FILE}},
    }
    path = Path(folder) / DEPLOY_CONFIG
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def default_cache_root() -> Path:
    from edgekit.workspace import default_workspace_root

    return default_workspace_root() / "cache"


def trained_model(recipe: Recipe = QUANT_SENSITIVE, cache_root: Optional[Path] = None,
                  log: Optional[Any] = None) -> TrainedModel:
    """The recipe's trained network, from ``cache_root/trained/<key>/`` or trained now (minutes)."""
    from edgekit.description import read_config
    from edgekit.export import tool_version

    cache_root = Path(cache_root) if cache_root is not None else default_cache_root()
    final = cache_root / STAGE / recipe.key()
    if not (final / "manifest.json").is_file():
        with building(final) as tmp:
            model, figures = train(recipe, log=log)
            _export(model, recipe, tmp)
            write_labels(tmp, recipe.classes)
            description = read_config(write_deploy_config(tmp, recipe),
                                      (1, 3, recipe.input_size, recipe.input_size))
            (tmp / "train_report.json").write_text(json.dumps(figures, indent=2) + "\n")
            write_manifest(tmp, stage=STAGE, model=recipe.trained_name, description=description.to_dict(),
                           settings={**dataclasses.asdict(recipe), "synthetic_recipe": SYNTHETIC_RECIPE},
                           inputs={"weights": f"trained:{recipe.key()}"},
                           tools={"paddlepaddle": tool_version("paddlepaddle")})
    report = json.loads((final / "train_report.json").read_text())
    return TrainedModel(final, recipe, final / LABELS_FILE, report)
