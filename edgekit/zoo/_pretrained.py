"""Pretrained weights: find (path or URL), download into the cache, verify, read, check, load.

One path for every source, in this order: ``True`` means the model's official PaddleClas URL;
an ``http(s)://`` string is downloaded into the cache (``<workspace>/cache/weights/<host>/<path>``,
temp file + rename, sha256/size checked when known); anything else is a local file (PaddleClas's
habit of leaving off ``.pdparams`` is accepted). The file is read with an unpickler that only
rebuilds numpy arrays, so a weights file cannot run code, and then checked key by key and
shape by shape against the model before anything is loaded.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import socket
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import numpy as np

from edgekit.errors import WeightsError
from edgekit.zoo._registry import ModelEntry

PretrainedArg = Union[None, bool, str, os.PathLike]

SUFFIX = ".pdparams"
# paddle.save adds this bookkeeping entry (structured name → parameter name) to every state dict
PADDLE_NAME_TABLE = "StructuredToParameterName@@"
DOWNLOAD_TIMEOUT_S = 60.0
_CHUNK = 1 << 16


def default_cache_dir() -> Path:
    from edgekit.workspace import Workspace

    return Workspace.open().cache_dir / "weights"


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def resolve_weights(entry: ModelEntry, pretrained: PretrainedArg, cache_dir: Optional[Path] = None) -> Optional[Path]:
    """The local weights file for ``pretrained`` (downloaded if needed); None for no weights."""
    if pretrained is None or pretrained is False:
        return None
    if pretrained is True:
        cfg = entry.pretrained
        return download(cfg.url, cache_dir, sha256=cfg.sha256, num_bytes=cfg.num_bytes)
    if not isinstance(pretrained, (str, os.PathLike)):
        raise WeightsError(f"pretrained={pretrained!r}: expected True, a .pdparams path or an http(s) URL")
    source = os.fspath(pretrained)
    if is_url(source):
        official = entry.pretrained
        if source == official.url:
            return download(source, cache_dir, sha256=official.sha256, num_bytes=official.num_bytes)
        return download(source, cache_dir)
    return _local_file(Path(source).expanduser())


def _local_file(path: Path) -> Path:
    if path.is_file():
        return path
    with_suffix = path.with_name(path.name + SUFFIX)
    if path.suffix != SUFFIX and with_suffix.is_file():
        return with_suffix
    if path.is_dir():
        raise WeightsError(f"weights {path} is a folder, not a {SUFFIX} file")
    raise WeightsError(f"weights file not found: {path}")


# ----------------------------------------------------------------------------------- download


def cache_path(url: str, cache_dir: Optional[Path] = None) -> Path:
    """Where ``url`` is kept: the cache folder mirrors host and path, so different URLs never collide."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.replace(":", "_")
    relative = [p for p in urllib.parse.unquote(parts.path).split("/") if p not in ("", ".", "..")]
    if not host or not relative:
        raise WeightsError(f"weights URL names no file: {url}")
    return Path(cache_dir or default_cache_dir(), host, *relative)


def download(url: str, cache_dir: Optional[Path] = None, *, sha256: Optional[str] = None,
             num_bytes: Optional[int] = None) -> Path:
    """The cached copy of ``url``, downloading it first when absent or failing its checksum."""
    from edgekit.workspace import make_dirs, remove_empty_dirs, sha256_file

    target = cache_path(url, cache_dir)
    if target.is_file():
        if sha256 is None or sha256_file(target) == sha256:
            return target
        print(f"edgekit: cached {target.name} fails its sha256 check; downloading it again", file=sys.stderr)
        target.unlink()
    created = make_dirs(target.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest, size = _fetch(url, out)
        _verify(url, size, digest, sha256=sha256, num_bytes=num_bytes)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        remove_empty_dirs(created)  # a failed download leaves no empty cache folders behind
        raise
    return target


def _fetch(url: str, out: io.BufferedWriter) -> tuple[str, int]:
    """Stream ``url`` into ``out`` with a progress bar on stderr; (sha256, bytes)."""
    from tqdm import tqdm

    digest = hashlib.sha256()
    size = 0
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            expected = int(response.headers.get("Content-Length") or 0) or None
            name = Path(urllib.parse.urlsplit(url).path).name
            with tqdm(total=expected, unit="B", unit_scale=True, unit_divisor=1024, desc=name,
                      file=sys.stderr, leave=True) as bar:
                while block := response.read(_CHUNK):
                    out.write(block)
                    digest.update(block)
                    size += len(block)
                    bar.update(len(block))
    except urllib.error.HTTPError as e:
        raise WeightsError(f"cannot download {url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise WeightsError(f"cannot download {url}: {e.reason}") from None
    except (socket.timeout, TimeoutError, ConnectionError) as e:
        raise WeightsError(f"cannot download {url}: {e or type(e).__name__}") from None
    if expected is not None and size != expected:
        raise WeightsError(f"download of {url} is incomplete: {size} of {expected} bytes")
    return digest.hexdigest(), size


def _verify(url: str, size: int, digest: str, *, sha256: Optional[str], num_bytes: Optional[int]) -> None:
    if num_bytes is not None and size != num_bytes:
        raise WeightsError(f"download of {url} has {size} bytes, expected {num_bytes}")
    if sha256 is not None and digest != sha256:
        raise WeightsError(f"download of {url} has sha256 {digest}, expected {sha256}")


# -------------------------------------------------------------------------------------- read


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Rebuilds dicts of numpy arrays (what paddle.save writes) and refuses every other class."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("collections", "OrderedDict"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it asks for {module}.{name}, which a state dict never needs")
        return super().find_class(module, name)


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a Paddle ``.pdparams`` file, by structured name (``conv.bn.weight``)."""
    try:
        with open(path, "rb") as f:
            data = _ArraysOnlyUnpickler(f).load()
    except OSError as e:
        raise WeightsError(f"cannot read weights {path}: {e.strerror or e}") from None
    except Exception as e:  # pickle reports a corrupt file through many exception types
        raise WeightsError(f"{path} is not a Paddle state dict ({SUFFIX}): {e or type(e).__name__}") from None
    if not isinstance(data, dict):
        raise WeightsError(f"{path} holds a {type(data).__name__}, not a Paddle state dict ({SUFFIX})")
    arrays = {k: v for k, v in data.items() if k != PADDLE_NAME_TABLE}
    for key, value in arrays.items():
        if not isinstance(key, str) or not isinstance(value, np.ndarray):
            raise WeightsError(f"{path} is not a Paddle state dict ({SUFFIX}): entry {key!r} is a "
                               f"{type(value).__name__}, not an array")
    return arrays


# ------------------------------------------------------------------------------------- check


def _shape(shape: Any) -> list[int]:
    return [int(d) for d in shape]


def check_state_dict(expected: Mapping[str, list[int]], found: Mapping[str, np.ndarray], source: str,
                     model: str) -> None:
    """WeightsError naming the first missing key, unexpected key or shape mismatch, if any."""
    missing = [k for k in expected if k not in found]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise WeightsError(f"weights {source} lack key {missing[0]!r} of {model}{more}")
    unexpected = [k for k in found if k not in expected]
    if unexpected:
        more = f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
        raise WeightsError(f"weights {source} have key {unexpected[0]!r}, which {model} does not{more}")
    for key, shape in expected.items():
        actual = _shape(found[key].shape)
        if actual != _shape(shape):
            raise WeightsError(f"weights {source} do not fit {model}: {key!r} has shape {actual}, "
                               f"the model expects {_shape(shape)}")


def load_pretrained(model: Any, entry: ModelEntry, pretrained: PretrainedArg, class_num: int,
                    cache_dir: Optional[Path] = None) -> Optional[Path]:
    """Load ``pretrained`` into ``model`` (a paddle Layer built from ``entry``); the file used.

    With ``class_num`` different from the weights' 1000 classes, the classifier keeps its random
    initialisation and everything else is loaded (fine-tuning), as PaddleClas users expect.
    """
    path = resolve_weights(entry, pretrained, cache_dir)
    if path is None:
        return None
    found = read_state_dict(path)
    state = model.state_dict()
    expected = {k: _shape(v.shape) for k, v in state.items()}
    if class_num != entry.pretrained.num_classes:
        head = f"{entry.pretrained.classifier}."
        expected = {k: v for k, v in expected.items() if not k.startswith(head)}
        found = {k: v for k, v in found.items() if not k.startswith(head)}
        print(f"edgekit: {entry.name}: classifier {entry.pretrained.classifier!r} left random "
              f"(class_num={class_num}, the weights have {entry.pretrained.num_classes} classes)", file=sys.stderr)
    check_state_dict(expected, found, str(path), entry.name)
    # keys left out (a replaced classifier) keep their values; paddle warns about absent keys
    model.set_state_dict({k: found[k].astype(_numpy_dtype(v), copy=False) if k in expected else v
                          for k, v in state.items()})
    return path


def _numpy_dtype(tensor: Any) -> np.dtype:
    return np.dtype(str(tensor.dtype).replace("paddle.", ""))
