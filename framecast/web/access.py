"""What every request passes before it is served: a `Host` of this machine, the token when one
is set, and for requests that change something, proof that no page on another site sent them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from urllib.parse import urlsplit

from flask import Blueprint, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..logtext import printable
from ..netinfo import is_ip_literal, machine_names, split_host
from .context import client_address, web
from .responses import refusal

log = logging.getLogger(__name__)

OPEN_PATHS = {"/healthz", "/player.js", "/favicon.ico"}
ADMIN_PAGES = {"/admin", "/admin.js", "/admin.css"}
"""Paths served without the token: health checks, the page's script (public code), and the
icon browsers ask for by themselves (there is none: 404)."""
STATE_CHANGING = {"POST", "PUT", "DELETE", "PATCH"}
CONTROL_HEADER = "X-Framecast"
"""A header no browser sends across sites without asking first (a CORS preflight, which this
server never grants), so a page elsewhere cannot drive the show."""
DEFAULT_PORTS = {"http": 80, "https": 443}


def content_security_policy(page: bytes) -> str:
    """Only this server's script, images, sound and status; the page's one inline style by its
    hash."""
    style = page.split(b"<style>", 1)[1].split(b"</style>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(style).digest()).decode()
    return (
        f"default-src 'none'; script-src 'self'; style-src 'sha256-{digest}'; img-src 'self'; "
        "media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


MAX_BODY_BYTES = 64 * 1024
"""The largest request body the app reads (JSON: a log-in, a batch of screenshots, an
announcement); a larger one is refused with 413 before it is read. Routes that take more say
so themselves (an upload, a folder's order)."""

guards = Blueprint("guards", __name__)
"""Checks the host, the token and the site of every request to the app, in that order."""


@guards.app_errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge) -> Response:
    limit = request.max_content_length or MAX_BODY_BYTES
    log_refused("body", f"a body over {limit // 1024} KB")
    return refusal(413, f"the request body is over {limit // 1024} KB")


def log_refused(kind: str, problem: str) -> None:
    """Log a refused request and why, at most once a minute per kind and client address."""
    address = client_address()
    if web().log_refusal(f"{kind} {address}"):
        log.warning(
            "Refused %s %s from %s: %s",
            request.method,
            printable(request.path, 100),
            address,
            problem,
        )


def bearer_token(header: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None for any other header."""
    if not header.startswith("Bearer "):
        return None
    return header.removeprefix("Bearer ").strip()


@guards.before_app_request
def check_host() -> Response | None:
    """Refuse a `Host` that is not this machine: a page whose name was made to resolve to
    this address (DNS rebinding) must not read the status or the snapshots."""
    header = request.headers.get("Host")
    if header is None or request.path == "/healthz":
        return None
    name = split_host(header)[0]
    server = web().settings().server
    allowed = server.allowed_hosts
    if (
        name == "localhost"
        or is_ip_literal(name)
        or name in (machine_names() if allowed is None else allowed)
        or _announced(name, server.name)
    ):
        return None
    shown = printable(name, 100)
    address = client_address()
    # Per host, and one name a minute per address: a client making up names cannot flood.
    if web().log_refusal(f"host {name[:100]}") and web().log_refusal(f"hosts from {address}"):
        log.warning(
            "Refused requests for host %s from %s: not a name of this machine "
            "(add it to [server] allowed_hosts if it is one)",
            shown,
            address,
        )
    return refusal(
        400,
        f"{shown} is not a name of this server: use its address, "
        "or add the name to [server] allowed_hosts in config.toml",
    )


@guards.before_app_request
def check_token() -> Response | None:
    token = web().settings().server.token
    if token is None or request.path in OPEN_PATHS or is_admin_path(request.path):
        return None
    given = bearer_token(request.headers.get("Authorization", ""))
    if given is None:
        given = request.args.get("token", "")
    if hmac.compare_digest(given.encode(), token.encode()):
        return None
    log_refused("token", "missing or wrong token")
    response = refusal(401, "a valid token is needed: add ?token=... to the address")
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


@guards.before_app_request
def check_same_site() -> Response | None:
    """Refuse a state-changing request that a page on another site could have made: one
    that names another site in Origin (or Referer), or is a plain form post. A form post
    needs no CORS preflight; a JSON body or a custom header does, and is never granted."""
    if request.method not in STATE_CHANGING or request.routing_exception is not None:
        return None
    origin = request.headers.get("Origin")
    source = "Origin" if origin is not None else "Referer"
    page = origin if origin is not None else request.headers.get("Referer")
    if page is not None and not _same_host(page, request.headers.get("Host", "")):
        problem = f"sent from a page on {printable(page, 100)} ({source})"
        error = "refused: this request came from a page on another site"
    elif not (
        request.mimetype == "application/json"
        or CONTROL_HEADER in request.headers
        or "Authorization" in request.headers
    ):
        problem = f"neither a JSON body nor the {CONTROL_HEADER} header"
        error = (
            f"send the header {CONTROL_HEADER}: 1 (or a JSON body), so that pages on "
            "other sites cannot do this"
        )
    else:
        return None
    log_refused("site", problem)
    return refusal(403, error)


def _announced(host: str, name: str) -> bool:
    """Whether `host` is a name mDNS may announce this server by: `name`.local, or
    `name`-2.local and so on when another machine had it first."""
    return re.fullmatch(rf"{re.escape(name)}(-\d+)?\.local", host) is not None


def is_admin_path(path: str) -> bool:
    """The admin page and API check the admin token themselves; the view token opens neither."""
    return path in ADMIN_PAGES or path.startswith("/api/admin/")


def _same_host(page: str, host_header: str) -> bool:
    """Whether the page at URL `page` (an Origin or a Referer) is on the host and port that the
    request's `Host` header names. A `Host` without a port matches the page scheme's default
    port: behind a TLS proxy the page is https and the `Host` still carries no port."""
    try:
        parts = urlsplit(page)
        page_port = parts.port
    except ValueError:
        return False
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return False
    name, port = split_host(host_header)
    if name != parts.hostname.lower().removesuffix("."):
        return False
    default = DEFAULT_PORTS[parts.scheme]
    if not port:
        return page_port in (None, default)
    return (
        port.isascii() and port.isdigit() and len(port) <= 5 and int(port) == (page_port or default)
    )
