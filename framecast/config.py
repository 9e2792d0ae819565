"""`config.toml` parsed once into frozen, validated settings.

Every key is checked at load: an unknown key (a typo) or a bad value is an error that names the
table, the key, the value and what is allowed, so a reload that fails can keep the last good
settings and say exactly why. A file with no settings at all (empty, or only comments) is an
error too: an editor saving in place passes through that state, and applying it would drop the
token.
"""

from __future__ import annotations

import math
import re
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .logtext import printable


class ConfigError(ValueError):
    """The config file cannot be used; the message says where and why."""


Colour = tuple[int, int, int]


@dataclass(frozen=True)
class ServerSettings:
    host: str = "0.0.0.0"
    port: int = 8000
    max_clients: int = 500
    """Open streams at most; the next one is answered 503 with Retry-After."""
    client_timeout: float = 30.0
    """A client whose socket takes no data for this long is dropped (Wi-Fi gone, no TCP close)."""
    token: str | None = field(default=None, repr=False)
    """When set, every page, stream, snapshot and status request must carry it."""
    snapshot_workers: int = 2
    """Snapshots at another size or format rendered at once; further ones get 429."""
    allowed_hosts: tuple[str, ...] | None = None
    """`Host` header values served; None = this machine's names and addresses, localhost and
    any IP literal (refuses DNS rebinding)."""


@dataclass(frozen=True)
class StreamSettings:
    source: str = "slideshow"
    width: int = 1920
    height: int = 1080
    quality: int = 80
    keepalive: float = 20.0
    rotate: int = 0
    """Degrees the TV panel is turned clockwise (0, 90, 180, 270): frames are composed for the
    turned panel and turned back, so the picture stands upright on it."""


@dataclass(frozen=True)
class SlideshowSettings:
    folder: Path = Path("images")
    interval: float = 5.0
    order: str = "name"
    fit: str = "contain"
    background: Colour = (0, 0, 0)
    recursive: bool = False
    new_first: bool = True
    """A file that arrives while running is shown next, then the normal order goes on."""
    transition: str = "fade"
    transition_seconds: float = 0.8
    transition_fps: float = 25.0
    prepare_timeout: float = 10.0
    """A slide whose decoding and scaling takes longer than this is skipped."""
    max_megapixels: float = 50.0
    """Larger images are refused before they are decoded: bounds the memory of one slide."""
    follow_symlinks: str = "inside"
    """"inside": a link is shown only when its target is inside the folder; "all": any target."""


Region = tuple[int, int, int, int]

SECRET_KEYS = {"token"}
"""Keys whose values never appear in a message or a log line."""
SHOWN_CHARACTERS = 80
"""A bad value or key is echoed in messages cut to this length: it may be megabytes long."""

MAX_FPS = 60.0


@dataclass(frozen=True)
class ScreenSettings:
    monitor: int | str = 1
    """mss numbering (1 = first monitor, 0 = all combined), or an output name like "HDMI-1"."""
    region: Region | None = None
    """[left, top, width, height] within the monitor; None = the whole monitor."""
    fps: float = 15.0
    """Frames per second to capture; values above MAX_FPS are capped when used."""
    quality: int | None = None
    """JPEG quality for screen frames; None = [stream] quality."""


@dataclass(frozen=True)
class OverlaySettings:
    clock: str | None = None
    """A corner ("top-left", "top-right", "bottom-left", "bottom-right"), or None for no clock."""
    clock_format: str = "%H:%M"
    caption: str | None = None
    """"name": the file name without its extension; None for no caption."""
    font_size: int | None = None
    """Pixels; None = in proportion to the frame's height."""


DEFAULT_CHANNEL = "default"
"""The channel the top-level tables describe, served at `/`."""
CHANNEL_NAME = re.compile(r"[a-z0-9-]{1,32}")
TV_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_CHANNELS = 100
SHOW_TABLES = ("stream", "slideshow", "overlay", "screen")
"""The tables a channel may override, flat in its own table; a key found in two of them
(`quality`) belongs to the first."""


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = ServerSettings()
    stream: StreamSettings = StreamSettings()
    slideshow: SlideshowSettings = SlideshowSettings()
    screen: ScreenSettings = ScreenSettings()
    overlay: OverlaySettings = OverlaySettings()
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


Check = Callable[[Any], Any]
"""Turns a raw TOML value into the setting's value, or raises ValueError saying what is allowed."""


def _integer(low: int, high: int) -> Check:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"a whole number from {low} to {high}")
        return value

    return check


def _number(low: float, high: float) -> Check:
    def check(value: Any) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not low <= value <= high
        ):
            raise ValueError(f"a number from {low:g} to {high:g}")
        return float(value)

    return check


def _choice(*allowed: str) -> Check:
    def check(value: Any) -> str:
        if value not in allowed:
            raise ValueError("one of " + ", ".join(f'"{a}"' for a in allowed))
        return str(value)

    return check


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a non-empty string")
    return value


def _token(value: Any) -> str:
    if not isinstance(value, str) or len(value) < 8 or not value.isprintable() or " " in value:
        raise ValueError("a string of at least 8 characters without spaces")
    return value


def _clock_format(value: Any) -> str:
    if not isinstance(value, str) or "%" not in value or len(value) > 64:
        raise ValueError('a strftime format such as "%H:%M" or "%a %d %b %H:%M"')
    try:
        time.strftime(value)
    except ValueError:
        raise ValueError('a strftime format such as "%H:%M"') from None
    return value


def _hosts(value: Any) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or not value
        or any(not isinstance(v, str) or not v.strip() or len(v) > 253 for v in value)
    ):
        raise ValueError('a list of host names or addresses, like ["signage.local", "10.0.0.5"]')
    return tuple(v.strip().lower() for v in value)


def _quarter_turn(value: Any) -> int:
    if isinstance(value, bool) or value not in (0, 90, 180, 270):
        raise ValueError("0, 90, 180 or 270 (degrees the TV is turned clockwise)")
    return int(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


_COLOUR = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")


def _colour(value: Any) -> Colour:
    match = _COLOUR.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError('a colour like "#000000" or "#fff"')
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))


def _monitor(value: Any) -> int | str:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 64:
        raise ValueError('a monitor number (1 = first, 0 = all combined) or a name like "HDMI-1"')
    return value


def _region(value: Any) -> Region:
    if (
        not isinstance(value, list)
        or len(value) != 4
        or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
        or value[0] < 0
        or value[1] < 0
        or value[2] <= 0
        or value[3] <= 0
    ):
        raise ValueError("[left, top, width, height] in pixels, width and height 1 or more")
    return (value[0], value[1], value[2], value[3])


def _fps(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"a number above 0 (frames per second; at most {MAX_FPS:g} are used)")
    return float(value)


_TABLES: dict[str, dict[str, Check]] = {
    "server": {
        "host": _text,
        "port": _integer(1, 65535),
        "max_clients": _integer(1, 100_000),
        "client_timeout": _number(1, 3600),
        "token": _token,
        "snapshot_workers": _integer(1, 64),
        "allowed_hosts": _hosts,
    },
    "stream": {
        "source": _choice("slideshow", "screen"),
        "width": _integer(16, 7680),
        "height": _integer(16, 4320),
        "quality": _integer(1, 95),
        "keepalive": _number(1, 300),
        "rotate": _quarter_turn,
    },
    "slideshow": {
        "folder": _text,
        "interval": _number(0.01, 86400),
        "order": _choice("name", "mtime", "shuffle"),
        "fit": _choice("contain", "cover", "blur"),
        "background": _colour,
        "recursive": _boolean,
        "new_first": _boolean,
        "transition": _choice("fade", "none"),
        "transition_seconds": _number(0, 10),
        "transition_fps": _number(1, 60),
        "prepare_timeout": _number(0.5, 600),
        "max_megapixels": _number(1, 178),
        "follow_symlinks": _choice("inside", "all"),
    },
    "overlay": {
        "clock": _choice("top-left", "top-right", "bottom-left", "bottom-right"),
        "clock_format": _clock_format,
        "caption": _choice("name"),
        "font_size": _integer(6, 400),
    },
    "screen": {
        "monitor": _monitor,
        "region": _region,
        "fps": _fps,
        "quality": _integer(1, 95),
    },
}


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
            shown = "(hidden)" if key in SECRET_KEYS else _show(value)
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
    )
    channels = _channels(raw.get("channels", {}), top, base_dir)
    names = {DEFAULT_CHANNEL, *(name for name, _ in channels)}
    return replace(top, channels=channels, tvs=_tvs(raw.get("tvs", {}), names))


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
        owners = {key: t for t in reversed(SHOW_TABLES) for key in _TABLES[t]}
        unknown = sorted(set(table) - set(owners))
        if unknown:
            raise ConfigError(
                f"{where} has unknown key {_short(repr(unknown[0]))}; allowed keys: the keys of "
                + ", ".join(f"[{t}]" for t in SHOW_TABLES)
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
