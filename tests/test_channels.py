"""Channels: each TV its own show from one server, changed while it runs."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from support import (
    BLUE,
    GREEN,
    RED,
    YELLOW,
    Server,
    StreamReader,
    close_to,
    config_text,
    solid,
    wait_for,
    write_config,
)

from framecast.config import ConfigError, load_settings, parse_settings
from framecast.service.runtime import Framecast

CHANNELS = """
[channels.menu]
folder = "menu"

[channels.window]
folder = "window"
width = 160
height = 90

[tvs]
lobby-left = "menu"
"""


def folders(tmp_path: Path, **colours: tuple[int, int, int]) -> None:
    for name, colour in colours.items():
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        solid(folder / "slide.png", colour)


def is_gone_frame(jpeg: bytes | None) -> bool:
    """The "no longer exists" frame: dark, with light text, none of the slides' colours."""
    if jpeg is None:
        return False
    with Image.open(io.BytesIO(jpeg)) as image:
        grey = image.convert("L")
        return (
            grey.getextrema()[1] > 150
            and sum(grey.histogram()[:60]) > grey.width * grey.height // 2
        )


@pytest.fixture
def channels(tmp_path: Path, images: Path, start_server: Callable[..., Server]) -> Server:
    solid(images / "slide.png", RED)
    folders(tmp_path, menu=GREEN, window=BLUE)
    return start_server(config_text(extra=CHANNELS))


def test_three_channels_stream_their_own_slides(channels: Server) -> None:
    readers = {
        "/stream": StreamReader(channels.port),
        "/c/menu/stream": StreamReader(channels.port, "/c/menu/stream"),
        "/c/window/stream": StreamReader(channels.port, "/c/window/stream"),
    }
    try:
        readers["/stream"].wait_colour(RED)
        readers["/c/menu/stream"].wait_colour(GREEN)
        readers["/c/window/stream"].wait_colour(BLUE)
    finally:
        for reader in readers.values():
            reader.close()
    code, body = channels.get("/c/window/snapshot.jpg")
    assert code == 200
    assert Image.open(io.BytesIO(body)).size == (160, 90)
    code, body = channels.get("/c/menu/snapshot.jpg")
    assert Image.open(io.BytesIO(body)).size == (320, 180)
    code, page = channels.get("/c/menu/")
    assert code == 200
    assert b"/player.js" in page


def test_unknown_channels_are_404_and_the_page_lists_the_channels(channels: Server) -> None:
    code, body = channels.get("/c/nope/")
    assert code == 404
    assert b'href="/c/menu/"' in body
    assert b'href="/c/window/"' in body
    assert channels.get("/c/nope/stream")[0] == 404
    assert channels.get("/c/nope/snapshot.jpg")[0] == 404


def test_viewers_of_a_channel_are_listed_and_an_unwatched_channel_does_no_work(
    channels: Server,
) -> None:
    first = StreamReader(channels.port, "/c/menu/stream")
    second = StreamReader(channels.port, "/c/menu/stream")
    try:
        first.wait_colour(GREEN)
        second.wait_colour(GREEN)
        status = channels.status()
        viewers = status["channels"]["menu"]["viewers"]
        assert len(viewers) == 2
        assert all(v["address"] == "127.0.0.1" and v["frames"] >= 1 for v in viewers)
        assert all(v["bytes"] > 0 and v["connected_since"] for v in viewers)
        assert status["channels"]["menu"]["clients"] == 2
        assert status["channels"]["window"]["viewers"] == []
        idle = status["channels"]["window"]["frames"]
        assert idle == 0
        assert status["channels"]["window"]["slide"] == "slide.png"
    finally:
        first.close()
        second.close()


def test_a_channel_added_and_one_removed_while_running_and_its_tv_keeps_its_connection(
    tmp_path: Path, channels: Server
) -> None:
    folders(tmp_path, kitchen=YELLOW)
    window = StreamReader(channels.port, "/c/window/stream")
    try:
        window.wait_colour(BLUE)
        removed = config_text(extra=CHANNELS.replace("[channels.window]", "[channels.kitchen]"))
        removed = removed.replace('folder = "window"', 'folder = "kitchen"')
        write_config(channels.config, removed)
        wait_for(lambda: is_gone_frame(window.latest()), 10, what="the no-longer-exists frame")
        kitchen = StreamReader(channels.port, "/c/kitchen/stream")
        kitchen.wait_colour(YELLOW)
        kitchen.close()
        assert "window" not in channels.status()["channels"]
        write_config(channels.config, config_text(extra=CHANNELS))
        window.wait_colour(BLUE, timeout=10)
        assert not window.closed.is_set()
    finally:
        window.close()
    log = channels.log()
    assert "Channel window removed" in log
    assert "Channel kitchen added" in log


def test_a_tv_by_id_follows_a_live_edit_of_tvs_on_the_same_connection(channels: Server) -> None:
    tv = StreamReader(channels.port, "/stream?tv=lobby-left")
    newcomer = StreamReader(channels.port, "/stream?tv=back-office")
    try:
        tv.wait_colour(GREEN)
        newcomer.wait_colour(RED)
        assert channels.status()["unassigned_tvs"] == ["back-office"]
        write_config(
            channels.config, config_text(extra=CHANNELS.replace('= "menu"\n', '= "window"\n'))
        )
        tv.wait_colour(BLUE, timeout=10)
        assert not tv.closed.is_set()
        code, body = channels.get("/snapshot.jpg?tv=lobby-left")
        assert code == 200
        assert Image.open(io.BytesIO(body)).size == (160, 90)
    finally:
        tv.close()
        newcomer.close()


def test_a_live_edit_that_breaks_one_channel_keeps_every_channel_running(
    channels: Server,
) -> None:
    broken = config_text(extra=CHANNELS.replace("width = 160", "width = 1"))
    write_config(channels.config, broken)
    wait_for(lambda: channels.status()["config_error"] is not None, 10, what="the error")
    error = channels.status()["config_error"]
    assert "[channels.window] width = 1 is not allowed" in error
    assert set(channels.status()["channels"]) == {"default", "menu", "window"}
    reader = StreamReader(channels.port, "/c/window/stream")
    try:
        reader.wait_colour(BLUE)
    finally:
        reader.close()


def test_a_channel_whose_folder_is_missing_shows_the_placeholder_and_the_others_go_on(
    tmp_path: Path, images: Path, start_server: Callable[..., Server]
) -> None:
    solid(images / "slide.png", RED)
    server = start_server(
        config_text(
            extra='[channels.lost]\nfolder = "nowhere"\n[channels.same]\nfolder = "images"\n'
        )
    )
    lost = StreamReader(server.port, "/c/lost/stream")
    same = StreamReader(server.port, "/c/same/stream")
    try:
        same.wait_colour(RED)
        wait_for(lambda: lost.latest() is not None, 10, what="the placeholder")
        assert not close_to(lost.latest_centre() or (0, 0, 0), RED)
        assert server.status()["channels"]["lost"]["slides"] == 0
    finally:
        lost.close()
        same.close()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[channels.Menu]\n", "a channel name is 1 to 32 of a-z, 0-9 and -"),
        ("[channels.default]\n", 'and not "default"'),
        ("[channels]\nmenu = 3\n", "[channels.menu] must be a table of settings"),
        ("[channels.menu]\nfolders = 'x'\n", "[channels.menu] has unknown key 'folders'"),
        ("[channels.menu]\nrotate = 45\n", "[channels.menu] rotate = 45 is not allowed"),
        ('[tvs]\nlobby = "nope"\n', '[tvs] lobby = "nope" is not allowed: expected one of'),
        ('[tvs]\n"a b" = "default"\n', "a TV id is 1 to 64 of"),
    ],
)
def test_bad_channel_tables_are_refused_with_the_table_and_the_rule(
    tmp_path: Path, extra: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_settings(extra, tmp_path)
    assert message in str(raised.value)


def test_a_hundred_channels_start_and_answer(tmp_path: Path, images: Path) -> None:
    solid(images / "slide.png", RED)
    tables = "".join(f"[channels.c{n}]\ninterval = {n + 1}\n" for n in range(100))
    config = tmp_path / "config.toml"
    config.write_text(config_text(extra=tables))
    framecast = Framecast(config, load_settings(config), "127.0.0.1", 8000)
    framecast.start()
    try:
        client = framecast.app.test_client()
        status = client.get("/status").get_json()
        assert len(status["channels"]) == 101
        response = client.get("/c/c99/snapshot.jpg")
        assert response.status_code == 200
        assert close_to(Image.open(io.BytesIO(response.data)).getpixel((160, 90)), RED)
    finally:
        framecast.stop()
    with pytest.raises(ConfigError, match="at most 100"):
        parse_settings("".join(f"[channels.c{n}]\n" for n in range(101)), tmp_path)
