"""`[screen] backend`: X11 with DAMAGE, mss alone, and "auto"'s choice between them, against a
real Xvfb; and the package on a machine without X libraries (tests/without_x11), as on Windows
or macOS, where screen mode uses mss."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from support import (
    BLUE,
    GREEN,
    RED,
    ROOT,
    YELLOW,
    Server,
    StreamReader,
    VirtualDisplay,
    close_to,
    config_text,
    environment,
    wait_for,
    write_config,
)

from framecast.config import ConfigError, ScreenSettings, parse_settings
from framecast.screen.feed import ScreenFeeds

WITHOUT_X11 = str(ROOT / "tests" / "without_x11")


def screen_config(backend: str, extra: str = "", **options: object) -> str:
    screen = f'\n[screen]\nfps = 20\nbackend = "{backend}"\n{extra}'
    return config_text(source="screen", extra=screen, **options)  # type: ignore[arg-type]


def pixel(jpeg: bytes, x: int, y: int) -> tuple[int, ...]:
    with Image.open(io.BytesIO(jpeg)) as image:
        return tuple(image.convert("RGB").getpixel((x, y)))  # type: ignore[arg-type]


def without_x11(**changes: str | None) -> dict[str, str]:
    """The environment of a process that finds no X, xcb, pixman or Wayland library."""
    return environment(PYTHONPATH=WITHOUT_X11, **changes)


def test_a_backend_that_does_not_exist_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as error:
        parse_settings('[screen]\nbackend = "wayland"\n', Path("."))
    assert str(error.value) == (
        '[screen] backend = "wayland" is not allowed: '
        'expected one of "auto", "x11", "wlroots", "mss"'
    )
    channel = parse_settings('[channels.desk]\nbackend = "mss"\n', Path("."))
    assert dict(channel.channels)["desk"].screen.backend == "mss"
    assert channel.screen.backend == "auto"


def test_auto_takes_x11_where_display_is_set(
    display: VirtualDisplay, start_server: Callable[..., Server]
) -> None:
    display.paint(RED)
    server = start_server(env=environment(DISPLAY=display.name), text=screen_config("auto"))
    stream = StreamReader(server.port)
    stream.wait_colour(RED)
    status = server.status()
    assert status["screen_backend"] == "x11"
    assert status["screen_backend_why"] == (
        f"DISPLAY={display.name} is set and the X libraries load"
    )
    wait_for(lambda: "Screen capture uses x11" in server.log(), what="the log line")


def test_mss_keeps_monitor_and_region_and_sends_a_still_screen_once(
    display: VirtualDisplay, start_server: Callable[..., Server], tmp_path: Path
) -> None:
    display.paint_halves(RED, GREEN)
    server = start_server(env=environment(DISPLAY=display.name), text=screen_config("mss"))
    stream = StreamReader(server.port)
    frame = wait_for(stream.latest, what="a screen frame")
    assert close_to(pixel(frame, 40, 90), RED)
    assert close_to(pixel(frame, 280, 90), GREEN)
    status = server.status()
    assert status["screen_backend"] == "mss"
    assert status["screen_backend_why"] == '[screen] backend = "mss"'
    assert status["screen_monitor"].startswith("1 (")

    wait_for(lambda: server.status()["screen_fps"] > 10, what="capture at full pace")
    frames = server.status()["frames"]
    for _ in range(20):
        assert server.status()["frames"] == frames, "an unchanged screen was sent again"
        time.sleep(0.05)
    display.paint(BLUE)
    stream.wait_colour(BLUE)

    display.paint_halves(RED, YELLOW)
    region = "region = [320, 0, 320, 360]\n"
    write_config(tmp_path / "config.toml", screen_config("mss", region))
    stream.wait_colour(YELLOW, timeout=3)
    assert close_to(pixel(stream.latest() or b"", 5, 90), (0, 0, 0)), "letterboxed"
    assert "region [320, 0, 320, 360]" in server.status()["screen_monitor"]
    write_config(tmp_path / "config.toml", screen_config("mss", "monitor = 2\n"))
    error = wait_for(lambda: server.status()["screen_error"], what="screen_error")
    assert error.startswith("Monitor 2 does not exist: [screen] monitor = 0 (all), 1 to 1")


@pytest.mark.usefixtures("display")
def test_channels_asking_for_other_backends_have_a_feed_each() -> None:
    feeds = ScreenFeeds()
    x11, plain = object(), object()
    first = feeds.attach(x11, ScreenSettings(backend="x11"))
    second = feeds.attach(plain, ScreenSettings(backend="mss"))
    try:
        assert first is not second
        assert len(feeds) == 2
        assert feeds.attach(object(), ScreenSettings(backend="mss")) is second
    finally:
        feeds.detach(x11, first)
        feeds.detach(plain, second)
    assert len(feeds) == 1, "the third channel still watches"


def test_a_wayland_session_without_x_says_what_to_do(start_server: Callable[..., Server]) -> None:
    wayland = environment(DISPLAY=None, WAYLAND_DISPLAY="wayland-0", XDG_SESSION_TYPE="wayland")
    server = start_server(env=wayland, text=screen_config("auto"))
    StreamReader(server.port)
    error = wait_for(lambda: server.status()["screen_error"], what="screen_error")
    assert "only wlroots compositors (sway, labwc, wayfire) can be captured" in error
    assert "Cannot connect to the Wayland compositor at " in error
    assert "GNOME on Xorg" in error
    status = server.status()
    assert status["screen_backend"] is None
    assert status["screen_backend_why"] == error


def test_the_package_imports_without_x_and_wayland_libraries() -> None:
    script = (
        "import importlib, pkgutil, framecast\n"
        "for module in pkgutil.walk_packages(framecast.__path__, 'framecast.'):\n"
        "    importlib.import_module(module.name)\n"
        "from framecast.render import pixman\n"
        "from framecast.screen.grab import x11_problem\n"
        "print(pixman.available, x11_problem())\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        env=without_x11(DISPLAY=":99"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("False DISPLAY=:99 is set, but the X libraries do not load")
    help_run = subprocess.run(
        [sys.executable, "slideshow.py", "--help"],
        env=without_x11(),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert help_run.returncode == 0, help_run.stderr[-3000:]
    assert "--config" in help_run.stdout


def test_without_x_libraries_auto_captures_with_mss(
    display: VirtualDisplay, start_server: Callable[..., Server], tmp_path: Path
) -> None:
    display.paint(GREEN)
    server = start_server(env=without_x11(DISPLAY=display.name), text=screen_config("auto"))
    stream = StreamReader(server.port)
    stream.wait_colour(GREEN)
    status = server.status()
    assert status["screen_backend"] == "mss"
    assert status["screen_backend_why"].startswith(
        f"X11 cannot be used (DISPLAY={display.name} is set, but the X libraries do not load"
    )
    assert status["screen_error"] is None
    display.paint(RED)
    stream.wait_colour(RED)

    write_config(tmp_path / "config.toml", screen_config("x11"))
    error = wait_for(lambda: server.status()["screen_error"], what="screen_error")
    assert "the X libraries do not load" in error
    assert "install libxcb1" in error
    assert server.status()["screen_backend"] is None
    assert "Traceback" not in server.log()
