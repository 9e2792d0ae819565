"""`[screen] backend = "wlroots"`: wlr-screencopy with damage, against a real headless sway run
by an unprivileged user; and the protocol's Python, which is what pywayland's scanner makes of
the XML shipped beside it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from support import (
    BLUE,
    GREEN,
    RED,
    YELLOW,
    HeadlessSway,
    Server,
    StreamReader,
    close_to,
    environment,
    wait_for,
    write_config,
)
from test_screen_backends import pixel, screen_config

from framecast.screen import protocols


def test_the_protocol_python_is_what_the_scanner_makes_of_the_xml(tmp_path: Path) -> None:
    written = protocols.generate(tmp_path)
    assert [path.name for path in written] == ["wlr_screencopy_unstable_v1.py"]
    for path in written:
        assert path.read_bytes() == (protocols.HERE / path.name).read_bytes(), (
            f"{path.name} is not what the scanner makes: run framecast.screen.protocols.generate()"
        )
    assert b"Copyright \xc2\xa9 2018 Simon Ser" in written[0].read_bytes()


def wayland(sway: HeadlessSway, **changes: str | None) -> dict[str, str]:
    """The server's environment: root reaches the user's sway by the socket's absolute path."""
    return environment(**{"WAYLAND_DISPLAY": sway.socket, "DISPLAY": None, **changes})


def test_wlroots_streams_the_output_and_an_unchanged_one_costs_no_frame(
    sway: HeadlessSway, start_server: Callable[..., Server], tmp_path: Path
) -> None:
    sway.paint(RED)
    wait_for(lambda: close_to(sway.reference().getpixel((320, 180)), RED), what="sway red")
    server = start_server(env=wayland(sway), text=screen_config("wlroots"))
    stream = StreamReader(server.port)
    stream.wait_colour(RED)
    status = server.status()
    assert status["screen_backend"] == "wlroots"
    assert status["screen_backend_why"] == '[screen] backend = "wlroots"'
    assert status["screen_monitor"] == "1 (HEADLESS-1, 640×360)"
    wait_for(lambda: "Screen capture uses wlroots" in server.log(), what="the log line")

    frames = server.status()["frames"]
    for _ in range(20):
        assert server.status()["frames"] == frames, "an unchanged screen was sent again"
        time.sleep(0.05)
    sway.paint(BLUE)
    stream.wait_colour(BLUE)

    region = 'monitor = "HEADLESS-1"\nregion = [320, 0, 320, 360]\n'
    write_config(tmp_path / "config.toml", screen_config("wlroots", region))
    wait_for(lambda: "region [320, 0, 320, 360]" in server.status()["screen_monitor"])
    wait_for(lambda: close_to(pixel(stream.latest() or b"", 5, 90), (0, 0, 0)), what="letterbox")
    stream.wait_colour(BLUE)

    assert sway.swaymsg("create_output").returncode == 0
    sway.paint(GREEN, "HEADLESS-2")
    write_config(tmp_path / "config.toml", screen_config("wlroots", 'monitor = "HEADLESS-2"\n'))
    stream.wait_colour(GREEN)
    assert server.status()["screen_monitor"].startswith("2 (HEADLESS-2, ")
    write_config(tmp_path / "config.toml", screen_config("wlroots", "monitor = 3\n"))
    error = wait_for(lambda: server.status()["screen_error"], what="screen_error")
    assert error.startswith("Monitor 3 does not exist: [screen] monitor = 0 (all), 1 to 2")
    assert "Traceback" not in server.log()


def test_auto_prefers_wlroots_and_comes_back_with_the_compositor(
    sway: HeadlessSway, start_server: Callable[..., Server]
) -> None:
    sway.paint(GREEN)
    env = wayland(sway, DISPLAY=":4242")
    server = start_server(env=env, text=screen_config("auto"))
    stream = StreamReader(server.port)
    stream.wait_colour(GREEN)
    status = server.status()
    assert status["screen_backend"] == "wlroots"
    assert status["screen_backend_why"] == (
        f"WAYLAND_DISPLAY={sway.socket} is set and the compositor offers wlr-screencopy "
        "(DISPLAY=:4242 is XWayland's: only X windows there)"
    )

    sway.end()
    error = wait_for(lambda: server.status()["screen_error"], what="screen_error")
    assert error.startswith(f"Lost the Wayland compositor at {sway.socket}") or error.startswith(
        f"Cannot connect to the Wayland compositor at {sway.socket}"
    )
    seen = stream.count()
    wait_for(lambda: stream.count() > seen, what="the placeholder streaming on")
    assert not close_to(stream.latest_centre() or (), GREEN)

    sway.start()
    sway.paint(YELLOW)
    stream.wait_colour(YELLOW, timeout=10)
    assert server.status()["screen_error"] is None
    assert "Traceback" not in server.log()
