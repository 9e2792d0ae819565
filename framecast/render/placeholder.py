"""The frame shown when there is nothing else to show: a readable message on the background."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from .imaging import RenderSpec


def render_message(title: str, lines: list[str], spec: RenderSpec) -> Image.Image:
    """A frame of the output size with `title` large and `lines` below it, centred."""
    frame = Image.new("RGB", (spec.width, spec.height), spec.background)
    draw = ImageDraw.Draw(frame)
    brightness = sum(spec.background) / 3
    ink = (20, 20, 20) if brightness > 140 else (235, 235, 235)
    title_font = ImageFont.load_default(size=max(12, spec.height // 14))
    body_font = ImageFont.load_default(size=max(10, spec.height // 30))
    rows = [(title, title_font)] + [(line, body_font) for line in lines]
    gap = spec.height // 40
    heights = [_line_height(draw, text, font) for text, font in rows]
    y = (spec.height - sum(heights) - gap * (len(rows) - 1)) / 2
    for (text, font), height in zip(rows, heights, strict=True):
        width = draw.textlength(text, font=font)
        draw.text(((spec.width - width) / 2, y), text, font=font, fill=ink)
        y += height + gap
    return frame


def _line_height(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont
) -> int:
    return int(draw.textbbox((0, 0), text or " ", font=font)[3])
