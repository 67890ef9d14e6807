"""What ``bench`` measures (``BenchSettings``: the benchmark binary's flags and the number of
rounds) and how it runs (``BenchOptions``: binary, time limits, cool-down, locking, work folder).

Everything here is checked before any device work, so a bad value touches nothing.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

from edgekit.bench import DEFAULT_TIMEOUT_S, DEVICE_TMP, REMOTE_ROOT
from edgekit.errors import UsageError

DEFAULT_DEVICE_TIMEOUT_S = 120.0  # seconds one device call other than the run may take (mkdir, push, stat, ...)
DEFAULT_COOLDOWN_TIMEOUT_S = 600.0  # the longest wait for --cooldown-temp
# The largest input tensor bench accepts: 2^28 values (1 GiB as float32), 40 times a 4K image.
# Beyond it the binary fails to allocate (or the phone swaps), and the cause is the flag.
MAX_INPUT_VALUES = 1 << 28
MAX_INPUT_DIM = 1 << 16
MAX_ROUNDS = 1000
MAX_THREADS = 64
MAX_SECONDS = 7 * 24 * 3600  # the longest time limit or wait a flag may ask for


@dataclasses.dataclass(frozen=True)
class BenchSettings:
    """What is measured: Paddle Lite benchmark_bin's own flags, and how many times it runs."""

    warmup: int
    repeats: int
    threads: int
    power_mode: int
    input_shape: str  # "1,3,224,224", as --input_shape takes it
    memory_profile: bool = False  # --enable_memory_profile: the tool samples peak memory in a thread
    rounds: int = 1  # runs of the binary; each does warmup + repeats, each round's avg is a sample

    @classmethod
    def resolve(cls, defaults: Optional[Mapping[str, Any]] = None, **overrides: Any) -> "BenchSettings":
        """The seed's conditions (devices.yaml) ← a profile's bench_defaults ← the non-None ``overrides``."""
        sweep = cls.resolve_sweep(defaults, **overrides)
        if len(sweep) != 1:
            raise UsageError("several thread counts give several settings; use resolve_sweep")
        return sweep[0]

    @classmethod
    def resolve_sweep(cls, defaults: Optional[Mapping[str, Any]] = None, **overrides: Any) -> list["BenchSettings"]:
        """Like ``resolve``, with ``threads`` also a list or "1,2,4": one settings per thread count."""
        from edgekit.device.profiles import seed_conditions

        known = {f.name for f in dataclasses.fields(cls)}
        merged = {**seed_conditions(), **{k: v for k, v in (defaults or {}).items() if k in known}}
        merged.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(merged) - known
        if unknown:
            raise UsageError(f"unknown benchmark setting(s): {', '.join(sorted(unknown))}")
        common = dict(warmup=_integer(merged["warmup"], "--warmup"), repeats=_integer(merged["repeats"], "--repeats"),
                      power_mode=_integer(merged["power_mode"], "--power-mode"),
                      input_shape=normalize_shape(merged["input_shape"]),
                      memory_profile=bool(merged.get("memory_profile", False)),
                      rounds=_integer(merged.get("rounds", 1), "--rounds"))
        sweep = [cls(threads=threads, **common) for threads in thread_counts(merged["threads"])]
        for settings in sweep:
            settings.check()
        return sweep

    def check(self) -> None:
        if self.warmup < 0:
            raise UsageError(f"--warmup must be 0 or more (got {self.warmup})")
        if self.repeats < 1:
            raise UsageError(f"--repeats must be 1 or more (got {self.repeats})")
        if not 1 <= self.threads <= MAX_THREADS:
            raise UsageError(f"--threads must be 1 to {MAX_THREADS} (got {self.threads})")
        if not 0 <= self.power_mode <= 5:
            raise UsageError(f"--power-mode must be 0..5, Paddle Lite's PowerMode (got {self.power_mode})")
        if not 1 <= self.rounds <= MAX_ROUNDS:
            raise UsageError(f"--rounds must be 1 to {MAX_ROUNDS} (got {self.rounds})")

    def to_dict(self) -> dict:
        """The stored settings; memory_profile only when on and rounds only when more than one,
        so plain runs keep the seed's keys (and their --resume identity)."""
        data = dataclasses.asdict(self)
        if not self.memory_profile:
            del data["memory_profile"]
        if self.rounds == 1:
            del data["rounds"]
        return data

    def flags(self) -> list[str]:
        flags = [f"--input_shape={self.input_shape}", f"--warmup={self.warmup}", f"--repeats={self.repeats}",
                 f"--threads={self.threads}", f"--power_mode={self.power_mode}"]
        return flags + (["--enable_memory_profile=true"] if self.memory_profile else [])


def _integer(value: Any, flag: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UsageError(f"{flag} must be a whole number (got {value!r})") from None


def thread_counts(value: Union[int, str, Sequence[Any]]) -> list[int]:
    """[1, 2, 4] for "1,2,4", [1, 2] for (1, 2), [4] for 4; repeated counts once, order kept."""
    parts = value if isinstance(value, (list, tuple)) else str(value).split(",")
    counts: dict[int, None] = {}
    for part in parts:
        text = str(part).strip()
        if not text:  # "1,,2" or "1,2,": a count left out is a slip, not a shorter sweep
            raise UsageError(f"--threads takes thread counts like 1 or 1,2,4 ({value!r} leaves one empty)")
        if not text.isdigit():
            raise UsageError(f"--threads takes thread counts like 1 or 1,2,4 (got {value!r})")
        counts.setdefault(int(text), None)
    if not counts:
        raise UsageError(f"--threads takes thread counts like 1 or 1,2,4 (got {value!r})")
    return list(counts)


def normalize_shape(shape: Any) -> str:
    """"1,3,224,224" for "1x3x224x224", (1, 3, 224, 224), ...; UsageError for anything else,
    including shapes too large for any device (the run would only fail to allocate)."""
    text = ",".join(map(str, shape)) if isinstance(shape, (list, tuple)) else str(shape)
    parts = text.replace("x", ",").split(",")
    words = [p.strip() for p in parts if p.strip()]
    if not words or not all(w.isdigit() and len(w) <= 9 for w in words):
        raise UsageError(f"input shape {_short(text)} is not a list of integers like 1,3,224,224")
    dims = [int(w) for w in words]
    if any(d < 1 for d in dims):
        raise UsageError(f"input shape {_short(text)} must be positive integers like 1,3,224,224")
    if len(dims) > 8:
        raise UsageError(f"input shape {_short(text)} has {len(dims)} dimensions; image models take 4 (N,C,H,W)")
    values = math.prod(dims)
    if max(dims) > MAX_INPUT_DIM or values > MAX_INPUT_VALUES:
        raise UsageError(f"input shape {','.join(map(str, dims))} is {values:.3g} values "
                         f"({values * 4 / 2**30:.3g} GiB as float32); bench allows at most {MAX_INPUT_DIM} "
                         f"per dimension and {MAX_INPUT_VALUES:.3g} values (1 GiB)")
    return ",".join(str(d) for d in dims)


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def default_input_shape(model_input_shape: Optional[Sequence[int]]) -> Optional[str]:
    """The --input_shape for a model whose deployment description gives ``model_input_shape``
    (NCHW, -1 for a dynamic dimension), or None to keep the profile's (the seed's 1,3,224,224).

    The one place where a model's own input shape becomes bench's default: a dynamic batch is
    benchmarked at 1 (the seed's batch size); dynamic height or width give no default."""
    if not model_input_shape:
        return None
    dims = list(model_input_shape)
    if dims and dims[0] == -1:
        dims[0] = 1
    if any(int(d) < 1 for d in dims):
        return None
    return normalize_shape(dims)


@dataclasses.dataclass(frozen=True)
class BenchOptions:
    """How edgekit runs the benchmark (not part of what is measured)."""

    benchmark_bin: Optional[Path] = None
    timeout_s: Optional[float] = DEFAULT_TIMEOUT_S  # per run of the binary; None: no limit
    device_timeout_s: float = DEFAULT_DEVICE_TIMEOUT_S  # every other device call (mkdir, push, stat, lock, ...)
    cooldown_s: float = 0.0  # sleep between two runs on one device
    cooldown_temp_c: Optional[float] = None  # before each run, wait until the hottest zone is below this
    cooldown_timeout_s: float = DEFAULT_COOLDOWN_TIMEOUT_S  # the longest such wait
    resume: bool = False
    cleanup: bool = False
    remote_dir: str = REMOTE_ROOT
    wait: bool = True  # False (--no-wait): a device another run holds is an error at once
    lock_timeout_s: Optional[float] = None  # the longest wait for a busy device; None: as long as it takes

    def checked(self) -> "BenchOptions":
        """These options with the work folder normalized; UsageError for values that cannot be."""
        for flag, seconds in (("--timeout", self.timeout_s), ("--device-timeout", self.device_timeout_s),
                              ("--cooldown", self.cooldown_s), ("--cooldown-timeout", self.cooldown_timeout_s)):
            # nan passes every comparison below, and socket/sleep reject nan and values past ~292 years
            if seconds is not None and not (math.isfinite(seconds) and seconds <= MAX_SECONDS):
                raise UsageError(f"{flag} must be at most {MAX_SECONDS} seconds (a week) (got {seconds:g})")
        if self.cooldown_temp_c is not None and not math.isfinite(self.cooldown_temp_c):
            raise UsageError(f"--cooldown-temp must be 20 to 120 °C (got {self.cooldown_temp_c:g})")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise UsageError(f"--timeout must be more than 0 seconds (got {self.timeout_s:g}; 0 on the "
                             f"command line means no limit)")
        if self.device_timeout_s <= 0:
            raise UsageError(f"--device-timeout must be more than 0 seconds (got {self.device_timeout_s:g})")
        if self.cooldown_s < 0:
            raise UsageError(f"--cooldown must be 0 or more seconds (got {self.cooldown_s:g})")
        if self.cooldown_temp_c is not None and not 20 <= self.cooldown_temp_c <= 120:
            raise UsageError(f"--cooldown-temp must be 20 to 120 °C (got {self.cooldown_temp_c:g})")
        if self.cooldown_timeout_s <= 0:
            raise UsageError(f"--cooldown-timeout must be more than 0 seconds (got {self.cooldown_timeout_s:g})")
        return dataclasses.replace(self, remote_dir=remote_work_dir(self.remote_dir))


def remote_work_dir(text: str) -> str:
    """The device work folder, normalized: an absolute folder below /data/local/tmp without
    ``..`` (``--cleanup`` removes files in it, so it must never be anything else)."""
    if not text.startswith("/"):
        raise UsageError(f"--remote-dir {text!r} must be an absolute path below {DEVICE_TMP}/")
    if any(ord(ch) < 32 for ch in text):
        raise UsageError(f"--remote-dir {text!r} must not contain control characters")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UsageError(f"--remote-dir {text!r} must not contain '..'")
    normal = "/" + "/".join(parts)
    if not normal.startswith(DEVICE_TMP + "/"):
        raise UsageError(f"--remote-dir {text!r} must be a folder below {DEVICE_TMP}/, where adb's shell "
                         f"may write and run programs on every phone")
    return normal
