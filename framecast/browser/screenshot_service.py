"""The screenshot API's renderings: a cache, so a repeat within `[web] cache_seconds` costs no
rendering, and a bound on the renderings asked for at once, so a burst of requests queues a
few and refuses the rest instead of piling up threads and tabs.

Called on the HTTP threads of API requests (a batch's items on its own short-lived threads).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

from .addresses import refused_url
from .engine import PageBrowser, PageRefused, Shot

IN_FLIGHT = 10
"""Renderings the API accepts at once (a batch counts each of its items); more get 429."""
CACHE_ENTRIES = 64
CACHE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Screenshot:
    data: bytes
    etag: str
    note: str | None
    cached: bool


class ScreenshotService:
    def __init__(self, browser: PageBrowser) -> None:
        self._browser = browser
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, int, int, str, bool], tuple[float, Screenshot]] = (
            OrderedDict()
        )
        self._bytes = 0
        self._in_flight = 0
        self.cache_hits = 0
        self.renders = 0

    def take(self, count: int) -> bool:
        """Room for `count` renderings now, or False (the caller answers 429)."""
        with self._lock:
            if self._in_flight + count > IN_FLIGHT:
                return False
            self._in_flight += count
            return True

    def give_back(self, count: int) -> None:
        with self._lock:
            self._in_flight -= count

    def shoot(self, shot: Shot) -> Screenshot:
        """The rendering of `shot`, from the cache when a fresh one is there; raises
        PageRefused for a private target, PageError when the page cannot be rendered."""
        settings = self._browser.settings
        key = (shot.url, shot.width, shot.height, shot.format, shot.full_page)
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None and time.monotonic() - entry[0] < settings.cache_seconds:
                self.cache_hits += 1
                self._cache.move_to_end(key)
                made = entry[1]
                return Screenshot(made.data, made.etag, made.note, cached=True)
        if not settings.allow_private:
            reason = refused_url(shot.url)
            if reason is not None:
                raise PageRefused(f"refused: {reason}")
        guarded = replace(shot, guarded=not settings.allow_private)
        with self._lock:
            self.renders += 1
        rendering = self._browser.render(guarded)
        digest = hashlib.sha256(rendering.data).hexdigest()[:20]
        made = Screenshot(rendering.data, f'"{digest}"', rendering.note, cached=False)
        if settings.cache_seconds > 0:
            self._keep(key, made)
        return made

    def _keep(self, key: tuple[str, int, int, str, bool], made: Screenshot) -> None:
        with self._lock:
            old = self._cache.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1].data)
            self._cache[key] = (time.monotonic(), made)
            self._bytes += len(made.data)
            while len(self._cache) > 1 and (
                len(self._cache) > CACHE_ENTRIES or self._bytes > CACHE_BYTES
            ):
                _, (_, evicted) = self._cache.popitem(last=False)
                self._bytes -= len(evicted.data)
