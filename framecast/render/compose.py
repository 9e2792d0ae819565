"""Functions that finish a frame: a clock and a caption drawn over the slide, and the cross-fade
between two frames. Rendered once on the server, so every TV shows them with no script at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageDraw, ImageFont

from ..announcements import Announcement
from ..config import OverlaySettings
from . import pixman
from .imaging import RenderSpec, encode_jpeg, encode_pixels, encode_raw, turn

PLATE_DARKNESS = 0.35
"""The text sits on a darkened plate of the slide itself, legible on any slide."""


@dataclass(frozen=True)
class Labels:
    """The text to draw on one frame; None draws nothing in that place."""

    clock: str | None = None
    clock_corner: str = "top-right"
    caption: str | None = None
    font_size: int | None = None
    banner: str | None = None
    """An announcement, across the top of the frame on a band of `banner_colour`."""
    banner_colour: tuple[int, int, int] = (200, 30, 30)

    @property
    def empty(self) -> bool:
        return self.clock is None and self.caption is None and self.banner is None


def overlay_labels(
    overlay: OverlaySettings,
    now: datetime,
    banner: Announcement | None,
    caption: str | None = None,
) -> Labels:
    """The labels a channel's `[overlay]` settings and its announcement put on a frame at
    `now`; `caption` is the slide's name, drawn when the overlay asks for it."""
    return Labels(
        clock=now.strftime(overlay.clock_format) if overlay.clock else None,
        clock_corner=overlay.clock or "top-right",
        caption=caption if overlay.caption == "name" else None,
        font_size=overlay.font_size,
        banner=banner.text if banner else None,
        banner_colour=banner.colour if banner else (0, 0, 0),
    )


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
    if labels.banner:
        _banner(frame, labels.banner, labels.banner_colour, font, margin)
    if labels.clock:
        _plate_text(frame, labels.clock, font, labels.clock_corner, margin)
    return frame


def finished(picture: Image.Image, labels: Labels, spec: RenderSpec) -> tuple[Image.Image, bytes]:
    """A moving picture's frame (a clip's, a live stream's), fitted to the upright panel: with
    its labels, turned for the panel, and encoded without the GIL (they come many times a
    second); the frame and its JPEG."""
    frame = turn(label(picture, labels), spec.rotate)
    rgb = frame if frame.mode == "RGB" else frame.convert("RGB")
    pixels = memoryview(rgb.tobytes()).cast("B", (rgb.height, rgb.width, 3))
    return rgb, encode_pixels(pixels, "RGB", spec.quality)


def _banner(
    frame: Image.Image,
    text: str,
    colour: tuple[int, int, int],
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    margin: int,
) -> None:
    """A band across the top in the announcement's colour, the text centred on it in black or
    white, whichever reads better; text too long for the width is cut with an ellipsis."""
    draw = ImageDraw.Draw(frame)
    shown = text
    while shown and draw.textlength(shown, font=font) > frame.width - 2 * margin:
        shown = shown[:-2] + "…"
    left, top, right, bottom = (int(v) for v in draw.textbbox((0, 0), shown, font=font))
    height = bottom - top + 2 * margin
    draw.rectangle((0, 0, frame.width, height), fill=colour)
    luma = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    ink = (0, 0, 0) if luma > 150 else (255, 255, 255)
    x = (frame.width - (right - left)) // 2 - left
    draw.text((x, margin - top), shown, font=font, fill=ink)


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


FADE_SHARE = 0.9
"""All the in-between frames of a fade together cost at most this share of the bytes of the slide
they reveal, so a TV on Wi-Fi receives at most about twice the bytes of the slides it shows."""
FADE_QUALITY = 50
"""JPEG quality of in-between frames: they are on screen for a tenth of a second each."""
MIN_FADE_FRAMES = 3
"""Fewer in-between frames than this no longer read as a fade, whatever the budget."""


@dataclass(frozen=True)
class Fade:
    """The encoded in-between frames of a fade, all of `size`, in the order they are shown."""

    jpegs: list[bytes]
    size: tuple[int, int]


def fade(
    before: Image.Image, after: Image.Image, steps: int, quality: int, slide_bytes: int
) -> Fade:
    """The in-between frames of a fade from `before` to `after`: at most `steps - 1`, evenly
    spaced, as many as fit in FADE_SHARE of `slide_bytes` (never fewer than MIN_FADE_FRAMES).

    They are made at half the width and height, a quarter of the pixels, and the TV's browser
    scales them up: during a dissolve of under a second the softness does not show, while the
    bytes and the work fall to a fraction (docs/benchmarks.md, "Fade"). The middle frame, made
    first, is the measure of how many fit. Called by a slideshow's thread.
    """
    size = (max(1, after.width // 2), max(1, after.height // 2))
    under, over = (
        image.convert("RGB").resize(size, Image.Resampling.BOX) for image in (before, after)
    )
    blend = _blender(under, over, min(quality, FADE_QUALITY))
    middle = blend(0.5)
    fitting = int(FADE_SHARE * slide_bytes) // len(middle)
    count = min(steps - 1, max(MIN_FADE_FRAMES, fitting))
    jpegs = [
        middle if 2 * step == count + 1 else blend(step / (count + 1))
        for step in range(1, count + 1)
    ]
    return Fade(jpegs, size)


def _blender(under: Image.Image, over: Image.Image, quality: int) -> Callable[[float], bytes]:
    """A function from a weight (0 to 1) to that blend of the two images, encoded. With pixman
    the blend and the encoding run without the GIL, so the fades of several channels use every
    core; Pillow's blend and encoder hold it."""
    if not pixman.available:
        return lambda weight: encode_jpeg(Image.blend(under, over, weight), quality)
    below = bytearray(under.tobytes("raw", "RGBX"))
    above = bytearray(over.tobytes("raw", "RGBX"))
    mixed = bytearray(len(below))

    def blend(weight: float) -> bytes:
        pixman.blend_rgbx(below, above, under.size, weight, mixed)
        return encode_raw(mixed, under.size, "RGBX", quality)

    return blend
