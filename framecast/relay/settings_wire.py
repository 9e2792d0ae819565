"""The origin's settings as JSON in Redis, so that an edge needs no config file.

They travel as the tables of a config file, and an edge reads them with the very parser and
checks of `config.toml`: a value that a config file may not hold (`keepalive = 0`) is refused
with the same message, and the edge keeps its last good settings. Every table travels except
`[server]` (an edge listens on its own port, with its own token) and `[admin]` (edges serve no
admin page): no token of the origin's is ever written to Redis. A key the edge does not know is
refused like a typo: an origin newer than its edges names it, so edges are updated first.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..config import (
    AdminSettings,
    ConfigError,
    ServerSettings,
    Settings,
    as_tables,
    replaced_everywhere,
    settings_from_tables,
)

LOCAL_TABLES = ("server", "admin")


def encode(settings: Settings) -> bytes:
    """The settings as JSON bytes (the origin's beat thread)."""
    tables = as_tables(settings)
    for table in LOCAL_TABLES:
        tables.pop(table)
    return json.dumps(tables, sort_keys=True).encode()


def decode(data: bytes, server: ServerSettings) -> Settings:
    """Settings from `encode`'s bytes with this machine's `[server]` (an edge's beat thread);
    ValueError, saying which key and why, when they cannot be used."""
    try:
        tables = json.loads(data)
    except ValueError as error:
        raise ValueError(f"unreadable settings from the origin: {error}") from None
    if not isinstance(tables, dict) or not set(LOCAL_TABLES).isdisjoint(tables):
        raise ValueError("unreadable settings from the origin: not a config's tables")
    try:
        settings = settings_from_tables(tables, Path("/"))
    except ConfigError as error:
        raise ValueError(f"the origin's settings are refused: {error}") from None
    return replaced_everywhere(settings, server=server, admin=AdminSettings())
