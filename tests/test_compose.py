"""Finishing touches rendered on the server: labels, cross-fades, the blurred fill."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat
from support import BLUE, GREEN, RED, close_to, need_pixman

from framecast.render import pixman
from framecast.render.compose import MIN_FADE_FRAMES, Labels, fade, label
from framecast.render.imaging import RenderSpec, encode_jpeg, fit


def region_changed(a: Image.Image, b: Image.Image, box: tuple[int, int, int, int]) -> float:
    return ImageStat.Stat(ImageChops.difference(a.crop(box), b.crop(box)).convert("L")).mean[0]


def test_a_clock_is_drawn_in_its_corner_on_a_plate() -> None:
    slide = Image.new("RGB", (640, 360), (250, 250, 250))
    labelled = label(slide, Labels(clock="12:34", clock_corner="top-left"))
    assert region_changed(slide, labelled, (0, 0, 160, 60)) > 30, "no clock at top-left"
    assert region_changed(slide, labelled, (480, 300, 640, 360)) == 0, "drawn elsewhere too"
    assert label(slide, Labels(clock="12:35", clock_corner="top-left")).tobytes() != (
        labelled.tobytes()
    ), "a new minute is a new frame"
    assert label(slide, Labels()) is slide


def test_a_caption_sits_along_the_bottom_and_is_legible_on_white() -> None:
    slide = Image.new("RGB", (640, 360), (255, 255, 255))
    labelled = label(slide, Labels(caption="Summer fair"))
    bottom = labelled.crop((160, 300, 480, 360)).convert("L")
    assert bottom.getextrema()[0] < 120, "a dark plate behind the text"
    assert bottom.getextrema()[1] > 200, "light text on it"
    assert region_changed(slide, labelled, (0, 0, 640, 200)) == 0


@pytest.mark.parametrize("with_pixman", [True, False])
def test_fade_frames_are_half_size_blends_with_pixman_or_without(
    with_pixman: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if with_pixman:
        need_pixman()
    monkeypatch.setattr(pixman, "available", with_pixman)
    before, after = Image.new("RGB", (64, 36), RED), Image.new("RGB", (64, 36), GREEN)
    between = fade(before, after, 4, 90, slide_bytes=10**6)
    assert between.size == (32, 18)
    frames = [Image.open(io.BytesIO(jpeg)) for jpeg in between.jpegs]
    assert len(frames) == 3
    expected = [
        tuple(round(a + (b - a) * step / 4) for a, b in zip(RED, GREEN, strict=True))
        for step in (1, 2, 3)
    ]
    for frame, colour in zip(frames, expected, strict=True):
        assert frame.size == (32, 18)
        assert close_to(frame.getpixel((16, 9)), colour, 6)  # type: ignore[arg-type]


def test_a_fade_spends_at_most_nine_tenths_of_the_slides_bytes() -> None:
    """Photo-like slides: as many in-between frames as the budget holds, evenly spaced."""
    before, after = (
        Image.blend(
            Image.linear_gradient("L").resize((640, 360)).convert("RGB"),
            Image.effect_noise((640, 360), sigma).convert("RGB"),
            0.3,
        )
        for sigma in (20, 40)
    )
    slide = encode_jpeg(after, 80, optimize=True)
    between = fade(before, after, 25, 80, len(slide))
    assert MIN_FADE_FRAMES <= len(between.jpegs) < 24, "the budget, not the 25 steps, decides"
    assert sum(map(len, between.jpegs)) <= 0.9 * len(slide) * 1.15, "about the budget"
    generous = fade(before, after, 25, 80, 100 * len(slide))
    assert len(generous.jpegs) == 24, "a large budget: every step"
    tiny = fade(before, after, 25, 80, 1)
    assert len(tiny.jpegs) == MIN_FADE_FRAMES, "never fewer than reads as a fade"


def test_blur_fill_has_no_bars_and_the_whole_slide_in_the_middle(tmp_path: Path) -> None:
    portrait = Image.new("RGB", (90, 160), BLUE)
    portrait.paste(RED, (0, 0, 90, 80))
    frame = fit(portrait, RenderSpec(320, 180, "blur", (0, 0, 0), 90))
    assert frame.size == (320, 180)
    assert close_to(frame.getpixel((160, 20)), RED)  # type: ignore[arg-type]
    assert close_to(frame.getpixel((160, 160)), BLUE)  # type: ignore[arg-type]
    for x in (3, 316):
        edge = frame.getpixel((x, 90))
        assert isinstance(edge, tuple)
        assert max(edge) > 20, "the sides are filled, not black bars"
        assert max(edge) < 200, "and darkened"
