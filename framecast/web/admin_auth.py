"""Who may use the admin page and API: whoever shows the admin token, once (then an HttpOnly,
SameSite=Strict cookie), or on every request as `Authorization: Bearer <token>` (scripts).

The view token (`[server] token`) opens nothing here, and the admin token need not be the view
token. The cookie holds a random session id that only this server knows: it ends at log-out,
after a week unused, when the admin token in config.toml changes, and when the server restarts.
A request that changes something with the cookie must also carry the session's CSRF token in a
header (the page gets it at log-in): a form on another site can send the cookie's request but
cannot read or add that header. Five wrong tokens or session cookies from one address in a
minute lock it out for a minute.

Called on HTTP threads.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

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
SESSION_IDLE_SECONDS = 7 * 24 * 3600.0
"""A session unused this long ends: a phone left logged in for a week logs in again."""
MAX_SESSIONS = 100
"""Sessions kept at once; the one unused longest makes room for a new log-in."""
LOCKED_TOKEN_DELAY = 1.0
"""How long a token from a locked-out address waits before it is looked at."""


def same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass
class Session:
    csrf: str
    token: bytes
    """A digest of the admin token it was opened with: a new token ends it."""
    used: float


class Sessions:
    """The admin sessions this server has opened, by their random id (kept in memory only)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, Session] = {}

    def open(self, token: str) -> tuple[str, str]:
        """A new session for whoever showed `token`: its id (the cookie) and its CSRF token."""
        key, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._forget_stale(now)
            if len(self._open) >= MAX_SESSIONS:
                del self._open[min(self._open, key=lambda k: self._open[k].used)]
            self._open[key] = Session(csrf, _digest(token), now)
        return key, csrf

    def find(self, key: str, token: str) -> Session | None:
        """The session with id `key`, if it is open, fresh and of the admin token now."""
        now = time.monotonic()
        with self._lock:
            session = self._open.get(key)
            if session is None:
                return None
            if now - session.used > SESSION_IDLE_SECONDS or not hmac.compare_digest(
                session.token, _digest(token)
            ):
                del self._open[key]
                return None
            session.used = now
            return session

    def close(self, key: str) -> None:
        with self._lock:
            self._open.pop(key, None)

    def _forget_stale(self, now: float) -> None:
        """Drop sessions unused for too long (lock held)."""
        for key in [k for k, s in self._open.items() if now - s.used > SESSION_IDLE_SECONDS]:
            del self._open[key]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Lockout:
    """Wrong admin tokens by address: after `TRIES` within a minute, its guesses are refused
    for a minute (the right token and open sessions still pass)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}
        self.lane = threading.Lock()
        """Held while a token from a locked-out address is looked at: one at a time."""

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


def guessed(address: str, given: str, expected: str, what: str) -> Response | None:
    """None when `given` is the admin token, else the refusal. From an address that is locked
    out, one token at a time is looked at, after `LOCKED_TOKEN_DELAY` (the right one passes);
    any other is refused at once, so guessing stays slow and only one request waits."""
    lockout = web().lockout
    wait = lockout.retry_after(address)
    if not wait:
        return None if same(given, expected) else wrong_token(address, what)
    if not lockout.lane.acquire(blocking=False):
        return locked_out(wait)
    try:
        time.sleep(LOCKED_TOKEN_DELAY)
        right = same(given, expected)
    finally:
        lockout.lane.release()
    if right:
        log.info("Admin: the right token from %s, which is locked out for wrong ones", address)
        return None
    return locked_out(wait)


def locked_out(wait: int) -> Response:
    response = refusal(429, "too many wrong tokens: try again in a minute")
    response.headers["Retry-After"] = str(wait)
    return response


def wrong_token(address: str, what: str) -> Response:
    """A wrong admin token: counted towards the address's lockout, logged, refused."""
    web().lockout.failed(address)
    log.warning("Refused an admin %s from %s: wrong token", what, address)
    return refusal(401, "wrong admin token")


@admin_auth.before_app_request
def check_admin() -> Response | None:
    """The admin token (cookie or Bearer) for every admin API request but the log-in; the
    CSRF header too for a change made with the cookie. An open session passes even while its
    address is locked out: the lockout stops guesses, not the owner."""
    if not request.path.startswith("/api/admin/") or request.path == "/api/admin/login":
        return None
    expected = admin_token()
    address = client_address()
    given = bearer_token(request.headers.get("Authorization", ""))
    if given is not None:
        return guessed(address, given, expected, "request")
    cookie = request.cookies.get(COOKIE)
    if cookie is None:
        return refusal(401, "log in with the admin token first")
    session = web().sessions.find(cookie, expected)
    if session is None:
        wait = web().lockout.retry_after(address)
        if wait:
            return locked_out(wait)
        web().lockout.failed(address)
        if web().log_refusal(f"admin session {address}"):
            log.warning("Refused an admin request from %s: no such session", address)
        return refusal(401, "the session has ended: log in with the admin token again")
    if request.method in SAFE_METHODS:
        return None
    if not same(request.headers.get(CSRF_HEADER, ""), session.csrf):
        log.warning("Refused an admin change from %s: no CSRF token", address)
        return refusal(403, f"the {CSRF_HEADER} header is missing or wrong")
    return None


@admin_auth.post("/api/admin/login")
def login() -> Response:
    expected = admin_token()
    address = client_address()
    body = request.get_json(silent=True)
    given = body.get("token") if isinstance(body, dict) else None
    refused = guessed(address, given if isinstance(given, str) else "", expected, "log-in")
    if refused is not None:
        return refused
    log.info("Admin: logged in from %s", address)
    key, csrf = web().sessions.open(expected)
    response = jsonify(csrf=csrf)
    response.set_cookie(
        COOKIE,
        key,
        max_age=int(SESSION_IDLE_SECONDS),
        secure=came_over_https(),
        httponly=True,
        samesite="Strict",
        path="/",
    )
    return response


@admin_auth.get("/api/admin/session")
def session() -> Response:
    """The page's CSRF token, for a page opened with a session cookie (checked before this)."""
    found = web().sessions.find(request.cookies.get(COOKIE, ""), admin_token())
    return jsonify(csrf=found.csrf if found is not None else None)


@admin_auth.post("/api/admin/logout")
def logout() -> Response:
    web().sessions.close(request.cookies.get(COOKIE, ""))
    response = jsonify(ok=True)
    response.delete_cookie(COOKIE, path="/", secure=came_over_https(), samesite="Strict")
    return response


def came_over_https() -> bool:
    """The request came over HTTPS, here or to a proxy in front that says so: the cookie is
    then never sent over plain HTTP."""
    return request.is_secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"
