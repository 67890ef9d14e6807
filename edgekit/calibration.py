"""Images for quantization: the calibration set, the held-out set of the fidelity check and
labelled evaluation sets, all preprocessed exactly as PaddleClas evaluates (edgekit.preprocess).

Which images play which part (see also ``quantize.py``):

- calibration: ``--calib-dir`` (flat, or ImageNet-style class folders), else the photographs
  shipped in the package. When the calibration needs fewer images than there are
  (``batch_size × batch_nums``), they are picked evenly spaced over the sorted list, so every
  class folder contributes instead of only the first.
- held-out (the stored fidelity check): with ``--calib-dir``, that folder's images not used for
  calibration (up to ``HELD_OUT_IMAGES``, evenly spaced), or, when every image calibrated, those
  images mirrored (flipped left-right); else the shipped photographs, mirrored where they were
  calibration images. With the default calibration that is every photograph: then the held-out
  images are new pixels of the same scenes, and the report says so (``overlaps_calibration``).
  ``--eval-dir`` adds its own agreement figures (the ``eval`` section).
- evaluation: ``--eval-dir`` with a PaddleClas ``val_list.txt`` (``path label`` lines), or class
  sub-folders named by integer class id, or by ImageNet synset id (``n01440764``) when the folder
  holds one sub-folder per class of the model (sorted order = class id, as ImageNet's).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Iterator, Optional, Sequence, Union

import numpy as np

from edgekit.description import ModelDescription, default_description
from edgekit.errors import InvalidInputError
from edgekit.preprocess import IMAGE_SUFFIXES, Transform, decode_image, list_images, sample_images
from edgekit.workspace import sha256_file

SAMPLE_SOURCE = "edgekit sample photographs (edgekit/data/images, see SOURCES.md)"
VAL_LIST = "val_list.txt"
SYNSET_PATTERN = re.compile(r"^n\d{8}$")
# Held-out images taken from a calibration folder for the stored fidelity check.
HELD_OUT_IMAGES = 50


@dataclasses.dataclass(frozen=True)
class ImageView:
    """One input image: a file, optionally mirrored, with its class label when known."""

    path: Path
    mirrored: bool = False
    label: Optional[int] = None

    def describe(self) -> str:
        return f"{self.path} (mirrored)" if self.mirrored else str(self.path)

    def tensor(self, preprocess: Transform) -> np.ndarray:
        """The float32 CHW input; InvalidInputError naming the file when it cannot be decoded."""
        rgb = decode_image(self.path)
        if self.mirrored:
            rgb = np.ascontiguousarray(rgb[:, ::-1, :])
        try:
            return preprocess(rgb)
        except InvalidInputError as e:  # e.g. smaller than the crop: name the file
            raise InvalidInputError(f"{self.path}: {e}") from None


@dataclasses.dataclass(frozen=True)
class ImageSet:
    """Images chosen for one purpose, where they came from and how they were chosen."""

    views: tuple[ImageView, ...]
    source: str
    available: int
    note: str = ""
    folder: Optional[Path] = None  # the user's folder the images come from (None: shipped photographs)

    def __len__(self) -> int:
        return len(self.views)

    def describe(self, limit: Optional[int] = None) -> dict:
        """Source, counts and image paths (the first ``limit`` of them when given)."""
        shown = self.views if limit is None else self.views[:limit]
        described = {
            "source": self.source,
            "count": len(self.views),
            "available": self.available,
            "images": [v.describe() for v in shown],
        }
        if len(shown) < len(self.views):
            described["images_listed"] = len(shown)
        if self.note:
            described["note"] = self.note
        return described


def pick_evenly(items: Sequence, count: Optional[int]) -> list:
    """``count`` items spread evenly over ``items`` (all of them when count is None or larger)."""
    if count is None or count >= len(items):
        return list(items)
    if count <= 0:
        return []
    indices = np.unique(np.round(np.linspace(0, len(items) - 1, count)).astype(int))
    return [items[i] for i in indices]


def calibration_set(calib_dir: Optional[Path], count: Optional[int]) -> ImageSet:
    """The calibration images: ``count`` of ``calib_dir``'s (or of the shipped photographs)."""
    if calib_dir is not None:
        images = list_images(calib_dir)  # InvalidInputError: missing or empty folder
        source = str(Path(calib_dir))
    else:
        images = sample_images()
        source = SAMPLE_SOURCE
    chosen = pick_evenly(images, count)
    note = "" if len(chosen) == len(images) else f"{len(chosen)} of {len(images)} images, evenly spaced in sorted order"
    return ImageSet(tuple(ImageView(p) for p in chosen), source, len(images), note,
                    Path(calib_dir) if calib_dir is not None else None)


def file_digests(paths: Sequence[Path]) -> list[str]:
    return [sha256_file(p) for p in paths]


def held_out_set(calibrated: Union[ImageSet, set[str]]) -> tuple[ImageSet, bool]:
    """Held-out images for the fidelity check, and whether they overlap the calibration set.

    ``calibrated``: the calibration set (its folder's unused images when it came from the user's
    folder, see the module's doc), or the sha256 of the calibration files (shipped photographs).
    """
    if isinstance(calibrated, ImageSet) and calibrated.folder is not None:
        return _held_out_of_folder(calibrated)
    calibration_digests = (set(file_digests([v.path for v in calibrated.views]))
                           if isinstance(calibrated, ImageSet) else calibrated)
    photos = sample_images()
    views = tuple(ImageView(p, mirrored=digest in calibration_digests)
                  for p, digest in zip(photos, file_digests(photos)))
    mirrored = sum(v.mirrored for v in views)
    overlaps = mirrored > 0
    note = (f"{mirrored} of {len(views)} held-out images are mirrored views of calibration images "
            "(same scenes, different pixels): fidelity is not measured on unseen scenes; "
            "give --eval-dir for that") if overlaps else "none of these images is a calibration image"
    return ImageSet(views, SAMPLE_SOURCE, len(photos), note), overlaps


def _held_out_of_folder(calibrated: ImageSet) -> tuple[ImageSet, bool]:
    folder = calibrated.folder
    images = list_images(folder)
    used = {v.path for v in calibrated.views}
    unused = [p for p in images if p not in used]
    if unused:
        views = tuple(ImageView(p) for p in pick_evenly(unused, HELD_OUT_IMAGES))
        note = (f"{len(views)} image(s) of {folder} not used for calibration"
                + (f" ({len(unused)} available, evenly spaced)" if len(unused) > len(views) else ""))
        return ImageSet(views, str(folder), len(unused), note, folder), False
    views = tuple(ImageView(p, mirrored=True) for p in pick_evenly(images, HELD_OUT_IMAGES))
    note = (f"every image of {folder} calibrated: the held-out images are {len(views)} of them mirrored "
            "(same scenes, different pixels); give more images than the calibration takes, or --eval-dir")
    return ImageSet(views, str(folder), len(images), note, folder), True


def count_overlap(calibration_digests: set[str], images: ImageSet) -> int:
    """How many files of ``images`` are, byte for byte, calibration images."""
    return sum(d in calibration_digests for d in file_digests([v.path for v in images.views]))


# ------------------------------------------------------------------------------ labelled sets


def eval_set(eval_dir: Path, num_classes: int, labels: Optional[Sequence[str]] = None) -> ImageSet:
    """Labelled images of ``eval_dir`` (val_list.txt, class folders named by the model's ``labels``,
    integer class folders or synset folders)."""
    eval_dir = Path(eval_dir)
    if not eval_dir.is_dir():
        raise InvalidInputError(f"evaluation folder {eval_dir} does not exist")
    if (eval_dir / VAL_LIST).is_file():
        views, how = _from_val_list(eval_dir / VAL_LIST), f"labels from {VAL_LIST}"
    else:
        views, how = _from_class_folders(eval_dir, num_classes, labels)
    if not views:
        raise InvalidInputError(f"evaluation folder {eval_dir} holds no labelled .jpg/.jpeg/.png/.bmp image")
    for view in views:
        if view.label is None or not 0 <= view.label < num_classes:
            raise InvalidInputError(f"{view.path}: class id {view.label} is outside the model's "
                                    f"{num_classes} classes")
    return ImageSet(tuple(views), str(eval_dir), len(views), how)


def _from_val_list(path: Path) -> list[ImageView]:
    """PaddleClas's ``path label`` lines; paths relative to the list's folder."""
    views = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) < 2 or not parts[-1].lstrip("-").isdigit():
            raise InvalidInputError(f"{path}, line {number}: expected 'image_path class_id', got {line.strip()!r}")
        image = path.parent / " ".join(parts[:-1])
        if not image.is_file():
            raise InvalidInputError(f"{path}, line {number}: image {image} does not exist")
        views.append(ImageView(image, label=int(parts[-1])))
    return views


def _from_class_folders(eval_dir: Path, num_classes: int,
                        class_names: Optional[Sequence[str]]) -> tuple[list[ImageView], str]:
    folders = sorted(p for p in eval_dir.iterdir() if p.is_dir())
    names = [f.name for f in folders]
    ids_of_names = {}
    for class_id, name in enumerate(class_names or ()):
        ids_of_names.setdefault(name, class_id)
    # The model's own label names come first: a label may be a number ('0', '180') that is not its id.
    if folders and ids_of_names and all(n in ids_of_names for n in names):
        labels = {f: ids_of_names[f.name] for f in folders}
        how = "labels from class folders named by the model's labels"
    elif folders and all(n.isdigit() for n in names):
        labels = {f: int(f.name) for f in folders}
        how = "labels from class folders named by class id"
    elif folders and all(SYNSET_PATTERN.match(n) for n in names):
        if len(folders) != num_classes:
            raise InvalidInputError(
                f"evaluation folder {eval_dir} has {len(folders)} synset folders but the model has "
                f"{num_classes} classes: class ids follow the sorted synsets only when every class has "
                f"its folder; name the folders by class id or add a {VAL_LIST}")
        labels = {f: i for i, f in enumerate(folders)}
        how = "labels from synset folders (sorted order = class id)"
    else:
        raise InvalidInputError(
            f"evaluation folder {eval_dir} needs labels: class sub-folders named by class id (0, 1, ...)"
            + (", by the model's labels (" + _some(class_names) + ")" if class_names else "")
            + f" or ImageNet synset (n01440764), or a {VAL_LIST} of 'path class_id' lines"
            + (f"; {_some(sorted(set(names) - set(ids_of_names)))} name(s) no class" if class_names else ""))
    views = [ImageView(image, label=labels[folder]) for folder in folders for image in _images_in(folder)]
    return views, how


def _some(names: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(repr(n) for n in list(names)[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


# ---------------------------------------------------------------------------- preprocessing


def preprocess_for(described: Union[ModelDescription, Sequence[int]]) -> Transform:
    """The evaluation transform of a model's description (or of the default description of an
    input shape (N, 3, H, W)); InvalidInputError for a non-image input, UsageError when a dynamic
    height/width has no size."""
    description = described if isinstance(described, ModelDescription) else default_description(described)
    description.feed_hw()
    return Transform(description.preprocess)


def tensors(image_set: ImageSet, preprocess: Transform) -> np.ndarray:
    """All images of the set as one float32 NCHW array (decoding errors name the file)."""
    return np.stack([view.tensor(preprocess) for view in image_set.views])


def iter_tensors(image_set: ImageSet, preprocess: Transform) -> Iterator[tuple[ImageView, np.ndarray]]:
    """(view, CHW tensor) one at a time, for sets too large to hold in memory."""
    for view in image_set.views:
        yield view, view.tensor(preprocess)
