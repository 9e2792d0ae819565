"""The player page's three checks in Firefox and in WebKit, as in Chromium
(tests/test_browser.py): the first slide within a second with a 30 s interval, each later
slide on time, and a reconnect by itself within 10 s of the server coming back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from engines import FirefoxPage, WebKitPage
from support import BLUE, GREEN, RED, Server, close_to, drop_atomically, solid, wait_for

pytestmark = [pytest.mark.system, pytest.mark.browser]

Page = FirefoxPage | WebKitPage


@pytest.fixture(params=["firefox", pytest.param("webkit", marks=pytest.mark.display)])
def engine(request: pytest.FixtureRequest) -> Iterator[Page]:
    page: Page
    if request.param == "firefox":
        page = FirefoxPage(480, 270)
    else:
        page = WebKitPage(480, 270, request.getfixturevalue("display").name)
    yield page
    page.close()


def wait_screen(page: Page, colour: tuple[int, int, int], timeout: float) -> float:
    """Seconds until the page shows `colour`."""
    started = time.monotonic()
    wait_for(
        lambda: (pixel := page.centre()) != () and close_to(pixel, colour, 30),
        timeout,
        interval=0.05,
        what=f"{colour} on screen (now {page.centre()})",
    )
    return time.monotonic() - started


def test_the_first_slide_at_once_each_change_on_time_and_a_reconnect(
    images: Path, start_server: Callable[..., Server], engine: Page, tmp_path: Path
) -> None:
    solid(images / "slide.png", RED)
    server = start_server(interval=30, width=480, height=270)
    opened = time.monotonic()
    engine.goto(server.url + "/")
    wait_screen(engine, RED, timeout=1.0)
    assert time.monotonic() - opened < 1.0, "the first slide within a second"

    drop_atomically(images, "slide.png", GREEN)
    assert wait_screen(engine, GREEN, timeout=2.0) < 2.0

    port = server.port
    server.stop()
    solid(images / "slide.png", BLUE)
    restarted = Server(tmp_path / "config.toml", port=port).wait_ready()
    try:
        assert wait_screen(engine, BLUE, timeout=10.0) < 10.0
    finally:
        restarted.stop()
