"""The player page in a real Chromium (Debian's package, driven by Playwright)."""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from support import (
    BLUE,
    GREEN,
    RED,
    Server,
    close_to,
    config_text,
    drop_atomically,
    solid,
    wait_for,
)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 480, "height": 270})
    opened = context.new_page()
    yield opened
    context.close()


def screen_centre(page: Any) -> tuple[int, ...]:
    """The pixel in the middle of the page as shown; () when Chromium cannot take a screenshot
    at that moment (it refuses now and then while an image is being replaced)."""
    from playwright.sync_api import Error

    try:
        shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    except Error:
        return ()
    return tuple(shot.getpixel((shot.width // 2, shot.height // 2)))  # type: ignore[arg-type]


def wait_screen(page: Any, colour: tuple[int, int, int], timeout: float) -> None:
    wait_for(
        lambda: (pixel := screen_centre(page)) != () and close_to(pixel, colour, 30),
        timeout,
        interval=0.05,
        what=f"{colour} on screen (now {screen_centre(page)})",
    )


def test_page_shows_the_slide_at_once_follows_changes_and_survives_a_restart(
    images: Path, start_server: Callable[..., Server], page: Any, tmp_path: Path
) -> None:
    solid(images / "slide.png", RED)
    server = start_server(interval=30, width=480, height=270)
    opened = time.monotonic()
    page.goto(server.url + "/", wait_until="commit")
    wait_screen(page, RED, timeout=1.0)
    assert time.monotonic() - opened < 1.0

    layout = page.evaluate(
        """() => ({
            scroll: document.documentElement.scrollWidth > window.innerWidth
                || document.documentElement.scrollHeight > window.innerHeight,
            cursor: getComputedStyle(document.body).cursor,
            background: getComputedStyle(document.body).backgroundColor,
        })"""
    )
    assert layout == {"scroll": False, "cursor": "none", "background": "rgb(0, 0, 0)"}

    drop_atomically(images, "slide.png", GREEN)
    wait_screen(page, GREEN, timeout=2.0)

    port = server.port
    server.stop()
    solid(images / "slide.png", BLUE)
    restarted = Server(tmp_path / "config.toml", port=port).wait_ready()
    try:
        wait_screen(page, BLUE, timeout=20.0)
    finally:
        restarted.stop()


def test_poll_mode_shows_snapshots_and_follows_changes(
    images: Path, start_server: Callable[..., Server], page: Any
) -> None:
    solid(images / "slide.png", RED)
    server = start_server(interval=30, width=480, height=270)
    page.goto(server.url + "/?mode=poll", wait_until="commit")
    wait_screen(page, RED, timeout=2.0)
    assert server.status()["clients"] == 0, "poll mode must not open a stream"
    drop_atomically(images, "slide.png", GREEN)
    wait_screen(page, GREEN, timeout=3.0)


class CuttableProxy:
    """A TCP relay in front of the server whose open connections the test can cut, as a Wi-Fi
    drop or a restarted proxy does, while the server itself stays up."""

    def __init__(self, target_port: int, blank_streams: bool = False) -> None:
        self._target = target_port
        self._blank_streams = blank_streams
        """Pass a /stream answer's headers but none of its frames: a browser that cannot show
        MJPEG sees just that."""
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self._target))
            with self._lock:
                self._open += [client, upstream]
            threading.Thread(target=self._relay, args=(client, upstream), daemon=True).start()

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        try:
            first = client.recv(65536)
        except OSError:
            return
        self.requests.append(first.split(b"\r\n", 1)[0])
        blank = self._blank_streams and first.startswith(b"GET /stream")
        with contextlib.suppress(OSError):
            upstream.sendall(first)
        threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
        self._pump(upstream, client, blank)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, headers_only: bool = False) -> None:
        seen = b""
        try:
            while data := source.recv(65536):
                if headers_only:
                    if b"\r\n\r\n" in seen:
                        continue
                    seen += data
                    if b"\r\n\r\n" in seen:
                        data = seen[: seen.index(b"\r\n\r\n") + 4]
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self._lock:
            cut, self._open = self._open, []
        for sock in cut:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        """Stop accepting (a shutdown wakes the waiting accept), then cut all it relayed."""
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._accepting.join(5)
        self._listener.close()
        self.cut()


def test_a_cut_stream_is_reopened_while_the_server_stays_up(
    images: Path, start_server: Callable[..., Server], page: Any
) -> None:
    solid(images / "slide.png", RED)
    server = start_server(interval=30, width=480, height=270)
    proxy = CuttableProxy(server.port)
    try:
        page.goto(f"http://127.0.0.1:{proxy.port}/", wait_until="commit")
        wait_screen(page, RED, timeout=2.0)
        wait_for(lambda: server.status()["clients"] == 1, what="the page's stream")
        proxy.cut()
        wait_for(lambda: server.status()["clients"] == 0, what="the stream to be cut")
        wait_for(lambda: server.status()["clients"] == 1, timeout=20, what="the page to reconnect")
        wait_screen(page, RED, timeout=3.0)
    finally:
        proxy.close()


def test_the_page_carries_its_token_to_every_request(
    images: Path, start_server: Callable[..., Server], page: Any
) -> None:
    solid(images / "slide.png", RED)
    token = "living-room-tv-1"
    text = config_text(width=480, height=270).replace(
        'host = "127.0.0.1"', f'host = "127.0.0.1"\ntoken = "{token}"'
    )
    server = start_server(text=text)
    page.goto(f"{server.url}/?token={token}", wait_until="commit")
    wait_screen(page, RED, timeout=2.0)
    wait_for(lambda: server.get(f"/status?token={token}")[1].count(b'"clients":1'), what="stream")
    drop_atomically(images, "slide.png", GREEN)
    wait_screen(page, GREEN, timeout=3.0)
    assert "missing or wrong token" not in server.log()


def test_a_channel_page_shows_its_own_channel_in_both_modes(
    images: Path, start_server: Callable[..., Server], page: Any, tmp_path: Path
) -> None:
    solid(images / "slide.png", RED)
    (tmp_path / "menu").mkdir()
    solid(tmp_path / "menu" / "slide.png", GREEN)
    server = start_server(
        config_text(interval=30, width=480, height=270, extra='[channels.menu]\nfolder = "menu"\n')
    )
    page.goto(server.url + "/c/menu/", wait_until="commit")
    wait_screen(page, GREEN, 10)
    assert server.status()["channels"]["menu"]["clients"] == 1
    drop_atomically(tmp_path / "menu", "slide.png", BLUE)
    wait_screen(page, BLUE, 10)
    page.goto(server.url + "/c/menu/?mode=poll", wait_until="commit")
    wait_screen(page, BLUE, 10)


def shown_mark(page: Any) -> str:
    return str(
        page.evaluate("() => getComputedStyle(document.getElementById('reconnecting')).display")
    )


def test_a_browser_that_shows_no_stream_frame_polls_snapshots_by_itself(
    images: Path, start_server: Callable[..., Server], page: Any
) -> None:
    solid(images / "slide.png", RED)
    server = start_server(interval=30, width=480, height=270)
    proxy = CuttableProxy(server.port, blank_streams=True)
    try:
        page.goto(f"http://127.0.0.1:{proxy.port}/", wait_until="commit")
        wait_screen(page, RED, timeout=15.0)
        assert any(r.startswith(b"GET /stream") for r in proxy.requests), "it tried the stream"
        assert any(r.startswith(b"GET /snapshot.jpg") for r in proxy.requests), "then polled"
        drop_atomically(images, "slide.png", GREEN)
        wait_screen(page, GREEN, timeout=5.0)
        assert shown_mark(page) == "none", "nothing on screen says so"
    finally:
        proxy.close()


def test_mode_mjpeg_never_falls_back_and_a_junk_mode_is_ignored(
    images: Path, start_server: Callable[..., Server], page: Any
) -> None:
    solid(images / "slide.png", RED)
    server = start_server(interval=30, width=480, height=270)
    proxy = CuttableProxy(server.port, blank_streams=True)
    try:
        page.goto(f"http://127.0.0.1:{proxy.port}/?mode=mjpeg", wait_until="commit")
        # Its second look at /status comes 10 s in, after the 6 s a fallback would wait.
        wait_for(
            lambda: sum(r.startswith(b"GET /status") for r in proxy.requests) >= 2,
            timeout=15,
            what="two looks at /status",
        )
        assert not any(r.startswith(b"GET /snapshot.jpg") for r in proxy.requests)
        assert page.evaluate("() => document.getElementById('screen').naturalWidth") == 0
    finally:
        proxy.close()
    page.goto(f"{server.url}/?mode=%3Cscript%3E", wait_until="commit")
    wait_screen(page, RED, timeout=3.0)
    wait_for(lambda: server.status()["clients"] == 1, what="the stream of the default mode")


def test_the_page_fills_small_and_4k_screens_without_scrollbars_and_keeps_awake(
    images: Path, start_server: Callable[..., Server], browser: Any
) -> None:
    solid(images / "slide.png", RED)
    server = start_server(interval=30, width=480, height=270)
    for width, height in ((1280, 720), (3840, 2160)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.add_init_script(
            "Object.defineProperty(navigator, 'wakeLock', {configurable: true, value:"
            " {request: function (kind) { window.wakeLockAsked = kind;"
            " return Promise.resolve({}); }}});"
        )
        try:
            page.goto(server.url + "/", wait_until="commit")
            wait_screen(page, RED, timeout=3.0)
            layout = page.evaluate(
                """() => ({
                    scrolls: document.documentElement.scrollWidth > window.innerWidth
                        || document.documentElement.scrollHeight > window.innerHeight,
                    image: document.getElementById('screen').getBoundingClientRect().height,
                    awake: window.wakeLockAsked,
                })"""
            )
            assert layout == {"scrolls": False, "image": height, "awake": "screen"}
        finally:
            context.close()


def test_a_small_mark_says_reconnecting_only_while_the_server_is_away(
    images: Path, start_server: Callable[..., Server], page: Any, tmp_path: Path
) -> None:
    solid(images / "slide.png", RED)
    server = start_server(interval=30, width=480, height=270)
    page.goto(server.url + "/", wait_until="commit")
    wait_screen(page, RED, timeout=2.0)
    assert shown_mark(page) == "none"
    port = server.port
    server.stop()
    wait_for(lambda: shown_mark(page) == "block", timeout=25, what="the mark")
    restarted = Server(tmp_path / "config.toml", port=port).wait_ready()
    try:
        wait_for(lambda: shown_mark(page) == "none", timeout=20, what="the mark to go")
        wait_screen(page, RED, timeout=5.0)
    finally:
        restarted.stop()
