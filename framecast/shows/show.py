"""One channel's show: its hub, its sources and the director that picks one, and the channel's
settings as they stand now (config.toml's, with the admin page's switch of source laid over
them until the channel's settings change)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..announcements import Announcements
from ..audio.clip import ClipSink
from ..browser.engine import PageBrowser
from ..config import Settings
from ..control import SourceName
from ..hub import FrameHub
from ..live.feed import LiveFeeds
from ..live.source import LiveSource
from ..screen.feed import ScreenFeeds
from ..screen.source import ScreenSource
from ..slideshow.renderer import SlideRenderer
from ..slideshow.source import SlideshowSource
from ..supervise import STOP_SECONDS
from .director import SourceDirector


@dataclass(frozen=True)
class ShowStatus:
    """What `/status` says of one show, read at one moment."""

    source: SourceName
    switched: SourceName | None
    """The admin page's switch of source, while it holds (a config edit of the channel ends it)."""
    folder: str
    slideshow: dict[str, Any]
    """The slideshow's fields: slide, slides, skipped, schedule_error, paused, position."""
    screen: dict[str, Any]
    """The screen's fields, while the screen is the source."""
    live: dict[str, Any]
    """The live stream's fields (address without credentials, connected, frames, error), while
    a stream is the source."""

    def as_json(self) -> dict[str, Any]:
        return {
            **self.screen,
            **self.live,
            "source": self.source,
            "source_switched": self.switched,
            "folder": self.folder,
            **self.slideshow,
        }


class Show:
    """One channel, started and stopped by the registry; its settings are read by its sources
    through `settings`, from any thread."""

    def __init__(
        self,
        name: str,
        settings: Settings,
        screens: ScreenFeeds,
        streams: LiveFeeds,
        address: Callable[[], str],
        pages: PageBrowser | None,
        announcements: Announcements,
        clip_sound: Callable[[str], ClipSink | None],
    ) -> None:
        self.name = name
        self.hub = FrameHub()
        self._configured = settings
        self._switched: SourceName | None = None
        self._settings = settings
        self.slideshow = SlideshowSource(
            self.hub,
            self.settings,
            SlideRenderer(pages),
            address=address,
            banner=lambda: announcements.current(name),
            clip_sound=lambda: clip_sound(name),
        )
        self.screen = ScreenSource(self.hub, self.settings, screens)
        self.live = LiveSource(
            self.hub, self.settings, streams, lambda: announcements.current(name)
        )
        self.director = SourceDirector(
            name,
            self.hub,
            self.settings,
            {"slideshow": self.slideshow, "screen": self.screen, "url": self.live},
            live=frozenset({"screen", "url"}),
        )

    def settings(self) -> Settings:
        """The channel's settings now (any thread)."""
        return self._settings

    @property
    def configured(self) -> Settings:
        """The channel's settings as config.toml gives them."""
        return self._configured

    def start(self) -> None:
        self.director.start()

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        self.director.stop(timeout)

    def configure(self, settings: Settings) -> None:
        """New settings from config.toml (the config watcher's thread); they end a switch."""
        self._configured = self._settings = settings
        self._switched = None
        self.director.wake()

    def switch_source(self, source: SourceName) -> None:
        """Show `source` until the channel's settings change (the admin page's switch);
        ValueError for "url" when the channel has no `url`."""
        configured = self._configured
        if source == "url" and configured.stream.url is None:
            raise ValueError(f"channel {self.name} has no [stream] url to show")
        self._switched = source
        self._settings = replace(configured, stream=replace(configured.stream, source=source))
        self.director.wake()

    def command(self, action: str) -> None:
        """ "next", "previous", "pause" or "resume" for the slideshow; ValueError otherwise."""
        self.slideshow.command(action)

    def wake(self) -> None:
        """Draw the frame again now (an announcement came or went)."""
        self.director.wake()

    def stall_reason(self) -> str | None:
        return self.director.stall_reason()

    def status(self) -> ShowStatus:
        settings = self._settings
        source = settings.stream.source
        return ShowStatus(
            source=source,
            switched=self._switched,
            folder=str(settings.slideshow.folder),
            slideshow=self.slideshow.status(),
            screen=self.screen.status() if source == "screen" else {},
            live=self.live.status() if source == "url" else {},
        )
