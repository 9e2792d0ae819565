"""The screenshot API: `GET /api/screenshot` renders one page and answers the image,
`POST /api/screenshots` renders a JSON list of up to `MAX_BATCH` at once and answers them as
base64 in JSON. Off (404) unless `[web] api = true`; behind the token like every path.

Parameters are checked strictly: a bad one is a 400 naming it and what is allowed. The
renderings themselves are the `ScreenshotService`'s business; a rendering that fails is answered
with JSON saying why, under the status `STATUS` gives its kind of failure, never a bare 500.
"""

from __future__ import annotations

import base64
import logging
import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from ..browser.engine import (
    BrowserUnavailable,
    Format,
    PageCrashed,
    PageError,
    PageRefused,
    PageTimeout,
    Shot,
)
from ..browser.screenshot_service import IN_FLIGHT, Screenshot, ScreenshotService
from ..render.imaging import UnreadableImage
from ..render.shortcut import checked_url
from .context import client_address, web
from .responses import refusal
from .snapshot import BadParameter

log = logging.getLogger(__name__)

MAX_BATCH = 10
MAX_URL = 2000
MAX_SIZE = (3840, 2160)
MAX_DELAY_MS = 10_000
FORMATS: dict[str, Format] = {"jpeg": "jpeg", "jpg": "jpeg", "png": "png", "webp": "webp"}
MIMETYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
STATUS: dict[type[PageError], int] = {
    PageRefused: 403,
    PageCrashed: 422,
    PageTimeout: 504,
    BrowserUnavailable: 503,
}
"""The status of a failed rendering by its kind: 422 for a page too big to draw (it ran out of
the memory a page may use: asking again will not help); any other failure of the page is a 502
(the page, not this server, failed)."""
_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")


def parse_shot(args: Mapping[str, Any]) -> Shot:
    """A rendering request from query parameters or a JSON object; raises BadParameter."""
    url = args.get("url")
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise BadParameter("url", f"an http:// or https:// address of at most {MAX_URL} characters")
    try:
        checked_url(url)
    except UnreadableImage:
        raise BadParameter("url", "an http:// or https:// address with a host") from None
    fmt = FORMATS.get(str(args.get("format", "png")).lower())
    if fmt is None:
        raise BadParameter("format", "jpeg, png or webp")
    return Shot(
        url,
        _whole(args, "width", 1, MAX_SIZE[0], 1920),
        _whole(args, "height", 1, MAX_SIZE[1], 1080),
        fmt,
        _flag(args, "full_page"),
        _whole(args, "delay", 0, MAX_DELAY_MS, 0),
    )


def _whole(args: Mapping[str, Any], name: str, low: int, high: int, default: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if not (isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 6):
        raise BadParameter(name, f"a whole number from {low} to {high}")
    if not low <= int(text) <= high:
        raise BadParameter(name, f"a whole number from {low} to {high}")
    return int(text)


def _flag(args: Mapping[str, Any], name: str) -> bool:
    raw = args.get(name, False)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in _TRUE + _FALSE:
        return raw.lower() in _TRUE
    raise BadParameter(name, "true or false")


screenshots = Blueprint("screenshots", __name__)


@screenshots.before_request
def check_on() -> None:
    """The API is off (404) unless `[web] api = true`."""
    if not web().settings().web.api:
        abort(404)


def service() -> ScreenshotService:
    made = web().screenshots
    if made is None:
        abort(404)
    return made


def busy() -> Response:
    context = web()
    address = client_address()
    if context.log_refusal(f"screenshots busy {address}"):
        log.warning(
            "Refused screenshots for %s: %d renderings already asked for", address, IN_FLIGHT
        )
    response = refusal(429, f"at most {IN_FLIGHT} renderings at once: retry later")
    response.headers["Retry-After"] = str(math.ceil(context.settings().web.timeout))
    return response


def bad(error: BadParameter, index: int | None = None) -> Response:
    body: dict[str, Any] = {
        "error": str(error),
        "parameter": error.name,
        "allowed": error.allowed,
    }
    if index is not None:
        body["index"] = index
    response = jsonify(body)
    response.status_code = 400
    return response


@screenshots.get("/api/screenshot")
def screenshot() -> Response:
    renderer = service()
    try:
        shot = parse_shot(request.args)
    except BadParameter as error:
        return bad(error)
    if not renderer.take(1):
        return busy()
    try:
        made = renderer.shoot(shot)
    except PageError as error:
        return refusal(status_of(error), str(error))
    finally:
        renderer.give_back(1)
    headers = _headers(made, web().settings().web.cache_seconds)
    if made.etag in request.headers.get("If-None-Match", ""):
        return Response(status=304, headers=headers)
    return Response(made.data, mimetype=MIMETYPES[shot.format], headers=headers)


@screenshots.post("/api/screenshots")
def batch() -> Response:
    renderer = service()
    items = request.get_json(silent=True)
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        return bad(BadParameter("body", f"a JSON list of 1 to {MAX_BATCH} requests"))
    shots = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            return bad(BadParameter("body", "each request a JSON object"), index)
        try:
            shots.append(parse_shot(item))
        except BadParameter as error:
            return bad(error, index)
    if not renderer.take(len(shots)):
        return busy()
    try:
        with ThreadPoolExecutor(len(shots), thread_name_prefix="screenshot") as pool:
            results = list(pool.map(lambda shot: _result(renderer, shot), shots))
    finally:
        renderer.give_back(len(shots))
    return jsonify(screenshots=results)


def _result(service: ScreenshotService, shot: Shot) -> dict[str, Any]:
    """One item of a batch's answer (a thread of the batch's pool)."""
    described = {
        "url": shot.url,
        "width": shot.width,
        "height": shot.height,
        "format": shot.format,
        "full_page": shot.full_page,
    }
    try:
        made = service.shoot(shot)
    except PageError as error:
        return {**described, "status": status_of(error), "error": str(error)}
    return {
        **described,
        "status": 200,
        "image": base64.b64encode(made.data).decode("ascii"),
        "etag": made.etag,
        "cached": made.cached,
        "note": made.note,
    }


def status_of(error: PageError) -> int:
    """The HTTP status that tells a client how `error` failed (see `STATUS`)."""
    return next((status for kind, status in STATUS.items() if isinstance(error, kind)), 502)


def _headers(made: Screenshot, cache_seconds: float) -> dict[str, str]:
    headers = {
        "ETag": made.etag,
        "Cache-Control": f"private, max-age={int(cache_seconds)}",
        "X-Framecast-Cache": "hit" if made.cached else "miss",
    }
    if made.note:
        headers["X-Framecast-Note"] = made.note
    return headers
