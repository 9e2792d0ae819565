"""The channels being shown: one show (a hub and the producer that fills it) per channel.

The registry owns every show's lifetime: it starts the shows the settings name, stops and joins
those a config edit removes, and hands new settings to the rest. The web layer only asks it for
a channel's hub by name. A TV still watching a channel that was removed is given a hub holding
one frame that says so; when the channel comes back, the TV's stream follows it again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..announcements import Announcements
from ..audio.clip import ClipSink
from ..browser.engine import PageBrowser
from ..config import DEFAULT_CHANNEL, Settings
from ..hub import FrameHub
from ..render.imaging import encode_jpeg, render_spec, turn
from ..render.placeholder import render_message
from ..screen.feed import ScreenFeeds
from ..slideshow.renderer import SlideRenderer
from .producer import SlideshowProducer

log = logging.getLogger(__name__)

STOP_SECONDS = 1.0


@dataclass(frozen=True)
class ShowStatus:
    """What `/status` says of one show, read at one moment."""

    source: str
    slide: str | None
    slides: int
    folder: str
    skipped: list[dict[str, str]]
    schedule_error: str | None
    paused: bool
    position: float | None
    """Seconds into the clip or animation on the stream."""
    screen: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            **self.screen,
            "source": self.source,
            "slide": self.slide,
            "slides": self.slides,
            "folder": self.folder,
            "skipped": self.skipped,
            "schedule_error": self.schedule_error,
            "paused": self.paused,
            "position": self.position,
        }


class Show:
    """One channel: its hub and the producer that fills it (started and stopped by the
    registry)."""

    def __init__(
        self,
        name: str,
        settings: Settings,
        screens: ScreenFeeds,
        address: Callable[[], str],
        pages: PageBrowser | None,
        announcements: Announcements,
        clip_sound: Callable[[str], ClipSink | None],
    ) -> None:
        self.name = name
        self.hub = FrameHub()
        self.producer = SlideshowProducer(
            self.hub,
            settings,
            SlideRenderer(pages),
            screens=screens,
            address=address,
            banner=lambda: announcements.current(name),
            clip_sound=lambda: clip_sound(name),
        )
        self.settings = settings

    def status(self) -> ShowStatus:
        settings = self.settings
        producer = self.producer
        playlist = producer.playlist
        source = producer.source
        screen = producer.screen_status() if source == "screen" else {}
        return ShowStatus(
            source=source,
            slide=producer.slide,
            slides=playlist.count if playlist else 0,
            folder=str(settings.slideshow.folder),
            skipped=playlist.skipped() if playlist else [],
            schedule_error=playlist.schedule_error if playlist else None,
            paused=producer.paused,
            position=producer.position,
            screen=screen,
        )


class ShowRegistry:
    """Every channel's show, by name.

    `start`, `apply` (on the config watcher's thread) and `stop` are called by the app that owns
    the registry; the lookups by HTTP threads.
    """

    def __init__(
        self,
        settings: Settings,
        address: Callable[[], str],
        pages: PageBrowser | None = None,
        announcements: Announcements | None = None,
        clip_sound: Callable[[str], ClipSink | None] = lambda name: None,
    ) -> None:
        self._lock = threading.Lock()
        self._clip_sound = clip_sound
        """Where a channel's clips play their sound, by channel name (owned by the app)."""
        self._pages = pages
        """The browser web slides are drawn by, shared by every channel (owned by the app)."""
        self._announcements = announcements or Announcements()
        self._announcements.on_change(self._wake_all)
        self._address = address
        self._settings = settings
        self._shows: dict[str, Show] = {}
        self._gone: dict[str, FrameHub] = {}
        self._screens = ScreenFeeds()
        """One capture per monitor and region, whichever channels show it."""
        self._stopped = False

    # --- owner ------------------------------------------------------------------------------

    def start(self) -> None:
        for name, settings in self._settings.shows().items():
            self._add(name, settings)

    def apply(self, settings: Settings) -> None:
        """Start added channels, stop removed ones, pass new settings to the others."""
        wanted = settings.shows()
        with self._lock:
            self._settings = settings
            removed = [show for name, show in self._shows.items() if name not in wanted]
            for show in removed:
                del self._shows[show.name]
            kept = {name: show for name, show in self._shows.items() if name in wanted}
        for show in removed:
            log.info("Channel %s removed: its TVs are told so", show.name)
            show.producer.stop(STOP_SECONDS)
        for name, channel in wanted.items():
            existing = kept.get(name)
            if existing is None:
                self._add(name, channel)
                log.info("Channel %s added: %s", name, _what(channel))
            elif existing.settings != channel:
                existing.settings = channel
                existing.producer.apply(channel)

    def stop(self) -> None:
        """End every stream and join every producer (each wait bounded)."""
        with self._lock:
            self._stopped = True
            shows, gone = list(self._shows.values()), list(self._gone.values())
        for hub in [show.hub for show in shows] + gone:
            hub.close()
        for show in shows:
            show.producer.stop(STOP_SECONDS)

    def _add(self, name: str, settings: Settings) -> None:
        show = Show(
            name,
            settings,
            self._screens,
            self._channel_address(name),
            self._pages,
            self._announcements,
            self._clip_sound,
        )
        with self._lock:
            if self._stopped:
                return
            self._shows[name] = show
            self._gone.pop(name, None)
        show.producer.start()

    def _wake_all(self) -> None:
        """An announcement came or went: every show draws its frame again (HTTP thread)."""
        with self._lock:
            shows = list(self._shows.values())
        for show in shows:
            show.producer.wake()

    def _channel_address(self, name: str) -> Callable[[], str]:
        """The address of channel `name`'s page, for its placeholders."""
        if name == DEFAULT_CHANNEL:
            return self._address
        return lambda: f"{self._address()}c/{name}/"

    # --- HTTP threads -----------------------------------------------------------------------

    def names(self) -> list[str]:
        with self._lock:
            return list(self._shows)

    def hub(self, name: str) -> FrameHub | None:
        """The channel's hub, or None when there is no such channel now."""
        with self._lock:
            show = self._shows.get(name)
        return show.hub if show else None

    def watch(self, name: str) -> FrameHub:
        """The hub a TV of channel `name` watches: the channel's, or while it does not exist,
        one whose only frame says so."""
        with self._lock:
            show = self._shows.get(name)
            if show is not None:
                return show.hub
            gone = self._gone.get(name)
            if gone is None:
                gone = self._gone[name] = FrameHub()
                if self._stopped:
                    gone.close()
                else:
                    _publish_gone(gone, name, self._settings)
            return gone

    def channel_of(self, tv: str) -> str:
        """The channel `[tvs]` assigns to this TV, or the default channel."""
        return self._settings.channel_of(tv) or DEFAULT_CHANNEL

    def assigned(self, tv: str) -> bool:
        return self._settings.channel_of(tv) is not None

    def clients(self) -> int:
        """Streams open on every channel together."""
        with self._lock:
            hubs = [show.hub for show in self._shows.values()] + list(self._gone.values())
        return sum(hub.clients for hub in hubs)

    def command(self, name: str, action: str) -> None:
        """ "next", "previous", "pause" or "resume" for one channel; ValueError otherwise,
        KeyError for a channel that does not exist."""
        with self._lock:
            show = self._shows.get(name)
        if show is None:
            raise KeyError(name)
        show.producer.command(action)

    def switch_source(self, name: str, source: str) -> None:
        """The admin page's switch between "slideshow" and "screen" for one channel, until the
        channel's settings change; KeyError for a channel that does not exist."""
        with self._lock:
            show = self._shows.get(name)
        if show is None:
            raise KeyError(name)
        show.producer.switch_source(source)
        log.info("Channel %s switched to %s from the admin page", name, source)

    def status(self, name: str) -> ShowStatus | None:
        with self._lock:
            show = self._shows.get(name)
        return show.status() if show else None

    def stall_reason(self) -> str | None:
        """The first show that is stuck, and why, for `/healthz`."""
        with self._lock:
            shows = list(self._shows.values())
        for show in shows:
            reason = show.producer.stall_reason()
            if reason is not None:
                return reason if show.name == DEFAULT_CHANNEL else f"channel {show.name}: {reason}"
        return None


def _what(settings: Settings) -> str:
    if settings.stream.source == "screen":
        return "the screen"
    return f"slides from {settings.slideshow.folder}"


def _publish_gone(hub: FrameHub, name: str, settings: Settings) -> None:
    spec = render_spec(settings)
    frame = render_message(
        "This channel no longer exists",
        [f'"{name}" was removed from config.toml', "This TV shows it again when it comes back"],
        spec.upright,
    )
    hub.publish(encode_jpeg(turn(frame, spec.rotate), spec.quality), spec.width, spec.height)
