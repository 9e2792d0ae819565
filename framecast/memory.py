"""Gives the memory of freed image buffers back to the system.

Every slide and screen frame passes through buffers of several megabytes. glibc keeps freed
heap memory for reuse, and over hours of slides the holes between live blocks add up: the
soak benchmark saw the resident size creep while nothing leaked. `malloc_trim` returns every
whole free page. Where the C library has no `malloc_trim` (macOS, Windows, musl) this does
nothing, and those allocators return large blocks by themselves.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable

TRIM_EVERY_SECONDS = 60.0


def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim: Callable[[int], int] | None = getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return None
    return trim


_TRIM = _malloc_trim()


def release_free_memory() -> bool:
    """Return free heap pages to the system; whether the C library could. Any thread may call
    it; the server's main thread does, every `TRIM_EVERY_SECONDS`."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
