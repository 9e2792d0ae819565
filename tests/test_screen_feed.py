"""Channels that show the same screen share one capture; each encodes at its own size."""

from __future__ import annotations

import io
from contextlib import ExitStack
from pathlib import Path

import pytest
from PIL import Image
from support import BLUE, GREEN, RED, VirtualDisplay, close_to, wait_for

from framecast.config import Settings, parse_settings
from framecast.hub import FrameHub
from framecast.screen.feed import ScreenFeed, ScreenFeeds
from framecast.screen.source import ScreenSource


def screen_settings(width: int, height: int, region: str = "") -> Settings:
    return parse_settings(
        f'[stream]\nsource = "screen"\nwidth = {width}\nheight = {height}\n'
        f"[screen]\nfps = 20\n{region}",
        Path("."),
    )


def centre(hub: FrameHub) -> tuple[int, ...] | None:
    frame = hub.latest()
    if frame is None:
        return None
    with Image.open(io.BytesIO(frame.jpeg)) as image:
        return tuple(image.convert("RGB").getpixel((image.width // 2, image.height // 2)))  # type: ignore[arg-type]


def wait_colour(hub: FrameHub, colour: tuple[int, int, int]) -> None:
    wait_for(lambda: close_to(centre(hub) or (0, 0, 0), colour), 10, what=f"{colour} on a hub")


@pytest.fixture
def on_display(display: VirtualDisplay, monkeypatch: pytest.MonkeyPatch) -> VirtualDisplay:
    monkeypatch.setenv("DISPLAY", display.name)
    return display


def test_two_channels_on_one_screen_share_one_capture_at_their_own_sizes(
    on_display: VirtualDisplay,
) -> None:
    feeds = ScreenFeeds()
    big, small = FrameHub(), FrameHub()
    large, little = screen_settings(320, 180), screen_settings(160, 90)
    captures = [
        ScreenSource(big, lambda: large, feeds),
        ScreenSource(small, lambda: little, feeds),
    ]
    on_display.paint(RED)
    with ExitStack() as watching:
        for hub in (big, small):
            watching.enter_context(hub.subscribe())
        for capture in captures:
            capture.start()
        try:
            wait_for(lambda: len(feeds) == 1, 5, what="one feed")
            for hub in (big, small):
                wait_colour(hub, RED)
            on_display.paint(BLUE)
            for hub in (big, small):
                wait_colour(hub, BLUE)
            sizes = {(h.latest().width, h.latest().height) for h in (big, small)}  # type: ignore[union-attr]
            assert sizes == {(320, 180), (160, 90)}
            assert len(feeds) == 1
            captures[0].stop()
            assert len(feeds) == 1, "the other channel still watches"
            on_display.paint(GREEN)
            wait_colour(small, GREEN)
        finally:
            for capture in captures:
                capture.stop()
    assert len(feeds) == 0


def test_channels_on_different_regions_have_a_feed_each(on_display: VirtualDisplay) -> None:
    feeds = ScreenFeeds()
    left = screen_settings(160, 90, "region = [0, 0, 320, 360]\n")
    right = screen_settings(160, 90, "region = [320, 0, 320, 360]\n")
    hubs = [FrameHub(), FrameHub()]
    captures = [
        ScreenSource(hubs[0], lambda: left, feeds),
        ScreenSource(hubs[1], lambda: right, feeds),
    ]
    on_display.paint_halves(RED, GREEN)
    with ExitStack() as watching:
        for hub in hubs:
            watching.enter_context(hub.subscribe())
        for capture in captures:
            capture.start()
        try:
            wait_colour(hubs[0], RED)
            wait_for(
                lambda: close_to(centre(hubs[1]) or (0, 0, 0), GREEN), 10, what="the right half"
            )
            assert len(feeds) == 2
        finally:
            for capture in captures:
                capture.stop()
    assert len(feeds) == 0


def test_drawing_is_looked_at_once_but_at_most_fps_times_a_second(
    on_display: VirtualDisplay,
) -> None:
    feed = ScreenFeed((1, None))
    feed.attach(feed, 0.5)  # a steady look every 2 s
    on_display.paint(RED)
    feed.start()
    try:
        first = feed.wait(0, 5)
        assert first is not None
        assert first.grab is not None
        on_display.paint(BLUE)
        assert feed.wait(first.tick, 1.0) is None, "a frame period must pass between grabs"
        blue = feed.wait(first.tick, 5)
        assert blue is not None
        assert blue.version == first.version + 1
        steady = feed.wait(blue.tick, 5)
        assert steady is not None
        assert steady.version == blue.version, "a still screen"
        on_display.paint(GREEN)
        green = feed.wait(steady.tick, 1.0)
        assert green is not None, "drawing is looked at before the next steady look"
        assert green.version == blue.version + 1
    finally:
        feed.detach(feed)
        feed.stop()
