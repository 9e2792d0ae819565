"""A supervised thread outlives its loop's unexpected errors and stops when asked."""

from __future__ import annotations

import logging
import threading

import pytest
from support import wait_for

from framecast.supervise import SupervisedThread


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
