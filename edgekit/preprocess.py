"""PaddleClas's evaluation preprocessing, exactly, for any ``PreprocessSpec`` (edgekit.description):
decode to RGB, resize (the short side, or to a fixed size) with OpenCV's interpolation, center-crop,
flip to BGR when the model takes BGR, ``(x * scale - mean) / std`` in float32, HWC → CHW.

These are the facts of PaddleClas's ``ResizeImage``, ``CropImage``, ``NormalizeImage`` and
``ToCHWImage`` operators. The zoo's default (short side 256, crop 224, bilinear, RGB, ImageNet
mean/std) is ``Preprocess()``; the Android demo's Java code reproduces the same arithmetic and is
tested against this module.

Images are bounded before they cost memory: the header's size is read first (Pillow's lazy
open) and an image over ``MAX_IMAGE_PIXELS`` is refused before decoding; a resize whose output
would exceed ``MAX_RESIZED_PIXELS`` (a 1x20000 strip resized to a short side of 256) is refused
before allocating.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import numpy as np

from edgekit.description import IMAGENET_MEAN, IMAGENET_STD, PreprocessSpec, imagenet_labels  # noqa: F401
from edgekit.errors import InvalidInputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
# Largest image decoded: 90 megapixels (Pillow's decompression-bomb threshold is 89.5 M), about
# 270 MB of RGB; larger files are refused from their header, before any pixel is decoded.
MAX_IMAGE_PIXELS = 90_000_000
MAX_IMAGE_BYTES = 256 * 2**20
# Largest image a resize may make (4096 x 4096, 48 MB of RGB).
MAX_RESIZED_PIXELS = 4096 * 4096
_CV2_INTERPOLATION = {"bilinear": "INTER_LINEAR", "nearest": "INTER_NEAREST", "bicubic": "INTER_CUBIC",
                      "area": "INTER_AREA", "lanczos": "INTER_LANCZOS4"}

Image = Union[str, Path, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Transform:
    """The evaluation transform of a PreprocessSpec: an image → float32 CHW tensor."""

    spec: PreprocessSpec

    def __call__(self, image: Image) -> np.ndarray:
        """One image (a path, or an HWC RGB uint8 array) → float32 CHW tensor."""
        spec = self.spec
        rgb = decode_image(image) if not isinstance(image, np.ndarray) else image
        if spec.resize_short is not None:
            rgb = resize_short(rgb, spec.resize_short, spec.interpolation)
        elif spec.resize_size is not None:
            rgb = resize_to(rgb, spec.resize_size, spec.interpolation)
        if spec.crop is not None:
            rgb = center_crop(rgb, spec.crop)
        if spec.channel_order == "BGR":
            rgb = rgb[:, :, ::-1]
        return normalize_chw(rgb, spec.mean, spec.std, spec.scale)

    def batch(self, images: Sequence[Image], names: Optional[Sequence[Union[str, Path]]] = None) -> np.ndarray:
        """Images → float32 NCHW batch (they must come out of the same size: crop or fixed resize).

        ``names`` (the images' files, for decoded arrays) start the message of an image refused."""
        tensors = []
        for index, image in enumerate(images):
            try:
                tensors.append(self(image))
            except InvalidInputError as e:
                if names is None:
                    raise
                raise InvalidInputError(f"{names[index]}: {e}") from None
        shapes = {t.shape for t in tensors}
        if len(shapes) > 1:
            raise InvalidInputError(f"the preprocessing gives images of different sizes ({len(shapes)} shapes): "
                                    "a batch needs a crop or a fixed resize size")
        return np.stack(tensors)


@dataclasses.dataclass(frozen=True)
class Preprocess:
    """The zoo's transform for a square input. ``resize_short`` defaults to crop / 0.875 (256 for 224)."""

    crop: int = 224
    resize_short: int = 0
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD

    @property
    def short_side(self) -> int:
        return self.resize_short or int(round(self.crop / 0.875))

    @property
    def spec(self) -> PreprocessSpec:
        return PreprocessSpec(resize_short=self.short_side, crop=(self.crop, self.crop), mean=tuple(self.mean),
                              std=tuple(self.std))

    def __call__(self, image: Image) -> np.ndarray:
        """One image (a path, or an HWC RGB uint8 array) → float32 CHW tensor."""
        return Transform(self.spec)(image)

    def batch(self, images: Sequence[Image]) -> np.ndarray:
        """Images → float32 NCHW batch."""
        return Transform(self.spec).batch(images)


def image_size(path: Union[str, Path]) -> Optional[tuple[int, int]]:
    """(width, height) from the file's header without decoding pixels; None when Pillow cannot
    tell; InvalidInputError when Pillow itself finds it a decompression bomb."""
    import warnings

    from PIL import Image as PILImage

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DecompressionBombWarning: our own limit decides
        try:
            with PILImage.open(path) as image:
                return image.size
        except PILImage.DecompressionBombError:  # over twice Pillow's limit: far over ours
            raise InvalidInputError(f"image {path} is larger than edgekit's limit of "
                                    f"{MAX_IMAGE_PIXELS // 10**6} megapixels") from None
        except (OSError, ValueError, SyntaxError):
            return None


def decode_image(path: Union[str, Path]) -> np.ndarray:
    """The image at ``path`` as an HWC uint8 RGB array; InvalidInputError naming the file otherwise."""
    import cv2  # heavy-ish; only image commands need it

    path = Path(path)
    try:
        size_bytes = path.stat().st_size
    except OSError as e:
        raise InvalidInputError(f"cannot read image {path}: {e.strerror or e}") from None
    if size_bytes > MAX_IMAGE_BYTES:
        raise InvalidInputError(f"image {path} is {size_bytes / 2**20:.0f} MiB: larger than edgekit's limit of "
                                f"{MAX_IMAGE_BYTES // 2**20} MiB")
    size = image_size(path)
    if size is None:
        raise InvalidInputError(f"cannot decode image {path}: not a JPEG/PNG/BMP image or corrupt")
    if size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise InvalidInputError(f"image {path} is {size[0]}x{size[1]} pixels: larger than edgekit's limit of "
                                f"{MAX_IMAGE_PIXELS // 10**6} megapixels")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise InvalidInputError(f"cannot read image {path}: {e.strerror or e}") from None
    try:
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except cv2.error:  # e.g. a header that lies about its size
        bgr = None
    if bgr is None:
        raise InvalidInputError(f"cannot decode image {path}: not a JPEG/PNG/BMP image or corrupt")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def resize_short(rgb: np.ndarray, short_side: int, interpolation: str = "bilinear") -> np.ndarray:
    """Scale so the shorter side is ``short_side`` (sizes rounded as PaddleClas rounds them)."""
    height, width = rgb.shape[:2]
    percent = float(short_side) / min(width, height)
    size = (int(round(width * percent)), int(round(height * percent)))
    if size[0] * size[1] > MAX_RESIZED_PIXELS:
        raise InvalidInputError(f"image of {width}x{height}: resizing its short side to {short_side} would make "
                                f"{size[0]}x{size[1]} pixels (limit {MAX_RESIZED_PIXELS // 10**6} megapixels); "
                                "its aspect ratio is too extreme")
    return _resize(rgb, size, interpolation)


def resize_to(rgb: np.ndarray, size: tuple[int, int], interpolation: str = "bilinear") -> np.ndarray:
    """Scale to (width, height), as PaddleClas's ResizeImage(size=...)."""
    if size[0] * size[1] > MAX_RESIZED_PIXELS:
        raise InvalidInputError(f"resize to {size[0]}x{size[1]} exceeds edgekit's limit of "
                                f"{MAX_RESIZED_PIXELS // 10**6} megapixels")
    return _resize(rgb, size, interpolation)


def _resize(rgb: np.ndarray, size: tuple[int, int], interpolation: str) -> np.ndarray:
    import cv2  # heavy-ish; only image commands need it

    if size[0] < 1 or size[1] < 1:
        raise InvalidInputError(f"image of {rgb.shape[1]}x{rgb.shape[0]} would be resized to {size[0]}x{size[1]}")
    return cv2.resize(rgb, size, interpolation=getattr(cv2, _CV2_INTERPOLATION[interpolation]))


def center_crop(rgb: np.ndarray, size: Union[int, tuple[int, int]]) -> np.ndarray:
    """The centered ``size`` (an int, or (width, height)) of an HWC image, as PaddleClas's CropImage."""
    crop_w, crop_h = (size, size) if isinstance(size, int) else size
    height, width = rgb.shape[:2]
    if height < crop_h or width < crop_w:
        raise InvalidInputError(f"image of {width}x{height} is smaller than the {crop_w}x{crop_h} crop")
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return rgb[top:top + crop_h, left:left + crop_w, :]


def normalize_chw(rgb: np.ndarray, mean: Iterable[float] = IMAGENET_MEAN,
                  std: Iterable[float] = IMAGENET_STD, scale: float = 1.0 / 255.0) -> np.ndarray:
    """uint8 HWC → float32 CHW, (x * scale - mean) / std, with PaddleClas's float32 arithmetic."""
    mean_arr = np.array(list(mean), dtype=np.float32).reshape(1, 1, 3)
    std_arr = np.array(list(std), dtype=np.float32).reshape(1, 1, 3)
    scaled = (rgb.astype(np.float32) * np.float32(scale) - mean_arr) / std_arr
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
