"""Announcements: a line of text shown as a banner over one channel or all of them, for some
minutes or until cleared ("Closing in 15 minutes").

Set and cleared by the admin API (HTTP threads); read by every show's slideshow thread, which
draws the banner on its frames. Listeners (the show registry) hear of every change, so a
banner appears and goes without waiting for the next slide.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .checks import Colour

MAX_TEXT = 200
"""Characters in a banner: one line across a TV, readable from the back of a shop."""
MAX_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class Announcement:
    text: str
    colour: Colour
    channel: str | None
    """None: every channel."""
    until: float | None
    """Wall-clock time (seconds since the epoch) it ends, or None: until cleared."""

    def as_json(self) -> dict[str, object]:
        return {
            "text": self.text,
            "color": "#{:02x}{:02x}{:02x}".format(*self.colour),
            "channel": self.channel,
            "until": self.until,
        }


class Announcements:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._by_channel: dict[str | None, Announcement] = {}
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def announce(self, announcement: Announcement) -> None:
        """Show `announcement`, replacing the one of its channel (or of all channels)."""
        with self._lock:
            self._by_channel[announcement.channel] = announcement
        self._changed()

    def clear(self, channel: str | None) -> bool:
        """End the announcement of `channel` (None: the one for every channel); whether there
        was one."""
        with self._lock:
            had = self._by_channel.pop(channel, None) is not None
        self._changed()
        return had

    def current(self, channel: str) -> Announcement | None:
        """What `channel` shows now: its own announcement, else the one for every channel."""
        now = self._clock()
        with self._lock:
            for key in (channel, None):
                found = self._by_channel.get(key)
                if found is not None and (found.until is None or found.until > now):
                    return found
        return None

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()
