"""Long-lived threads that outlive the errors nobody expected, and the one way they are owned.

A signage box runs for months unattended: a worker that dies on a surprise exception freezes
every TV while the process looks healthy. A `SupervisedThread` runs its loop again after any
exception, with a back-off, and logs each distinct error once with its traceback (then a
one-line reminder at most once a minute), so the show goes on and the log does not flood.

A `Worker` is a part whose loop runs on such a thread: its owner starts it, and stops it with
a bounded wait that says so in the log when the loop did not end in time.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

log = logging.getLogger(__name__)

FIRST_BACKOFF_SECONDS = 0.1
MAX_BACKOFF_SECONDS = 30.0
STEADY_SECONDS = 60.0
"""A loop that ran this long without an error starts its back-off from the first step again."""
REMINDER_SECONDS = 60.0
STOP_SECONDS = 1.0
"""How long an owner waits for a worker's loop to end: Ctrl+C stops the server within two
seconds, with every worker asked at once."""


class ErrorLog:
    """Logs each distinct unexpected error once with its traceback, repeats as a short line at
    most once a minute. Safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, int]] = {}

    def report(self, where: str, error: BaseException) -> None:
        frames = traceback.extract_tb(error.__traceback__)
        origin = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
        key = f"{where}|{type(error).__name__}|{origin}"
        now = time.monotonic()
        with self._lock:
            last, count = self._seen.get(key, (-REMINDER_SECONDS * 2, 0))
            first = count == 0
            remind = not first and now - last >= REMINDER_SECONDS
            if first or remind:
                self._seen[key] = (now, count + 1)
            else:
                self._seen[key] = (last, count + 1)
        if first:
            log.error("Unexpected error in %s (it goes on):", where, exc_info=error)
        elif remind:
            log.error(
                "Unexpected error in %s again (%d times so far): %s: %s",
                where,
                count + 1,
                type(error).__name__,
                error,
            )


class SupervisedThread:
    """Runs `loop` on a thread of its own, again after any exception, until `stop`.

    `loop` returns when it sees the stop it was asked for (its owner's flag); an exception
    instead restarts it after a back-off that doubles up to `MAX_BACKOFF_SECONDS`. `start` and
    `stop` are called by the owner; `stop` only waits: the owner first tells its loop to end.
    """

    def __init__(self, name: str, loop: Callable[[], None], errors: ErrorLog | None = None):
        self.name = name
        self._loop = loop
        self._errors = errors or ErrorLog()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.restarts = 0

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> bool:
        """Ends the back-off and waits up to `timeout` s; whether the thread has ended."""
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        backoff = FIRST_BACKOFF_SECONDS
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self._loop()
                return
            except Exception as error:
                self._errors.report(self.name, error)
            if time.monotonic() - started >= STEADY_SECONDS:
                backoff = FIRST_BACKOFF_SECONDS
            self.restarts += 1
            if self._stopping.wait(backoff):
                return
            backoff = min(MAX_BACKOFF_SECONDS, backoff * 2)


class Worker:
    """A loop on a supervised thread of its own, started and stopped by its owner.

    A subclass writes `run`, which returns once `stopping` is set, and, when its loop sleeps on
    something other than `stopping`, `wake` to end that sleep. `start` and `stop` are called by
    the owner's thread; a worker may be started again after it stopped.
    """

    def __init__(self, name: str, errors: ErrorLog | None = None) -> None:
        self.name = name
        self.stopping = threading.Event()
        self.errors = errors or ErrorLog()
        """Where the loop's unexpected errors are told, once each; a loop that catches its own
        to go on reports them here too."""
        self._thread: SupervisedThread | None = None

    @property
    def running(self) -> bool:
        """Started and not yet stopped (the loop may be in its back-off after an error)."""
        return self._thread is not None

    @property
    def restarts(self) -> int:
        return self._thread.restarts if self._thread is not None else 0

    def start(self) -> None:
        self.stopping.clear()
        self._thread = SupervisedThread(self.name, self.run, self.errors)
        self._thread.start()

    def stop(self, timeout: float = STOP_SECONDS) -> bool:
        """Ask the loop to end and wait up to `timeout` s; whether it ended (if not, that is
        logged and the thread, a daemon, is left behind)."""
        self.stopping.set()
        self.wake()
        thread, self._thread = self._thread, None
        if thread is None or thread.join(timeout):
            return True
        log.warning("%s did not stop within %g s; leaving it", self.name, timeout)
        return False

    def wake(self) -> None:
        """End the loop's current sleep (any thread); a loop that sleeps on `stopping` needs
        nothing more."""

    def run(self) -> None:
        """The loop, on the worker's own thread; returns once `stopping` is set."""
        raise NotImplementedError


class LoopWorker(Worker):
    """A worker for an owner with more than one loop, or a loop that must keep its own run's
    `stopping`: `loop` is the owner's function, handed the event that ends this run."""

    def __init__(
        self,
        name: str,
        loop: Callable[[threading.Event], None],
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(name)
        self._loop = loop
        self._wake = wake

    def wake(self) -> None:
        self._wake()

    def run(self) -> None:
        self._loop(self.stopping)


class Numbered(Protocol):
    """A feed's look: numbered by `tick`, one more than the look before it."""

    @property
    def tick(self) -> int: ...


LookT = TypeVar("LookT", bound=Numbered)


class SharedFeed(Worker, Generic[LookT]):
    """A worker whose thread makes numbered looks (a screen area's grabs, a stream's pictures)
    that the threads of several channels share: each waits for the first look after the one it
    has. The feed's thread replaces `_look` under `_cond` and notifies; `wait` and `latest` are
    called by the channels' threads."""

    def __init__(self, name: str, first: LookT) -> None:
        super().__init__(name)
        self._cond = threading.Condition()
        self._look = first

    def wait(self, after_tick: int, timeout: float) -> LookT | None:
        """The first look after `after_tick`, or None after `timeout` s or once stopping."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._look.tick <= after_tick and not self.stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return self._look if self._look.tick > after_tick else None

    def latest(self) -> LookT:
        """The newest look, at once."""
        with self._cond:
            return self._look
