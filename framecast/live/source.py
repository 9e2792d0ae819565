"""A camera or network stream as a channel's source: the pictures of the shared feed of the
channel's `[stream] url`, fitted like a slide (fit, background, turn), with the channel's clock
and announcement, encoded at the channel's size and published at most `max_fps` a second.

The channel's director runs it only while someone watches. While the stream is being opened,
or is offline (it failed, stalled or ended and is being opened again), the TVs see a frame that
says so and since when.
"""

from __future__ import annotations

import logging
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..announcements import Announcement
from ..config import Settings
from ..hub import FrameHub
from ..render.compose import Labels, finished, overlay_labels
from ..render.imaging import RenderSpec, fit, render_spec
from ..render.placeholder import render_message
from ..supervise import STOP_SECONDS, Worker
from .feed import LiveFeed, LiveFeeds, Look, Wants

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
"""How often the channel looks again with no news from its feed (a clock, an announcement)."""
STALL_GRACE_SECONDS = 5.0


class LiveSource(Worker):
    """Publishes the feed's pictures to one channel's hub on a thread of its own.

    `start`, `stop` and `wake` are called by the channel's director; `status` and
    `stall_reason` by HTTP threads. The settings are read from `settings` at every look.
    """

    def __init__(
        self,
        hub: FrameHub,
        settings: Callable[[], Settings],
        feeds: LiveFeeds,
        banner: Callable[[], Announcement | None] = lambda: None,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        super().__init__("live-source")
        self._hub = hub
        self._settings = settings
        self._feeds = feeds
        self._banner = banner
        self._clock = clock
        self._woken = threading.Event()
        self._feed: LiveFeed | None = None
        self._ticked_at = time.monotonic()

    def start(self) -> None:
        self._ticked_at = time.monotonic()
        super().start()

    def wake(self) -> None:
        """Draw the frame again now (an announcement came or went, the settings changed)."""
        self._woken.set()
        feed = self._feed
        if feed is not None:
            feed.wake()

    def status(self) -> dict[str, Any]:
        feed = self._feed
        if feed is not None:
            return feed.status()
        return {
            "live_url": None,
            "live_connected": False,
            "live_frames": 0,
            "live_opens": 0,
            "live_error": None,
        }

    def stall_reason(self) -> str | None:
        """Why the channel's loop is stuck: it has not looked at its feed for the retry delay
        plus 5 s (a stream that fails is not stuck: it is offline, and says so)."""
        if not self.running:
            return None
        quiet = time.monotonic() - self._ticked_at
        if quiet <= RETRY_SECONDS + STALL_GRACE_SECONDS:
            return None
        return f"the live stream's channel has not looked for {quiet:.0f} s"

    def run(self) -> None:
        """The channel's thread: take each new look of the feed, publish its picture (fitted,
        labelled, encoded) at most `max_fps` a second, or the frame saying why there is none."""
        settings = self._settings()
        url = settings.stream.url or ""
        feed = self._feed = self._feeds.attach(self, url, _wants(settings))
        tick, shown, published_at = 0, None, 0.0
        try:
            while not self.stopping.is_set():
                self._ticked_at = time.monotonic()
                settings = self._settings()
                if settings.stream.url != feed.url:
                    self._feeds.detach(self, feed)
                    url = settings.stream.url or ""
                    feed = self._feed = self._feeds.attach(self, url, _wants(settings))
                    tick, shown = 0, None
                feed.attach(self, _wants(settings))
                look = feed.wait(tick, 0 if self._woken.is_set() else RETRY_SECONDS)
                self._woken.clear()
                look = look or feed.latest()
                tick = look.tick
                spec = render_spec(settings)
                labels = overlay_labels(settings.overlay, self._clock(), self._banner())
                key = (look.version if look.connected else look.error, spec, labels)
                if key == shown:
                    continue
                wait = published_at + 1.0 / settings.stream.max_fps - time.monotonic()
                if look.connected and wait > 0:
                    if self.stopping.wait(wait):
                        break
                    look = feed.latest()
                    tick = look.tick
                    key = (look.version if look.connected else look.error, spec, labels)
                published_at = time.monotonic()
                self._publish(look, spec, labels, feed.shown_url)
                shown = key
        finally:
            # Nobody watches: a TV that comes later waits for a picture of now, not this one.
            self._hub.outdate()
            self._feed = None
            # Half the director's wait for this thread: a feed stuck in a stalled read (until
            # url_timeout) is left to end by itself, and this thread still ends in time.
            self._feeds.detach(self, feed, STOP_SECONDS / 2)

    def _publish(self, look: Look, spec: RenderSpec, labels: Labels, shown_url: str) -> None:
        """The picture fitted to the upright panel, labelled, turned and encoded without the
        GIL; or, before the first picture and while offline, the message saying so."""
        panel = spec.upright
        if look.connected and look.picture is not None:
            picture = fit(look.picture, panel)
        elif look.offline_since is not None and look.error is not None:
            since = datetime.fromtimestamp(look.offline_since).strftime("%H:%M")
            lines = [shown_url, *textwrap.wrap(look.error, 60)]
            picture = render_message(f"Offline since {since}", lines, panel)
        else:
            picture = render_message("Connecting", [shown_url], panel)
        self._hub.publish(finished(picture, labels, spec)[1], spec.width, spec.height)


def _wants(settings: Settings) -> Wants:
    return Wants(
        settings.stream.max_fps,
        settings.stream.url_timeout,
        round(settings.slideshow.max_megapixels * 1_000_000),
    )
