"""A channel's director: keeps the source its settings choose running and the others stopped.

A live source (the screen, a camera or a stream) runs only while somebody wants the channel's
frames, so an unwatched screen channel captures nothing; the slideshow runs whenever it is
chosen, because a show nobody watches still keeps its place by the clock (and costs next to
nothing while it rests).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from ..config import Settings
from ..control import SourceName
from ..hub import FrameHub
from ..supervise import STOP_SECONDS, Worker
from .source import Source

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0
"""How often the director looks again when nothing wakes it (demand and settings do)."""


class SourceDirector(Worker):
    """Follows the channel's `source` setting and its hub's demand on a thread of its own.

    `start`, `stop` and `wake` are called by the channel's show (wake from the config watcher's
    thread or an HTTP thread); `active` and `stall_reason` are read by HTTP threads.
    """

    def __init__(
        self,
        channel: str,
        hub: FrameHub,
        settings: Callable[[], Settings],
        sources: Mapping[SourceName, Source],
        live: frozenset[SourceName],
    ) -> None:
        super().__init__(f"director-{channel}")
        self._hub = hub
        self._settings = settings
        self._sources = sources
        self._live = live
        """The sources that run only while somebody wants frames."""
        self._wake = threading.Event()
        self._chosen: SourceName | None = None
        hub.on_demand(self._wake.set)

    def wake(self) -> None:
        """Look again now, and have the chosen source look again too (any thread)."""
        self._wake.set()
        chosen = self._chosen
        if chosen is not None:
            self._sources[chosen].wake()

    def stop(self, timeout: float = STOP_SECONDS) -> bool:
        """Stop following, then stop every source still running, each wait bounded."""
        stopped = super().stop(timeout)
        for source in self._sources.values():
            if source.running:
                stopped = source.stop(timeout) and stopped
        return stopped

    @property
    def active(self) -> Source | None:
        """The source publishing now, if any."""
        chosen = self._chosen
        source = self._sources[chosen] if chosen is not None else None
        return source if source is not None and source.running else None

    def stall_reason(self) -> str | None:
        """Why the running source is stuck, for `/healthz`."""
        source = self.active
        return source.stall_reason() if source is not None else None

    def run(self) -> None:
        """The director's loop: follow the settings and the demand until stopped."""
        while not self.stopping.is_set():
            self._wake.clear()
            self._follow()
            self._wake.wait(CHECK_SECONDS)

    def _follow(self) -> None:
        chosen = self._settings().stream.source
        if self._chosen is not None and chosen != self._chosen:
            log.info("Source switched to %s", chosen)
        self._chosen = chosen
        wanted = self._hub.wanted
        for name, source in self._sources.items():
            if name != chosen and source.running:
                source.stop()
        source = self._sources[chosen]
        runs = chosen not in self._live or wanted
        if runs and not source.running:
            source.start()
        elif not runs and source.running:
            source.stop()
            log.info("%s paused: nobody is watching", _described(chosen))


def _described(source: SourceName) -> str:
    if source == "url":
        return "The live stream"
    return "Screen capture" if source == "screen" else f"The {source}"
