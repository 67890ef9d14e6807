"""PaddleClas's evaluation preprocessing, exactly: decode to RGB, resize the short side to 256
(OpenCV bilinear), center-crop 224, scale by 1/255, subtract mean, divide by std, HWC → CHW.

These are the facts of PaddleClas's ``ResizeImage(resize_short=256)``, ``CropImage(224)``,
``NormalizeImage`` and ``ToCHWImage`` operators with their defaults; the Android demo's Java
code reproduces the same arithmetic and is tested against this module.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterable, Sequence, Union

import numpy as np

from edgekit.errors import InvalidInputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclasses.dataclass(frozen=True)
class Preprocess:
    """Settings of the evaluation transform. ``resize_short`` defaults to crop / 0.875 (256 for 224)."""

    crop: int = 224
    resize_short: int = 0
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD

    @property
    def short_side(self) -> int:
        return self.resize_short or int(round(self.crop / 0.875))

    def __call__(self, image: Union[str, Path, np.ndarray]) -> np.ndarray:
        """One image (a path, or an HWC RGB uint8 array) → float32 CHW tensor."""
        rgb = decode_image(image) if not isinstance(image, np.ndarray) else image
        return normalize_chw(center_crop(resize_short(rgb, self.short_side), self.crop), self.mean, self.std)

    def batch(self, images: Sequence[Union[str, Path, np.ndarray]]) -> np.ndarray:
        """Images → float32 NCHW batch."""
        return np.stack([self(image) for image in images])


def decode_image(path: Union[str, Path]) -> np.ndarray:
    """The image at ``path`` as an HWC uint8 RGB array; InvalidInputError naming the file otherwise."""
    import cv2  # heavy-ish; only image commands need it

    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise InvalidInputError(f"cannot read image {path}: {e.strerror or e}") from None
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise InvalidInputError(f"cannot decode image {path}: not a JPEG/PNG/BMP image or corrupt")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def resize_short(rgb: np.ndarray, short_side: int) -> np.ndarray:
    """Scale so the shorter side is ``short_side`` (sizes rounded as PaddleClas rounds them)."""
    import cv2

    height, width = rgb.shape[:2]
    percent = float(short_side) / min(width, height)
    size = (int(round(width * percent)), int(round(height * percent)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)


def center_crop(rgb: np.ndarray, size: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    if height < size or width < size:
        raise InvalidInputError(f"image of {width}x{height} is smaller than the {size}x{size} crop")
    top, left = (height - size) // 2, (width - size) // 2
    return rgb[top:top + size, left:left + size, :]


def normalize_chw(rgb: np.ndarray, mean: Iterable[float] = IMAGENET_MEAN,
                  std: Iterable[float] = IMAGENET_STD) -> np.ndarray:
    """uint8 HWC → float32 CHW, (x / 255 - mean) / std, with PaddleClas's float32 arithmetic."""
    mean_arr = np.array(list(mean), dtype=np.float32).reshape(1, 1, 3)
    std_arr = np.array(list(std), dtype=np.float32).reshape(1, 1, 3)
    scaled = (rgb.astype(np.float32) * np.float32(1.0 / 255.0) - mean_arr) / std_arr
    return np.ascontiguousarray(scaled.transpose(2, 0, 1))


def list_images(folder: Union[str, Path]) -> list[Path]:
    """Image files in a flat folder or in class sub-folders (ImageNet style), sorted.

    InvalidInputError when the folder does not exist or holds no image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInputError(f"image folder {folder} does not exist")
    images = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise InvalidInputError(f"image folder {folder} holds no .jpg/.jpeg/.png/.bmp image")
    return images


def sample_images() -> list[Path]:
    """The photographs shipped in the package (see edgekit/data/images/SOURCES.md)."""
    from importlib import resources

    folder = Path(str(resources.files("edgekit.data").joinpath("images")))
    return list_images(folder)


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet-1k class names; index = class id."""
    from importlib import resources

    text = resources.files("edgekit.data").joinpath("imagenet1k_labels.txt").read_text()
    return text.splitlines()
