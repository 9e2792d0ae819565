"""Outside text (request lines, file names) made safe to put in a log line, and log lines a
client cannot flood.

A log line must stay one line, must not carry terminal escapes to whoever reads it, and must
not grow without bound because a client or a file name is long.
"""

from __future__ import annotations

import math
import re
import threading
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


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


SECRET_PARAMETER = re.compile(r"token|pass|pwd|key|secret|auth|sig|credential", re.IGNORECASE)
"""Query parameters whose values are credentials (`?token=`, `api_key`, `password`, `auth`...)."""
HIDDEN = "***"


def redacted_url(url: str) -> str:
    """`url` as logs, /status and the admin page show it: user and password, and the values of
    query parameters named like credentials, replaced by ***; printable and cut short."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return HIDDEN
    where = parts.netloc
    if "@" in where:
        host = f"[{host}]" if ":" in host else host
        where = f"{HIDDEN}@{host}" + (f":{port}" if port is not None else "")
    query = urlencode(
        [
            (name, HIDDEN if SECRET_PARAMETER.search(name) else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return printable(urlunsplit((parts.scheme, where, parts.path, query, "")), 200)


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
