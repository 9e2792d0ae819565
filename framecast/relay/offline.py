"""The last frame with a small "offline" mark, for the TVs of an edge cut off from the origin."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from ..render.imaging import encode_jpeg

MARK = "offline"
MARK_QUALITY = 85
MARK_COLOUR = (24, 24, 24)


def mark_offline(jpeg: bytes) -> bytes:
    """`jpeg` again with "offline" in a small dark plate at its bottom-right corner (an edge's beat
    thread, once per frame it marks)."""
    with Image.open(io.BytesIO(jpeg)) as opened:
        frame = opened.convert("RGB")
    size = max(10, frame.height // 30)
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(frame)
    left, top, right, bottom = draw.textbbox((0, 0), MARK, font=font)
    margin = size // 2
    x = frame.width - (right - left) - 2 * margin
    y = frame.height - (bottom - top) - 2 * margin
    draw.rectangle(
        (x - margin, y - margin, frame.width - margin, frame.height - margin), fill=MARK_COLOUR
    )
    draw.text((x - left, y - top), MARK, font=font, fill=(255, 255, 255))
    return encode_jpeg(frame, MARK_QUALITY)
