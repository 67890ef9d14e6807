"""The work of one ``bench`` call: jobs (a model at one setting) in a queue shared by one worker
thread per device.

A worker that finds the queue empty may stop only when no job is in flight on another device
either, since a device that disappears hands its job back. Taking a job and counting it in flight
are therefore one step under one lock: were they two, another worker could look between them, see
an empty queue and nothing in flight, and stop, and a job handed back later would be left with no
worker (the model "unfinished" beside a healthy device).
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from typing import Generic, Iterable, Optional, TypeVar

from edgekit.bench.settings import BenchSettings

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Job:
    """One model (as the user named it) at one setting (a --threads sweep gives one job per count)."""

    source: str
    settings: BenchSettings
    sweep: bool = False  # one of several thread counts: messages name the count

    def named(self, name: str) -> str:
        """``name`` (the source or the model), with the thread count in a sweep."""
        return f"{name} (threads {self.settings.threads})" if self.sweep else name

    @property
    def label(self) -> str:
        return self.named(self.source)

    def __str__(self) -> str:
        return self.label


class JobQueue(Generic[T]):
    """Jobs shared by workers; ``take`` blocks while the queue is empty but a job is in flight."""

    def __init__(self, jobs: Iterable[T] = ()):
        self._pending: collections.deque[T] = collections.deque(jobs)
        self._in_flight = 0
        self._changed = threading.Condition()

    def take(self) -> Optional[T]:
        """The next job, counted in flight; None when none is left and none can come back."""
        with self._changed:
            while not self._pending:
                if self._in_flight == 0:
                    return None
                self._changed.wait(0.5)  # a job in flight on another device may come back
            self._in_flight += 1
            return self._pending.popleft()

    def done(self, job: T) -> None:
        """``job`` (taken before) is finished, successfully or not."""
        with self._changed:
            self._in_flight -= 1
            self._changed.notify_all()

    def hand_back(self, job: T) -> None:
        """``job`` (taken before) could not run here: back for another worker."""
        with self._changed:
            self._pending.appendleft(job)
            self._in_flight -= 1
            self._changed.notify_all()

    def exhausted(self) -> bool:
        """True when nothing is left and nothing is in flight."""
        with self._changed:
            return not self._pending and self._in_flight == 0
