"""Outside text (request lines, file names) made safe to put in a log line, and log lines a
client cannot flood.

A log line must stay one line, must not carry terminal escapes to whoever reads it, and must
not grow without bound because a client or a file name is long.
"""

from __future__ import annotations

import math
import threading
import time


def printable(text: str, limit: int = 200) -> str:
    """`text` with each non-printable character written as its escape (as repr writes it,
    without quotes), cut after `limit` characters with "…(N more)" naming the characters left
    out of `text`. An escape is never cut in half."""
    pieces: list[str] = []
    length = 0
    for index, char in enumerate(text):
        piece = char if char.isprintable() else repr(char)[1:-1]
        if length + len(piece) > limit:
            return "".join(pieces) + f"…({len(text) - index} more)"
        pieces.append(piece)
        length += len(piece)
    return "".join(pieces)


class OncePerMinute:
    """Rate-limits a log line per key (an address), so a flood cannot flood the log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}

    def __call__(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -math.inf) < 60:
                return False
            if len(self._last) > 10_000:
                self._last = {k: t for k, t in self._last.items() if now - t < 60}
            self._last[key] = now
            return True
