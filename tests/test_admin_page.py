"""The admin page in Debian's Chromium at a phone's size, against a real server: log in,
upload through the file input, remove and undo, reorder, announce; every step checked in the
pixels of the channel's stream."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image
from support import BLUE, GREEN, RED, Server, StreamReader, close_to, config_text, solid, wait_for

ADMIN = "admin-token-123"
NAMES = {"blue.png": BLUE, "green.png": GREEN, "red.png": RED}
BANNER = (255, 255, 0)


def colours_since(stream: StreamReader, start: int) -> list[str]:
    """The slides the stream showed since frame `start`, one name per change."""
    seen: list[str] = []
    with stream._lock:
        frames = [jpeg for _, jpeg in stream.frames[start:]]
    for jpeg in frames:
        with Image.open(io.BytesIO(jpeg)) as image:
            pixel = image.convert("RGB").getpixel((image.width // 2, image.height * 3 // 4))
        name = next((n for n, c in NAMES.items() if close_to(pixel, c)), None)
        if name and (not seen or seen[-1] != name):
            seen.append(name)
    return seen


def top_pixel(stream: StreamReader) -> tuple[int, ...]:
    jpeg = stream.latest()
    assert jpeg is not None
    with Image.open(io.BytesIO(jpeg)) as image:
        return tuple(image.convert("RGB").getpixel((image.width // 2, 2)))


def log_in(page: Any, server: Server) -> None:
    """Open the admin page and log in with the admin token, as a person would."""
    page.goto(server.url + "/admin")
    page.fill("#token", ADMIN)
    page.click("#login button[type=submit]")


def test_a_phone_runs_the_show(
    tmp_path: Path, images: Path, start_server: Any, browser: Any
) -> None:
    server: Server = start_server(text=config_text(interval=1) + f'\n[admin]\ntoken = "{ADMIN}"\n')
    stream = StreamReader(server.port)
    uploads = tmp_path / "phone"
    uploads.mkdir()
    files = [str(solid(uploads / name, colour)) for name, colour in NAMES.items()]
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = context.new_page()
    try:
        log_in(page, server)
        page.wait_for_selector(".channel")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, "fits a phone"

        page.set_input_files(".channel input[type=file]", files)
        page.wait_for_selector(".slides li:nth-child(3)")
        for colour in NAMES.values():
            stream.wait_colour(colour, timeout=10)
        assert sorted(p.name for p in images.iterdir()) == sorted(NAMES)

        page.click(".slides li[data-name='green.png'] >> text=Remove")
        page.wait_for_selector(".slides li:nth-child(3)", state="detached")
        assert (images / ".trash" / "green.png").exists()
        start = stream.count()
        wait_for(lambda: len(colours_since(stream, start)) >= 4, timeout=10, what="two rounds")
        assert "green.png" not in colours_since(stream, start)

        page.click("#message >> text=Undo")
        page.wait_for_selector(".slides li:nth-child(3)")
        stream.wait_colour(GREEN, timeout=10)

        page.click(".slides li[data-name='red.png'] >> text=Up")
        page.wait_for_selector("#message:has-text('order saved')")
        page.click(".slides li[data-name='red.png'] >> text=Up")
        page.wait_for_selector("#message:has-text('order saved')")
        rows = page.eval_on_selector_all(".slides li", "rows => rows.map(r => r.dataset.name)")
        assert rows == ["red.png", "blue.png", "green.png"]
        assert (
            'order = ["red.png", "blue.png", "green.png"]' in (images / "schedule.toml").read_text()
        )
        start = stream.count()
        wait_for(lambda: len(colours_since(stream, start)) >= 5, timeout=15, what="a round")
        shown = colours_since(stream, start)
        after = {shown[i]: shown[i + 1] for i in range(len(shown) - 1)}
        assert after == {"red.png": "blue.png", "blue.png": "green.png", "green.png": "red.png"}

        page.fill("#announce-text", "Closing in 15 minutes")
        page.fill("#announce-color", "#ffff00")
        page.click("#announce button[type=submit]")
        wait_for(lambda: close_to(top_pixel(stream), BANNER, 40), timeout=5, what="the banner")
        page.click("#announce-clear")
        wait_for(lambda: not close_to(top_pixel(stream), BANNER, 40), timeout=5, what="no banner")
        assert "Admin: announcement on every channel cleared" in server.log()
    finally:
        context.close()
        stream.close()


def test_a_channel_with_a_stream_address_can_be_switched_to_it_and_back(
    start_server: Any, browser: Any
) -> None:
    """The "Stream" button shows only on a channel with a `url`, pressed while it shows it."""
    cam = '\n[channels.cam]\nsource = "url"\nurl = "http://127.0.0.1:1/camera"\n'
    server: Server = start_server(text=config_text() + cam + f'\n[admin]\ntoken = "{ADMIN}"\n')
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = context.new_page()
    try:
        log_in(page, server)
        page.wait_for_selector(".channel[data-channel='cam']")
        default = ".channel[data-channel='default'] .source button[data-source='url']"
        camera = ".channel[data-channel='cam'] .source button[data-source='url']"
        assert page.is_hidden(default)
        assert page.get_attribute(camera, "aria-pressed") == "true"
        page.click(".channel[data-channel='cam'] .source button[data-source='slideshow']")
        page.wait_for_selector("#message:has-text('cam shows the slides')")
        wait_for(
            lambda: server.status()["channels"]["cam"]["source"] == "slideshow",
            what="the switch to slides",
        )
        page.click(camera)
        page.wait_for_selector("#message:has-text('cam shows the stream')")
        assert page.get_attribute(camera, "aria-pressed") == "true"
        wait_for(
            lambda: server.status()["channels"]["cam"]["source"] == "url",
            what="the switch back to the stream",
        )
    finally:
        context.close()
