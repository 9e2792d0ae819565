"""The HTTP face: for every channel the player page, the MJPEG stream, a snapshot and control;
status and health for all; the admin page, the screenshot API and the sound when they are given.

The default channel is served at `/`, `/stream`, `/snapshot.jpg` and `/api/...` as before
channels existed; every channel also at `/c/<name>/...`; a TV known by id (`?tv=...`) at the
default paths, showing whatever channel `[tvs]` gives it now. The app reads hubs from a
`Channels` directory by name, a status callback and the settings; it knows nothing of how
frames are made. Each face is a blueprint of its own module; their views reach what they share
through the one `WebContext` on `app.extensions`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from flask import Flask

from ..browser.screenshot_service import ScreenshotService
from ..config import Settings
from ..logtext import OncePerMinute
from ..status import ServerStatus
from .access import MAX_BODY_BYTES, guards
from .admin import admin
from .admin_announcements import admin_announcements
from .admin_auth import Lockout, Sessions, admin_auth
from .admin_slides import admin_slides
from .audio import sound as sound_face
from .commands import commands
from .context import EXTENSION, AdminParts, Channels, SoundHubs, WebContext
from .fanout import FanOut
from .player import player
from .screenshots import screenshots as screenshot_api
from .snapshot import RenderSlots, SnapshotCache, snapshot
from .status import status as status_face
from .viewers import OpenStreams, Viewers


def create_app(
    channels: Channels,
    status: Callable[[], ServerStatus],
    settings: Callable[[], Settings],
    health: Callable[[], str | None] = lambda: None,
    screenshots: ScreenshotService | None = None,
    admin_parts: AdminParts | None = None,
    sound: SoundHubs | None = None,
    instance: str | None = None,
) -> Flask:
    """A Flask app serving every channel of `channels`; `status` and `settings` are read on
    every request. `channels.command` is called with "next", "previous", "pause" or "resume"
    when a phone on the LAN drives a show. `health` says what is wrong, or None when all is
    well, for `/healthz`. `screenshots` renders web pages for the screenshot API; `admin_parts`
    holds what the admin page needs besides the shows; `sound` gives each channel's sound;
    `instance` is the process's id (a new one when not given)."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions[EXTENSION] = WebContext(
        channels=channels,
        status=status,
        settings=settings,
        health=health,
        instance=instance or secrets.token_hex(8),
        screenshots=screenshots,
        admin=admin_parts,
        sound=sound,
        log_refusal=OncePerMinute(),
        fanout=FanOut(lambda: settings().stream.keepalive),
        viewers=Viewers(lambda: settings().server.max_streams_per_address),
        listeners=Viewers(lambda: settings().server.max_streams_per_address),
        open_streams=OpenStreams(),
        snapshots=SnapshotCache(),
        render_slots=RenderSlots(),
        lockout=Lockout(),
        sessions=Sessions(),
    )
    app.register_blueprint(guards)
    if screenshots is not None:
        app.register_blueprint(screenshot_api)
    if admin_parts is not None:
        for face in (admin_auth, admin, admin_slides, admin_announcements):
            app.register_blueprint(face)
    for face in (player, sound_face, snapshot, status_face, commands):
        app.register_blueprint(face)
    return app
