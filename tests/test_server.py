"""The whole program as a user runs it: command line, live config, bad input, shutdown."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat
from support import (
    BLUE,
    GREEN,
    RED,
    ROOT,
    YELLOW,
    Server,
    StreamReader,
    close_to,
    config_text,
    solid,
    wait_for,
    write_config,
)

from framecast.render.imaging import RenderSpec
from framecast.render.placeholder import render_message


def run_cli(*args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "slideshow.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.mark.live
def test_help_explains_the_options() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for option in ("--config", "--host", "--port"):
        assert option in result.stdout


@pytest.mark.live
def test_an_invalid_config_at_start_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(config_text(interval=0))
    result = run_cli("--config", str(config))
    assert result.returncode == 2
    assert "[slideshow] interval = 0 is not allowed: expected a number from 0.01 to 86400" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    config.write_text("[stream]\nwidth = 100\nwidth = 200\n")
    result = run_cli("--config", str(config))
    assert result.returncode == 2
    assert "line 3" in result.stderr


@pytest.mark.live
def test_a_port_in_use_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(config_text())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("--config", str(config), "--host", "127.0.0.1", "--port", str(port))
    assert result.returncode == 2
    assert f"port {port} is already in use" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_everything_within_two_seconds_with_streams_open(
    images: Path, start_server: Callable[..., Server], sig: int
) -> None:
    solid(images / "a.png", RED)
    server = start_server()
    streams = [StreamReader(server.port) for _ in range(5)]
    for stream in streams:
        stream.wait_colour(RED)
    started = time.monotonic()
    server.process.send_signal(sig)
    code = server.process.wait(5)
    assert time.monotonic() - started < 2.0
    assert code == 0
    for stream in streams:
        assert stream.closed.wait(2), "a stream was left open"
    assert "Stopped" in server.log()


def test_the_start_log_says_which_url_to_open(start_server: Callable[..., Server]) -> None:
    server = start_server()
    wait_for(lambda: f"open http://127.0.0.1:{server.port}/" in server.log(), what="the URL")


def test_config_edits_apply_live_without_the_client_reconnecting(
    images: Path, start_server: Callable[..., Server], tmp_path: Path
) -> None:
    Image.new("RGB", (90, 180), RED).save(images / "portrait.png")
    server = start_server(background="#0000ff")
    stream = StreamReader(server.port)
    wait_for(lambda: (f := stream.latest()) and bar_colour(f) == "blue", what="blue bars")
    saved = time.monotonic()
    write_config(tmp_path / "config.toml", config_text(background="#ffff00"))
    wait_for(lambda: bar_colour(stream.latest() or b"") == "yellow", timeout=1.0, what="new bars")
    assert time.monotonic() - saved < 1.0
    write_config(tmp_path / "config.toml", config_text(background="#ffff00", fit="cover"))
    wait_for(lambda: bar_colour(stream.latest() or b"") == "red", timeout=1.0, what="cover")
    assert not stream.closed.is_set()
    assert server.status()["clients"] == 1
    assert "Config reloaded: slideshow.fit changed" in server.log()


def bar_colour(jpeg: bytes) -> str:
    if not jpeg:
        return ""
    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    pixel = image.getpixel((5, image.height // 2))
    assert isinstance(pixel, tuple)
    for name, colour in (("blue", (0, 0, 255)), ("yellow", (255, 255, 0)), ("red", RED)):
        if close_to(pixel, colour):
            return name
    return str(pixel)


def test_interval_and_folder_changes_apply_live(
    images: Path, start_server: Callable[..., Server], tmp_path: Path
) -> None:
    solid(images / "1.png", RED)
    solid(images / "2.png", GREEN)
    other = tmp_path / "other"
    other.mkdir()
    solid(other / "x.png", YELLOW)
    server = start_server(interval=60)
    stream = StreamReader(server.port)
    stream.wait_colour(RED)
    write_config(tmp_path / "config.toml", config_text(interval=0.3))
    stream.wait_colour(GREEN, timeout=1.5)
    write_config(tmp_path / "config.toml", config_text(interval=0.3).replace('"images"', '"other"'))
    stream.wait_colour(YELLOW, timeout=1.5)
    assert wait_for(lambda: server.status()["folder"] == str(other))


def test_an_invalid_config_while_running_keeps_the_last_good_settings(
    images: Path, start_server: Callable[..., Server], tmp_path: Path
) -> None:
    solid(images / "a.png", GREEN)
    server = start_server(keepalive=1)
    stream = StreamReader(server.port)
    stream.wait_colour(GREEN)
    write_config(tmp_path / "config.toml", config_text(keepalive=1) + "\n[stream]\nbogus = 1\n")
    error = wait_for(lambda: server.status()["config_error"], what="config_error")
    assert "not valid TOML" in error
    write_config(tmp_path / "config.toml", config_text(keepalive=1, fit="squash"))
    error = wait_for(
        lambda: "squash" in (e := server.status()["config_error"] or "") and e, what="new error"
    )
    assert '[slideshow] fit = "squash" is not allowed: expected one of "contain", "cover"' in error
    received = stream.count()
    wait_for(lambda: stream.count() > received + 1, what="the stream to go on")
    stream.wait_colour(GREEN)
    assert server.log().count("Config not applied") == 2
    write_config(tmp_path / "config.toml", config_text(keepalive=1, background="#ff0000"))
    wait_for(lambda: server.status()["config_error"] is None, what="the error to clear")
    assert "Config is valid again" in server.log()


def test_a_missing_folder_shows_a_placeholder_naming_it_until_it_appears(
    tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    server = start_server()
    shutil.rmtree(tmp_path / "images", ignore_errors=True)
    server.stop()
    server = start_server()
    stream = StreamReader(server.port)
    folder = tmp_path / "images"
    expected = render_message(
        "Folder not found",
        [f"Create {folder} and drop images into it"],
        RenderSpec(320, 180, "contain", (0, 0, 0), 85),
        f"http://127.0.0.1:{server.port}/",
    )

    def shows_placeholder() -> bool:
        jpeg = stream.latest()
        if not jpeg:
            return False
        frame = Image.open(io.BytesIO(jpeg)).convert("RGB")
        difference = ImageChops.difference(frame, expected).convert("L")
        return bool(ImageStat.Stat(difference).mean[0] < 4 and difference.getextrema()[1] < 160)

    wait_for(shows_placeholder, what="the folder-not-found placeholder")
    assert "is missing" in server.log()
    folder.mkdir()
    solid(folder / "first.png", BLUE)
    stream.wait_colour(BLUE, timeout=3)


def test_damaged_files_are_skipped_and_the_show_goes_on(
    images: Path, start_server: Callable[..., Server]
) -> None:
    solid(images / "a.png", GREEN)
    server = start_server(interval=0.3, keepalive=1)
    stream = StreamReader(server.port)
    stream.wait_colour(GREEN)
    photo = io.BytesIO()
    Image.effect_noise((640, 480), 60).convert("RGB").save(photo, "JPEG")
    (images / "b-cut.jpg").write_bytes(photo.getvalue()[: len(photo.getvalue()) // 2])
    skipped = wait_for(lambda: server.status()["skipped"], what="the damaged file skipped")
    assert skipped[0]["file"] == "b-cut.jpg"
    assert skipped[0]["reason"].startswith("damaged or incomplete image")
    received = stream.count()
    wait_for(lambda: stream.count() > received, what="the stream to go on")
    stream.wait_colour(GREEN)
    wait_for(lambda: "Skipped b-cut.jpg" in server.log(), what="the log line")
    time_to_repeat = time.monotonic() + 1.0
    wait_for(lambda: time.monotonic() > time_to_repeat, timeout=2)
    assert server.log().count("Skipped b-cut.jpg") == 1


@pytest.mark.live
@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_an_unreadable_file_is_skipped_with_permission_denied(images: Path, tmp_path: Path) -> None:
    solid(images / "a.png", GREEN)
    secret = solid(images / "secret.png", RED)
    secret.chmod(0)
    config = tmp_path / "config.toml"
    config.write_text(config_text())
    wrapper = []
    if os.geteuid() == 0:
        # root reads anything: drop the capabilities that let it ignore file modes
        wrapper = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search"]
    server = Server(config, wrapper=wrapper).wait_ready()
    try:
        skipped = wait_for(lambda: server.status()["skipped"], what="the unreadable file")
        assert skipped == [
            {"file": "secret.png", "reason": "permission denied: the server cannot read this file"}
        ]
        assert server.status()["slides"] == 1
    finally:
        server.stop()


def test_the_start_warns_when_the_screen_is_open_to_the_network(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from framecast.config import load_settings
    from framecast.service.runtime import Framecast

    config = tmp_path / "config.toml"
    warning = "The screen can be watched by anyone"
    for host, token, warned in (
        ("0.0.0.0", "", True),
        ("127.0.0.1", "", False),
        ("0.0.0.0", 'token = "a-long-secret"\n', False),
    ):
        config.write_text(f'[server]\n{token}[stream]\nsource = "screen"\n')
        caplog.clear()
        Framecast(config, load_settings(config), host, 8000).warn_if_exposed()
        assert (warning in caplog.text) is warned, (host, token)
