"""The results store: ``<workspace>/results/results.jsonl``, one JSON object per finished run.

Each record is appended as one line, flushed and fsynced before ``append`` returns, under an
exclusive lock (threads of one ``bench`` and other processes may append at once). A crash can
therefore lose at most the line being written; such a torn last line is skipped with a warning
when reading, and the next append starts on a fresh line so that it never glues onto it.
"""

from __future__ import annotations

import dataclasses
import datetime
import fcntl
import json
import logging
import os
import threading
import uuid
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from edgekit import __version__
from edgekit.workspace import Workspace, artifact_key

RESULTS_FILE = "results.jsonl"
SCHEMA = 1
OK = "ok"
FAILED = "failed"
# What kind of device a result comes from: only a phone's latency compares with the seed's SoC figures.
KIND_PHONE = "phone"  # an ARM Android device
KIND_VIRTUAL = "virtual"  # edgekit's virtual device: the host's latency on an x86 .nb
KIND_OTHER = "other"  # any other device (an x86_64 Android device with its own binary)
KINDS = (KIND_PHONE, KIND_VIRTUAL, KIND_OTHER)
_ARM_ABIS = ("arm64-v8a", "armeabi-v7a", "armeabi")

log = logging.getLogger(__name__)


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


def device_kind(device: Mapping[str, Any]) -> str:
    """The kind of device a stored record's ``device`` describes: its "kind" when recorded (bench
    records it), else virtual or not and the ABI (a record without an ABI, e.g. an old import,
    was made on a profile's phone)."""
    kind = device.get("kind")
    if kind in KINDS:
        return kind
    if device.get("virtual"):
        return KIND_VIRTUAL
    abi = device.get("abi") or ""
    return KIND_PHONE if not abi or abi in _ARM_ABIS else KIND_OTHER


def settings_key(settings: Mapping[str, Any]) -> str:
    """The identity of a run's settings (for --resume and "latest per settings")."""
    return artifact_key(dict(settings))


@dataclasses.dataclass(frozen=True)
class BenchRecord:
    """One benchmark run (successful or failed) as stored."""

    run_id: str
    status: str  # OK or FAILED
    source: str  # "bench" (edgekit ran it) or "import" (read from a user's file)
    model: str
    precision: str  # "fp32" or "int8"
    target: Optional[str]  # opt target of the .nb ("arm", "x86")
    nb: Optional[dict]  # {"path", "bytes", "sha256"} of the .nb that ran
    device: dict  # serial, adb_server, model, manufacturer, soc, board, abi, profile, virtual, ...
    settings: dict  # warmup, repeats, threads, power_mode, input_shape
    tool: dict  # name, version, sha256, generation of the benchmark binary
    latency: Optional[dict]  # avg_ms, min_ms, max_ms, first_ms, init_ms, std_ms, samples_ms
    memory_mb: Optional[dict]
    started: Optional[str]  # UTC ISO times of the run; None for imported results (unknown)
    finished: Optional[str]
    edgekit_version: str = __version__
    error: Optional[str] = None
    extra: dict = dataclasses.field(default_factory=dict)  # timings, raw output file, import origin
    schema: int = SCHEMA

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def profile(self) -> Optional[str]:
        return self.device.get("profile")

    @property
    def virtual(self) -> bool:
        return bool(self.device.get("virtual"))

    @property
    def kind(self) -> str:
        """KIND_PHONE, KIND_VIRTUAL or KIND_OTHER (see device_kind)."""
        return device_kind(self.device)

    @property
    def is_phone(self) -> bool:
        return self.kind == KIND_PHONE

    @property
    def settings_key(self) -> str:
        return settings_key(self.settings)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "BenchRecord":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class ResultStore:
    """Append-only JSON-lines store of BenchRecords."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    @classmethod
    def for_workspace(cls, workspace: Workspace) -> "ResultStore":
        return cls(workspace.results_dir / RESULTS_FILE)

    def append(self, record: BenchRecord) -> None:
        """Write ``record`` as one line and make it durable before returning."""
        line = json.dumps(record.to_dict(), sort_keys=True, default=str) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path, "ab+") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                if _ends_torn(f):
                    f.write(b"\n")  # a crash left half a line: keep it out of the new record
                f.write(line.encode())
                f.flush()
                os.fsync(f.fileno())
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def records(self) -> list[BenchRecord]:
        """Every readable record, oldest first; unreadable lines are skipped with a warning."""
        if not self.path.is_file():
            return []
        records = []
        with open(self.path, "rb") as f:
            for number, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                record = self._decode(raw, number)
                if record is not None:
                    records.append(record)
        return records

    def _decode(self, raw: bytes, number: int) -> Optional[BenchRecord]:
        try:
            return BenchRecord.from_dict(json.loads(raw))
        except (ValueError, TypeError, AttributeError):
            torn = "" if raw.endswith(b"\n") else " (torn: the run was interrupted while writing it)"
            log.warning("edgekit: warning: skipping unreadable line %d of %s%s", number, self.path, torn)
            return None

    def completed(self) -> set[tuple]:
        """The resume_key of every successful run."""
        return {resume_key(r) for r in self.records() if r.ok}


def resume_key(record: BenchRecord) -> tuple:
    """What makes two runs the same for --resume: model, precision, device profile and kind
    (a virtual device's run matches the profile but is not a phone's), settings, the .nb's
    target and sha256 (another quantization preset is another model) and the binary's sha256."""
    return (record.model, record.precision, record.profile, record.kind, record.settings_key, record.target,
            (record.nb or {}).get("sha256"), (record.tool or {}).get("sha256"))


def latest_per_run_kind(records: Iterable[BenchRecord], *, profile: Optional[str] = None) -> list[BenchRecord]:
    """The latest successful record per (model, device, settings), ordered by when they ran.
    The number of rounds is not part of the settings here: it says how often, not what, was measured
    (a newer 1-round run replaces a 3-round one; --resume still tells them apart)."""
    latest: dict[tuple, BenchRecord] = {}
    for record in records:
        if not record.ok or (profile is not None and record.profile != profile):
            continue
        device = record.device.get("serialno") or record.device.get("serial")  # serialno survives reconnects
        measured = {k: v for k, v in (record.settings or {}).items() if k != "rounds"}
        key = (record.model, record.profile, device, settings_key(measured))
        latest.pop(key, None)  # re-insert so the order follows the latest run
        latest[key] = record
    return list(latest.values())


def _ends_torn(f) -> bool:
    """True when the file is non-empty and does not end with a newline."""
    f.seek(0, os.SEEK_END)
    if f.tell() == 0:
        return False
    f.seek(-1, os.SEEK_END)
    last = f.read(1)
    f.seek(0, os.SEEK_END)
    return last != b"\n"
