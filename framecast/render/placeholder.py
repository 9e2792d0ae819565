"""The frame shown when there is nothing else to show: a readable message on the background,
and for a show still to be set up, the address to open and its QR code."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from ..qr import modules, qr_image
from .imaging import RenderSpec

MIN_MODULE_PX = 3
"""Smallest QR module, in frame pixels, that a phone still reads off a TV after JPEG and the
TV's scaling; a frame too small for it shows the address as text only."""
MAX_CODE_SHARE = 0.6
"""The code takes at most this share of the frame's height, so the message stays the focus."""


def render_message(
    title: str, lines: list[str], spec: RenderSpec, address: str | None = None
) -> Image.Image:
    """A frame of the output size with `title` large and `lines` below it, centred. With an
    `address`, a line naming it and its QR code below the text, when the frame has room for a
    code a phone can read."""
    frame = Image.new("RGB", (spec.width, spec.height), spec.background)
    draw = ImageDraw.Draw(frame)
    brightness = sum(spec.background) / 3
    ink = (20, 20, 20) if brightness > 140 else (235, 235, 235)
    title_font = ImageFont.load_default(size=max(12, spec.height // 14))
    body_font = ImageFont.load_default(size=max(10, spec.height // 30))
    if address is not None:
        lines = [*lines, f"Open {address}"]
    rows = [(title, title_font)] + [(line, body_font) for line in lines]
    gap = spec.height // 40
    heights = [_line_height(draw, text, font) for text, font in rows]
    text_height = sum(heights) + gap * (len(rows) - 1)
    code = None if address is None else _code(address, spec, text_height + 2 * gap)
    total = text_height + (0 if code is None else gap + code.height)
    y = (spec.height - total) / 2
    for (text, font), height in zip(rows, heights, strict=True):
        width = draw.textlength(text, font=font)
        draw.text(((spec.width - width) / 2, y), text, font=font, fill=ink)
        y += height + gap
    if code is not None:
        frame.paste(code, ((spec.width - code.width) // 2, round(y)))
    return frame


def _code(address: str, spec: RenderSpec, text_height: int) -> Image.Image | None:
    """The QR code of `address` as large as the room below the text allows (up to
    `MAX_CODE_SHARE` of the height), or None when its modules would be under `MIN_MODULE_PX`."""
    room = min(
        spec.height - text_height - spec.height // 20,
        int(spec.height * MAX_CODE_SHARE),
        spec.width * 9 // 10,
    )
    if room // modules(address) < MIN_MODULE_PX:
        return None
    return qr_image(address, room)


def _line_height(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont
) -> int:
    return int(draw.textbbox((0, 0), text or " ", font=font)[3])
