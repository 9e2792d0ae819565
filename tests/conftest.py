"""Fixtures that start real servers with their own folder and config in a temp directory, and
the hook that marks each test by what they start. Plain helpers live in support.py."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import (
    CHROMIUM_ARGS,
    HeadlessSway,
    Server,
    VirtualDisplay,
    config_text,
    need_tool,
    wait_for,
)

from framecast.slideshow.folder import FolderPlaylist

FIXTURE_MARKS = {
    "start_server": "live",
    "display": "display",
    "sway": "wayland",
    "pulse": "sound",
    "browser": "browser",
}
"""The mark a test gets from a fixture it uses, directly or through other fixtures."""
TOOLS = ("browser", "sound", "redis", "display", "wayland")
"""Marks of a real tool a test needs; each makes the test `live` too."""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by the fixtures it uses, and `live` when it needs a tool, before `-m`
    selects."""
    for item in items:
        used = getattr(item, "fixturenames", ())
        for fixture, mark in FIXTURE_MARKS.items():
            if fixture in used:
                item.add_marker(mark)
        if item.get_closest_marker("live") is None and any(
            item.get_closest_marker(tool) for tool in TOOLS
        ):
            item.add_marker("live")


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    return folder


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start `slideshow.py` with a config written from keyword arguments; stopped at the end."""
    servers: list[Server] = []

    def start(
        text: str | None = None,
        wait: bool = True,
        env: dict[str, str] | None = None,
        **options: object,
    ) -> Server:
        config = tmp_path / "config.toml"
        if text is not None or not config.exists():
            config.write_text(text if text is not None else config_text(**options))  # type: ignore[arg-type]
        server = Server(config, env=env)
        servers.append(server)
        return server.wait_ready() if wait else server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def watch(images: Path) -> Iterator[Callable[..., FolderPlaylist]]:
    """Start a folder playlist (on `images` unless told otherwise); stopped at the end."""
    playlists: list[FolderPlaylist] = []

    def start(
        folder: Path = images, recursive: bool = False, follow_symlinks: str = "inside"
    ) -> FolderPlaylist:
        changes = threading.Event()
        playlist = FolderPlaylist(
            folder, recursive, "name", changes.set, follow_symlinks=follow_symlinks
        )
        playlist.start()
        playlists.append(playlist)
        wait_for(lambda: playlist.folder_exists is not None, what="the first look")
        return playlist

    yield start
    for playlist in playlists:
        playlist.stop()


@pytest.fixture
def display() -> Iterator[VirtualDisplay]:
    """A running Xvfb, 640×360, stopped at the end."""
    need_tool("Xvfb", "xvfb")
    need_tool("xsetroot", "x11-xserver-utils")
    screen = VirtualDisplay().start()
    yield screen
    screen.stop()


@pytest.fixture
def sway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HeadlessSway]:
    """A headless sway (wlroots, pixman), 640×360, run by an unprivileged user; stopped at the
    end."""
    need_tool("sway", "sway")
    need_tool("swaybg", "swaybg")
    need_tool("grim", "grim")
    compositor = HeadlessSway(tmp_path_factory.mktemp("sway"))
    try:
        yield compositor.start()
    finally:
        compositor.stop()


@pytest.fixture(scope="session")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A private PulseAudio (null sinks, no sound card) for the whole session."""
    need_tool("pulseaudio", "pulseaudio")
    from sound import PrivatePulse

    server = PrivatePulse(tmp_path_factory.mktemp("pulse")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, one for the whole session."""
    need_tool("chromium", "chromium")
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
