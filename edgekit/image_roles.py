"""Three roles for images, never mixed silently: calibration (activation scales), tune (choices of
layers and settings) and eval (the figure reported, never used for a choice).

``check_disjoint`` names the set playing each role and refuses sets that share an image, found
by file (sha256 of the bytes) or by pixels (sha256 of the decoded image, so a PNG re-saved as
BMP or renamed is still the same image).
"""

from __future__ import annotations

import hashlib
from typing import Mapping, Optional

import numpy as np

from edgekit.calibration import ImageSet
from edgekit.errors import UsageError
from edgekit.preprocess import decode_image
from edgekit.workspace import sha256_file

ROLES = ("calibration", "tune", "eval")
WHAT_ROLE_DOES = {"calibration": "activation scales", "tune": "choices of layers kept float",
                  "eval": "the figure reported; never used for a choice"}


def pixel_digest(rgb: np.ndarray) -> str:
    """sha256 of a decoded image's shape and pixels."""
    array = np.ascontiguousarray(rgb)
    return hashlib.sha256(repr(array.shape).encode() + array.tobytes()).hexdigest()


def _digests(images: ImageSet) -> dict[str, str]:
    """digest (file and pixel) → the image it belongs to; mirrored views get their own pixels."""
    found = {}
    for view in images.views:
        if not view.mirrored:
            found[f"file:{sha256_file(view.path)}"] = view.describe()
        rgb = decode_image(view.path)
        if view.mirrored:
            rgb = rgb[:, ::-1, :]
        found[f"pixels:{pixel_digest(rgb)}"] = view.describe()
    return found


def check_disjoint(sets: Mapping[str, Optional[ImageSet]]) -> dict:
    """The ``images`` section of a report: which set plays each role. UsageError (one line) when
    two roles share an image, naming one shared pair."""
    given = {role: images for role, images in sets.items() if images is not None}
    digests = {role: _digests(images) for role, images in given.items()}
    roles = list(given)
    for i, first in enumerate(roles):
        for second in roles[i + 1:]:
            shared = digests[first].keys() & digests[second].keys()
            if shared:
                key = sorted(shared)[0]
                how = "the same file" if key.startswith("file:") else "the same pixels"
                count = len({digests[first][k] for k in shared})
                raise UsageError(f"the {first} and {second} images overlap ({count} image(s); "
                                 f"{digests[first][key]} and {digests[second][key]} are {how}): "
                                 f"give {second} images that play no other role")
    return {role: {"source": images.source, "count": len(images), "role": WHAT_ROLE_DOES.get(role, role)}
            for role, images in given.items()} | {"overlaps": False}
