"""Bilinear scaling of BGRX screen frames by pixman, the pixel library the X server itself uses.

pixman scales with SIMD code straight from the grab into the output frame: 1.4–2.3 ms for
1080p to 720p, where Pillow's area filter takes 10–15 (bench/bench_screen.py). It is a system
library wherever X runs (Xorg, Xvfb and cairo need it); without it `available` is False and
the caller scales with Pillow.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import sys
from ctypes import POINTER, Structure, c_int, c_int32, c_uint16, c_void_p
from typing import Any

X8R8G8B8 = 0x20020888
"""pixman's 32-bit xRGB, which is B, G, R, X in memory on a little-endian machine."""
X8B8G8R8 = 0x20030888
"""pixman's 32-bit xBGR, which is R, G, B, X in memory on a little-endian machine."""
OP_SRC = 1
OP_OVER = 3
FILTER_BILINEAR = 4
REPEAT_PAD = 3
ONE = 1 << 16
"""1.0 in pixman's 16.16 fixed point."""

Box = tuple[float, float, float, float]
"""left, top, width, height."""


class _Transform(Structure):
    _fields_ = [("matrix", (c_int32 * 3) * 3)]


class _Colour(Structure):
    _fields_ = [("red", c_uint16), ("green", c_uint16), ("blue", c_uint16), ("alpha", c_uint16)]


def _load() -> Any:
    name = ctypes.util.find_library("pixman-1")
    if name is None or sys.byteorder != "little":
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    for function, args, result in (
        ("pixman_image_create_bits", [c_int, c_int, c_int, c_void_p, c_int], c_void_p),
        ("pixman_image_set_transform", [c_void_p, POINTER(_Transform)], c_int),
        ("pixman_image_set_filter", [c_void_p, c_int, c_void_p, c_int], c_int),
        ("pixman_image_set_repeat", [c_void_p, c_int], None),
        ("pixman_image_composite32", [c_int, c_void_p, c_void_p, c_void_p] + [c_int32] * 8, None),
        ("pixman_image_unref", [c_void_p], c_int),
        ("pixman_image_create_solid_fill", [POINTER(_Colour)], c_void_p),
    ):
        getattr(lib, function).argtypes = args
        getattr(lib, function).restype = result
    return lib


_lib = _load()
available = _lib is not None


def scale_bgrx(
    pixels: bytes | bytearray,
    size: tuple[int, int],
    source: Box,
    frame: tuple[int, int],
    target: tuple[int, int, int, int],
    background: tuple[int, int, int],
) -> bytearray:
    """A `frame`-sized BGRX image of the `background` colour (r, g, b), with the `source` box of
    the BGRX `pixels` scaled bilinearly into its `target` box (left, top, width, height).

    Call it only when `available`. Called by the screen capture thread.
    """
    width, height = size
    red, green, blue = background
    if target == (0, 0, *frame):
        out = bytearray(4 * frame[0] * frame[1])
    else:
        out = bytearray((blue, green, red, 255)) * (frame[0] * frame[1])
    held = (
        (ctypes.c_char * len(pixels)).from_buffer(pixels)
        if isinstance(pixels, bytearray)
        else (ctypes.c_char * len(pixels)).from_buffer_copy(pixels)
    )
    written = (ctypes.c_char * len(out)).from_buffer(out)
    src = _lib.pixman_image_create_bits(X8R8G8B8, width, height, ctypes.addressof(held), width * 4)
    dst = _lib.pixman_image_create_bits(
        X8R8G8B8, frame[0], frame[1], ctypes.addressof(written), frame[0] * 4
    )
    try:
        left, top, box_width, box_height = source
        transform = _Transform()
        # Output pixel centre x + 0.5 samples the source at left + (x + 0.5) * scale.
        transform.matrix[0][0] = round(box_width / target[2] * ONE)
        transform.matrix[0][2] = round(left * ONE)
        transform.matrix[1][1] = round(box_height / target[3] * ONE)
        transform.matrix[1][2] = round(top * ONE)
        transform.matrix[2][2] = ONE
        _lib.pixman_image_set_transform(src, ctypes.byref(transform))
        _lib.pixman_image_set_filter(src, FILTER_BILINEAR, None, 0)
        _lib.pixman_image_set_repeat(src, REPEAT_PAD)
        for part in _cover_first(source, size, target):
            _lib.pixman_image_composite32(
                OP_SRC, src, None, dst, part[0], part[1], 0, 0, *_moved(part, target)
            )
    finally:
        _lib.pixman_image_unref(src)
        _lib.pixman_image_unref(dst)
        del held, written
    return out


def _covered(start: float, scale: float, source_size: int, count: int) -> tuple[int, int]:
    """The output pixels [first, end) along one axis whose two bilinear samples both lie
    inside the source (one pixel to spare each side, for fixed-point rounding)."""
    # Output pixel i samples source pixels floor(u - 0.5) and the next,
    # where u = start + (i + 0.5) * scale.
    first = math.ceil((0.5 - start) / scale - 0.5) + 1
    end = math.floor((source_size - 0.5 - start) / scale - 0.5) - 1
    return max(0, first), max(max(0, first), min(count, end))


def _cover_first(
    source: Box, size: tuple[int, int], target: tuple[int, int, int, int]
) -> list[tuple[int, int, int, int]]:
    """The target (left, top, width, height, relative to it) as the part whose samples all lie
    inside the source, then the strips around it. pixman scales the first on its fast path; with
    a padded edge anywhere in one call it takes a general path, 10 times slower (upscaling 720p
    to 1080p: 24 ms instead of 2.5)."""
    left, top, box_width, box_height = source
    x0, x1 = _covered(left, box_width / target[2], size[0], target[2])
    y0, y1 = _covered(top, box_height / target[3], size[1], target[3])
    parts = [
        (x0, y0, x1 - x0, y1 - y0),
        (0, 0, target[2], y0),
        (0, y1, target[2], target[3] - y1),
        (0, y0, x0, y1 - y0),
        (x1, y0, target[2] - x1, y1 - y0),
    ]
    return [part for part in parts if part[2] > 0 and part[3] > 0]


def _moved(part: tuple[int, int, int, int], target: tuple[int, int, int, int]) -> tuple[int, ...]:
    """Where `part` of the target lies in the frame, and its size."""
    return (target[0] + part[0], target[1] + part[1], part[2], part[3])


def blend_rgbx(
    before: bytearray, after: bytearray, size: tuple[int, int], weight: float, out: bytearray
) -> None:
    """`after` laid over `before` at `weight` (0 to 1) into `out`, all RGBX of `size`: one
    frame of a fade. pixman works without the GIL (a ctypes call), so the fades of several
    channels run on several cores, where Pillow's blend holds the GIL throughout.

    Call it only when `available`. Called by a source's thread.
    """
    width, height = size
    buffers = [(ctypes.c_char * len(b)).from_buffer(b) for b in (before, after, out)]
    under, over, dst = (
        _lib.pixman_image_create_bits(X8B8G8R8, width, height, ctypes.addressof(b), width * 4)
        for b in buffers
    )
    mask = _lib.pixman_image_create_solid_fill(
        ctypes.byref(_Colour(0, 0, 0, round(max(0.0, min(1.0, weight)) * 0xFFFF)))
    )
    try:
        _lib.pixman_image_composite32(OP_SRC, under, None, dst, 0, 0, 0, 0, 0, 0, width, height)
        _lib.pixman_image_composite32(OP_OVER, over, mask, dst, 0, 0, 0, 0, 0, 0, width, height)
    finally:
        for image in (under, over, dst, mask):
            _lib.pixman_image_unref(image)
        del buffers
