"""Checks of raw TOML values: each turns a value into a setting's value, or raises ValueError
saying what is allowed (the config names the table, the key and the value around it)."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

Colour = tuple[int, int, int]
Region = tuple[int, int, int, int]
MAX_FPS = 60.0
"""Screen frames per second used at most, whatever [screen] fps asks."""

Check = Callable[[Any], Any]
"""Turns a raw TOML value into the setting's value, or raises ValueError saying what is allowed."""


def integer(low: int, high: int) -> Check:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"a whole number from {low} to {high}")
        return value

    return check


def number(low: float, high: float) -> Check:
    def check(value: Any) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not low <= value <= high
        ):
            raise ValueError(f"a number from {low:g} to {high:g}")
        return float(value)

    return check


def choice(*allowed: str) -> Check:
    def check(value: Any) -> str:
        if value not in allowed:
            raise ValueError("one of " + ", ".join(f'"{a}"' for a in allowed))
        return str(value)

    return check


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a non-empty string")
    return value


def token(value: Any) -> str | None:
    """A token, or "" for none: the only way to take a running server's token away."""
    if value == "":
        return None
    if not isinstance(value, str) or len(value) < 8 or not value.isprintable() or " " in value:
        raise ValueError('a string of at least 8 characters without spaces, or "" for none')
    return value


def clock_format(value: Any) -> str:
    if not isinstance(value, str) or "%" not in value or len(value) > 64:
        raise ValueError('a strftime format such as "%H:%M" or "%a %d %b %H:%M"')
    try:
        time.strftime(value)
    except ValueError:
        raise ValueError('a strftime format such as "%H:%M"') from None
    return value


def hosts(value: Any) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or not value
        or any(not isinstance(v, str) or not v.strip() or len(v) > 253 for v in value)
    ):
        raise ValueError('a list of host names or addresses, like ["signage.local", "10.0.0.5"]')
    return tuple(v.strip().lower() for v in value)


HOST_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def host_label(value: Any) -> str:
    if not isinstance(value, str) or not HOST_LABEL.fullmatch(value):
        raise ValueError('a host name of a-z, 0-9 and - (not at either end), like "framecast"')
    return value


def quarter_turn(value: Any) -> int:
    if isinstance(value, bool) or value not in (0, 90, 180, 270):
        raise ValueError("0, 90, 180 or 270 (degrees the TV is turned clockwise)")
    return int(value)


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


COLOUR_PATTERN = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")


def colour(value: Any) -> Colour:
    match = COLOUR_PATTERN.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError('a colour like "#000000" or "#fff"')
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))


def monitor(value: Any) -> int | str:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 64:
        raise ValueError('a monitor number (1 = first, 0 = all combined) or a name like "HDMI-1"')
    return value


def region(value: Any) -> Region:
    if (
        not isinstance(value, list)
        or len(value) != 4
        or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
        or value[0] < 0
        or value[1] < 0
        or value[2] <= 0
        or value[3] <= 0
    ):
        raise ValueError("[left, top, width, height] in pixels, width and height 1 or more")
    return (value[0], value[1], value[2], value[3])


LIVE_SCHEMES = ("http", "https", "rtsp", "rtsps")
V4L2_DEVICE = re.compile(r"/dev/video[0-9]{1,3}")


def live_url(value: Any) -> str:
    """A camera or stream address FFmpeg opens: http(s) (MJPEG, HLS, MP4), rtsp(s), or a V4L2
    device. No file: or relative address: a channel's stream is never a file of this machine."""
    allowed = (
        "an http://, https:// or rtsp:// address with a host (MJPEG, HLS .m3u8, MP4, a camera), "
        "or a V4L2 device like /dev/video0"
    )
    if not isinstance(value, str) or not value.isprintable() or len(value) > 2000:
        raise ValueError(allowed)
    if V4L2_DEVICE.fullmatch(value):
        return value
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise ValueError(allowed) from None
    if parts.scheme.lower() not in LIVE_SCHEMES or not host or " " in value:
        raise ValueError(allowed)
    return value


def fps(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"a number above 0 (frames per second; at most {MAX_FPS:g} are used)")
    return float(value)
