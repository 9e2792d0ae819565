"""Fixtures that start real servers with their own folder and config in a temp directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import Server

CONFIG = """
[server]
host = "127.0.0.1"

[stream]
width = {width}
height = {height}
quality = 85
keepalive = {keepalive}

[slideshow]
folder = "images"
interval = {interval}
order = "{order}"
fit = "{fit}"
background = "{background}"
"""


def config_text(
    *,
    width: int = 320,
    height: int = 180,
    interval: float = 30,
    order: str = "name",
    fit: str = "contain",
    background: str = "#000000",
    keepalive: float = 20,
    extra: str = "",
) -> str:
    """A small valid config; tests change one key at a time."""
    return (
        CONFIG.format(
            width=width,
            height=height,
            interval=interval,
            order=order,
            fit=fit,
            background=background,
            keepalive=keepalive,
        )
        + extra
    )


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    return folder


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start `slideshow.py` with a config written from keyword arguments; stopped at the end."""
    servers: list[Server] = []

    def start(text: str | None = None, wait: bool = True, **options: object) -> Server:
        config = tmp_path / "config.toml"
        if text is not None or not config.exists():
            config.write_text(text if text is not None else config_text(**options))  # type: ignore[arg-type]
        server = Server(config)
        servers.append(server)
        return server.wait_ready() if wait else server

    yield start
    for server in servers:
        server.stop()
