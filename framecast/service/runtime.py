"""The running app: the shows, the config watcher and the web app, wired once.

One `Framecast` per process (or per test) owns every thread its parts start; the server starts
it, serves its web app, and stops it.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import replace
from pathlib import Path

from flask import Flask

from ..announcements import Announcements
from ..audio.registry import SoundRegistry
from ..browser.engine import PageBrowser
from ..browser.screenshot_service import ScreenshotService
from ..config import Settings
from ..config_watch import ConfigWatcher
from ..netinfo import main_url
from ..relay.claim import OriginClaim
from ..relay.origin import Origin
from ..shows.registry import ShowRegistry
from ..status import ServerStatus
from ..supervise import STOP_SECONDS
from ..web import AdminParts, create_app

log = logging.getLogger(__name__)


class Framecast:
    """Owns the shows and the config watcher; builds what `/status` and `/healthz` say."""

    def __init__(
        self,
        config_path: Path,
        settings: Settings,
        host: str,
        port: int,
        claim: OriginClaim | None = None,
    ) -> None:
        """With the `claim` of a Redis (`--role origin`), every channel also goes to edges."""
        self.host = host
        self.watcher = ConfigWatcher(config_path, settings, self._apply)
        """The one store of the settings: every part reads them from here when it needs them."""
        self.pages = PageBrowser(lambda: self.watcher.settings.web)
        """The browser web slides and the screenshot API share, started on first need."""
        self.screenshots = ScreenshotService(self.pages)
        self.announcements = Announcements()
        self.sound = SoundRegistry(settings)
        self.shows = ShowRegistry(
            settings,
            lambda: main_url(host, port),
            self.pages,
            self.announcements,
            self.sound.clip_sink,
        )
        self._instance = secrets.token_hex(8)
        """This process's id, in `/status` and in snapshot ETags."""
        self.app: Flask = create_app(
            self.shows,
            self.status,
            lambda: self.watcher.settings,
            self.health,
            self.screenshots,
            AdminParts(self.announcements, lambda: main_url(host, port)),
            self.sound,
            self._instance,
        )
        self._started = time.monotonic()
        self.origin = (
            None
            if claim is None
            else Origin(claim, self.shows, self._own_status, lambda: self.watcher.settings)
        )

    def status(self) -> ServerStatus:
        """What `/status` reports, apart from what the web layer adds (HTTP threads): every
        channel's show, and an origin's edges too."""
        own = self._own_status()
        if self.origin is None:
            return own
        return replace(own, parts={**own.parts, **self.origin.status()})

    def _own_status(self) -> ServerStatus:
        """The status of this process's shows: what an origin publishes to its edges."""
        channels = {}
        for name in self.shows.names():
            show = self.shows.status(name)
            if show is not None:
                channels[name] = show.as_json()
        web = {
            "renders": self.pages.renders,
            "api_renders": self.screenshots.renders,
            "api_cache_hits": self.screenshots.cache_hits,
        }
        return ServerStatus(
            channels=channels,
            uptime_s=time.monotonic() - self._started,
            instance=self._instance,
            config_error=self.watcher.error,
            parts={"web": web},
        )

    def health(self) -> str | None:
        """What `/healthz` reports as wrong (HTTP threads): a stalled show, or None."""
        return self.shows.stall_reason()

    def warn_if_exposed(self) -> None:
        """Say so when anyone on the network could watch this machine's screen."""
        settings = self.watcher.settings
        host = self.host
        loopback = host in ("localhost", "::1") or host.startswith("127.")
        screens = [s for s in settings.shows().values() if s.stream.source == "screen"]
        if screens and settings.server.token is None and not loopback:
            log.warning(
                "The screen can be watched by anyone who can reach %s: set [server] token, "
                'or host = "127.0.0.1"',
                host,
            )

    def _apply(self, old: Settings, new: Settings) -> None:
        """Called on the config watcher's thread after a successful reload."""
        if (old.server.host, old.server.port) != (new.server.host, new.server.port):
            log.warning("[server] host and port take effect when the server is restarted")
        self.shows.apply(new)
        self.sound.apply(new)
        if self.origin is not None:
            self.origin.apply()
        sources = [s.stream.source for s in old.shows().values()]
        if sources != [s.stream.source for s in new.shows().values()] or (
            old.server.token != new.server.token
        ):
            self.warn_if_exposed()

    def start(self) -> None:
        self.shows.start()
        self.sound.start()
        self.watcher.start()
        if self.origin is not None:
            self.origin.start()

    def stop(self) -> None:
        """End every stream and join every thread this object started."""
        if self.origin is not None:
            self.origin.stop()
        self.shows.stop()
        self.sound.stop()
        self.watcher.stop()
        self.pages.stop(STOP_SECONDS)
