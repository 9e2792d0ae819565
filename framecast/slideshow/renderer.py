"""Rendered slides, cached by bytes so each file is decoded and scaled once per change.

Keys carry the file's size and mtime and every render setting, so a changed file or a changed
setting is simply a miss; old entries age out of the LRU. A web page's key also carries the
`[web] refresh` period it was drawn in: the page is drawn again when it comes on in a later one.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path

from PIL import Image

from ..browser.engine import CLOSE_SECONDS as PAGE_CLOSE_SECONDS
from ..browser.engine import PageBrowser, PageError, Shot
from ..logtext import OncePerMinute, printable
from ..render.document import render_page
from ..render.imaging import RenderSpec, UnreadableImage, encode_jpeg, fit, render_slide, turn
from ..render.motion import first_frame
from ..render.shortcut import FOLDER_PAGE_SUFFIXES, page_url
from .ordering import Slide

log = logging.getLogger(__name__)

CACHE_BYTES = 64 * 1024 * 1024
"""Room for about 200 rendered 1080p slides: bounds memory whatever the folder's size."""

RenderKey = tuple[Path, int, int, int, RenderSpec, int]
LAST_PAGES_KEPT = 100


class SlideRenderer:
    """Renders slides to JPEG through an LRU cache bounded by bytes.

    Called by the slideshow's thread (which renders the next slide ahead of time); the lock makes it
    safe from any thread.
    """

    def __init__(self, pages: PageBrowser | None = None, budget_bytes: int = CACHE_BYTES) -> None:
        self._pages = pages
        self._budget = budget_bytes
        self._lock = threading.Lock()
        self._cache: OrderedDict[RenderKey, bytes] = OrderedDict()
        self._bytes = 0
        self._last_pages: OrderedDict[tuple[Path, RenderSpec], tuple[int, int, bytes]] = (
            OrderedDict()
        )
        """Each web page's last good frame, with the file's mtime and size when it was drawn:
        shown again when drawing it anew fails, and while it is drawn anew."""
        self.renders = 0
        self._noted = OncePerMinute()

    def key(self, slide: Slide, spec: RenderSpec) -> RenderKey:
        """What the slide's frame depends on: the file, the settings, and for a web page the
        refresh period it is drawn in."""
        period = 0
        if slide.kind == "web" and self._pages is not None:
            period = int(time.time() // self._pages.settings.refresh)
        return (slide.path, slide.mtime_ns, slide.size, slide.page, spec, period)

    def time_allowed(self, slide: Slide, prepare_timeout: float) -> tuple[float, str]:
        """Seconds the slide's preparation may take, and the setting that says so: a web page
        has its own `[web] timeout` (and a moment to close its tab)."""
        if slide.kind == "web" and self._pages is not None:
            return self._pages.settings.timeout + PAGE_CLOSE_SECONDS, "[web] timeout"
        return prepare_timeout, "[slideshow] prepare_timeout"

    def cached(self, slide: Slide, spec: RenderSpec) -> bytes | None:
        """The slide's frame if it is in the cache, without rendering it."""
        key = self.key(slide, spec)
        with self._lock:
            return self._cache.get(key)

    def last_drawing(self, slide: Slide, spec: RenderSpec) -> bytes | None:
        """A web slide's last good frame, drawn from this very version of its file (an older
        refresh period's), or None."""
        if slide.kind != "web":
            return None
        with self._lock:
            last = self._last_pages.get((slide.path, spec))
        if last is None or last[:2] != (slide.mtime_ns, slide.size):
            return None
        return last[2]

    def render(self, slide: Slide, spec: RenderSpec) -> bytes:
        """The slide's frame as JPEG (a moving slide's first); raises imaging.UnreadableImage
        for a bad file."""
        key = self.key(slide, spec)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        jpeg = self._web_page(slide, spec) if slide.kind == "web" else _render(slide, spec)
        with self._lock:
            self.renders += 1
            if key not in self._cache:
                self._cache[key] = jpeg
                self._bytes += len(jpeg)
            while self._bytes > self._budget and len(self._cache) > 1:
                _, evicted = self._cache.popitem(last=False)
                self._bytes -= len(evicted)
        return jpeg

    def _web_page(self, slide: Slide, spec: RenderSpec) -> bytes:
        """A web slide drawn by the shared browser at the panel's size; when that fails, its
        last good frame, else UnreadableImage with the reason."""
        if self._pages is None:
            raise UnreadableImage("web pages are not shown here")
        panel = spec.upright
        try:
            local = slide.path.suffix.lower() in FOLDER_PAGE_SUFFIXES
            shot = Shot(
                page_url(slide.path),
                panel.width,
                panel.height,
                guarded=False,
                folder=slide.path.parent if local else None,
            )
            drawn = self._pages.render(shot)
            if drawn.note is not None and self._noted(str(slide.path)):
                log.info("Web slide %s: %s", printable(slide.name), drawn.note)
        except PageError as error:
            with self._lock:
                last = self._last_pages.get((slide.path, spec))
            if last is None:
                raise UnreadableImage(str(error)) from None
            log.warning(
                "Showing the last rendering of %s: %s", printable(slide.name), printable(str(error))
            )
            return last[2]
        with Image.open(io.BytesIO(drawn.data)) as image:
            picture = image.convert("RGB")
        jpeg = encode_jpeg(turn(fit(picture, panel), spec.rotate), spec.quality, optimize=True)
        with self._lock:
            self._last_pages[(slide.path, spec)] = (slide.mtime_ns, slide.size, jpeg)
            self._last_pages.move_to_end((slide.path, spec))
            while len(self._last_pages) > LAST_PAGES_KEPT:
                self._last_pages.popitem(last=False)
        return jpeg


def _render(slide: Slide, spec: RenderSpec) -> bytes:
    if slide.kind == "document":
        return render_page(slide.path, slide.page, spec)
    if slide.moving:
        picture = first_frame(slide.path, slide.kind, spec)
        return encode_jpeg(turn(picture, spec.rotate), spec.quality, optimize=True)
    return render_slide(slide.path, spec)
