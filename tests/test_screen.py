"""Screen mode against a real X server (Xvfb), switched by editing the config file."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support import (
    BLUE,
    GREEN,
    RED,
    YELLOW,
    Server,
    StreamReader,
    VirtualDisplay,
    centre,
    close_to,
    config_text,
    environment,
    solid,
    wait_for,
    write_config,
)

SCREEN = "\n[screen]\nfps = 20\n"


def screen_config(extra: str = SCREEN, **options: object) -> str:
    return config_text(source="screen", extra=extra, **options)  # type: ignore[arg-type]


def test_switching_to_the_screen_and_back_without_reconnecting(
    images: Path, display: VirtualDisplay, start_server: Callable[..., Server], tmp_path: Path
) -> None:
    solid(images / "slide.png", BLUE)
    display.paint(RED)
    server = start_server(env=environment(DISPLAY=display.name), extra=SCREEN)
    stream = StreamReader(server.port)
    stream.wait_colour(BLUE)

    saved = time.monotonic()
    write_config(tmp_path / "config.toml", screen_config())
    stream.wait_colour(RED, timeout=1.5)
    assert time.monotonic() - saved < 1.5
    display.paint(GREEN)
    stream.wait_colour(GREEN, timeout=1.0)

    status = server.status()
    assert status["source"] == "screen"
    assert status["screen_error"] is None
    assert status["screen_monitor"].startswith("1 (")
    assert status["screen_fps"] > 0

    write_config(tmp_path / "config.toml", config_text(extra=SCREEN))
    stream.wait_colour(BLUE, timeout=1.5)
    assert not stream.closed.is_set()
    assert server.status()["clients"] == 1
    log = server.log()
    assert "Source switched to screen" in log
    assert "Source switched to slideshow" in log


def test_frames_are_scaled_to_the_output_and_regions_are_cropped(
    display: VirtualDisplay, start_server: Callable[..., Server], tmp_path: Path
) -> None:
    display.paint_halves(RED, GREEN)
    server = start_server(
        env=environment(DISPLAY=display.name), text=screen_config(width=320, height=180)
    )
    stream = StreamReader(server.port)
    wait_for(stream.latest, what="a screen frame")
    frame = stream.latest() or b""
    from io import BytesIO

    from PIL import Image

    image = Image.open(BytesIO(frame)).convert("RGB")
    assert image.size == (320, 180)
    assert close_to(image.getpixel((40, 90)), RED)  # type: ignore[arg-type]
    assert close_to(image.getpixel((280, 90)), GREEN)  # type: ignore[arg-type]

    write_config(
        tmp_path / "config.toml",
        screen_config("\n[screen]\nfps = 20\nregion = [320, 0, 320, 360]\n", width=320, height=180),
    )
    stream.wait_colour(GREEN, timeout=1.5)
    image = Image.open(BytesIO(stream.latest() or b"")).convert("RGB")
    assert close_to(image.getpixel((5, 90)), (0, 0, 0)), "a 320×360 region is letterboxed"
    assert close_to(image.getpixel((160, 5)), GREEN)
    assert "region [320, 0, 320, 360]" in server.status()["screen_monitor"]


def test_nothing_is_captured_for_nobody(
    display: VirtualDisplay, start_server: Callable[..., Server]
) -> None:
    display.paint(RED)
    server = start_server(env=environment(DISPLAY=display.name), text=screen_config())
    assert server.status()["frames"] == 0
    assert server.status()["screen_fps"] == 0
    stream = StreamReader(server.port)
    stream.wait_colour(RED)
    wait_for(lambda: server.status()["screen_fps"] > 5, what="capture to run")
    stream.close()
    wait_for(lambda: "Screen capture paused" in server.log(), timeout=3, what="capture to stop")
    assert server.status()["screen_fps"] == 0
    frames = server.status()["frames"]
    display.paint(GREEN)
    for _ in range(20):
        assert server.status()["frames"] == frames, "a frame was made for nobody"
        time.sleep(0.05)
    assert close_to(server.snapshot_centre() or (), GREEN), "a snapshot looks at the screen"


def test_an_unchanged_screen_is_not_sent_again(
    display: VirtualDisplay, start_server: Callable[..., Server]
) -> None:
    display.paint(YELLOW)
    server = start_server(env=environment(DISPLAY=display.name), text=screen_config())
    stream = StreamReader(server.port)
    stream.wait_colour(YELLOW)
    wait_for(lambda: server.status()["screen_fps"] > 10, what="capture at full pace")
    frames, received = server.status()["frames"], stream.count()
    for _ in range(20):
        assert server.status()["frames"] == frames
        time.sleep(0.05)
    assert stream.count() == received
    display.paint(YELLOW)  # drawn again, the same pixels: compared, not sent
    for _ in range(20):
        assert server.status()["frames"] == frames
        time.sleep(0.05)
    display.paint(BLUE)
    stream.wait_colour(BLUE)
    assert server.status()["frames"] == frames + 1


@pytest.mark.display
def test_no_display_shows_a_placeholder_then_the_screen_once_one_appears(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    later = VirtualDisplay()
    server = start_server(env=environment(DISPLAY=later.name), text=screen_config())
    stream = StreamReader(server.port)
    error = wait_for(lambda: server.status()["screen_error"], what="screen_error")
    assert f"Cannot open the display {later.name}" in error
    placeholder = wait_for(stream.latest, what="a placeholder frame")
    assert not close_to(centre(placeholder), RED)
    assert "Screen capture: Cannot open the display" in server.log()
    try:
        later.start()
        later.paint(RED)
        stream.wait_colour(RED, timeout=5)
        wait_for(lambda: server.status()["screen_error"] is None, what="the error to clear")
    finally:
        later.stop()


def test_unset_display_and_wayland_say_what_to_do(start_server: Callable[..., Server]) -> None:
    server = start_server(env=environment(DISPLAY=None, WAYLAND_DISPLAY=None), text=screen_config())
    StreamReader(server.port)
    error = wait_for(lambda: server.status()["screen_error"], what="screen_error")
    assert "DISPLAY is not set" in error
    server.stop()
    wayland = environment(DISPLAY=None, WAYLAND_DISPLAY="wayland-0", XDG_SESSION_TYPE="wayland")
    server = start_server(env=wayland, text=screen_config())
    StreamReader(server.port)
    error = wait_for(lambda: server.status()["screen_error"], what="screen_error")
    assert "Wayland session without X11" in error


def test_the_display_going_away_mid_stream(
    display: VirtualDisplay, start_server: Callable[..., Server]
) -> None:
    display.paint(GREEN)
    server = start_server(env=environment(DISPLAY=display.name), text=screen_config())
    stream = StreamReader(server.port)
    stream.wait_colour(GREEN)
    display.crash()
    error = wait_for(lambda: server.status()["screen_error"], what="the lost display")
    assert "display" in error
    wait_for(lambda: not close_to(stream.latest_centre() or (), GREEN), what="a placeholder")
    assert server.process.poll() is None
    assert not stream.closed.is_set()
    display.start()
    display.paint(BLUE)
    stream.wait_colour(BLUE, timeout=5)


def test_a_missing_monitor_or_region_outside_it_until_fixed(
    display: VirtualDisplay, start_server: Callable[..., Server], tmp_path: Path
) -> None:
    display.paint(RED)
    server = start_server(
        env=environment(DISPLAY=display.name), text=screen_config("\n[screen]\nmonitor = 3\n")
    )
    stream = StreamReader(server.port)
    error = wait_for(lambda: server.status()["screen_error"], what="screen_error")
    assert error.startswith("Monitor 3 does not exist: [screen] monitor = 0 (all), 1 to 1")
    write_config(
        tmp_path / "config.toml", screen_config("\n[screen]\nregion = [600, 0, 100, 100]\n")
    )
    error = wait_for(
        lambda: "outside" in (e := server.status()["screen_error"] or "") and e, what="region"
    )
    assert error.startswith("[screen] region = [600, 0, 100, 100] is outside monitor 1")
    write_config(tmp_path / "config.toml", screen_config("\n[screen]\nmonitor = 1\n"))
    stream.wait_colour(RED, timeout=3)
    write_config(tmp_path / "config.toml", screen_config("\n[screen]\nfps = 0\n"))
    config_error = wait_for(lambda: server.status()["config_error"], what="config_error")
    assert "[screen] fps = 0 is not allowed" in config_error
    display.paint(GREEN)
    stream.wait_colour(GREEN, timeout=2)
