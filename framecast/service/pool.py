"""Threads for HTTP connections, started before the connections arrive.

Starting a thread waits until the new thread first holds the GIL. With hundreds of streams
running that takes milliseconds, so an accept loop that starts one thread per connection left
the last of 200 TVs connecting at once one to two seconds without a frame. Here the accept loop
only queues a connection for a thread that is already waiting.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

Job = Callable[[], None]

IDLE_SECONDS = 30.0
"""A thread beyond those `start` made ends after this long without a connection."""


class HandlerPool:
    """Waiting threads that each run one connection at a time, then wait for the next.

    A thread is reserved for every submitted job, so a job never queues behind a stream that may
    run for days: when no thread is free, `submit` starts one more. The thread that finished
    last runs the next job, so connections that come and go reuse a few warm threads and the
    rest stay idle and cold.
    The pool keeps at least what `start` was given; threads beyond that end once they have
    been idle for `idle_seconds`, so a burst of connections does not leave hundreds of threads
    behind. The coldest (longest idle) go first. `submit` is called on the accept loop's
    thread; `start` and `stop` by the pool's owner.
    """

    def __init__(self, name: str = "http", idle_seconds: float = IDLE_SECONDS) -> None:
        self._name = name
        self._idle_seconds = idle_seconds
        self._keep = 0
        self._lock = threading.Lock()
        # The inboxes of the free threads, a stack: the last one freed is taken first.
        self._idle: list[queue.SimpleQueue[Job | None]] = []
        self._inboxes: list[queue.SimpleQueue[Job | None]] = []
        self._threads: list[threading.Thread] = []
        self._numbers = itertools.count(1)

    def start(self, threads: int) -> None:
        with self._lock:
            self._keep += threads
        for _ in range(threads):
            self._add_thread(idle=True)

    def submit(self, job: Job) -> None:
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
        if inbox is None:
            inbox = self._add_thread(idle=False)
        inbox.put(job)

    @property
    def threads(self) -> int:
        with self._lock:
            return len(self._threads)

    @property
    def idle(self) -> int:
        """Threads free for the next connection."""
        with self._lock:
            return len(self._idle)

    def stop(self, timeout: float) -> None:
        """Let every thread finish its connection and end; join them for up to `timeout` s.

        The owner ends the streams first (they run until the hub closes). A thread still held
        past the deadline by a client that takes no data is a daemon and ends with the process.
        """
        with self._lock:
            threads, inboxes = list(self._threads), list(self._inboxes)
        for inbox in inboxes:
            inbox.put(None)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = sum(thread.is_alive() for thread in threads)
        if stuck:
            log.warning("%d connection thread(s) still writing at exit; leaving them", stuck)

    def _add_thread(self, idle: bool) -> queue.SimpleQueue[Job | None]:
        inbox: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        thread = threading.Thread(
            target=self._run, args=(inbox,), name=f"{self._name}-{next(self._numbers)}", daemon=True
        )
        with self._lock:
            self._threads.append(thread)
            self._inboxes.append(inbox)
            if idle:
                self._idle.append(inbox)
        thread.start()
        return inbox

    def _run(self, inbox: queue.SimpleQueue[Job | None]) -> None:
        """Each pool thread: run the jobs handed to it until `stop` sends the end marker, or
        until it has been idle for `idle_seconds` while the pool holds more than it keeps."""
        while (job := self._next_job(inbox)) is not None:
            try:
                job()
            except Exception:
                log.exception("A connection failed unexpectedly")
            with self._lock:
                self._idle.append(inbox)

    def _next_job(self, inbox: queue.SimpleQueue[Job | None]) -> Job | None:
        """The next job for this pool thread; None when it is to end (it has left the pool)."""
        while True:
            try:
                return inbox.get(timeout=self._idle_seconds)
            except queue.Empty:
                pass
            with self._lock:
                # Not idle any more means `submit` took this inbox and a job is on its way.
                if len(self._threads) > self._keep and inbox in self._idle:
                    self._idle.remove(inbox)
                    self._inboxes.remove(inbox)
                    self._threads.remove(threading.current_thread())
                    return None
