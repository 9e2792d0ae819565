"""What every view reaches through one object on `app.extensions`: the shows' directory, the
status and health callbacks, the settings, and the state the views share (the fan-out thread,
the viewers, the snapshot cache). The app factory builds it once per app; views read it with
`web()` on their HTTP thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from flask import abort, current_app, request

from ..announcements import Announcements
from ..audio.audio_hub import AudioHub
from ..browser.screenshot_service import ScreenshotService
from ..config import DEFAULT_CHANNEL, TV_ID, Settings
from ..hub import FrameHub
from ..logtext import OncePerMinute, printable
from ..status import ServerStatus
from .fanout import FanOut
from .responses import refusal
from .viewers import OpenStreams, Viewers

if TYPE_CHECKING:  # state of the admin and snapshot views, whose modules import this one
    from .admin_auth import Lockout, Sessions
    from .snapshot import RenderSlots, SnapshotCache

EXTENSION = "framecast"


class Channels(Protocol):
    """What the web layer needs of the shows: hubs by channel name, and control."""

    def names(self) -> list[str]: ...

    def hub(self, name: str) -> FrameHub | None: ...

    def watch(self, name: str) -> FrameHub: ...

    def channel_of(self, tv: str) -> str: ...

    def assigned(self, tv: str) -> bool: ...

    def clients(self) -> int: ...

    def command(self, name: str, action: str) -> None: ...

    def switch_source(self, name: str, source: str) -> None: ...


class SoundHubs(Protocol):
    """What the web layer needs of the sound: a channel's hub in a format, and its status."""

    def hub(self, channel: str, fmt: str) -> AudioHub | None: ...

    def status(self, channel: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class AdminParts:
    """What the admin page needs besides the shows."""

    announcements: Announcements
    tv_address: Callable[[], str]
    """The address TVs open, `http://host:port/`."""


@dataclass(frozen=True)
class WebContext:
    channels: Channels
    status: Callable[[], ServerStatus]
    """What `/status` says, apart from streams, viewers and sound (added by the web layer)."""
    settings: Callable[[], Settings]
    health: Callable[[], str | None]
    """What is wrong, or None when all is well, for `/healthz`."""
    instance: str
    """This process's id: in `/status` and in every snapshot's ETag."""
    screenshots: ScreenshotService | None
    admin: AdminParts | None
    sound: SoundHubs | None
    log_refusal: OncePerMinute
    fanout: FanOut
    viewers: Viewers
    """Every stream open now."""
    listeners: Viewers
    """Every sound listener connected now, held to the same caps as streams."""
    open_streams: OpenStreams
    snapshots: SnapshotCache
    render_slots: RenderSlots
    lockout: Lockout
    """Wrong admin tokens by address."""
    sessions: Sessions
    """The admin sessions open now."""


def web() -> WebContext:
    """The context of the app serving this request."""
    return cast(WebContext, current_app.extensions[EXTENSION])


def known(name: str) -> str:
    """`name` if it is a channel now; otherwise the request ends with 404."""
    if web().channels.hub(name) is None:
        abort(404)
    return name


def wanted_channel(name: str | None) -> tuple[str, str | None]:
    """The channel a request is for, and its TV id: the path's channel, else `?tv=`'s."""
    if name is not None:
        return known(name), None
    tv = request.args.get("tv")
    if tv is None:
        return DEFAULT_CHANNEL, None
    if not TV_ID.fullmatch(tv):
        abort(refusal(400, "tv: expected 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-'"))
    return web().channels.channel_of(tv), tv


def channel_folder(channel: str) -> Path:
    """The slide folder of `channel`; a request for another name ends with 404."""
    shows = web().settings().shows()
    if channel not in shows:
        abort(refusal(404, f"no channel named {printable(channel, 40)}"))
    return shows[channel].slideshow.folder


def client_address() -> str:
    return request.remote_addr or "?"


def connections() -> int:
    """Streams and sound listeners open now: each holds one of `[server] max_clients`."""
    context = web()
    return context.channels.clients() + context.listeners.count()
