"""Functions that finish a frame: a clock and a caption drawn over the slide, and the cross-fade
between two frames. Rendered once on the server, so every TV shows them with no script at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from . import pixman
from .imaging import encode_jpeg, encode_raw

PLATE_DARKNESS = 0.35
"""The text sits on a darkened plate of the slide itself, legible on any slide."""


@dataclass(frozen=True)
class Labels:
    """The text to draw on one frame; None draws nothing in that place."""

    clock: str | None = None
    clock_corner: str = "top-right"
    caption: str | None = None
    font_size: int | None = None

    @property
    def empty(self) -> bool:
        return self.clock is None and self.caption is None


def label(frame: Image.Image, labels: Labels) -> Image.Image:
    """A copy of `frame` with its clock in a corner and its caption along the bottom."""
    if labels.empty:
        return frame
    frame = frame.copy()
    size = labels.font_size or max(10, frame.height // 18)
    font = ImageFont.load_default(size=size)
    margin = size // 2
    if labels.caption:
        _plate_text(frame, labels.caption, font, "bottom-center", margin)
    if labels.clock:
        _plate_text(frame, labels.clock, font, labels.clock_corner, margin)
    return frame


def _plate_text(
    frame: Image.Image,
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    place: str,
    margin: int,
) -> None:
    draw = ImageDraw.Draw(frame)
    left, top, right, bottom = (int(v) for v in draw.textbbox((0, 0), text, font=font))
    width = min(right - left + 2 * margin, frame.width)
    height = bottom - top + 2 * margin
    vertical, horizontal = place.split("-")
    x = {"left": margin, "right": frame.width - width - margin}.get(
        horizontal, (frame.width - width) // 2
    )
    y = margin if vertical == "top" else frame.height - height - margin
    box = (max(0, x), max(0, y), min(frame.width, x + width), min(frame.height, y + height))
    plate = frame.crop(box).point(lambda value: value * PLATE_DARKNESS)
    frame.paste(plate, box[:2])
    draw.text((x + margin - left, y + margin - top), text, font=font, fill=(255, 255, 255))


def crossfade(before: Image.Image, after: Image.Image, steps: int) -> Iterator[Image.Image]:
    """The in-between frames of a fade from `before` to `after` (neither end included)."""
    if before.size != after.size or before.mode != after.mode:
        before = before.convert(after.mode).resize(after.size)
    for step in range(1, steps):
        yield Image.blend(before, after, step / steps)


def crossfade_jpegs(
    before: Image.Image, after: Image.Image, steps: int, quality: int
) -> Iterator[bytes]:
    """The in-between frames of a fade, encoded. With pixman the blend and the encoding run
    without the GIL, so the fades of several channels use every core; Pillow's blend and
    encoder hold it (measured: two fades on two threads took twice as long as one)."""
    if not pixman.available:
        for between in crossfade(before, after, steps):
            yield encode_jpeg(between, quality)
        return
    if before.size != after.size or before.mode != after.mode:
        before = before.convert(after.mode).resize(after.size)
    under = bytearray(before.convert("RGB").tobytes("raw", "RGBX"))
    over = bytearray(after.convert("RGB").tobytes("raw", "RGBX"))
    mixed = bytearray(len(under))
    for step in range(1, steps):
        pixman.blend_rgbx(under, over, after.size, step / steps, mixed)
        yield encode_raw(mixed, after.size, "RGBX", quality)
