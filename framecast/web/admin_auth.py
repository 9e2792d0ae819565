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
import logging
import math
import threading
import time
from collections import deque

from flask import Blueprint, Response, abort, jsonify, request

from .access import bearer_token
from .context import client_address, web
from .responses import refusal

log = logging.getLogger(__name__)

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


admin_auth = Blueprint("admin_auth", __name__)


def admin_token() -> str:
    """The admin token; while it is unset the whole admin face is 404."""
    token = web().settings().admin.token
    if token is None:
        abort(404)
    return token


def wrong_token(address: str, what: str) -> Response:
    """A wrong admin token: counted towards the address's lockout, logged, refused."""
    web().lockout.failed(address)
    log.warning("Refused an admin %s from %s: wrong token", what, address)
    return refusal(401, "wrong admin token")


@admin_auth.before_app_request
def check_admin() -> Response | None:
    """The admin token (cookie or Bearer) for every admin API request but the log-in; the
    CSRF header too for a change made with the cookie."""
    if not request.path.startswith("/api/admin/"):
        return None
    expected = admin_token()
    address = client_address()
    wait = web().lockout.retry_after(address)
    if wait:
        response = refusal(429, "too many wrong tokens: try again in a minute")
        response.headers["Retry-After"] = str(wait)
        return response
    if request.path == "/api/admin/login":
        return None
    given = bearer_token(request.headers.get("Authorization", ""))
    if given is not None:
        return None if same(given, expected) else wrong_token(address, "request")
    if not same(request.cookies.get(COOKIE, ""), session_value(expected)):
        return refusal(401, "log in with the admin token first")
    if request.method in SAFE_METHODS:
        return None
    if not same(request.headers.get(CSRF_HEADER, ""), csrf_value(expected)):
        log.warning("Refused an admin change from %s: no CSRF token", address)
        return refusal(403, f"the {CSRF_HEADER} header is missing or wrong")
    return None


@admin_auth.post("/api/admin/login")
def login() -> Response:
    expected = admin_token()
    address = client_address()
    body = request.get_json(silent=True)
    given = body.get("token") if isinstance(body, dict) else None
    if not isinstance(given, str) or not same(given, expected):
        return wrong_token(address, "log-in")
    log.info("Admin: logged in from %s", address)
    response = jsonify(csrf=csrf_value(expected))
    response.set_cookie(COOKIE, session_value(expected), httponly=True, samesite="Strict", path="/")
    return response


@admin_auth.get("/api/admin/session")
def session() -> Response:
    return jsonify(csrf=csrf_value(admin_token()))


@admin_auth.post("/api/admin/logout")
def logout() -> Response:
    response = jsonify(ok=True)
    response.delete_cookie(COOKIE, path="/")
    return response
