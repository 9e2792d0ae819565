"""The admin page and the channels' part of its API: run the show from a phone. Every channel
with a live thumbnail, its controls and source, its TV address with a QR code. Its slides are
in `admin_slides`, its announcements in `admin_announcements`.

Off (404) while `[admin] token` is unset; `admin_auth` says who may use it.
"""

from __future__ import annotations

import functools
import logging
from importlib import resources

from flask import Blueprint, Response, abort, jsonify, request

from ..announcements import Announcement
from ..config import DEFAULT_CHANNEL
from ..control import COMMANDS, SOURCES, Unreachable
from ..qr import qr_svg
from ..render.imaging import convert_frame
from .admin_auth import admin_token
from .context import AdminParts, channel_folder, client_address, web
from .responses import NO_STORE, refusal, unreachable

log = logging.getLogger(__name__)

THUMBNAIL_WIDTH = 320
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

admin = Blueprint("admin", __name__)


@functools.cache
def admin_file(name: str) -> bytes:
    """A file of the admin page (read once per process: they ship with the code)."""
    return resources.files(__package__).joinpath("templates", name).read_bytes()


def admin_parts() -> AdminParts:
    parts = web().admin
    if parts is None:
        abort(404)
    return parts


def chosen(field: str, allowed: tuple[str, ...]) -> str | None:
    """The JSON body's `field` when it is one of `allowed`, else None."""
    body = request.get_json(silent=True)
    value = body.get(field) if isinstance(body, dict) else None
    return value if value in allowed else None


def announced(announcement: Announcement | None) -> dict[str, object] | None:
    return announcement.as_json() if announcement else None


@admin.get("/admin")
def admin_page() -> Response:
    admin_token()
    return Response(
        admin_file("admin.html"),
        mimetype="text/html",
        headers={**NO_STORE, "Content-Security-Policy": PAGE_POLICY},
    )


@admin.get("/admin.js")
@admin.get("/admin.css")
def admin_asset() -> Response:
    admin_token()
    name = request.path.lstrip("/")
    mimetype = "text/javascript" if name.endswith(".js") else "text/css"
    return Response(admin_file(name), mimetype=mimetype, headers=NO_STORE)


@admin.get("/api/admin/channels")
def channel_list() -> Response:
    shows = web().settings().shows()
    states = web().status().channels
    address = admin_parts().tv_address()
    listed = []
    for name, show in shows.items():
        state = states.get(name, {})
        hub = web().channels.hub(name)
        listed.append(
            {
                "name": name,
                "url": address if name == DEFAULT_CHANNEL else f"{address}c/{name}/",
                "source": state.get("source", show.stream.source),
                "stream": show.stream.url is not None,
                "folder": str(show.slideshow.folder),
                "slide": state.get("slide"),
                "slides": state.get("slides", 0),
                "paused": state.get("paused", False),
                "clients": hub.clients if hub is not None else 0,
                "announcement": announced(admin_parts().announcements.current(name)),
            }
        )
    return jsonify(channels=listed)


@admin.post("/api/admin/channels/<channel>/source")
def source(channel: str) -> Response:
    channel_folder(channel)
    wanted = chosen("source", SOURCES)
    if wanted is None:
        return refusal(400, "source: " + " or ".join(SOURCES))
    try:
        web().channels.switch_source(channel, wanted)
    except KeyError:
        return refusal(404, f"channel {channel} is not running")
    except ValueError as refused:
        return refusal(400, str(refused))
    except Unreachable as away:
        return unreachable(away)
    return jsonify(source=wanted, until="the next restart or config edit of this channel")


@admin.post("/api/admin/channels/<channel>/control")
def control(channel: str) -> Response:
    channel_folder(channel)
    action = chosen("action", COMMANDS)
    if action is None:
        return refusal(400, "action: one of " + ", ".join(COMMANDS))
    try:
        web().channels.command(channel, action)
    except Unreachable as away:
        return unreachable(away)
    log.info("Admin: %s on %s, from %s", action, channel, client_address())
    return jsonify(ok=True, action=action)


@admin.get("/api/admin/channels/<channel>/thumbnail.jpg")
def thumbnail(channel: str) -> Response:
    channel_folder(channel)
    hub = web().channels.watch(channel)
    with hub.demand():
        frame = hub.current(2.0)
    if frame is None:
        return refusal(503, "no frame yet")
    height = max(1, round(THUMBNAIL_WIDTH * frame.height / frame.width))
    body = convert_frame(frame.jpeg, (THUMBNAIL_WIDTH, height), "jpeg", 70)
    return Response(body, mimetype="image/jpeg", headers=NO_STORE)


@admin.get("/api/admin/channels/<channel>/qr.svg")
def qr(channel: str) -> Response:
    channel_folder(channel)
    address = admin_parts().tv_address()
    url = address if channel == DEFAULT_CHANNEL else f"{address}c/{channel}/"
    return Response(qr_svg(url), mimetype="image/svg+xml", headers=NO_STORE)
