"""How the C heap treats the image buffers every frame passes through (glibc only).

A live 720p screen frame passes through about 40 MB of short-lived images. glibc's defaults hand
freed memory this size back to the system at once, so every frame faults its buffers in anew:
the same frame took 29 ms that way and 12 ms with the memory kept for reuse
(bench/bench_screen.py). Kept memory must still be given back, or the resident size follows the
largest moment of the uptime instead of the settings: the server's main thread hands every free
page back every `TRIM_EVERY_SECONDS`. Where the C library has no `mallopt` and `malloc_trim`
(macOS, Windows, musl) this does nothing, and those allocators keep their own defaults.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

TRIM_EVERY_SECONDS = 30.0
KEEP_FREED_BYTES = 64 << 20
"""Freed heap memory kept for reuse between trims (glibc's M_TRIM_THRESHOLD)."""
MAP_ABOVE_BYTES = 16 << 20
"""Blocks this big get their own mapping, handed back when freed (M_MMAP_THRESHOLD): a decoded
6000×4000 photo is, a 1080p frame is not."""
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def _glibc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_LIBC = _glibc()


def keep_freed_memory() -> bool:
    """Keep freed image buffers for reuse until the next trim; whether the C library could.
    Called once, by the main thread at start."""
    if _LIBC is None:
        return False
    return bool(
        _LIBC.mallopt(_M_MMAP_THRESHOLD, MAP_ABOVE_BYTES)
        and _LIBC.mallopt(_M_TRIM_THRESHOLD, KEEP_FREED_BYTES)
    )


def release_free_memory() -> bool:
    """Hand every whole free heap page back to the system; whether the C library could. The
    server's main thread calls it every `TRIM_EVERY_SECONDS`."""
    if _LIBC is None:
        return False
    _LIBC.malloc_trim(0)
    return True
