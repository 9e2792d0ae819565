"""The connection thread pool: never runs out, reuses its threads, ends them all at stop."""

from __future__ import annotations

import logging
import threading

import pytest
from support import wait_for

from framecast.service.pool import HandlerPool


def test_jobs_beyond_the_started_threads_each_get_a_thread_and_threads_are_reused() -> None:
    pool = HandlerPool()
    pool.start(2)
    release = threading.Event()
    running: list[str] = []
    lock = threading.Lock()

    def long_job() -> None:
        with lock:
            running.append(threading.current_thread().name)
        release.wait(10)

    try:
        for _ in range(5):
            pool.submit(long_job)
        wait_for(lambda: len(running) == 5, 5, what="five jobs running at once")
        assert len(set(running)) == 5
        assert pool.threads == 5
        release.set()
        wait_for(lambda: pool.idle == 5, 5, what="the five threads free again")
        running.clear()
        release.clear()
        for _ in range(5):
            pool.submit(long_job)
        wait_for(lambda: len(running) == 5, 5, what="five more jobs running at once")
        assert pool.threads == 5
    finally:
        release.set()
        pool.stop(5)


def test_connections_one_after_another_reuse_the_thread_that_finished_last() -> None:
    """So a day of TVs coming and going keeps a few threads warm, not all of them."""
    pool = HandlerPool()
    pool.start(50)
    names: list[str] = []
    try:
        for _ in range(20):
            done = threading.Event()

            def job(done: threading.Event = done) -> None:
                names.append(threading.current_thread().name)
                done.set()

            pool.submit(job)
            assert done.wait(5)
            wait_for(lambda: pool.idle == 50, 5, what="the thread free again")
        assert len(set(names)) == 1
    finally:
        pool.stop(5)


def test_stop_ends_and_joins_every_thread() -> None:
    before = threading.active_count()
    pool = HandlerPool()
    pool.start(8)
    assert threading.active_count() == before + 8
    done = threading.Event()
    pool.submit(done.set)
    assert done.wait(5)
    pool.stop(5)
    assert threading.active_count() == before


def test_a_failing_job_is_logged_and_its_thread_serves_the_next(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = HandlerPool()
    pool.start(1)
    ran = threading.Event()

    def broken() -> None:
        raise RuntimeError("boom")

    try:
        with caplog.at_level(logging.ERROR, logger="framecast"):
            pool.submit(broken)
            wait_for(lambda: pool.idle == 1, 5, what="the thread free again")
            pool.submit(ran.set)
            assert ran.wait(5)
        assert pool.threads == 1
        assert "A connection failed unexpectedly" in caplog.text
    finally:
        pool.stop(5)
