"""Fixtures that start real servers with their own folder and config in a temp directory."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import Server, VirtualDisplay, wait_for

from framecast.slideshow.folder import FolderPlaylist

CONFIG = """
[server]
host = "127.0.0.1"

[stream]
source = "{source}"
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
transition = "{transition}"
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
    source: str = "slideshow",
    transition: str = "none",
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
            source=source,
            transition=transition,
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


def need_tool(name: str, package: str) -> None:
    """Skip where a tool is missing on a developer's machine; in CI that is a failure."""
    if shutil.which(name) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed: the test command installs {package}")
        pytest.skip(f"{name} is not installed (apt-get install {package})")


def need_pixman() -> None:
    """Skip where libpixman-1 is missing on a developer's machine; in CI that is a failure."""
    from framecast.render import pixman

    if not pixman.available:
        if os.environ.get("CI"):
            pytest.fail("libpixman-1 is missing: the test command installs xvfb, which needs it")
        pytest.skip("libpixman-1 is not installed (apt-get install libpixman-1-0)")


@pytest.fixture
def display() -> Iterator[VirtualDisplay]:
    """A running Xvfb, 640×360, stopped at the end."""
    need_tool("Xvfb", "xvfb")
    need_tool("xsetroot", "x11-xserver-utils")
    screen = VirtualDisplay().start()
    yield screen
    screen.stop()


def environment(**changes: str | None) -> dict[str, str]:
    """This process's environment with some variables set or (None) removed."""
    env = dict(os.environ)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@pytest.fixture(scope="session")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A private PulseAudio (null sinks, no sound card) for the whole session."""
    need_tool("pulseaudio", "pulseaudio")
    from sound import PrivatePulse

    server = PrivatePulse(tmp_path_factory.mktemp("pulse")).start()
    yield server
    server.stop()


TEST_BROWSER_MARK = "--class=framecast-tests"
"""Marks the tests' own Chromium (a harmless switch), so a test can tell it from the server's."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    TEST_BROWSER_MARK,
]


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
