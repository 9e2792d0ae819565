"""One headless Chromium, shared by every web slide and screenshot request.

The browser is Debian's `chromium` (or `[web] chromium`), driven by Playwright: never a
browser download. It is started on first need and kept; each rendering gets a fresh context
(no cookies or storage shared between renders) and at most `RENDERS_AT_ONCE` run together. A
rendering that takes longer than `[web] timeout` is given up and its tab closed; a browser that
crashed, or would not close a tab, is dropped and started again for the next rendering.

Each page may use `PAGE_MEMORY_MB` (see memory_cap) and `PAGE_SCRIPT_MB` of it for its scripts;
one that wants more crashes its own renderer and fails alone (`PageCrashed`), while the browser
goes on drawing. With at most `RENDERS_AT_ONCE` drawing, that bounds the browser's memory.

Playwright's objects belong to the event loop they were made on: `PageBrowser` owns one thread
running that loop, and `render` (called from any thread: slide preparers, HTTP threads) hands
each rendering to it and waits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import logging
import math
import mimetypes
import os
import secrets
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from PIL import Image
from playwright.async_api import (
    Browser,
    BrowserContext,
    FloatRect,
    Page,
    Playwright,
    Route,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from ..config import WebSettings
from ..logtext import printable
from ..render.shortcut import FOLDER_ORIGIN
from .memory_cap import cap_renderers
from .request_guard import MAX_REDIRECTS, RequestGuard

log = logging.getLogger(__name__)

RENDERS_AT_ONCE = 3
"""Tabs rendering together: more only queue for the two cores' time."""
QUEUE_TURNS = 8
"""A caller waits at most this many renderings' worth of time (its own and those queued
before it) before it gives up on a browser that no longer answers."""
LAUNCH_SECONDS = 30.0
RECYCLE_AFTER = 200
"""Renderings before the browser and Playwright's driver are started afresh: their memory
creeps up over many pages (bench/bench_web.py measured it); a new pair costs about a second."""
CLOSE_SECONDS = 5.0
MAX_FOLDER_FILE_BYTES = 64 * 1024 * 1024
"""The largest file a folder page may load from its folder (a picture, a font, a short clip)."""
MAX_PAGE_HEIGHT = 16384
"""A full-page screenshot is cut here: Chromium draws nothing taller in one piece."""
MAX_WEBP_SIDE = 16383
"""WebP holds no side longer: a full page in WebP is cut a pixel shorter."""
MAX_PAGE_WIDTH = 3840
"""A full-page screenshot is cut here across (the widest window the API draws): a page may be
laid out far wider than its window."""
MAX_PAGE_PIXELS = 32_000_000
"""A full-page screenshot is cut shorter to hold no more pixels (a 1920 px wide page is still
drawn 16384 px high): Chromium's peak memory grows with the pixels drawn, so this bounds what
one drawing can cost."""
PAGE_MEMORY_MB = 1024
"""The data memory (RLIMIT_DATA) of each renderer, the process that runs a page: its scripts,
document, pictures and buffers together."""
PAGE_SCRIPT_MB = 384
"""The heap of a page's scripts (V8's old space): a script that outgrows it ends its page at
once, rather than first straining the renderer's whole `PAGE_MEMORY_MB`."""
CHROMIUM_ARGS = [
    f"--js-flags=--max-old-space-size={PAGE_SCRIPT_MB}",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
]
PLAYWRIGHT_ARGS_LEFT_OUT = ["--disable-popup-blocking"]
"""Playwright's own switches the browser is started without: with Chromium's pop-up blocker on,
a page cannot open windows by itself (only a person's click can), so none costs a tab."""
LOAD_SHARE = 0.6
"""The part of `[web] timeout` a page has to finish loading; the rest is for drawing it."""
WEBP_QUALITY = 90
JPEG_QUALITY = 90

Format = Literal["png", "jpeg", "webp"]


class PageError(Exception):
    """The page cannot be rendered; the message says why, for a person."""


class PageRefused(PageError):
    """The page or one of its redirects is on this machine or its network, and the rendering
    is guarded (`[web] allow_private` is off)."""


class PageTimeout(PageError):
    """The page did not load and draw within `[web] timeout`."""


class PageCrashed(PageError):
    """The page's renderer died while drawing it, most likely for want of memory; the browser
    and every other page go on."""


class BrowserUnavailable(PageError):
    """No browser could draw the page now: none is installed, it would not start or answer,
    it crashed (the next rendering starts it again), or the server is stopping."""


@dataclass(frozen=True)
class Shot:
    """One rendering asked for."""

    url: str
    width: int
    height: int
    format: Format = "png"
    full_page: bool = False
    delay_ms: int = 0
    guarded: bool = True
    """Refuse private addresses ([web] allow_private off): for the API, not the owner's slides."""
    folder: Path | None = None
    """A page of a slide folder (`url` under `FOLDER_ORIGIN`): it and its assets are served from
    this folder, and from nowhere else of the machine."""


@dataclass(frozen=True)
class Rendering:
    data: bytes
    note: str | None = None
    """Said of a full page that was cut (see `full_page_clip`)."""


def find_chromium(configured: str | None) -> str | None:
    """The Chromium program: `[web] chromium`, else `chromium` or `chromium-browser` on PATH."""
    if configured:
        return shutil.which(configured)
    return shutil.which("chromium") or shutil.which("chromium-browser")


class PageBrowser:
    """The shared browser. `render` from any thread; `stop` by the owner (the app). The `[web]`
    settings are read from `settings` when needed: a new `chromium` takes effect when the
    browser next starts."""

    def __init__(self, settings: Callable[[], WebSettings]) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.renders = 0
        """Renderings begun since start, for /status and the tests."""
        # Used on the loop's thread only:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._launching: asyncio.Lock | None = None
        self._slots: asyncio.Semaphore | None = None
        self._rendering: set[asyncio.Task[Rendering]] = set()
        self._since_launch = 0
        self._drawing = 0
        """Renderings holding a slot now."""

    @property
    def settings(self) -> WebSettings:
        return self._settings()

    def render(self, shot: Shot) -> Rendering:
        """Render `shot` (blocks until done); raises PageError saying why it failed."""
        loop = self._running_loop()
        future = asyncio.run_coroutine_threadsafe(self._render(shot), loop)
        try:
            turn = self._settings().timeout + CLOSE_SECONDS
            return future.result(LAUNCH_SECONDS + turn * QUEUE_TURNS)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise BrowserUnavailable("the browser did not answer") from None
        except concurrent.futures.CancelledError:
            raise BrowserUnavailable("the server is stopping") from None

    def stop(self, timeout: float) -> None:
        """Close the browser and end the loop's thread."""
        with self._lock:
            self._stopped = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        closing = asyncio.run_coroutine_threadsafe(self._close(), loop)
        try:
            closing.result(timeout)
        except (concurrent.futures.TimeoutError, PlaywrightError):
            log.warning("The web page browser did not close within %g s", timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)

    # --- the loop's thread ------------------------------------------------------------------

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._stopped:
                raise BrowserUnavailable("the server is stopping")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._run_loop, args=(loop,), name="web-browser", daemon=True
                )
                self._loop = loop
                self._thread.start()
            return self._loop

    def _run_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The browser's thread: runs its event loop until `stop`."""
        asyncio.set_event_loop(loop)
        self._launching = asyncio.Lock()
        self._slots = asyncio.Semaphore(RENDERS_AT_ONCE)
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _render(self, shot: Shot) -> Rendering:
        task = asyncio.current_task()
        assert task is not None
        self._rendering.add(task)
        try:
            return await self._render_in_turn(shot)
        finally:
            self._rendering.discard(task)

    async def _render_in_turn(self, shot: Shot) -> Rendering:
        assert self._slots is not None
        async with self._slots:
            self._drawing += 1
            try:
                return await self._draw(shot)
            finally:
                self._drawing -= 1

    async def _draw(self, shot: Shot) -> Rendering:
        """One rendering, holding a slot."""
        browser = await self._started()
        self.renders += 1
        try:
            context = await browser.new_context(
                viewport={"width": shot.width, "height": shot.height},
                service_workers="block",
                accept_downloads=False,
            )
        except PlaywrightError as error:
            await self._drop_browser()
            raise BrowserUnavailable(f"the browser failed: {_first_line(error)}") from None
        timeout = self._settings().timeout
        try:
            return await asyncio.wait_for(self._shoot(context, shot), timeout)
        except TimeoutError:
            raise PageTimeout(
                f"the page did not load and draw within {timeout:g} s ([web] timeout)"
            ) from None
        finally:
            try:
                await asyncio.wait_for(context.close(), CLOSE_SECONDS)
            except (TimeoutError, PlaywrightError):
                await self._drop_browser()

    async def _shoot(self, context: BrowserContext, shot: Shot) -> Rendering:
        guard = RequestGuard()
        if shot.guarded:
            await context.route("**/*", guard.route)
            await context.route_web_socket("**/*", guard.web_socket)
        folder = shot.folder
        if folder is not None:
            await context.route(FOLDER_ORIGIN + "**", lambda route: _serve_from(route, folder))
        page = await context.new_page()
        page.on("popup", _close_popup)
        crashed = asyncio.Event()
        page.on("crash", lambda _: crashed.set())
        url = shot.url
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = await page.goto(url, wait_until="commit")
            except PlaywrightError as error:
                if guard.refusals:
                    raise PageRefused(f"refused: {guard.refusals[0]}") from None
                failed = f"cannot load {printable(url, 80)}"
                raise await self._failure(error, failed, crashed, shot) from None
            if not guard.redirects:
                break
            url = guard.redirects.pop()
        else:
            raise PageError(f"more than {MAX_REDIRECTS} redirects (ERR_TOO_MANY_REDIRECTS)")
        if response is not None and response.status >= 400:
            raise PageError(f"the page answered HTTP {response.status}")
        try:
            loaded = await _loaded(page, self._settings().timeout * LOAD_SHARE)
            if shot.delay_ms:
                await page.wait_for_timeout(shot.delay_ms)
            drawn = await _screenshot(page, shot)
        except PlaywrightError as error:
            raise await self._failure(error, "cannot draw the page", crashed, shot) from None
        if loaded:
            return drawn
        unfinished = f"drawn before it finished loading ({LOAD_SHARE:.0%} of [web] timeout)"
        return Rendering(drawn.data, "; ".join(filter(None, (unfinished, drawn.note))))

    async def _failure(
        self, error: PlaywrightError, doing: str, crashed: asyncio.Event, shot: Shot
    ) -> PageError:
        """What to tell of a rendering that Playwright gave up on: the browser crashed, the
        page crashed its renderer (logged: most likely it ran out of memory), or the page
        failed (saying `doing` and Playwright's reason)."""
        if not (await self._connected()):
            return BrowserUnavailable("the browser crashed")
        if crashed.is_set():
            log.warning(
                "A web page crashed its renderer, most likely out of memory (a page may use"
                " %d MB, %d MB of it for scripts); the browser goes on: %s",
                PAGE_MEMORY_MB,
                PAGE_SCRIPT_MB,
                printable(shot.url, 120),
            )
            return PageCrashed(
                f"the page ran out of memory or crashed (a page may use {PAGE_MEMORY_MB} MB,"
                f" {PAGE_SCRIPT_MB} MB of it for scripts)"
            )
        return PageError(f"{doing}: {_first_line(error)}")

    async def _started(self) -> Browser:
        """The browser, launched if there is none or it has crashed, and started afresh after
        `RECYCLE_AFTER` renderings once no other one is running."""
        assert self._launching is not None
        async with self._launching:
            browser = self._browser
            if browser is not None and browser.is_connected():
                worn = self._since_launch >= RECYCLE_AFTER and self._drawing == 1
                if not worn:
                    self._since_launch += 1
                    return browser
                log.info("Starting the web page browser afresh after %d pages", self._since_launch)
                await self._drop_browser()
                await self._stop_driver()
            await self._drop_browser()
            executable = find_chromium(self._settings().chromium)
            if executable is None:
                raise BrowserUnavailable(
                    "no Chromium to render web pages: install chromium "
                    "(bash scripts/serve.sh does), or set [web] chromium"
                )
            # A switch Chromium ignores, by which cap_renderers tells this browser's processes.
            marker = f"--framecast-browser={secrets.token_hex(8)}"
            args = [*CHROMIUM_ARGS, marker, *(["--no-sandbox"] if os.geteuid() == 0 else [])]
            try:
                if self._playwright is None:
                    self._playwright = await async_playwright().start()
                self._browser = await self._playwright.chromium.launch(
                    executable_path=executable,
                    args=args,
                    ignore_default_args=PLAYWRIGHT_ARGS_LEFT_OUT,
                    timeout=LAUNCH_SECONDS * 1000,
                )
            except PlaywrightError as error:
                raise BrowserUnavailable(
                    f"cannot start {executable}: {_first_line(error)}"
                ) from None
            uncapped = await asyncio.to_thread(cap_renderers, marker, PAGE_MEMORY_MB * 2**20)
            if uncapped is None:
                log.info(
                    "Started the web page browser (%s); a page may use %d MB",
                    executable,
                    PAGE_MEMORY_MB,
                )
            else:
                log.warning(
                    "Started the web page browser (%s), but its pages' memory is not capped: %s",
                    executable,
                    uncapped,
                )
            self._since_launch = 1
            return self._browser

    async def _connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    async def _drop_browser(self) -> None:
        browser, self._browser = self._browser, None
        if browser is not None:
            try:
                await asyncio.wait_for(browser.close(), CLOSE_SECONDS)
            except (TimeoutError, PlaywrightError):
                log.warning("The web page browser would not close; it is left to exit")

    async def _close(self) -> None:
        """Stopping: renderings still running end now (their callers hear that the server is
        stopping), then the browser and the driver close."""
        for task in self._rendering:
            task.cancel()
        await self._drop_browser()
        await self._stop_driver()

    async def _stop_driver(self) -> None:
        """End Playwright's driver process (its memory grows with the pages it has driven)."""
        playwright, self._playwright = self._playwright, None
        if playwright is not None:
            try:
                await asyncio.wait_for(playwright.stop(), CLOSE_SECONDS)
            except (TimeoutError, PlaywrightError):
                log.warning("Playwright's driver would not stop; it is left to exit")


async def _loaded(page: Page, seconds: float) -> bool:
    """Wait up to `seconds` for the page's load event (the browser's loop): False when it did
    not come. A dashboard that keeps a request open, or a slow picture, never finishes loading,
    and is drawn as it is then, rather than not at all."""
    try:
        await page.wait_for_load_state("load", timeout=seconds * 1000)
    except PlaywrightTimeoutError:
        return False
    return True


async def _screenshot(page: Page, shot: Shot) -> Rendering:
    note = None
    clip = None
    if shot.full_page:
        width, height = await _page_size(page)
        clip, note = full_page_clip(max(width, shot.width), height, shot.format)
    kind: Literal["png", "jpeg"] = "jpeg" if shot.format == "jpeg" else "png"
    data = await page.screenshot(
        type=kind,
        full_page=shot.full_page,
        clip=clip,
        quality=JPEG_QUALITY if kind == "jpeg" else None,
        animations="disabled",
        caret="hide",
    )
    if shot.format == "webp":
        with Image.open(io.BytesIO(data)) as image:
            out = io.BytesIO()
            image.save(out, "WEBP", quality=WEBP_QUALITY)
            data = out.getvalue()
    return Rendering(data, note)


def full_page_clip(width: int, height: int, fmt: Format) -> tuple[FloatRect, str | None]:
    """The part of a full page `width`×`height` px that is drawn, from its top left corner:
    at most `MAX_PAGE_WIDTH` wide, `MAX_PAGE_HEIGHT` high (WebP: `MAX_WEBP_SIDE`) and
    `MAX_PAGE_PIXELS` in all; and the note saying what was cut, or None."""
    wide = min(width, MAX_PAGE_WIDTH)
    cut = MAX_WEBP_SIDE if fmt == "webp" else MAX_PAGE_HEIGHT
    high = min(height, cut, MAX_PAGE_PIXELS // wide)
    cuts = []
    if width > wide:
        cuts.append(f"the page is {width} px wide: cut at {wide} px")
    if height > high:
        cuts.append(f"the page is {height} px high: cut at {high} px")
    clip: FloatRect = {"x": 0.0, "y": 0.0, "width": float(wide), "height": float(high)}
    return clip, "; ".join(cuts) or None


async def _page_size(page: Page) -> tuple[int, int]:
    """The page's whole width and height in CSS px, as Chromium laid it out: asked of Chromium,
    not of the page's own scripts, which may redefine whatever they like."""
    session = await page.context.new_cdp_session(page)
    try:
        metrics = await session.send("Page.getLayoutMetrics")
    finally:
        await session.detach()
    size = metrics["cssContentSize"]
    return math.ceil(size["width"]), math.ceil(size["height"])


async def _serve_from(route: Route, folder: Path) -> None:
    """A request of a folder page (the browser's event loop): the file it names inside `folder`,
    never one outside it (by `..` or a link), a hidden one or a `.toml` (the settings)."""
    name = unquote(urlsplit(route.request.url).path).lstrip("/")
    try:
        root = folder.resolve()
        target = (root / name).resolve()
        inside = target.relative_to(root).parts
        hidden = any(part.startswith(".") for part in inside)
        if not inside or hidden or target.suffix.lower() == ".toml":
            raise PermissionError(name)
        if target.stat().st_size > MAX_FOLDER_FILE_BYTES:
            raise PermissionError(name)
        body = await asyncio.to_thread(target.read_bytes)
    except (OSError, ValueError):
        await route.fulfill(status=404, content_type="text/plain", body="not in the slide folder")
        return
    kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    await route.fulfill(status=200, content_type=kind, body=body)


async def _close_popup(popup: Page) -> None:
    """A pop-up that got past the blocker is closed as it opens (the browser's loop); one that
    its tab's closing has closed already is no failure, and writes no line."""
    with contextlib.suppress(PlaywrightError):
        await popup.close()


def _first_line(error: BaseException) -> str:
    return printable(str(error).strip().splitlines()[0] if str(error).strip() else "", 160)
