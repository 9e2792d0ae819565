"""Keeps a guarded rendering (the screenshot API's, `[web] allow_private` off) on the public
Internet: every request the page makes, every redirect and every web socket is checked
against `refused_url` before anything is sent.

Playwright routes a page's requests but not a redirect's next hop: Chromium follows a
redirect by itself. So the guard follows redirects itself, one checked hop at a time: for a
subresource it hands the final answer to the page; for the page itself it stops at the first
redirect and leaves the next address in `redirects`, for the renderer to navigate to (that
navigation comes back through the guard).

Its handlers run on the browser's event loop.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urljoin

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Route, WebSocketRoute

from ..logtext import printable
from .addresses import refused_url

log = logging.getLogger(__name__)

MAX_REDIRECTS = 20
"""As Chromium's own limit."""


class RequestGuard:
    """One rendering's guard: what it refused, and where the page was redirected."""

    def __init__(self) -> None:
        self.refusals: list[str] = []
        self.redirects: list[str] = []

    async def route(self, route: Route) -> None:
        request = route.request
        url = request.url
        main_page = request.is_navigation_request() and request.frame.parent_frame is None
        for _ in range(MAX_REDIRECTS + 1):
            reason = await _refused(url)
            if reason is not None:
                self.refusals.append(reason)
                log.info("Refused a request to %s: %s", printable(url, 100), reason)
                await route.abort("blockedbyclient")
                return
            try:
                response = await route.fetch(url=url, max_redirects=0)
            except PlaywrightError:
                await route.abort("failed")
                return
            location = response.headers.get("location")
            if not (300 <= response.status < 400 and location):
                await route.fulfill(response=response)
                return
            url = urljoin(url, location)
            if main_page:
                self.redirects.append(url)
                await route.fulfill(status=200, content_type="text/html", body="")
                return
        self.refusals.append(f"more than {MAX_REDIRECTS} redirects")
        await route.abort("failed")

    async def web_socket(self, socket: WebSocketRoute) -> None:
        if await _refused(socket.url) is None:
            socket.connect_to_server()
        else:
            await socket.close()


async def _refused(url: str) -> str | None:
    """`refused_url` off the loop: it may wait for a DNS lookup."""
    return await asyncio.get_running_loop().run_in_executor(None, refused_url, url)
