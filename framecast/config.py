"""`config.toml` parsed once into frozen, validated settings.

Each setting is declared once, on its section's dataclass: its TOML key (the field's name), its
default, the check its value passes (`checked_by`), and whether a channel table may set it (the
section's `PER_CHANNEL`). The tables the parser accepts are derived from those declarations.

Every key is checked at load: an unknown key (a typo) or a bad value is an error that names the
table, the key, the value and what is allowed, so a reload that fails can keep the last good
settings and say exactly why. A file with no settings at all (empty, or only comments) is an
error too: an editor saving in place passes through that state, and applying it would drop the
token.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar

from .checks import (
    Check,
    Colour,
    Region,
    boolean,
    choice,
    clock_format,
    colour,
    fps,
    host_label,
    hosts,
    integer,
    live_url,
    monitor,
    number,
    quarter_turn,
    region,
    text,
    token,
)
from .control import SOURCES, SourceName
from .logtext import printable, redacted_url


class ConfigError(ValueError):
    """The config file cannot be used; the message says where and why."""


def checked_by(check: Check) -> dict[str, Check]:
    """A setting's field metadata: the check its TOML value passes."""
    return {"check": check}


@dataclass(frozen=True)
class ServerSettings:
    TABLE: ClassVar[str] = "server"
    PER_CHANNEL: ClassVar[bool] = False
    host: str = field(default="0.0.0.0", metadata=checked_by(text))
    port: int = field(default=8000, metadata=checked_by(integer(1, 65535)))
    max_clients: int = field(default=500, metadata=checked_by(integer(1, 100_000)))
    """Open streams at most; the next one is answered 503 with Retry-After."""
    max_streams_per_address: int = field(default=4, metadata=checked_by(integer(1, 10_000)))
    """Streams one address may hold; a further one ends its oldest (a TV in a reload loop).
    Loopback addresses (a reverse proxy on this machine) are not capped."""
    client_timeout: float = field(default=30.0, metadata=checked_by(number(1, 3600)))
    """A client whose socket takes no data for this long is dropped (Wi-Fi gone, no TCP close)."""
    token: str | None = field(default=None, repr=False, metadata=checked_by(token))
    """When set, every page, stream, snapshot and status request must carry it."""
    snapshot_workers: int = field(default=2, metadata=checked_by(integer(1, 64)))
    """Snapshots at another size or format rendered at once; further ones get 429."""
    mdns: bool = field(default=False, metadata=checked_by(boolean))
    """Announce the server on the LAN as `name`.local (the service unit turns it on)."""
    name: str = field(default="framecast", metadata=checked_by(host_label))
    """The name announced by mDNS: `framecast` is http://framecast.local:8000/."""
    allowed_hosts: tuple[str, ...] | None = field(default=None, metadata=checked_by(hosts))
    """`Host` header values served; None = this machine's names and addresses, localhost and
    any IP literal (refuses DNS rebinding)."""


@dataclass(frozen=True)
class StreamSettings:
    TABLE: ClassVar[str] = "stream"
    PER_CHANNEL: ClassVar[bool] = True
    source: SourceName = field(default="slideshow", metadata=checked_by(choice(*SOURCES)))
    width: int = field(default=1920, metadata=checked_by(integer(16, 7680)))
    height: int = field(default=1080, metadata=checked_by(integer(16, 4320)))
    quality: int = field(default=80, metadata=checked_by(integer(1, 95)))
    keepalive: float = field(default=20.0, metadata=checked_by(number(1, 300)))
    rotate: int = field(default=0, metadata=checked_by(quarter_turn))
    """Degrees the TV panel is turned clockwise (0, 90, 180, 270): frames are composed for the
    turned panel and turned back, so the picture stands upright on it."""
    max_fps: float = field(default=30.0, metadata=checked_by(number(1, 60)))
    """The most frames per second a clip, an animation or a live stream is played at; faster ones
    drop frames."""
    url: str | None = field(default=None, repr=False, metadata=checked_by(live_url))
    """What `source = "url"` shows: a camera or stream (http(s) MJPEG, HLS, MP4, rtsp://,
    /dev/videoN). It may carry credentials: shown only through `redacted_url`."""
    url_timeout: float = field(default=10.0, metadata=checked_by(number(1, 300)))
    """Seconds without a packet from `url` before the stream counts as stalled and is opened
    again; above the longest pause the stream makes on purpose (a Framecast's keepalive)."""


@dataclass(frozen=True)
class SlideshowSettings:
    TABLE: ClassVar[str] = "slideshow"
    PER_CHANNEL: ClassVar[bool] = True
    folder: Path = field(default=Path("images"), metadata=checked_by(text))
    interval: float = field(default=5.0, metadata=checked_by(number(0.01, 86400)))
    order: str = field(default="name", metadata=checked_by(choice("name", "mtime", "shuffle")))
    fit: str = field(default="contain", metadata=checked_by(choice("contain", "cover", "blur")))
    background: Colour = field(default=(0, 0, 0), metadata=checked_by(colour))
    recursive: bool = field(default=False, metadata=checked_by(boolean))
    new_first: bool = field(default=True, metadata=checked_by(boolean))
    """A file that arrives while running is shown at once, then the normal order goes on."""
    transition: str = field(default="fade", metadata=checked_by(choice("fade", "none")))
    transition_seconds: float = field(default=0.8, metadata=checked_by(number(0, 10)))
    transition_fps: float = field(default=25.0, metadata=checked_by(number(1, 60)))
    prepare_timeout: float = field(default=10.0, metadata=checked_by(number(0.5, 600)))
    """A slide whose decoding and scaling takes longer than this is skipped."""
    max_megapixels: float = field(default=50.0, metadata=checked_by(number(1, 178)))
    """Larger images are refused before they are decoded: bounds the memory of one slide."""
    follow_symlinks: str = field(default="inside", metadata=checked_by(choice("inside", "all")))
    """"inside": a link is shown only when its target is inside the folder; "all": any target."""


SECRET_KEYS = {"token"}
"""Keys whose values never appear in a message or a log line."""
URL_KEYS = {"url"}
"""Keys whose values appear in a message only with their credentials hidden."""
SHOWN_CHARACTERS = 80
"""A bad value or key is echoed in messages cut to this length: it may be megabytes long."""


@dataclass(frozen=True)
class ScreenSettings:
    TABLE: ClassVar[str] = "screen"
    PER_CHANNEL: ClassVar[bool] = True
    monitor: int | str = field(default=1, metadata=checked_by(monitor))
    """mss numbering (1 = first monitor, 0 = all combined), or an output name like "HDMI-1"."""
    region: Region | None = field(default=None, metadata=checked_by(region))
    """[left, top, width, height] within the monitor; None = the whole monitor."""
    fps: float = field(default=15.0, metadata=checked_by(fps))
    """Frames per second to capture; values above MAX_FPS are capped when used."""
    quality: int | None = field(default=None, metadata=checked_by(integer(1, 95)))
    """JPEG quality for screen frames; None = [stream] quality."""
    backend: str = field(
        default="auto", metadata=checked_by(choice("auto", "x11", "wlroots", "mss"))
    )
    """How the screen is captured: "x11" (X DAMAGE: an unchanged screen is not grabbed),
    "wlroots" (wlr-screencopy with damage: sway, labwc, wayfire), "mss" (grab and compare:
    Windows, macOS), "auto" (wlroots where the Wayland compositor offers it, else x11 where
    DISPLAY is set and X loads, else mss)."""


@dataclass(frozen=True)
class OverlaySettings:
    TABLE: ClassVar[str] = "overlay"
    PER_CHANNEL: ClassVar[bool] = True
    clock: str | None = field(
        default=None,
        metadata=checked_by(choice("top-left", "top-right", "bottom-left", "bottom-right")),
    )
    """A corner ("top-left", "top-right", "bottom-left", "bottom-right"), or None for no clock."""
    clock_format: str = field(default="%H:%M", metadata=checked_by(clock_format))
    caption: str | None = field(default=None, metadata=checked_by(choice("name")))
    """"name": the file name without its extension; None for no caption."""
    font_size: int | None = field(default=None, metadata=checked_by(integer(6, 400)))
    """Pixels; None = in proportion to the frame's height."""


@dataclass(frozen=True)
class WebSettings:
    """Web pages as slides (`.url` and `.html` files) and the screenshot API, for all channels:
    they share one browser."""

    TABLE: ClassVar[str] = "web"
    PER_CHANNEL: ClassVar[bool] = False
    refresh: float = field(default=300.0, metadata=checked_by(number(1, 86400)))
    """A web slide is rendered again when it comes on and its rendering is older than this."""
    timeout: float = field(default=15.0, metadata=checked_by(number(1, 120)))
    """A page not loaded and drawn within this many seconds is given up (its tab closed)."""
    chromium: str | None = field(default=None, metadata=checked_by(text))
    """The Chromium program; None = `chromium` (or `chromium-browser`) on PATH."""
    api: bool = field(default=False, metadata=checked_by(boolean))
    """Serve `/api/screenshot` and `/api/screenshots` (with the token, when one is set)."""
    cache_seconds: float = field(default=300.0, metadata=checked_by(number(0, 86400)))
    """The API answers a repeat of the same request from its cache for this long."""
    allow_private: bool = field(default=False, metadata=checked_by(boolean))
    """Let the API render pages on this machine and the LAN (loopback, private, link-local)."""


@dataclass(frozen=True)
class AdminSettings:
    """The admin page and API (run the show from a phone): off while `token` is unset."""

    TABLE: ClassVar[str] = "admin"
    PER_CHANNEL: ClassVar[bool] = False
    token: str | None = field(default=None, repr=False, metadata=checked_by(token))
    """Opens /admin and /api/admin/*; the view token ([server] token) does not."""
    max_upload_mb: float = field(default=500.0, metadata=checked_by(number(1, 100_000)))
    """The largest upload, in megabytes."""


@dataclass(frozen=True)
class AudioSettings:
    """Sound for the TVs. A channel sets its own in a `[channels.NAME.audio]` table: `source`
    and `format` would be read as the picture's keys in the channel's flat table."""

    TABLE: ClassVar[str] = "audio"
    PER_CHANNEL: ClassVar[bool] = False
    source: str = field(
        default="none", metadata=checked_by(choice("none", "system", "mic", "both"))
    )
    """"system": what this machine plays; "mic": its default input; "both": the two mixed."""
    format: str = field(default="wav", metadata=checked_by(choice("wav", "mp3")))
    """"wav": PCM, 1.5 Mbit/s and almost no CPU; "mp3": `bitrate` kbit/s, for weak Wi-Fi."""
    bitrate: int = field(default=320, metadata=checked_by(integer(64, 320)))
    """MP3 kbit/s (LAME takes the nearest standard rate). Lower rates come later: browsers
    read a stream in chunks (Chromium 32 KB, 0.8 s at 320 kbit/s, 2 s at 128)."""
    clips: bool = field(default=False, metadata=checked_by(boolean))
    """Video clips in a slideshow play their own sound, mixed into the channel's."""
    system_device: str | None = field(default=None, metadata=checked_by(text))
    """The PulseAudio source "system" captures; None = the default output's monitor."""
    mic_device: str | None = field(default=None, metadata=checked_by(text))
    """The PulseAudio source "mic" captures; None = the default input."""
    server: str | None = field(default=None, metadata=checked_by(text))
    """The PulseAudio (or PipeWire-pulse) server, as PULSE_SERVER names it ("unix:/run/...");
    None = the one the environment gives."""


@dataclass(frozen=True)
class EdgeSettings:
    """Edges (`--role edge`) take this table from the origin, with every other setting."""

    TABLE: ClassVar[str] = "edge"
    PER_CHANNEL: ClassVar[bool] = False
    stale_seconds: float = field(default=10.0, metadata=checked_by(number(1, 3600)))
    """An edge that has heard nothing from the origin for this long shows its TVs the last frame
    marked "offline"."""


DEFAULT_CHANNEL = "default"
"""The channel the top-level tables describe, served at `/`."""
CHANNEL_NAME = re.compile(r"[a-z0-9-]{1,32}")
TV_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_CHANNELS = 100
SECTIONS = (
    ServerSettings,
    StreamSettings,
    SlideshowSettings,
    OverlaySettings,
    ScreenSettings,
    WebSettings,
    AdminSettings,
    AudioSettings,
    EdgeSettings,
)
_TABLES: dict[str, dict[str, Check]] = {
    section.TABLE: {f.name: f.metadata["check"] for f in fields(section)} for section in SECTIONS
}
SHOW_TABLES = tuple(section.TABLE for section in SECTIONS if section.PER_CHANNEL)
"""The tables a channel may override, flat in its own table; a key found in two of them
(`quality`) belongs to the first."""
_CHANNEL_KEYS = {key: t for t in reversed(SHOW_TABLES) for key in _TABLES[t]}
"""Each key a channel's table may set, and the table it belongs to."""


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = ServerSettings()
    stream: StreamSettings = StreamSettings()
    slideshow: SlideshowSettings = SlideshowSettings()
    screen: ScreenSettings = ScreenSettings()
    overlay: OverlaySettings = OverlaySettings()
    web: WebSettings = WebSettings()
    admin: AdminSettings = AdminSettings()
    audio: AudioSettings = AudioSettings()
    edge: EdgeSettings = EdgeSettings()
    channels: tuple[tuple[str, Settings], ...] = ()
    """Each `[channels.NAME]` table: the top-level settings with the channel's own keys."""
    tvs: tuple[tuple[str, str], ...] = ()
    """`[tvs]`: TV id → channel name."""

    def shows(self) -> dict[str, Settings]:
        """Every channel's settings by name, the default channel (the top level) first."""
        return {DEFAULT_CHANNEL: self, **dict(self.channels)}

    def channel_of(self, tv: str) -> str | None:
        """The channel `[tvs]` assigns to this TV id, or None when it is not listed."""
        return dict(self.tvs).get(tv)


def _checked(name: str, raw: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """The table's values that are present in `raw`, each checked; unknown keys are errors.
    `where` names the table in messages when it is not `[name]` (a channel's table)."""
    checks = _TABLES[name]
    where = where or f"[{name}]"
    unknown = sorted(set(raw) - set(checks))
    if unknown:
        raise ConfigError(
            f"{where} has unknown key {_short(repr(unknown[0]))}; allowed keys: {', '.join(checks)}"
        )
    values: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            values[key] = checks[key](value)
        except ValueError as allowed:
            if key in SECRET_KEYS:
                shown = "(hidden)"
            elif key in URL_KEYS and isinstance(value, str):
                shown = _show(redacted_url(value))
            else:
                shown = _show(value)
            raise ConfigError(
                f"{where} {key} = {shown} is not allowed: expected {allowed}"
            ) from None
    return values


def _show(value: Any) -> str:
    """A value as the message shows it: one line, at most about SHOWN_CHARACTERS long."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{_short(value)}"'
    return _short(repr(value))


def _short(text: str) -> str:
    return printable(text, SHOWN_CHARACTERS)


def parse_settings(text: str, base_dir: Path) -> Settings:
    """Settings from TOML text; relative paths resolve against `base_dir` (the config's folder).

    Empty text gives the defaults; `load_settings` refuses an empty file before it gets here.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not valid TOML: {error}") from None
    except RecursionError:
        raise ConfigError("not valid TOML: arrays or tables nested too deeply") from None
    return settings_from_tables(raw, base_dir)


def settings_from_tables(raw: Mapping[str, Any], base_dir: Path) -> Settings:
    """Settings from the tables of a config (as `tomllib` reads them, or as `as_tables` writes
    them), every key checked; relative paths resolve against `base_dir`."""
    tables = (*_TABLES, "channels", "tvs")
    unknown = sorted(set(raw) - set(tables))
    if unknown:
        raise ConfigError(
            f"unknown table or key {_short(repr(unknown[0]))}; allowed tables: "
            + ", ".join(f"[{t}]" for t in tables)
        )
    for name in tables:
        if not isinstance(raw.get(name, {}), dict):
            raise ConfigError(f"{name!r} must be a table, written [{name}]")
    slideshow = _checked("slideshow", raw.get("slideshow", {}))
    _resolve_folder(slideshow, base_dir)
    top = Settings(
        server=ServerSettings(**_checked("server", raw.get("server", {}))),
        stream=StreamSettings(**_checked("stream", raw.get("stream", {}))),
        slideshow=SlideshowSettings(**slideshow),
        screen=ScreenSettings(**_checked("screen", raw.get("screen", {}))),
        overlay=OverlaySettings(**_checked("overlay", raw.get("overlay", {}))),
        web=WebSettings(**_checked("web", raw.get("web", {}))),
        admin=AdminSettings(**_checked("admin", raw.get("admin", {}))),
        audio=AudioSettings(**_checked("audio", raw.get("audio", {}))),
        edge=EdgeSettings(**_checked("edge", raw.get("edge", {}))),
    )
    channels = _channels(raw.get("channels", {}), top, base_dir)
    names = {DEFAULT_CHANNEL, *(name for name, _ in channels)}
    settings = replace(top, channels=channels, tvs=_tvs(raw.get("tvs", {}), names))
    for name, show in settings.shows().items():
        if show.stream.source == "url" and show.stream.url is None:
            where = "[stream]" if name == DEFAULT_CHANNEL else f"[channels.{name}]"
            raise ConfigError(
                f'{where} source = "url" needs url = "..." (an http://, https:// or rtsp:// '
                "address, or a device like /dev/video0), in that table or in [stream]"
            )
    return settings


def _resolve_folder(slideshow: dict[str, Any], base_dir: Path) -> None:
    """A `folder` given in the table, made absolute against the config's folder."""
    if "folder" in slideshow:
        slideshow["folder"] = (base_dir / Path(slideshow["folder"]).expanduser()).resolve()
    else:
        slideshow["folder"] = (base_dir / SlideshowSettings.folder).resolve()


def _channels(
    raw: dict[str, Any], top: Settings, base_dir: Path
) -> tuple[tuple[str, Settings], ...]:
    """Each `[channels.NAME]` table over the top-level settings, checked like the top level."""
    if len(raw) > MAX_CHANNELS:
        raise ConfigError(f"[channels] has {len(raw)} channels; at most {MAX_CHANNELS} are allowed")
    channels = []
    for name, table in raw.items():
        where = f"[channels.{_short(name)}]"
        if not CHANNEL_NAME.fullmatch(name) or name == DEFAULT_CHANNEL:
            raise ConfigError(
                f"{where}: a channel name is 1 to 32 of a-z, 0-9 and -, and not "
                f'"{DEFAULT_CHANNEL}" (the top-level tables are that channel)'
            )
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table of settings, written [channels.{name}]")
        table = dict(table)
        audio = table.pop("audio", {})
        if not isinstance(audio, dict):
            raise ConfigError(f"{where} audio must be a table, written [channels.{name}.audio]")
        owners = _CHANNEL_KEYS
        unknown = sorted(set(table) - set(owners))
        if unknown:
            raise ConfigError(
                f"{where} has unknown key {_short(repr(unknown[0]))}; allowed keys: the keys of "
                + ", ".join(f"[{t}]" for t in SHOW_TABLES)
                + f", and a [channels.{name}.audio] table"
            )
        parts: dict[str, dict[str, Any]] = {t: {} for t in SHOW_TABLES}
        for key, value in table.items():
            parts[owners[key]][key] = value
        checked = {t: _checked(t, parts[t], where) for t in SHOW_TABLES}
        if "folder" in checked["slideshow"]:
            _resolve_folder(checked["slideshow"], base_dir)
        channel = replace(
            top,
            stream=replace(top.stream, **checked["stream"]),
            slideshow=replace(top.slideshow, **checked["slideshow"]),
            overlay=replace(top.overlay, **checked["overlay"]),
            screen=replace(top.screen, **checked["screen"]),
            audio=replace(top.audio, **_checked("audio", audio, f"[channels.{name}.audio]")),
        )
        channels.append((name, channel))
    return tuple(channels)


def _tvs(raw: dict[str, Any], channels: set[str]) -> tuple[tuple[str, str], ...]:
    """`[tvs]`: each TV id and the channel it shows, which must exist."""
    tvs = []
    for tv, channel in raw.items():
        if not TV_ID.fullmatch(tv):
            raise ConfigError(
                f"[tvs] {_short(repr(tv))}: a TV id is 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-'"
            )
        if not isinstance(channel, str) or channel not in channels:
            raise ConfigError(
                f"[tvs] {tv} = {_show(channel)} is not allowed: expected one of "
                + ", ".join(f'"{c}"' for c in sorted(channels))
            )
        tvs.append((tv, channel))
    return tuple(tvs)


def as_tables(settings: Settings) -> dict[str, Any]:
    """The tables of a config that `settings_from_tables` reads back as `settings`: each
    setting that has a value (TOML has no "none"), written as a config file writes it; a channel's
    table holds the keys where it differs from the top level."""
    tables: dict[str, Any] = {
        section.TABLE: _table(getattr(settings, section.TABLE)) for section in SECTIONS
    }
    channels: dict[str, Any] = {}
    for name, channel in settings.channels:
        table = {
            key: _toml_value(value, _TABLES[owner][key])
            for key, owner in _CHANNEL_KEYS.items()
            if (value := getattr(getattr(channel, owner), key))
            != getattr(getattr(settings, owner), key)
        }
        top_audio = _table(settings.audio)
        audio = {key: v for key, v in _table(channel.audio).items() if top_audio.get(key) != v}
        channels[name] = {**table, "audio": audio} if audio else table
    return {**tables, "channels": channels, "tvs": dict(settings.tvs)}


def _table(section: Any) -> dict[str, Any]:
    return {
        f.name: _toml_value(value, f.metadata["check"])
        for f in fields(section)
        if (value := getattr(section, f.name)) is not None
    }


def _toml_value(value: Any, check: Check) -> Any:
    if check is colour:
        return "#{:02x}{:02x}{:02x}".format(*value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def replaced_everywhere(settings: Settings, **tables: Any) -> Settings:
    """`settings` with whole tables replaced at the top level and in every channel: a channel's
    settings hold a copy of the top level's `[server]` and `[admin]`."""
    channels = tuple((name, replace(channel, **tables)) for name, channel in settings.channels)
    return replace(settings, **tables, channels=channels)


def declares_no_token(data: bytes) -> bool:
    """Whether the config's bytes say `[server] token = ""`. A running server's token is taken
    away only so: a file that merely lacks the key may be a save cut short (a full disk) or an
    editor's in-between state."""
    try:
        raw = tomllib.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return False
    server = raw.get("server")
    return isinstance(server, dict) and server.get("token") == ""


def load_settings(path: Path) -> Settings:
    """Read and parse the config file; every problem is a ConfigError naming the file."""
    return settings_from_bytes(path, read_config(path))


def read_config(path: Path) -> bytes:
    """The config file's bytes, or a ConfigError naming the file."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from None


def settings_from_bytes(path: Path, data: bytes) -> Settings:
    """Settings from the bytes read from `path`; every problem is a ConfigError naming the file.

    A UTF-8 byte order mark (as Windows Notepad writes) is accepted. A file without a single
    setting is refused, at start as while running: it is what an editor leaves for a moment
    while saving in place.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: cannot read: not UTF-8 text ({error})") from None
    if all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()):
        raise ConfigError(f"{path}: the file is empty (nothing but blank lines and comments)")
    try:
        return parse_settings(text, path.resolve().parent)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
