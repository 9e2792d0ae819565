"""The admin API's slides of a channel: list, upload, remove to the trash and back, order, and a
slide's own time. File work is the `manage` package's; this only checks, calls and answers."""

from __future__ import annotations

import logging
from typing import BinaryIO, cast

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..logtext import printable
from ..manage.files import (
    FileRefused,
    restore_file,
    store_upload,
    trash_file,
    trash_list,
    write_refused,
)
from ..manage.schedule_edit import read_order, set_order, set_timing, show_order, timings
from .context import channel_folder, client_address, web
from .responses import refusal

log = logging.getLogger(__name__)

MAX_FILES = 50
"""Files in one upload request; a phone sends more as further requests."""
MAX_ORDER_BYTES = 4 * 1024 * 1024
"""A folder's order: every file name of a large folder, in JSON."""

admin_slides = Blueprint("admin_slides", __name__)


def said(error: FileRefused) -> Response:
    """The refusal as JSON; one that is the server's own trouble, not the request's, is also
    logged."""
    if error.status >= 500:
        log.warning("Admin: %s", error.reason)
    return refusal(error.status, error.reason)


@admin_slides.errorhandler(OSError)
def not_written(error: OSError) -> Response:
    """A change the folder did not take (read-only, no permission, a file gone meanwhile): JSON
    that says which folder and what to do, and one log line, never an HTML 500."""
    channel = str((request.view_args or {}).get("channel", ""))
    return said(write_refused(error, channel_folder(channel)))


@admin_slides.get("/api/admin/channels/<channel>/slides")
def slides(channel: str) -> Response:
    folder = channel_folder(channel)
    if not folder.is_dir():
        return jsonify(slides=[], trash=[], error="the folder does not exist")
    order = show_order(folder, read_order(folder))
    return jsonify(slides=order, trash=trash_list(folder), timing=timings(folder))


@admin_slides.post("/api/admin/channels/<channel>/slides")
def upload(channel: str) -> Response:
    folder = channel_folder(channel)
    settings = web().settings()
    limit = int(settings.admin.max_upload_mb * 1024 * 1024)
    max_pixels = round(settings.shows()[channel].slideshow.max_megapixels * 1_000_000)
    request.max_content_length = limit
    try:
        files = request.files.getlist("file")
    except RequestEntityTooLarge:
        return refusal(413, f"over [admin] max_upload_mb ({settings.admin.max_upload_mb:g} MB)")
    if not files:
        return refusal(400, "no file: send the field `file` (it may repeat)")
    if len(files) > MAX_FILES:
        return refusal(400, f"at most {MAX_FILES} files at once")
    stored, refused = [], []
    for item in files:
        try:
            body = cast(BinaryIO, item.stream)
            name = store_upload(folder, item.filename or "", body, limit, None, max_pixels)
        except FileRefused as error:
            refused.append({"name": item.filename, "reason": error.reason})
            if error.status >= 500:
                return said(error)
            continue
        stored.append(name)
        log.info("Admin: uploaded %s to %s from %s", printable(name), channel, client_address())
    response = jsonify(stored=stored, refused=refused)
    response.status_code = 200 if stored or not refused else 400
    return response


@admin_slides.delete("/api/admin/channels/<channel>/slides/<path:name>")
def remove(channel: str, name: str) -> Response:
    try:
        trashed = trash_file(channel_folder(channel), name)
    except FileRefused as error:
        return said(error)
    log.info(
        "Admin: moved %s of %s to the trash, from %s", printable(name), channel, client_address()
    )
    return jsonify(trashed=trashed)


@admin_slides.post("/api/admin/channels/<channel>/slides/<path:name>/restore")
def restore(channel: str, name: str) -> Response:
    try:
        restored = restore_file(channel_folder(channel), name)
    except FileRefused as error:
        return said(error)
    log.info("Admin: restored %s of %s, from %s", printable(restored), channel, client_address())
    return jsonify(restored=restored)


@admin_slides.put("/api/admin/channels/<channel>/order")
def order(channel: str) -> Response:
    request.max_content_length = MAX_ORDER_BYTES
    names = request.get_json(silent=True)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return refusal(400, "send a JSON list of the slides' file names")
    try:
        set_order(channel_folder(channel), names)
    except FileRefused as error:
        return said(error)
    log.info("Admin: new order for %s, from %s", channel, client_address())
    return jsonify(order=names)


@admin_slides.put("/api/admin/channels/<channel>/slides/<path:name>/timing")
def timing(channel: str, name: str) -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return refusal(400, 'send JSON: {"seconds", "days", "hours"}, each null for as usual')
    seconds, days, hours = body.get("seconds"), body.get("days"), body.get("hours")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))):
        return refusal(400, "seconds: a number above 0, or null for the usual interval")
    for key, value in (("days", days), ("hours", hours)):
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, str) for v in value)
        ):
            return refusal(400, f"{key}: a list of strings, or null for every {key[:-1]}")
    try:
        set_timing(channel_folder(channel), name, seconds, days, hours)
    except FileRefused as error:
        return said(error)
    log.info("Admin: own time for %s of %s, from %s", printable(name), channel, client_address())
    return jsonify(timing={"duration": seconds, "days": days, "hours": hours})
