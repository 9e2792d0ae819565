"""The live screen as a source: looks from the shared feed of one channel's area, encoded at the
channel's size, published only when they changed.

The capture thread runs only while someone watches the channel (the channel's director starts
and stops it). A problem with the display becomes a readable frame and a `/status` message, and
capture retries by itself until the cause is gone.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from ..checks import MAX_FPS
from ..config import Settings
from ..hub import FrameHub
from ..render.imaging import RenderSpec, encode_jpeg, render_spec, turn
from ..render.placeholder import render_message
from ..render.screen_frame import encode_screen
from ..supervise import STOP_SECONDS, Worker
from .feed import Look, ScreenFeeds

log = logging.getLogger(__name__)
RETRY_SECONDS = 1.0
FPS_WINDOW_SECONDS = 2.0


def screen_spec(settings: Settings) -> RenderSpec:
    """How screen frames are rendered: the stream's size, fit and turn, the screen's own
    quality."""
    return render_spec(settings, settings.screen.quality)


class ScreenSource(Worker):
    """Captures on its own thread, publishing each change of the screen as soon as its feed
    sees it, at most `fps` frames a second, and only frames that changed.

    `start` and `stop` are called by the channel's director; `status` and `stall_reason` by
    HTTP threads. The settings are read from `settings` at every look, never kept.
    """

    def __init__(self, hub: FrameHub, settings: Callable[[], Settings], feeds: ScreenFeeds) -> None:
        super().__init__("screen-capture")
        self._hub = hub
        self._settings = settings
        self._feeds = feeds
        self._lock = threading.Lock()
        self._error: str | None = None
        self._label: str | None = None
        self._backend: tuple[str | None, str | None] = (None, None)
        self._grabs: list[float] = []
        self._ticked_at = 0.0

    def start(self) -> None:
        self._ticked_at = time.monotonic()
        super().start()

    def stop(self, timeout: float = STOP_SECONDS) -> bool:
        stopped = super().stop(timeout)
        with self._lock:
            self._grabs.clear()
        return stopped

    def stall_reason(self) -> str | None:
        """Why the capture loop is stuck, when it has not looked at the screen for two frame
        periods and the retry delay plus 5 s (read by HTTP threads for /healthz)."""
        if not self.running:
            return None
        period = 1.0 / min(self._settings().screen.fps, MAX_FPS)
        quiet = time.monotonic() - self._ticked_at
        if quiet <= 2 * period + RETRY_SECONDS + 5.0:
            return None
        return f"screen capture has not run for {quiet:.0f} s"

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._grabs if t > now - FPS_WINDOW_SECONDS]
            fps = len(recent) / FPS_WINDOW_SECONDS if self.running else 0.0
            return {
                "screen_fps": round(fps, 1),
                "screen_monitor": self._label,
                "screen_error": self._error,
                "screen_backend": self._backend[0],
                "screen_backend_why": self._backend[1],
            }

    def run(self) -> None:
        """The capture thread: take each of the feed's looks as it comes, encode those that
        changed, at most `fps` a second, publish."""
        settings = self._settings()
        feed = self._feeds.attach(self, settings.screen)
        tick = 0
        last: tuple[int, RenderSpec] | None = None
        shown_error: tuple[str, RenderSpec] | None = None
        encoded_at = confirmed_at = -math.inf
        try:
            while not self.stopping.is_set():
                self._ticked_at = time.monotonic()
                settings = self._settings()
                if not feed.serves(settings.screen):
                    self._feeds.detach(self, feed)
                    feed, tick, last = self._feeds.attach(self, settings.screen), 0, None
                feed.attach(self, settings.screen.fps)
                spec = screen_spec(settings)
                look = feed.wait(tick, RETRY_SECONDS)
                if look is None:
                    continue
                period = 1.0 / min(settings.screen.fps, MAX_FPS)
                now = time.monotonic()
                if look.grab is not None and last == (look.version, spec):
                    if now < max(encoded_at, confirmed_at) + period / 2:
                        # Another channel asks the feed for more looks than this one takes
                        # (half a period: looks at this channel's own rate come a hair early).
                        tick = look.tick
                        continue
                    confirmed_at = now
                elif look.grab is not None and now < encoded_at + period:
                    if self.stopping.wait(encoded_at + period - now):
                        break
                    look = feed.latest()
                tick = look.tick
                self._note_backend(look)
                if look.error is not None or look.grab is None:
                    message = look.error or "no screen yet"
                    self._note_error(message)
                    if shown_error != (message, spec):
                        self._show_error(message, spec)
                        shown_error = (message, spec)
                    last = None
                    continue
                self._succeed(look.grab.label)
                shown_error = None
                if last == (look.version, spec):
                    self._hub.confirm()
                else:
                    grab = look.grab
                    encoded_at = time.monotonic()
                    jpeg = encode_screen(grab.pixels, grab.width, grab.height, spec)
                    self._hub.publish(jpeg, spec.width, spec.height, standing=False)
                    last = (look.version, spec)
        finally:
            self._feeds.detach(self, feed)

    def _note_backend(self, look: Look) -> None:
        """Keeps the look's backend for /status; logs it when a backend is picked anew."""
        backend = (look.backend, look.why)
        with self._lock:
            changed, self._backend = backend != self._backend, backend
        if changed and look.backend is not None:
            log.info("Screen capture uses %s: %s", look.backend, look.why)

    def _succeed(self, label: str) -> None:
        with self._lock:
            self._grabs.append(time.monotonic())
            cutoff = self._grabs[-1] - FPS_WINDOW_SECONDS
            while self._grabs and self._grabs[0] < cutoff:
                self._grabs.pop(0)
            recovered = self._error is not None
            self._error = None
            changed = label != self._label
            self._label = label
        if recovered or changed:
            log.info("Capturing the screen: monitor %s", label)

    def _note_error(self, message: str) -> None:
        with self._lock:
            repeated = message == self._error
            self._error = message
        if not repeated:
            log.warning("Screen capture: %s", message)

    def _show_error(self, message: str, spec: RenderSpec) -> None:
        picture = render_message("No screen", _wrap(message, 60), spec.upright)
        jpeg = encode_jpeg(turn(picture, spec.rotate), spec.quality)
        self._hub.publish(jpeg, spec.width, spec.height)


def _wrap(text: str, width: int) -> list[str]:
    """Split a message into lines of at most about `width` characters for the placeholder."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines
