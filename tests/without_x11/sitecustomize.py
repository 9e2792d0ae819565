"""This machine as Framecast finds Windows or macOS, for tests/test_screen_backends.py: Python
loads this file at start when its folder is on PYTHONPATH.

There, `ctypes.CDLL(None)` fails (Windows has no process-wide symbol table to open) and no X11,
xcb, pixman or Wayland library is found or loads. So here every such load that Framecast's own
modules ask for fails as it would there: `find_library` answers None and `CDLL` raises OSError.
mss, which brings its own code for each system (GDI on Windows, Core Graphics on macOS), still
loads what it needs: it grabs from the test's Xvfb, as it would grab from GDI.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Any

MISSING = ("x11", "xcb", "xext", "xfixes", "xrandr", "pixman", "wayland")
"""Library names (in any case, as part of a name or path) that are not there for Framecast."""


def _missing(name: Any) -> bool:
    return name is None or any(part in str(name).lower() for part in MISSING)


def _asked_by_framecast() -> bool:
    """Whether the call two frames up (the caller of the patched function) is Framecast's."""
    module = str(sys._getframe(2).f_globals.get("__name__", ""))
    return module == "framecast" or module.startswith("framecast.")


class _CDLL(ctypes.CDLL):
    def __init__(self, name: Any, *args: Any, **kwargs: Any) -> None:
        if _missing(name) and _asked_by_framecast():
            raise OSError(f"{name}: cannot open shared object file (not on this system)")
        super().__init__(name, *args, **kwargs)


_find_library = ctypes.util.find_library


def _find(name: str) -> str | None:
    if _missing(name) and _asked_by_framecast():
        return None
    return _find_library(name)


ctypes.CDLL = _CDLL  # type: ignore[misc]
ctypes.util.find_library = _find
