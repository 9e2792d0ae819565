"""The admin API's announcements: a banner over one channel or all, for some minutes or until
cleared."""

from __future__ import annotations

import logging
import re
import time

from flask import Blueprint, Response, jsonify, request

from ..announcements import MAX_MINUTES, MAX_TEXT, Announcement
from ..logtext import printable
from .admin import admin_parts, announced
from .context import client_address, web
from .responses import refusal

log = logging.getLogger(__name__)

_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")

admin_announcements = Blueprint("admin_announcements", __name__)


@admin_announcements.post("/api/admin/announce")
def announce() -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return refusal(400, 'send JSON: {"text", "channel", "minutes", "color"}')
    text = body.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        return refusal(400, f"text: 1 to {MAX_TEXT} characters")
    channel = body.get("channel")
    if channel is not None and (
        not isinstance(channel, str) or channel not in web().settings().shows()
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
    admin_parts().announcements.announce(announcement)
    where = channel or "every channel"
    log.info("Admin: announcement on %s: %s, from %s", where, printable(text, 80), client_address())
    return jsonify(announced(announcement))


@admin_announcements.delete("/api/admin/announce")
def clear() -> Response:
    channel = request.args.get("channel")
    known = web().settings().shows()
    if channel is not None and (not isinstance(channel, str) or channel not in known):
        return refusal(404, f"no channel named {printable(channel, 40)}")
    cleared = admin_parts().announcements.clear(channel)
    log.info(
        "Admin: announcement on %s cleared, from %s", channel or "every channel", client_address()
    )
    return jsonify(cleared=cleared)
