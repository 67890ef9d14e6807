"""The workspace: where every stage's artifact lives, keyed by model name and settings.

Layout (all under the workspace root)::

    export/<MODEL>/<key>/          Paddle inference model (inference.pdmodel/.pdiparams)
    quantize/<MODEL>_int8/<key>/   PaddleSlim int8 inference model + quant_report.json
    convert/<MODEL>/<key>/         Paddle Lite .nb (model.nb)
    results/results.jsonl          benchmark results, one JSON object per line
    reports/                       rendered reports and plots
    cache/                         downloads (pretrained weights, tools)

``<key>`` is a short hash of everything that determines the artifact (stage settings plus the
sha256 of its input artifact), so a different setting gives a different folder and the same
settings find the same one. Every artifact folder holds ``manifest.json``; a folder without
one does not exist as far as edgekit is concerned. Folders are built under a temporary name
and renamed when complete, so an interrupted run leaves nothing that looks finished.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import glob
import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional

from edgekit.errors import InvalidInputError

MANIFEST = "manifest.json"
PARTIAL_SUFFIX = ".partial"
# A temporary build folder this old belongs to a run that is gone, whoever started it.
STALE_PARTIAL_S = 24 * 3600
WORKSPACE_ENV = "EDGEKIT_WORKSPACE"


def default_workspace_root() -> Path:
    """$EDGEKIT_WORKSPACE, else $XDG_CACHE_HOME/edgekit (~/.cache/edgekit)."""
    env = os.environ.get(WORKSPACE_ENV)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "edgekit"


def artifact_key(settings: Mapping[str, Any]) -> str:
    """A stable 12-hex-digit key for a settings mapping (order-independent)."""
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class Manifest:
    """What an artifact is, what it was made from and with which settings and tools."""

    stage: str
    model: str
    settings: dict
    inputs: dict  # name -> sha256 (or other identity) of what the stage consumed
    tools: dict  # name -> version
    files: dict  # relative path -> {"bytes": n, "sha256": hex}
    created: str
    # the model's deployment description (edgekit.description.ModelDescription.to_dict()), when
    # the stage knows it; manifests written before it existed have none
    description: Optional[dict] = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Manifest":
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)
                      if f.name in data or f.default is dataclasses.MISSING})


def describe_files(folder: Path) -> dict:
    """{relative path: {bytes, sha256}} for every file in ``folder`` except the manifest."""
    described = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        described[str(path.relative_to(folder))] = {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
    return described


def write_manifest(folder: Path, *, stage: str, model: str, settings: Mapping, inputs: Mapping,
                   tools: Mapping, description: Optional[Mapping] = None) -> Manifest:
    manifest = Manifest(
        stage=stage,
        model=model,
        settings=dict(settings),
        inputs=dict(inputs),
        tools=dict(tools),
        files=describe_files(folder),
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        description=dict(description) if description is not None else None,
    )
    atomic_write_text(folder / MANIFEST, json.dumps(manifest.to_dict(), indent=2, sort_keys=True) + "\n")
    return manifest


def read_manifest(folder: Path) -> Optional[Manifest]:
    """The folder's manifest, or None when it has none (unfinished or foreign folder)."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        return Manifest.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError):
        return None


def finished_manifest(folder: Path) -> Optional[Manifest]:
    """The manifest of a finished artifact: it has one and every file it lists is there with its
    recorded size (a file moved away or truncated makes the artifact unfinished: it is rebuilt)."""
    manifest = read_manifest(folder)
    if manifest is None:
        return None
    for relative, described in manifest.files.items():
        try:
            if (folder / relative).stat().st_size != int(described["bytes"]):
                return None
        except (OSError, KeyError, TypeError, ValueError):
            return None
    return manifest


def _umask() -> int:
    """The process's umask, read without changing it (os.umask sets it, racing other threads)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename.
    The file gets the mode a plain ``open()`` would give it (0666 less the umask), not mkstemp's 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


@contextlib.contextmanager
def building(final: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder next to ``final``; rename it to ``final`` on success.

    On any exception the temporary folder is removed, so are the folders created for it that are
    left empty, and ``final`` is untouched. A finished artifact already at ``final`` when the
    build started is replaced (the caller chose to rebuild it, e.g. with ``force``); one that
    another process finished while this build ran is kept and ours discarded (artifacts with the
    same key are interchangeable). Temporary folders of the same artifact left by killed runs are
    removed first.
    """
    created = make_dirs(final.parent)
    _remove_stale_partials(final)
    replace = finished_manifest(final) is not None
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.{_owner()}.", suffix=PARTIAL_SUFFIX, dir=final.parent))
    try:
        yield tmp
        if replace or finished_manifest(final) is None:
            _move_into_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        remove_empty_dirs(created)
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _move_into_place(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``, moving whatever is at ``final`` aside first (then deleting it)."""
    if not final.exists():
        try:
            os.rename(tmp, final)
            return
        except OSError:
            if finished_manifest(final) is not None:
                return  # another process finished the same artifact just now: keep theirs
            raise
    old = final.with_name(f".{final.name}.{_owner()}.replaced{PARTIAL_SUFFIX}")
    shutil.rmtree(old, ignore_errors=True)
    os.rename(final, old)
    try:
        os.rename(tmp, final)
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _owner() -> str:
    """``pid@host`` of this process, written into temporary folder names (see _remove_stale_partials)."""
    return f"{os.getpid()}@{socket.gethostname()}"


def _remove_stale_partials(final: Path) -> None:
    """Delete temporary folders of ``final`` whose owner is gone: a process of this host that no
    longer runs, or anything older than STALE_PARTIAL_S (another host, a recycled pid)."""
    prefix = f".{final.name}."
    now = time.time()
    for partial in final.parent.glob(f"{glob.escape(prefix)}*{PARTIAL_SUFFIX}"):
        owner = partial.name[len(prefix):-len(PARTIAL_SUFFIX)].rsplit(".", 1)[0]
        pid, _, host = owner.partition("@")
        try:
            old = now - partial.stat().st_mtime > STALE_PARTIAL_S
        except OSError:
            continue  # its owner finished or removed it meanwhile
        dead = host == socket.gethostname() and pid.isdigit() and not _process_alive(int(pid))
        if old or dead:
            shutil.rmtree(partial, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, run by someone else
    return True


def make_dirs(folder: Path) -> list[Path]:
    """``mkdir -p folder``; the folders this call created, outermost first (for remove_empty_dirs)."""
    missing = []
    probe = Path(folder)
    while not probe.exists() and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    Path(folder).mkdir(parents=True, exist_ok=True)
    return missing[::-1]


def remove_empty_dirs(created: list[Path]) -> None:
    """Undo make_dirs where nothing else was put in the meantime: innermost first, stop at the
    first folder that is not empty."""
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            return


@dataclasses.dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def open(cls, root: Optional[os.PathLike | str] = None) -> "Workspace":
        """The workspace at ``root`` (default: $EDGEKIT_WORKSPACE or ~/.cache/edgekit)."""
        path = Path(root).expanduser() if root else default_workspace_root()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InvalidInputError(f"cannot create workspace {path}: {e.strerror or e}") from None
        return cls(path.resolve())

    def artifact_dir(self, stage: str, model: str, settings: Mapping[str, Any]) -> Path:
        return self.root / stage / model / artifact_key(settings)

    def find(self, stage: str, model: str, settings: Mapping[str, Any]) -> Optional[Path]:
        """The finished artifact folder for these settings, or None."""
        folder = self.artifact_dir(stage, model, settings)
        return folder if finished_manifest(folder) is not None else None

    def artifacts(self, stage: str, model: Optional[str] = None) -> list[Path]:
        """Finished artifact folders of a stage (of one model when given), oldest first."""
        pattern = f"{model}/*" if model else "*/*"
        found = [p for p in (self.root / stage).glob(pattern) if finished_manifest(p) is not None]
        return sorted(found, key=lambda p: (p / MANIFEST).stat().st_mtime)

    @property
    def results_dir(self) -> Path:
        return self.root / "results"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"
