"""What a ``bench`` call gives back: its records, what it skipped, what failed, which devices
dropped out, and the warnings (a hot or throttled device); ``raise_for_failures`` sums it up as
one error."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

from edgekit.bench.results import BenchRecord
from edgekit.bench.settings import BenchSettings
from edgekit.errors import DeviceError, DeviceLostError, EdgekitError


@dataclasses.dataclass(frozen=True)
class Failure:
    model: str
    device: Optional[str]  # serial
    error: EdgekitError

    def to_dict(self) -> dict:
        return {"model": self.model, "device": self.device, "error": str(self.error),
                "kind": type(self.error).__name__}


@dataclasses.dataclass(frozen=True)
class BenchOutcome:
    records: tuple[BenchRecord, ...]  # this invocation's runs, successful and failed, in the order they ended
    skipped: tuple[str, ...]  # models --resume found done
    unfinished: tuple[str, ...]  # models no device could run (the devices disappeared or failed)
    failures: tuple[Failure, ...]  # runs (or conversions) that failed
    lost_devices: tuple[dict, ...]  # {"serial", "error"} of devices that disappeared
    settings: BenchSettings  # the first of the sweep (the only one without --threads A,B)
    store: Path
    failed_devices: tuple[dict, ...] = ()  # {"serial", "error"} of devices still there that could not be used
    threads: tuple[int, ...] = ()  # the thread counts of a --threads sweep
    warnings: tuple[str, ...] = ()  # a device that was hot or throttled, a cool-down that timed out

    @property
    def ok(self) -> bool:
        return not self.failures and not self.unfinished

    def to_dict(self) -> dict:
        return {"results": [r.to_dict() for r in self.records], "skipped": list(self.skipped),
                "unfinished": list(self.unfinished), "failures": [f.to_dict() for f in self.failures],
                "lost_devices": list(self.lost_devices), "failed_devices": list(self.failed_devices),
                "settings": self.settings.to_dict(), "threads": list(self.threads or (self.settings.threads,)),
                "warnings": list(self.warnings), "store": str(self.store)}

    def raise_for_failures(self) -> None:
        """One error that sums up what went wrong, or nothing when every model ran."""
        if self.unfinished:
            dropped = "; ".join(f"{d['serial']}: {d['error']}" for d in (*self.lost_devices, *self.failed_devices))
            kind, what = ((DeviceLostError, "device lost") if self.lost_devices else
                          (DeviceError, "no device could run them"))
            failed = f"; {len(self.failures)} run(s) failed" if self.failures else ""
            raise kind(
                f"{what} ({dropped or 'no device left'}); not run: {', '.join(self.unfinished)}{failed}; the "
                f"{len(self.records)} result(s) so far are kept in {self.store}; run the same command with "
                f"--resume to finish")
        if self.failures:
            parts = "; ".join(f"{f.model} on {f.device or 'host'}: {f.error}" for f in self.failures)
            kind = _plain_error_class(self.failures[0].error)
            raise kind(f"{len(self.failures)} of {len(self.failures) + self._successes()} run(s) failed: {parts}")

    def _successes(self) -> int:
        return sum(1 for r in self.records if r.ok)


def _plain_error_class(error: EdgekitError) -> type:
    """The nearest class of ``error`` that takes a plain message (UnknownModelError does not)."""
    for cls in type(error).__mro__:
        if issubclass(cls, EdgekitError) and "__init__" not in vars(cls):
            return cls
    return EdgekitError
