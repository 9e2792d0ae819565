"""A turned TV panel: frames stay width×height, with the picture turned to stand upright on it.

Real folders, a real hub with a client on it, a real Xvfb for the screen; frames are decoded and
their pixels looked at.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat
from support import BLUE, GREEN, RED, VirtualDisplay, close_to, free_display_number, wait_for

from framecast.config import parse_settings
from framecast.hub import Frame, FrameHub
from framecast.screen.feed import ScreenFeeds
from framecast.screen.source import ScreenSource
from framecast.shows.director import SourceDirector
from framecast.slideshow.source import SlideshowSource

Pixel = tuple[int, ...]


def halves(path: Path, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Path:
    """A portrait slide, 180×320: the upright picture of a 320×180 panel turned a quarter."""
    image = Image.new("RGB", (180, 320), top)
    image.paste(bottom, (0, 160, 180, 320))
    image.save(path)
    return path


def decoded(frame: Frame) -> Image.Image:
    return Image.open(io.BytesIO(frame.jpeg)).convert("RGB")


def pixel(image: Image.Image, x: int, y: int) -> Pixel:
    return tuple(image.getpixel((x, y)))  # type: ignore[arg-type]


@contextmanager
def watched_show(
    folder: Path, text: str, clock: Callable[[], datetime] = datetime.now
) -> Iterator[tuple[SourceDirector, FrameHub]]:
    """A channel's sources and director on `folder` under the settings `text`, with a client
    on its hub."""
    if "transition" not in text:
        text += '[slideshow]\ntransition = "none"\n'
    hub = FrameHub()
    settings = parse_settings(text, folder.parent)
    sources = {
        "slideshow": SlideshowSource(hub, lambda: settings, clock=clock),
        "screen": ScreenSource(hub, lambda: settings, ScreenFeeds()),
    }
    director = SourceDirector("test", hub, lambda: settings, sources, frozenset({"screen"}))
    with hub.subscribe():
        director.start()
        try:
            yield director, hub
        finally:
            director.stop()


def first_frame(folder: Path, text: str, clock: Callable[[], datetime] = datetime.now) -> Frame:
    with watched_show(folder, text, clock) as (_, hub):
        frame = hub.wait_newer(0, 5)
    assert frame is not None, "no frame"
    return frame


def stream(width: int, height: int, rotate: int, extra: str = "") -> str:
    return f"[stream]\nwidth = {width}\nheight = {height}\nrotate = {rotate}\n{extra}"


@pytest.mark.parametrize(
    ("rotate", "first", "second", "first_colour", "second_colour"),
    [
        (90, (80, 90), (240, 90), RED, BLUE),
        (270, (80, 90), (240, 90), BLUE, RED),
        (180, (160, 45), (160, 135), BLUE, RED),
    ],
    ids=["90: top to the left", "270: top to the right", "180: upside down"],
)
def test_a_slide_is_turned_to_stand_upright_on_the_turned_panel(
    images: Path,
    rotate: int,
    first: tuple[int, int],
    second: tuple[int, int],
    first_colour: tuple[int, int, int],
    second_colour: tuple[int, int, int],
) -> None:
    halves(images / "1.png", RED, BLUE)
    frame = first_frame(images, stream(320, 180, rotate))
    image = decoded(frame)
    assert (frame.width, frame.height) == image.size == (320, 180)
    assert close_to(pixel(image, *first), first_colour)
    assert close_to(pixel(image, *second), second_colour)


def assert_turned(turned: Frame, upright: Frame) -> None:
    """`turned` (320×180, rotate = 90) is `upright` (180×320) turned counter-clockwise."""
    expected = decoded(upright).transpose(Image.Transpose.ROTATE_90)
    image = decoded(turned)
    assert image.size == expected.size == (320, 180)
    difference = ImageStat.Stat(ImageChops.difference(image, expected)).mean
    assert max(difference) < 4, difference


def test_the_clock_and_caption_read_upright_on_a_turned_panel(images: Path) -> None:
    halves(images / "a caption.png", (240, 240, 240), (200, 200, 240))
    overlay = '[overlay]\nclock = "top-left"\ncaption = "name"\nfont_size = 20\n'

    def at_nine() -> datetime:
        return datetime(2026, 11, 22, 9, 41)

    upright = first_frame(images, stream(180, 320, 0) + overlay, at_nine)
    bottom = decoded(upright).convert("L").crop((0, 280, 180, 320))
    assert ImageStat.Stat(bottom).extrema[0][0] < 120, (
        "a caption plate along the bottom of the upright picture"
    )
    assert_turned(first_frame(images, stream(320, 180, 90) + overlay, at_nine), upright)


def test_a_placeholder_reads_upright_on_a_turned_panel(images: Path) -> None:
    upright = first_frame(images, stream(180, 320, 0))
    assert_turned(first_frame(images, stream(320, 180, 90)), upright)


def test_a_fade_blends_the_turned_frames(images: Path) -> None:
    halves(images / "1.png", RED, BLUE)
    Image.new("RGB", (180, 320), GREEN).save(images / "2.png")
    text = stream(320, 180, 90) + (
        '[slideshow]\ninterval = 1\ntransition = "fade"\ntransition_seconds = 0.2\n'
    )
    with watched_show(images, text) as (_, hub):
        seen: list[Image.Image] = []
        seq = 0
        while len(seen) < 6:
            frame = hub.wait_newer(seq, 5)
            assert frame is not None, "no new frame"
            seq = frame.seq
            seen.append(decoded(frame))
    assert {image.size for image in seen} == {(320, 180), (160, 90)}, "slides and fade frames"
    assert any(
        close_to(pixel(image, 40, 45), (125, 115, 45), 40)
        and close_to(pixel(image, 120, 45), (30, 130, 140), 40)
        for image in seen
        if image.size == (160, 90)
    ), "a half-way blend, red to green on the left, blue to green on the right"


def test_the_screen_is_turned_to_stand_upright_on_the_turned_panel(
    images: Path, display: VirtualDisplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a panel turned 90° clockwise the frame's bottom row is the panel's left edge: the
    screen's left half goes there, its right half to the frame's top. The 640×360 screen is
    contained in the 180×320 panel, letterboxed above and below it (the frame's sides)."""
    monkeypatch.setenv("DISPLAY", display.name)
    display.paint_halves(RED, GREEN)
    text = stream(320, 180, 90, 'source = "screen"\n')
    with watched_show(images, text) as (_, hub):
        frame = wait_for(hub.latest, what="a screen frame")
    assert frame is not None
    image = decoded(frame)
    assert image.size == (320, 180)
    assert close_to(pixel(image, 160, 150), RED)
    assert close_to(pixel(image, 160, 30), GREEN)
    assert close_to(pixel(image, 5, 90), (0, 0, 0))
    assert close_to(pixel(image, 315, 90), (0, 0, 0))


def test_the_no_screen_message_reads_upright_on_a_turned_panel(
    images: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPLAY", f":{free_display_number()}")
    screen = 'source = "screen"\n'
    upright = first_frame(images, stream(180, 320, 0, screen))
    assert_turned(first_frame(images, stream(320, 180, 90, screen)), upright)
