"""A captured screen grab as a frame of the output size: the live source's fast path, where every
frame pays for its scaling and encoding."""

from __future__ import annotations

from PIL import Image

from . import pixman
from .imaging import RenderSpec, encode_pixels, fit, fitted_size, turn

SCREEN_FILTER = Image.Resampling.BOX
"""An exact area average: the cheapest of Pillow's filters that does not alias when shrinking a
live screen, where every frame pays for the resize (bench/bench_screen.py)."""


def encode_screen(raw: bytes | bytearray, width: int, height: int, spec: RenderSpec) -> bytes:
    """A captured BGRX frame as a JPEG of the output size.

    At the output size simplejpeg encodes the grab itself (it reads BGRX: no conversion, no
    copy). Scaled by up to half, with contain or cover, pixman scales it bilinearly, still
    BGRX; bilinear reads every source pixel only down to half the size, so smaller frames, the
    blur fit, a turned panel and machines without pixman take Pillow's area filter.
    """
    if spec.rotate == 0 and (width, height) == (spec.width, spec.height):
        pixels = memoryview(raw).cast("B", (height, width, 4))
        return encode_pixels(pixels, "BGRX", spec.quality)
    placement = _screen_placement(width, height, spec)
    if placement is not None and pixman.available:
        source, target = placement
        frame = pixman.scale_bgrx(
            raw, (width, height), source, (spec.width, spec.height), target, spec.background
        )
        pixels = memoryview(frame).cast("B", (spec.height, spec.width, 4))
        return encode_pixels(pixels, "BGRX", spec.quality)
    image = Image.frombuffer("RGB", (width, height), raw, "raw", "BGRX", 0, 1)
    scaled = turn(fit(image, spec.upright, SCREEN_FILTER), spec.rotate)
    pixels = memoryview(scaled.tobytes()).cast("B", (spec.height, spec.width, 3))
    return encode_pixels(pixels, "RGB", spec.quality)


def _screen_placement(
    width: int, height: int, spec: RenderSpec
) -> tuple[pixman.Box, tuple[int, int, int, int]] | None:
    """Which box of a width×height screen goes to which box of the frame under contain or
    cover, or None when that shrinks by more than half (or the fit is blur, or the panel is
    turned)."""
    if spec.rotate != 0:
        return None
    if spec.fit == "contain":
        fitted = fitted_size(width, height, spec)
        left, top = (spec.width - fitted[0]) // 2, (spec.height - fitted[1]) // 2
        source: pixman.Box = (0.0, 0.0, width, height)
        target = (left, top, *fitted)
    elif spec.fit == "cover":
        scale = max(spec.width / width, spec.height / height)
        crop = (spec.width / scale, spec.height / scale)
        source = ((width - crop[0]) / 2, (height - crop[1]) / 2, *crop)
        target = (0, 0, spec.width, spec.height)
    else:
        return None
    if source[2] > 2 * target[2] or source[3] > 2 * target[3]:
        return None
    return source, target
