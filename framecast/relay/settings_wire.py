"""The origin's settings as JSON in Redis, so that an edge needs no config file.

Every table travels except `[server]` (an edge listens on its own port, with its own token)
and `[admin]` (edges serve no admin page): no token of the origin's is ever written to Redis.
An edge keeps its own `[server]`; a key it does not know (a newer origin) is ignored, a key it
misses keeps its default.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path
from typing import Any

from ..config import AdminSettings, ServerSettings, Settings

LOCAL_TABLES = ("server", "admin")


def encode(settings: Settings) -> bytes:
    """The settings as JSON bytes (the origin's beat thread)."""
    plain = asdict(settings)
    for table in LOCAL_TABLES:
        plain.pop(table)
    for _, channel in plain["channels"]:
        for table in LOCAL_TABLES:
            channel.pop(table)
    return json.dumps(plain, default=str, sort_keys=True).encode()


def decode(data: bytes, server: ServerSettings) -> Settings:
    """Settings from `encode`'s bytes with this machine's `[server]` (an edge's beat thread);
    ValueError when they cannot be read."""
    try:
        plain = json.loads(data)
        return _settings(plain, server)
    except (TypeError, KeyError, AttributeError) as error:
        raise ValueError(f"unreadable settings from the origin: {error!r}") from None


def _settings(plain: dict[str, Any], server: ServerSettings) -> Settings:
    tables: dict[str, Any] = {}
    for table in fields(Settings):
        section = table.default
        if is_dataclass(section) and not isinstance(section, type) and table.name in plain:
            tables[table.name] = _section(type(section), plain[table.name])
    channels = tuple(
        (str(name), _settings(channel, server)) for name, channel in plain.get("channels", [])
    )
    tvs = tuple((str(tv), str(channel)) for tv, channel in plain.get("tvs", []))
    return Settings(**tables, server=server, admin=AdminSettings(), channels=channels, tvs=tvs)


def _section(cls: type[Any], plain: dict[str, Any]) -> Any:
    values = {}
    for field in fields(cls):
        if field.name in plain:
            value = plain[field.name]
            values[field.name] = Path(value) if isinstance(field.default, Path) else _tupled(value)
    return cls(**values)


def _tupled(value: Any) -> Any:
    """JSON's lists back into the tuples the settings hold."""
    if isinstance(value, list):
        return tuple(_tupled(item) for item in value)
    return value
