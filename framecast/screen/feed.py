"""One capture of each monitor or region, however many channels show it.

A `ScreenFeed` owns the backend (backends.py: the X connection, or mss alone) and the thread
that grabs one area of the screen, at the highest rate any of its channels asks for, and tells
each look apart from the last by a version that changes only when the pixels did. Besides its
steady looks it looks as soon as the backend reports drawing (X DAMAGE), one frame period after
the last such look at the earliest: a change waits for no tick, and a still screen costs only
the steady looks. Each channel's `ScreenSource` takes the looks it wants and encodes them at its
own size: two TVs of different sizes showing the same desktop cost one grab and two encodes a
frame, not two of each.
"""

from __future__ import annotations

import contextlib
import math
import select
import socket
import threading
import time
from dataclasses import dataclass
from typing import Literal

from ..checks import MAX_FPS, Region
from ..config import ScreenSettings
from ..supervise import STOP_SECONDS, SharedFeed
from .backends import Choice, ScreenBackend, choose
from .grab import Grab, ScreenError, same_from

RETRY_SECONDS = 1.0

FeedKey = tuple[int | str, Region | None]
"""The monitor and region a feed grabs."""
FeedsKey = tuple[str, int | str, Region | None]
"""The backend asked for, the monitor and the region: channels that share a feed."""
Woken = Literal["due", "drawn", "poked"]
"""What ended a feed's sleep: its time, drawing reported by the X server, or a poke."""


@dataclass(frozen=True)
class Look:
    """One look at the area: the grab and the version of its pixels, or why there is none; and
    the backend that looks (None when none can), with why it was picked (or what to do)."""

    tick: int
    grab: Grab | None
    version: int
    error: str | None = None
    backend: str | None = None
    why: str | None = None


class ScreenFeed(SharedFeed[Look]):
    """The grabbing thread of one area, running while any channel is attached.

    `attach`, `detach`, `wait` and `latest` are called by the channels' capture threads, `start`
    and `stop` by the one that attaches first and detaches last; the feed's own thread calls
    `run`.
    """

    def __init__(self, key: FeedKey, backend: str = "auto") -> None:
        super().__init__(f"screen-feed-{key[0]}", Look(0, None, 0))
        self.key = key
        self.backend = backend
        self._rates: dict[int, float] = {}
        # Written to when the feed's thread should look at its rates again or stop: it may be
        # asleep in select on the X connection, where a condition cannot reach it. A socket
        # pair, not a pipe: Windows selects on sockets only.
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._wake_write.setblocking(False)

    def serves(self, settings: ScreenSettings) -> bool:
        """Whether this feed grabs what `settings` ask for, with the backend they ask for."""
        return self.key == (settings.monitor, settings.region) and self.backend == settings.backend

    @property
    def channels(self) -> int:
        with self._cond:
            return len(self._rates)

    def attach(self, channel: object, fps: float) -> None:
        """`channel` wants looks at `fps` (again, with a new rate)."""
        with self._cond:
            changed = self._rates.get(id(channel)) != min(fps, MAX_FPS)
            self._rates[id(channel)] = min(fps, MAX_FPS)
        if changed:
            self._poke()

    def detach(self, channel: object) -> bool:
        """`channel` wants no more looks; whether it was the last."""
        with self._cond:
            self._rates.pop(id(channel), None)
            return not self._rates

    def stop(self, timeout: float = STOP_SECONDS) -> bool:
        """Stop the thread; the wake-up pipe is closed only once it has ended, as until then it
        may still read it."""
        stopped = super().stop(timeout)
        if stopped:
            self._wake_read.close()
            self._wake_write.close()
        return stopped

    def wake(self) -> None:
        """Ends the channels' `wait` and the feed thread's sleep."""
        with self._cond:
            self._cond.notify_all()
        self._poke()

    def _poke(self) -> None:
        """Wakes the feed's thread; a full pipe already will."""
        with contextlib.suppress(BlockingIOError):
            self._wake_write.send(b"!")

    def _show(
        self, grab: Grab | None, version: int, choice: Choice | None, error: str | None = None
    ) -> None:
        name, why = (None, error) if choice is None else (choice.name, choice.why)
        with self._cond:
            self._look = Look(self._look.tick + 1, grab, version, error, name, why)
            self._cond.notify_all()

    def run(self) -> None:
        """The feed's thread: look at the fastest rate asked and whenever drawing is reported,
        note whether anything changed."""
        settings = ScreenSettings(monitor=self.key[0], region=self.key[1], backend=self.backend)
        choice: Choice | None = None
        pixels: bytearray | None = None
        version = self._look.version
        drawn_at = -math.inf
        try:
            while not self.stopping.is_set():
                try:
                    if choice is None:
                        choice = choose(self.backend)
                    grab = choice.backend.grab(settings)
                except ScreenError as error:
                    pixels = None
                    self._show(None, version, choice, str(error))
                    self._sleep(time.monotonic() + RETRY_SECONDS)
                    continue
                start = grab.first_row * grab.width * 4
                if grab.drawn and not same_from(grab.pixels, pixels, start):
                    # Every mss backend returns a new buffer per grab: keep it, no copy.
                    version, pixels = version + 1, grab.pixels
                self._show(grab, version, choice)
                looked_at = time.monotonic()
                if grab.drawn:
                    drawn_at = looked_at
                woken: Woken = "poked"
                while woken == "poked":
                    with self._cond:
                        period = 1.0 / max(self._rates.values(), default=1.0)
                    woken = self._sleep(looked_at + period, choice.backend, drawn_at + period)
                if woken == "drawn":
                    # Drawing woke the feed: its next news waits a frame period, even when the
                    # drawing turns out to be outside the area (grab.drawn is False then).
                    drawn_at = time.monotonic()
        finally:
            if choice is not None:
                choice.backend.close()

    def _sleep(
        self, until: float, grabber: ScreenBackend | None = None, eager_at: float = 0.0
    ) -> Woken:
        """Sleeps until `until`, or until poked (stopping, or the rates changed); from
        `eager_at` on, with a `grabber`, also until it reports drawing. Says which woke it
        (feed's thread)."""
        while not self.stopping.is_set():
            now = time.monotonic()
            if now >= until:
                return "due"
            if grabber is not None and now >= eager_at:
                if grabber.wait_drawn(until - now, self._wake_read.fileno()):
                    return "drawn"
            else:
                limit = until if grabber is None else min(until, eager_at)
                select.select([self._wake_read], [], [], limit - now)
            with contextlib.suppress(BlockingIOError):
                if self._wake_read.recv(64):
                    return "poked"
        return "due"


class ScreenFeeds:
    """The feeds in use, by area; a feed starts with its first channel and stops with its last.
    Called by the channels' capture threads; shared by every show of one app."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._feeds: dict[FeedsKey, ScreenFeed] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._feeds)

    def attach(self, channel: object, settings: ScreenSettings) -> ScreenFeed:
        key: FeedsKey = (settings.backend, settings.monitor, settings.region)
        with self._lock:
            feed = self._feeds.get(key)
            started = feed is None
            if feed is None:
                feed = self._feeds[key] = ScreenFeed(key[1:], settings.backend)
            feed.attach(channel, settings.fps)
        if started:
            feed.start()
        return feed

    def detach(self, channel: object, feed: ScreenFeed) -> None:
        with self._lock:
            last = feed.detach(channel)
            key = (feed.backend, *feed.key)
            if last and self._feeds.get(key) is feed:
                del self._feeds[key]
        if last:
            feed.stop()
