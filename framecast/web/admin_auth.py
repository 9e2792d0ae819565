"""Who may use the admin page and API: whoever shows the admin token, once (then an HttpOnly,
SameSite=Strict cookie), or on every request as `Authorization: Bearer <token>` (scripts).

The view token (`[server] token`) opens nothing here, and the admin token need not be the view
token. A request that changes something with the cookie must also carry the CSRF token in a
header (the page gets it at log-in): a form on another site can send the cookie's request but
cannot read or add that header. Five wrong tokens from one address in a minute lock it out
for a minute. Both the cookie and the CSRF token are derived from the admin token, so changing
the token in config.toml logs every phone out.

Called on HTTP threads.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections import deque

COOKIE = "framecast_admin"
CSRF_HEADER = "X-CSRF-Token"
TRIES = 5
"""Wrong tokens from one address within `LOCKOUT_SECONDS` before it is locked out."""
LOCKOUT_SECONDS = 60.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _derived(token: str, purpose: str) -> str:
    return hmac.new(
        token.encode(), f"framecast-admin-{purpose}".encode(), hashlib.sha256
    ).hexdigest()


def session_value(token: str) -> str:
    """The cookie's value for this admin token."""
    return _derived(token, "session")


def csrf_value(token: str) -> str:
    """The CSRF token the page sends with every change."""
    return _derived(token, "csrf")


def same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class Lockout:
    """Wrong admin tokens by address: after `TRIES` within a minute, refused for a minute."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again, or 0 when it is not locked out."""
        now = time.monotonic()
        with self._lock:
            failures = self._failures.get(address)
        if failures is None or len(failures) < TRIES:
            return 0
        if failures[-1] - failures[0] > LOCKOUT_SECONDS:
            return 0  # not all within one minute
        return max(0, math.ceil(failures[-1] + LOCKOUT_SECONDS - now))

    def failed(self, address: str) -> None:
        """A wrong token from `address`; addresses quiet for a minute are forgotten."""
        now = time.monotonic()
        with self._lock:
            for quiet in [a for a, f in self._failures.items() if f[-1] < now - LOCKOUT_SECONDS]:
                del self._failures[quiet]
            self._failures.setdefault(address, deque(maxlen=TRIES)).append(now)
