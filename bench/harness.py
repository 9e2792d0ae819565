"""What the benchmarks share: this checkout's framecast and the test helpers that drive it.

A benchmark runs from the repository root as `.venv/bin/python bench/NAME.py`, so Python puts
bench/ first on sys.path. Importing this module puts the repository root after it (so
`framecast` is this checkout's, whichever one the virtualenv installed) and tests/ (the helpers
the tests use), and hands those helpers on.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "tests"))

import media
from pages import PageServer
from relay_support import RELAY_SECRET, RedisServer, RoleServer
from sound import PrivatePulse, Tone
from support import (
    CHROMIUM_ARGS,
    RED,
    ROOT,
    HeadlessSway,
    Server,
    StreamReader,
    VirtualDisplay,
    centre,
    close_to,
    config_text,
    free_port,
    hex_colour,
    plain_png,
    solid,
    wait_for,
)

__all__ = [
    "CHROMIUM_ARGS",
    "RED",
    "RELAY_SECRET",
    "ROOT",
    "HeadlessSway",
    "PageServer",
    "PrivatePulse",
    "RedisServer",
    "RoleServer",
    "Server",
    "StreamReader",
    "Tone",
    "VirtualDisplay",
    "centre",
    "close_to",
    "config_text",
    "free_port",
    "hex_colour",
    "media",
    "plain_png",
    "solid",
    "wait_for",
]
