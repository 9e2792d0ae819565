"""The latest-frame slot every stream client reads from.

One source publishes; any number of HTTP threads wait for a frame newer than the one they
sent. There is no queue per client: a slow client simply skips to the newest frame, so each
client costs one shared reference, whatever its speed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Frame:
    """One encoded frame, shared read-only by every client.

    A *standing* frame (a slide, a message) stays true until replaced; a live frame (the screen)
    is only known to be current while its source keeps confirming it.
    """

    jpeg: bytes
    seq: int
    width: int
    height: int
    published_at: float
    standing: bool = True


class FrameHub:
    """A latest-value slot under a condition variable, and a count of who wants frames.

    `publish`, `confirm` and `outdate` are called by the thread that makes frames;
    `wait_newer`, `latest`, `current`, `subscribe` and `demand` by HTTP threads (`wait_newer`
    also by the stream fan-out and the relay's publisher); `close` by the server's main thread
    at shutdown. `on_demand` listeners are called on the calling HTTP
    thread whenever the demand changes; `on_change` listeners on the publishing (or closing)
    thread after each new frame and at close, so one thread can wait on many hubs.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._confirmed_at = 0.0
        self._outdated = False
        self._clients = 0
        self._demand = 0
        self._closed = False
        self._demand_listeners: list[Callable[[], None]] = []
        self._change_listeners: list[Callable[[], None]] = []

    def publish(self, jpeg: bytes, width: int, height: int, standing: bool = True) -> Frame:
        with self._cond:
            seq = self._frame.seq + 1 if self._frame else 1
            self._frame = Frame(jpeg, seq, width, height, time.monotonic(), standing)
            self._confirmed_at = self._frame.published_at
            self._outdated = False
            self._cond.notify_all()
            frame = self._frame
            listeners = list(self._change_listeners)
        for listener in listeners:
            listener()
        return frame

    def confirm(self) -> None:
        """The source looked again and the latest frame still shows what it shows now."""
        with self._cond:
            self._confirmed_at = time.monotonic()
            self._outdated = False
            self._cond.notify_all()

    def outdate(self) -> None:
        """The latest frame may no longer be what the source shows (it stopped making frames
        while nobody wanted them): `current` and a new client wait for the next one."""
        with self._cond:
            self._outdated = True

    def latest(self) -> Frame | None:
        """The last frame published, even an outdated one."""
        with self._cond:
            return self._frame

    def wait_newer(self, after_seq: int, timeout: float) -> Frame | None:
        """The newest frame with a sequence number above `after_seq` that is not outdated, or None
        on timeout/close."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._closed:
                frame = self._frame
                if frame is not None and frame.seq > after_seq and not self._outdated:
                    return frame
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return None

    def current(self, timeout: float) -> Frame | None:
        """A frame known to be current: a standing frame at once, a live one once its source has
        looked again since this call (the caller holds `demand` so that it does), an outdated one
        once it is replaced or confirmed; at the timeout, whatever frame there is."""
        asked = time.monotonic()
        deadline = asked + timeout
        with self._cond:
            while not self._closed:
                frame = self._frame
                if (
                    frame is not None
                    and not self._outdated
                    and (frame.standing or self._confirmed_at >= asked)
                ):
                    return frame
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return frame
                self._cond.wait(remaining)
            return self._frame

    def on_demand(self, listener: Callable[[], None]) -> None:
        with self._cond:
            self._demand_listeners.append(listener)

    def on_change(self, listener: Callable[[], None]) -> None:
        with self._cond:
            self._change_listeners.append(listener)

    @contextmanager
    def demand(self) -> Iterator[None]:
        """Want frames for as long as the block runs (a live source runs only while wanted)."""
        self._change_demand(+1)
        try:
            yield
        finally:
            self._change_demand(-1)

    @contextmanager
    def subscribe(self) -> Iterator[None]:
        """Count one stream client, which also wants frames, for as long as the block runs."""
        with self._cond:
            self._clients += 1
        try:
            with self.demand():
                yield
        finally:
            with self._cond:
                self._clients -= 1

    def _change_demand(self, step: int) -> None:
        with self._cond:
            self._demand += step
            listeners = list(self._demand_listeners)
            self._cond.notify_all()
        for listener in listeners:
            listener()

    @property
    def wanted(self) -> bool:
        """Whether anyone wants frames now."""
        with self._cond:
            return self._demand > 0

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
            listeners = list(self._change_listeners)
        for listener in listeners:
            listener()
