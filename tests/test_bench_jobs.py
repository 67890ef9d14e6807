"""The job queue that bench's device workers share: a job in flight on one device is never left
without a worker (a worker stops only when nothing is pending and nothing is in flight)."""

from __future__ import annotations

import sys
import threading

from edgekit.bench.jobs import Job, JobQueue
from edgekit.bench.settings import BenchSettings


def test_a_worker_waits_while_another_holds_the_last_job_and_takes_it_when_handed_back():
    work = JobQueue(["m"])
    assert work.take() == "m"  # worker A (its device will disappear)
    got = []
    b = threading.Thread(target=lambda: got.append(work.take()))
    b.start()
    b.join(0.3)
    assert b.is_alive() and got == []  # B did not give up while A's job may come back
    work.hand_back("m")
    b.join(5)
    assert got == ["m"] and not work.exhausted()
    work.done("m")
    assert work.exhausted() and work.take() is None


def test_taking_and_counting_in_flight_are_one_step_under_contention():
    # Before, a job was taken from the queue and then counted in flight under a lock: a worker
    # looking in between saw an empty queue and nothing in flight and stopped, and the job handed
    # back afterwards was left "unfinished" beside a healthy device. Frequent thread switches
    # and many rounds of take / hand back / take must never lose the job.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(300):
            work = JobQueue(["m"])
            results: list = []
            start = threading.Barrier(3)

            def lost_device() -> None:
                start.wait()
                job = work.take()
                if job is not None:
                    work.hand_back(job)

            def healthy_device() -> None:
                start.wait()
                while (job := work.take()) is not None:
                    results.append(job)
                    work.done(job)

            threads = [threading.Thread(target=f) for f in (lost_device, healthy_device, healthy_device)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(10)
            assert results == ["m"]
    finally:
        sys.setswitchinterval(interval)


def test_jobs_of_a_sweep_name_their_thread_count():
    settings = BenchSettings.resolve(threads=2)
    assert Job("MobileNetV1", settings, sweep=True).label == "MobileNetV1 (threads 2)"
    assert Job("MobileNetV1", settings).label == "MobileNetV1"
    assert Job("a.nb", settings, sweep=True).named("a") == "a (threads 2)"


def test_take_on_an_empty_queue_returns_at_once():
    assert JobQueue([]).take() is None

