"""QR codes of the stream's address, so that whoever sets up a TV can open it from a phone's
camera instead of typing an IP address with a remote control: as text for the start-up log
and as a picture for the placeholder frame."""

from __future__ import annotations

import functools
import io

import segno
from PIL import Image

TERMINAL_QUIET_ZONE = 2
"""Modules of light border around the terminal code: the terminal's own margin adds to it,
and 2 keeps the log compact while phones still find the code."""
IMAGE_QUIET_ZONE = 4
"""The border the QR standard asks for; on a TV the background around it may be any colour."""

_HALF_BLOCKS = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}
"""Two rows of modules per line of text, keyed by (upper is light, lower is light): the code
is half as tall and about square in a terminal, whose cells are twice as tall as wide."""


@functools.lru_cache(maxsize=8)
def _code(url: str) -> segno.QRCode:
    """Level M survives some glare and JPEG blur on a TV; never a Micro QR, which phone cameras
    do not read. Cached: the placeholder asks again on each step while it is shown."""
    return segno.make_qr(url, error="m", boost_error=False)


def modules(url: str, border: int = IMAGE_QUIET_ZONE) -> int:
    """The side of the code of `url` in modules, quiet zone included."""
    width, _ = _code(url).symbol_size(scale=1, border=border)
    return int(width)


def terminal_qr(url: str) -> str:
    """The code of `url` as lines of block characters, without a final newline.

    Light modules are drawn as blocks and dark ones as spaces, because most terminals are dark:
    the terminal's background then makes the dark modules and the blocks the light ones."""
    light = [
        [not dark for dark in row]
        for row in _code(url).matrix_iter(scale=1, border=TERMINAL_QUIET_ZONE)
    ]
    if len(light) % 2:
        light.append([False] * len(light[0]))
    return "\n".join(
        "".join(_HALF_BLOCKS[pair] for pair in zip(upper, lower, strict=True))
        for upper, lower in zip(light[::2], light[1::2], strict=True)
    )


def qr_image(url: str, size_px: int) -> Image.Image:
    """The code of `url` black on white with the standard quiet zone, in mode "RGB", as close to
    `size_px` square as whole pixels per module allow (never smaller than one per module).
    Scaled with NEAREST so that module edges stay sharp for the camera."""
    side = modules(url)
    scale = max(1, size_px // side)
    small = Image.new("1", (side, side))
    small.putdata(
        [
            0 if dark else 1
            for row in _code(url).matrix_iter(scale=1, border=IMAGE_QUIET_ZONE)
            for dark in row
        ]
    )
    return small.convert("RGB").resize((side * scale, side * scale), Image.Resampling.NEAREST)


def qr_svg(url: str) -> str:
    """The code of `url` as an SVG document, for the admin page (drawn by the phone)."""
    out = io.BytesIO()
    _code(url).save(out, kind="svg", scale=6, border=IMAGE_QUIET_ZONE)
    return out.getvalue().decode()
