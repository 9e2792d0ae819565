"""The channels being shown: one show (a hub, its sources and their director) per channel.

The registry owns every show's lifetime: it starts the shows the settings name, stops and joins
those a config edit removes, and hands new settings to the rest. The web layer only asks it for
a channel's hub by name. A TV still watching a channel that was removed is given a hub holding
one frame that says so; when the channel comes back, the TV's stream follows it again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ..announcements import Announcements
from ..audio.clip import ClipSink
from ..browser.engine import PageBrowser
from ..config import DEFAULT_CHANNEL, Settings
from ..control import source_name
from ..hub import FrameHub
from ..live.feed import LiveFeeds
from ..logtext import redacted_url
from ..render.imaging import encode_jpeg, render_spec, turn
from ..render.placeholder import render_message
from ..screen.feed import ScreenFeeds
from ..supervise import STOP_SECONDS
from .show import Show, ShowStatus

log = logging.getLogger(__name__)


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
        """The settings the shows were last made to match: swapped under the lock with them, so a
        TV is never sent to a channel that is in the settings but not started yet."""
        self._shows: dict[str, Show] = {}
        self._gone: dict[str, FrameHub] = {}
        self._screens = ScreenFeeds()
        """One capture per monitor and region, whichever channels show it."""
        self._streams = LiveFeeds()
        """One decode per camera or stream address, whichever channels show it."""
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
            show.stop(STOP_SECONDS)
        for name, channel in wanted.items():
            existing = kept.get(name)
            if existing is None:
                self._add(name, channel)
                log.info("Channel %s added: %s", name, _what(channel))
            elif existing.configured != channel:
                existing.configure(channel)

    def stop(self) -> None:
        """End every stream and join every show's threads (each wait bounded)."""
        with self._lock:
            self._stopped = True
            shows, gone = list(self._shows.values()), list(self._gone.values())
        for hub in [show.hub for show in shows] + gone:
            hub.close()
        for show in shows:
            show.stop(STOP_SECONDS)

    def _add(self, name: str, settings: Settings) -> None:
        show = Show(
            name,
            settings,
            self._screens,
            self._streams,
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
        show.start()

    def _wake_all(self) -> None:
        """An announcement came or went: every show draws its frame again (HTTP thread)."""
        with self._lock:
            shows = list(self._shows.values())
        for show in shows:
            show.wake()

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
        show.command(action)

    def switch_source(self, name: str, source: str) -> None:
        """The admin page's switch of one channel's source, until the channel's settings change;
        ValueError for another source (or "url" for a channel without one), KeyError for a
        channel that does not exist."""
        chosen = source_name(source)
        with self._lock:
            show = self._shows.get(name)
        if show is None:
            raise KeyError(name)
        show.switch_source(chosen)
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
            reason = show.stall_reason()
            if reason is not None:
                return reason if show.name == DEFAULT_CHANNEL else f"channel {show.name}: {reason}"
        return None


def _what(settings: Settings) -> str:
    if settings.stream.source == "screen":
        return "the screen"
    if settings.stream.source == "url":
        return f"the stream {redacted_url(settings.stream.url or '')}"
    return f"slides from {settings.slideshow.folder}"


def _publish_gone(hub: FrameHub, name: str, settings: Settings) -> None:
    spec = render_spec(settings)
    frame = render_message(
        "This channel no longer exists",
        [f'"{name}" was removed from config.toml', "This TV shows it again when it comes back"],
        spec.upright,
    )
    hub.publish(encode_jpeg(turn(frame, spec.rotate), spec.quality), spec.width, spec.height)
