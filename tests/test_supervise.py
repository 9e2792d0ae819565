"""A supervised thread outlives its loop's unexpected errors and stops when asked; a worker is
started, stopped and started again by its owner, and says so when its loop would not end."""

from __future__ import annotations

import logging
import threading

import pytest
from support import wait_for

from framecast.supervise import LoopWorker, SupervisedThread, Worker


def test_a_loop_that_raises_is_restarted_and_its_error_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[int] = []
    done = threading.Event()

    def loop() -> None:
        runs.append(1)
        if len(runs) <= 3:
            raise ValueError("surprise")
        done.wait(10)

    thread = SupervisedThread("worker", loop)
    with caplog.at_level(logging.ERROR):
        thread.start()
        wait_for(lambda: len(runs) == 4, 10, what="the fourth run of the loop")
    done.set()
    assert thread.join(2)
    assert thread.restarts == 3
    errors = [r for r in caplog.records if r.getMessage().startswith("Unexpected error in worker")]
    assert len(errors) == 1
    assert errors[0].exc_info is not None


def test_stop_ends_the_back_off_at_once() -> None:
    raised = threading.Event()

    def loop() -> None:
        raised.set()
        raise RuntimeError("always")

    thread = SupervisedThread("failing", loop)
    thread.start()
    wait_for(raised.is_set, 5, what="the loop to fail")
    assert thread.join(2)
    assert not thread.alive


class Ticker(Worker):
    """Counts its loop's turns until it is stopped; `wake` ends a sleep of its own."""

    def __init__(self) -> None:
        super().__init__("ticker")
        self.turns = 0
        self.nap = threading.Event()

    def wake(self) -> None:
        self.nap.set()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.turns += 1
            self.nap.wait(30)
            self.nap.clear()


def test_a_worker_stops_at_once_when_woken_and_starts_again() -> None:
    ticker = Ticker()
    ticker.start()
    assert ticker.running
    wait_for(lambda: ticker.turns >= 1, 5, what="the first turn")
    assert ticker.stop(2.0), "its own wake ended the thirty-second nap"
    assert not ticker.running
    turns = ticker.turns
    ticker.start()
    wait_for(lambda: ticker.turns > turns, 5, what="a turn after starting again")
    assert ticker.stop(2.0)


def test_a_worker_whose_loop_will_not_end_is_left_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()
    stuck = LoopWorker("stuck", lambda stopping: release.wait(30))
    stuck.start()
    with caplog.at_level(logging.WARNING):
        assert not stuck.stop(0.2)
    release.set()
    assert "stuck did not stop within 0.2 s; leaving it" in caplog.text
    assert not stuck.running


def test_a_loop_worker_hands_its_loop_the_event_that_ends_this_run() -> None:
    seen: list[threading.Event] = []
    worker = LoopWorker("loop", lambda stopping: (seen.append(stopping), stopping.wait(30)))
    for _ in range(2):
        worker.start()
        wait_for(lambda: len(seen) == 1, 5, what="the loop to run")
        assert worker.stop(2.0)
        assert seen.pop().is_set()
