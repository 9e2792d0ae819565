"""The latest-frame slot every stream client reads from.

One producer publishes; any number of HTTP threads wait for a frame newer than the one they
sent. There is no queue per client: a slow client simply skips to the newest frame, so each
client costs one shared reference, whatever its speed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Frame:
    """One encoded frame, shared read-only by every client."""

    jpeg: bytes
    seq: int
    width: int
    height: int
    published_at: float


class FrameHub:
    """A latest-value slot under a condition variable.

    `publish` is called by the producer thread; `wait_newer`, `latest` and `subscribe` by the
    HTTP threads; `close` by the server's main thread at shutdown.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._clients = 0
        self._closed = False

    def publish(self, jpeg: bytes, width: int, height: int) -> Frame:
        with self._cond:
            seq = self._frame.seq + 1 if self._frame else 1
            self._frame = Frame(jpeg, seq, width, height, time.monotonic())
            self._cond.notify_all()
            return self._frame

    def latest(self) -> Frame | None:
        with self._cond:
            return self._frame

    def wait_newer(self, after_seq: int, timeout: float) -> Frame | None:
        """The newest frame with a sequence number above `after_seq`, or None on timeout/close."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._closed:
                if self._frame is not None and self._frame.seq > after_seq:
                    return self._frame
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return None

    @contextmanager
    def subscribe(self) -> Iterator[None]:
        """Count one client for as long as the block runs."""
        with self._cond:
            self._clients += 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._clients -= 1
                self._cond.notify_all()

    @property
    def clients(self) -> int:
        with self._cond:
            return self._clients

    @property
    def frames(self) -> int:
        """How many frames have been published since start."""
        with self._cond:
            return self._frame.seq if self._frame else 0

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed

    def close(self) -> None:
        """Wake every waiting client so that its stream ends."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
