"""The admin page and API: run the show from a phone. Every channel with a live thumbnail, its
slides (upload, remove to the trash and back, order), its controls, its TV address with a QR
code, and announcements over one channel or all.

Off (404) while `[admin] token` is unset; `admin_auth` says who may use it. File work is the
`manage` package's; the web layer only checks, calls and answers.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast

from flask import Flask, Response, abort, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..announcements import MAX_MINUTES, MAX_TEXT, Announcement, Announcements
from ..config import DEFAULT_CHANNEL, Settings
from ..control import COMMANDS, SOURCES
from ..hub import FrameHub
from ..logtext import printable
from ..manage.files import FileRefused, restore_file, store_upload, trash_file, trash_list
from ..manage.schedule_edit import read_order, set_order, set_timing, show_order, timings
from ..qr import qr_svg
from ..render.imaging import convert_frame
from .access import NO_STORE, refusal
from .admin_auth import (
    COOKIE,
    CSRF_HEADER,
    SAFE_METHODS,
    Lockout,
    csrf_value,
    same,
    session_value,
)

log = logging.getLogger(__name__)

MAX_FILES = 50
"""Files in one upload request; a phone sends more as further requests."""
THUMBNAIL_WIDTH = 320
ADMIN_FILES = ("admin.html", "admin.js", "admin.css")
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class AdminChannels(Protocol):
    """What the admin API needs of the shows (the app's show registry)."""

    def watch(self, name: str) -> FrameHub: ...

    def command(self, name: str, action: str) -> None: ...

    def switch_source(self, name: str, source: str) -> None: ...


@dataclass(frozen=True)
class AdminParts:
    announcements: Announcements
    tv_address: Callable[[], str]
    """The address TVs open, `http://host:port/`."""


def add_admin(
    app: Flask,
    channels: AdminChannels,
    status: Callable[[], dict[str, Any]],
    settings: Callable[[], Settings],
    parts: AdminParts,
) -> None:
    """The admin page and API on `app`."""
    templates = resources.files(__package__).joinpath("templates")
    files = {name: templates.joinpath(name).read_bytes() for name in ADMIN_FILES}
    lockout = Lockout()

    def token() -> str:
        admin_token = settings().admin.token
        if admin_token is None:
            abort(404)
        return admin_token

    def folder_of(channel: str) -> Path:
        shows = settings().shows()
        if channel not in shows:
            abort(refusal(404, f"no channel named {printable(channel, 40)}"))
        return shows[channel].slideshow.folder

    def said(error: FileRefused) -> Response:
        return refusal(error.status, error.reason)

    def who() -> str:
        return request.remote_addr or "?"

    def wrong_token(address: str, what: str) -> Response:
        """A wrong admin token: counted towards the address's lockout, logged, refused."""
        lockout.failed(address)
        log.warning("Refused an admin %s from %s: wrong token", what, address)
        return refusal(401, "wrong admin token")

    @app.before_request
    def check_admin() -> Response | None:
        """The admin token (cookie or Bearer) for every admin API request but the log-in; the
        CSRF header too for a change made with the cookie."""
        if not request.path.startswith("/api/admin/"):
            return None
        expected = token()
        address = who()
        wait = lockout.retry_after(address)
        if wait:
            response = refusal(429, "too many wrong tokens: try again in a minute")
            response.headers["Retry-After"] = str(wait)
            return response
        if request.path == "/api/admin/login":
            return None
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            if same(header.removeprefix("Bearer ").strip(), expected):
                return None
            return wrong_token(address, "request")
        if not same(request.cookies.get(COOKIE, ""), session_value(expected)):
            return refusal(401, "log in with the admin token first")
        if request.method in SAFE_METHODS:
            return None
        if not same(request.headers.get(CSRF_HEADER, ""), csrf_value(expected)):
            log.warning("Refused an admin change from %s: no CSRF token", address)
            return refusal(403, f"the {CSRF_HEADER} header is missing or wrong")
        return None

    @app.get("/admin")
    def admin_page() -> Response:
        token()
        return Response(
            files["admin.html"],
            mimetype="text/html",
            headers={**NO_STORE, "Content-Security-Policy": PAGE_POLICY},
        )

    @app.get("/admin.js")
    @app.get("/admin.css")
    def admin_asset() -> Response:
        token()
        name = request.path.lstrip("/")
        mimetype = "text/javascript" if name.endswith(".js") else "text/css"
        return Response(files[name], mimetype=mimetype, headers=NO_STORE)

    @app.post("/api/admin/login")
    def login() -> Response:
        expected = token()
        address = who()
        body = request.get_json(silent=True)
        given = body.get("token") if isinstance(body, dict) else None
        if not isinstance(given, str) or not same(given, expected):
            return wrong_token(address, "log-in")
        log.info("Admin: logged in from %s", address)
        response = jsonify(csrf=csrf_value(expected))
        response.set_cookie(
            COOKIE, session_value(expected), httponly=True, samesite="Strict", path="/"
        )
        return response

    @app.get("/api/admin/session")
    def session() -> Response:
        return jsonify(csrf=csrf_value(token()))

    @app.post("/api/admin/logout")
    def logout() -> Response:
        response = jsonify(ok=True)
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.get("/api/admin/channels")
    def channel_list() -> Response:
        shows = settings().shows()
        states = status().get("channels", {})
        address = parts.tv_address()
        listed = []
        for name, show in shows.items():
            state = states.get(name, {})
            listed.append(
                {
                    "name": name,
                    "url": address if name == DEFAULT_CHANNEL else f"{address}c/{name}/",
                    "source": state.get("source", show.stream.source),
                    "folder": str(show.slideshow.folder),
                    "slide": state.get("slide"),
                    "slides": state.get("slides", 0),
                    "paused": state.get("paused", False),
                    "clients": state.get("clients", 0),
                    "announcement": _announced(parts.announcements.current(name)),
                }
            )
        return jsonify(channels=listed)

    @app.get("/api/admin/channels/<channel>/slides")
    def slides(channel: str) -> Response:
        folder = folder_of(channel)
        if not folder.is_dir():
            return jsonify(slides=[], trash=[], error="the folder does not exist")
        order = show_order(folder, read_order(folder))
        return jsonify(slides=order, trash=trash_list(folder), timing=timings(folder))

    @app.post("/api/admin/channels/<channel>/slides")
    def upload(channel: str) -> Response:
        folder = folder_of(channel)
        limit = int(settings().admin.max_upload_mb * 1024 * 1024)
        request.max_content_length = limit
        try:
            files = request.files.getlist("file")
        except RequestEntityTooLarge:
            return refusal(
                413, f"over [admin] max_upload_mb ({settings().admin.max_upload_mb:g} MB)"
            )
        if not files:
            return refusal(400, "no file: send the field `file` (it may repeat)")
        if len(files) > MAX_FILES:
            return refusal(400, f"at most {MAX_FILES} files at once")
        stored, refused = [], []
        for item in files:
            try:
                body = cast(BinaryIO, item.stream)
                name = store_upload(folder, item.filename or "", body, limit, None)
            except FileRefused as error:
                refused.append({"name": item.filename, "reason": error.reason})
                if error.status == 507:
                    return refusal(507, error.reason)
                continue
            stored.append(name)
            log.info("Admin: uploaded %s to %s from %s", printable(name), channel, who())
        response = jsonify(stored=stored, refused=refused)
        response.status_code = 200 if stored or not refused else 400
        return response

    @app.delete("/api/admin/channels/<channel>/slides/<path:name>")
    def remove(channel: str, name: str) -> Response:
        try:
            trashed = trash_file(folder_of(channel), name)
        except FileRefused as error:
            return said(error)
        log.info("Admin: moved %s of %s to the trash, from %s", printable(name), channel, who())
        return jsonify(trashed=trashed)

    @app.post("/api/admin/channels/<channel>/slides/<path:name>/restore")
    def restore(channel: str, name: str) -> Response:
        try:
            restored = restore_file(folder_of(channel), name)
        except FileRefused as error:
            return said(error)
        log.info("Admin: restored %s of %s, from %s", printable(restored), channel, who())
        return jsonify(restored=restored)

    @app.put("/api/admin/channels/<channel>/order")
    def order(channel: str) -> Response:
        names = request.get_json(silent=True)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return refusal(400, "send a JSON list of the slides' file names")
        try:
            set_order(folder_of(channel), names)
        except FileRefused as error:
            return said(error)
        log.info("Admin: new order for %s, from %s", channel, who())
        return jsonify(order=names)

    @app.put("/api/admin/channels/<channel>/slides/<path:name>/timing")
    def timing(channel: str, name: str) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return refusal(400, 'send JSON: {"seconds", "days", "hours"}, each null for as usual')
        seconds, days, hours = body.get("seconds"), body.get("days"), body.get("hours")
        if seconds is not None and (
            isinstance(seconds, bool) or not isinstance(seconds, (int, float))
        ):
            return refusal(400, "seconds: a number above 0, or null for the usual interval")
        for key, value in (("days", days), ("hours", hours)):
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(v, str) for v in value)
            ):
                return refusal(400, f"{key}: a list of strings, or null for every {key[:-1]}")
        try:
            set_timing(folder_of(channel), name, seconds, days, hours)
        except FileRefused as error:
            return said(error)
        log.info("Admin: own time for %s of %s, from %s", printable(name), channel, who())
        return jsonify(timing={"duration": seconds, "days": days, "hours": hours})

    @app.post("/api/admin/channels/<channel>/source")
    def source(channel: str) -> Response:
        folder_of(channel)
        body = request.get_json(silent=True)
        wanted = body.get("source") if isinstance(body, dict) else None
        if wanted not in SOURCES:
            return refusal(400, "source: " + " or ".join(SOURCES))
        try:
            channels.switch_source(channel, wanted)
        except KeyError:
            return refusal(404, f"channel {channel} is not running")
        return jsonify(source=wanted, until="the next restart or config edit of this channel")

    @app.post("/api/admin/channels/<channel>/control")
    def control(channel: str) -> Response:
        folder_of(channel)
        body = request.get_json(silent=True)
        action = body.get("action") if isinstance(body, dict) else None
        if action not in COMMANDS:
            return refusal(400, "action: one of " + ", ".join(COMMANDS))
        channels.command(channel, action)
        log.info("Admin: %s on %s, from %s", action, channel, who())
        return jsonify(ok=True, action=action)

    @app.get("/api/admin/channels/<channel>/thumbnail.jpg")
    def thumbnail(channel: str) -> Response:
        folder_of(channel)
        hub = channels.watch(channel)
        with hub.demand():
            frame = hub.current(2.0)
        if frame is None:
            return refusal(503, "no frame yet")
        height = max(1, round(THUMBNAIL_WIDTH * frame.height / frame.width))
        body = convert_frame(frame.jpeg, (THUMBNAIL_WIDTH, height), "jpeg", 70)
        return Response(body, mimetype="image/jpeg", headers=NO_STORE)

    @app.get("/api/admin/channels/<channel>/qr.svg")
    def qr(channel: str) -> Response:
        folder_of(channel)
        address = parts.tv_address()
        url = address if channel == DEFAULT_CHANNEL else f"{address}c/{channel}/"
        return Response(qr_svg(url), mimetype="image/svg+xml", headers=NO_STORE)

    @app.post("/api/admin/announce")
    def announce() -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return refusal(400, 'send JSON: {"text", "channel", "minutes", "color"}')
        text = body.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            return refusal(400, f"text: 1 to {MAX_TEXT} characters")
        channel = body.get("channel")
        if channel is not None and (
            not isinstance(channel, str) or channel not in settings().shows()
        ):
            return refusal(400, "channel: the name of a channel, or null for all")
        minutes = body.get("minutes")
        if minutes is not None and (
            isinstance(minutes, bool)
            or not isinstance(minutes, (int, float))
            or not 0 < minutes <= MAX_MINUTES
        ):
            return refusal(400, f"minutes: above 0, at most {MAX_MINUTES}, or null (until cleared)")
        colour = body.get("color", "#c81e1e")
        if not isinstance(colour, str) or not _COLOUR.fullmatch(colour):
            return refusal(400, 'color: a colour like "#c81e1e"')
        until = None if minutes is None else time.time() + minutes * 60
        announcement = Announcement(
            " ".join(text.split()),
            (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)),
            channel,
            until,
        )
        parts.announcements.announce(announcement)
        where = channel or "every channel"
        log.info("Admin: announcement on %s: %s, from %s", where, printable(text, 80), who())
        return jsonify(_announced(announcement))

    @app.delete("/api/admin/announce")
    def clear() -> Response:
        channel = request.args.get("channel")
        known = settings().shows()
        if channel is not None and (not isinstance(channel, str) or channel not in known):
            return refusal(404, f"no channel named {printable(channel, 40)}")
        cleared = parts.announcements.clear(channel)
        log.info("Admin: announcement on %s cleared, from %s", channel or "every channel", who())
        return jsonify(cleared=cleared)


def _announced(announcement: Announcement | None) -> dict[str, object] | None:
    return announcement.as_json() if announcement else None
