"""Rendered slides, cached by bytes so each file is decoded and scaled once per change.

Keys carry the file's size and mtime and every render setting, so a changed file or a changed
setting is simply a miss; old entries age out of the LRU.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from ..render.document import render_page
from ..render.imaging import RenderSpec, encode_jpeg, render_slide, turn
from ..render.motion import first_frame
from .ordering import Slide

CACHE_BYTES = 64 * 1024 * 1024
"""Room for about 200 rendered 1080p slides: bounds memory whatever the folder's size."""

_Key = tuple[Path, int, int, int, RenderSpec]


class SlideRenderer:
    """Renders slides to JPEG through an LRU cache bounded by bytes.

    Called by the producer thread (which renders the next slide ahead of time); the lock makes it
    safe from any thread.
    """

    def __init__(self, budget_bytes: int = CACHE_BYTES) -> None:
        self._budget = budget_bytes
        self._lock = threading.Lock()
        self._cache: OrderedDict[_Key, bytes] = OrderedDict()
        self._bytes = 0
        self.renders = 0

    def cached(self, slide: Slide, spec: RenderSpec) -> bytes | None:
        """The slide's frame if it is in the cache, without rendering it."""
        key = (slide.path, slide.mtime_ns, slide.size, slide.page, spec)
        with self._lock:
            return self._cache.get(key)

    def render(self, slide: Slide, spec: RenderSpec) -> bytes:
        """The slide's frame as JPEG (a moving slide's first); raises imaging.UnreadableImage
        for a bad file."""
        key = (slide.path, slide.mtime_ns, slide.size, slide.page, spec)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        jpeg = _render(slide, spec)
        with self._lock:
            self.renders += 1
            if key not in self._cache:
                self._cache[key] = jpeg
                self._bytes += len(jpeg)
            while self._bytes > self._budget and len(self._cache) > 1:
                _, evicted = self._cache.popitem(last=False)
                self._bytes -= len(evicted)
        return jpeg


def _render(slide: Slide, spec: RenderSpec) -> bytes:
    if slide.kind == "document":
        return render_page(slide.path, slide.page, spec)
    if slide.moving:
        picture = first_frame(slide.path, slide.kind, spec)
        return encode_jpeg(turn(picture, spec.rotate), spec.quality, optimize=True)
    return render_slide(slide.path, spec)
