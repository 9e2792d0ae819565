"""Cameras and streams (`source = "url"`): a real server under test pulls an MP4 and an HLS
playlist written by PyAV and an MJPEG stream from a real HTTP server on 127.0.0.1, and a TV's
stream shows their colours; two channels on one address share one connection; a stall shows
the offline frame, then the picture again; bad addresses each say why, once, while the other
channels go on; credentials never show."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path

import pytest
from media import sound_only
from PIL import Image
from streams import StreamServer, hls, mp4
from support import (
    BLUE,
    GREEN,
    RED,
    YELLOW,
    Server,
    StreamReader,
    centre,
    close_to,
    config_text,
    free_port,
    in_network_namespace,
    wait_for,
)

SYSTEM_PYTHON = "/usr/bin/python3"

SECRET = "hunter2-secret"
ADMIN = "admin-token-for-tests"


@pytest.fixture
def streams(tmp_path: Path) -> Iterator[StreamServer]:
    served = tmp_path / "served"
    served.mkdir()
    server = StreamServer(served).start()
    yield server
    server.stop()


def url_config(url: str, extra: str = "") -> str:
    """A config whose default channel shows `url`."""
    text = config_text(source="url").replace(
        'source = "url"\n', f'source = "url"\nurl = "{url}"\nurl_timeout = 1.5\n'
    )
    return text + extra


def channel(name: str, url: str) -> str:
    return f'\n[channels.{name}]\nsource = "url"\nurl = "{url}"\n'


def test_an_mp4_plays_on_a_tv_in_both_colours_and_its_credentials_never_show(
    streams: StreamServer, start_server: Callable[..., Server]
) -> None:
    mp4(streams.folder / "clip.mp4", [RED, BLUE], seconds_each=1.5)
    url = f"http://viewer:{SECRET}@127.0.0.1:{streams.port}/clip.mp4?token={SECRET}&x=1"
    server = start_server(url_config(url, f'\n[admin]\ntoken = "{ADMIN}"\n'))
    tv = StreamReader(server.port)
    try:
        tv.wait_colour(RED)
        tv.wait_colour(BLUE)
        tv.wait_colour(RED, timeout=6)  # a recorded stream plays again from its start
    finally:
        tv.close()
    status = server.status()
    assert status["source"] == "url"
    assert status["live_connected"] is True
    assert status["live_frames"] >= 30
    assert status["live_url"] == (f"http://***@127.0.0.1:{streams.port}/clip.mp4?token=***&x=1")
    _, admin = server_get(server, "/api/admin/channels", ADMIN)
    for shown in (json.dumps(status), server.log(), admin):
        assert SECRET not in shown
    assert "Live stream http://***@127.0.0.1" in server.log()


def server_get(server: Server, path: str, token: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_an_hls_playlist_plays_on_a_tv(
    streams: StreamServer, start_server: Callable[..., Server]
) -> None:
    hls(streams.folder / "hls", [BLUE, YELLOW], seconds_each=1.5)
    server = start_server(url_config(f"{streams.url}/hls/index.m3u8"))
    tv = StreamReader(server.port)
    try:
        tv.wait_colour(BLUE)
        tv.wait_colour(YELLOW)
    finally:
        tv.close()
    assert streams.opened("/hls/index0.ts") >= 1


def test_two_channels_on_one_mjpeg_address_share_one_connection(
    streams: StreamServer, start_server: Callable[..., Server]
) -> None:
    url = f"{streams.url}/live.mjpeg"
    server = start_server(
        url_config(url, channel("left", url) + channel("right", url)).replace(
            "width = 320\nheight = 180", "width = 160\nheight = 90"
        )
    )
    left = StreamReader(server.port, "/c/left/stream")
    right = StreamReader(server.port, "/c/right/stream?width=320")
    try:
        left.wait_colour(GREEN)
        right.wait_colour(GREEN)
        streams.colour = RED
        left.wait_colour(RED)
        right.wait_colour(RED)
    finally:
        left.close()
        right.close()
    assert streams.opened("/live.mjpeg") == 1
    channels = server.status()["channels"]
    assert channels["left"]["live_opens"] == channels["right"]["live_opens"] == 1
    assert channels["default"]["live_opens"] == 0, "nobody watched the default channel"


def test_a_stalled_stream_shows_offline_then_its_picture_again(
    streams: StreamServer, start_server: Callable[..., Server]
) -> None:
    server = start_server(url_config(f"{streams.url}/live.mjpeg"))
    tv = StreamReader(server.port)
    try:
        tv.wait_colour(GREEN)
        streams.stalled.set()
        wait_for(lambda: server.status()["live_connected"] is False, timeout=6, what="offline")
        status = server.status()
        assert "stalled" in status["live_error"] or "no answer" in status["live_error"]
        wait_for(lambda: offline_frame(tv.latest()), timeout=3, what="the offline frame")
        streams.colour = BLUE
        streams.stalled.clear()
        tv.wait_colour(BLUE, timeout=10)
    finally:
        tv.close()
    assert server.status()["live_connected"] is True
    log = server.log()
    assert log.count("the stream stalled") == 1, log


def offline_frame(jpeg: bytes | None) -> bool:
    """The offline message: mostly the background (black), with light text on it."""
    if jpeg is None:
        return False
    grey = Image.open(BytesIO(jpeg)).convert("L")
    histogram = grey.histogram()
    dark, light = sum(histogram[:40]), sum(histogram[180:])
    return dark > 0.8 * grey.width * grey.height and light > 0


def test_bad_addresses_each_say_why_once_and_the_other_channels_go_on(
    streams: StreamServer, start_server: Callable[..., Server]
) -> None:
    sound_only(streams.folder / "sound.mp4")
    mp4(streams.folder / "big.mp4", [RED], seconds_each=0.5, size=(1280, 1024))
    refused = f"http://127.0.0.1:{free_port()}/cam"
    bad = {
        "missing": (f"{streams.url}/missing.mp4", "the server answers 404 Not Found"),
        "page": (f"{streams.url}/page.html", "not a video stream"),
        "sound": (f"{streams.url}/sound.mp4", "sound only: the stream has no picture"),
        "refused": (refused, "connection refused"),
        "big": (f"{streams.url}/big.mp4", "too large: 1280×1024 pixels"),
    }
    text = url_config(f"{streams.url}/live.mjpeg")
    text = text.replace("max_fps", "max_fps").replace(
        'transition = "none"', 'transition = "none"\nmax_megapixels = 1'
    )
    server = start_server(text + "".join(channel(n, u) for n, (u, _) in bad.items()))
    tvs = [StreamReader(server.port, f"/c/{name}/stream") for name in bad]
    good = StreamReader(server.port)
    try:
        for name, (_, reason) in bad.items():
            wait_for(
                lambda name=name, reason=reason: (
                    reason in (server.status()["channels"][name]["live_error"] or "")
                ),
                timeout=8,
                what=f"{name}: {reason}",
            )
        good.wait_colour(GREEN)
        for tv in tvs:
            wait_for(lambda tv=tv: offline_frame(tv.latest()), what="an offline frame")
        wait_for(
            lambda: all(server.status()["channels"][n]["live_opens"] >= 3 for n in bad),
            timeout=10,
            what="retries",
        )
        streams.colour = YELLOW
        good.wait_colour(YELLOW)
    finally:
        for tv in [*tvs, good]:
            tv.close()
    log = server.log()
    for name, (_, reason) in bad.items():
        assert log.count(reason) == 1, f"{name}: {reason} logged once, not per retry\n{log}"
    assert "Traceback" not in log


UNRESOLVED = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, {root!r})
    from framecast.live.feed import LiveFeed, Wants
    feed = LiveFeed("http://user:pw@camera.invalid/live")
    feed.attach(object(), Wants(30.0, 2.0, 50_000_000))
    feed.start()
    deadline = time.monotonic() + 20
    while feed.latest().error is None and time.monotonic() < deadline:
        time.sleep(0.05)
    status = feed.status()
    feed.stop()
    print(json.dumps(status))
    """
)


@pytest.mark.live
def test_a_host_that_does_not_resolve_says_so() -> None:
    """In a network namespace of its own, where no name resolves and nothing leaves."""
    root = str(Path(__file__).resolve().parent.parent)
    status = in_network_namespace("ip link set lo up", UNRESOLVED.format(root=root))
    assert status["live_error"].startswith("the host camera.invalid does not resolve")
    assert status["live_connected"] is False
    assert status["live_url"] == "http://***@camera.invalid/live"


@pytest.fixture
def rtsp_camera() -> Iterator[str]:
    """GStreamer's RTSP server on 127.0.0.1 (tests/rtsp_server.py) sending red as Motion JPEG;
    its address, with credentials a camera would want."""
    probe = [SYSTEM_PYTHON, "-c", 'import gi; gi.require_version("GstRtspServer", "1.0")']
    if subprocess.run(probe, capture_output=True).returncode != 0:
        if os.environ.get("CI"):
            pytest.fail("gst-rtsp-server is missing: the test command installs it")
        pytest.skip("apt-get install python3-gi gir1.2-gst-rtsp-server-1.0")
    port = free_port()
    script = Path(__file__).with_name("rtsp_server.py")
    camera = subprocess.Popen(
        [SYSTEM_PYTHON, str(script), str(port), "dc1e1e"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    try:
        assert camera.stdout is not None
        assert camera.stdout.readline().strip() == b"ready"
        yield f"rtsp://viewer:{SECRET}@127.0.0.1:{port}/live"
    finally:
        camera.terminate()
        camera.wait(10)
        if camera.stdout is not None:
            camera.stdout.close()


def test_an_rtsp_camera_plays_on_a_tv(
    rtsp_camera: str, start_server: Callable[..., Server]
) -> None:
    server = start_server(url_config(rtsp_camera))
    tv = StreamReader(server.port)
    try:
        tv.wait_colour(RED, timeout=10)
    finally:
        tv.close()
    status = server.status()
    assert status["live_connected"] is True
    assert status["live_url"].startswith("rtsp://***@127.0.0.1:")
    assert SECRET not in server.log()


def test_a_tv_that_comes_later_never_sees_the_picture_of_before(
    streams: StreamServer, start_server: Callable[..., Server]
) -> None:
    server = start_server(url_config(f"{streams.url}/live.mjpeg"))
    first = StreamReader(server.port)
    try:
        first.wait_colour(GREEN)
    finally:
        first.close()
    wait_for(lambda: server.status()["live_connected"] is False, what="the stream closed")
    streams.colour = BLUE
    later = StreamReader(server.port)
    try:
        later.wait_colour(BLUE)
        with later._lock:
            received = [jpeg for _, jpeg in later.frames]
    finally:
        later.close()
    assert not any(close_to(centre(jpeg), GREEN) for jpeg in received)


def test_an_announcement_is_drawn_on_the_stream(
    streams: StreamServer, start_server: Callable[..., Server]
) -> None:
    server = start_server(
        url_config(f"{streams.url}/live.mjpeg", f'\n[admin]\ntoken = "{ADMIN}"\n')
    )
    tv = StreamReader(server.port)
    try:
        tv.wait_colour(GREEN)
        body = json.dumps({"text": "Fire drill at noon", "channel": None, "minutes": 1})
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        connection.request(
            "POST",
            "/api/admin/announce",
            body,
            {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
        )
        assert connection.getresponse().status == 200
        connection.close()
        wait_for(lambda: banner_on(tv.latest()), what="the announcement's band on the picture")
        assert close_to(centre(tv.latest() or b""), GREEN)
    finally:
        tv.close()


def banner_on(jpeg: bytes | None) -> bool:
    """The announcement's red band across the top of the frame."""
    if jpeg is None:
        return False
    image = Image.open(BytesIO(jpeg)).convert("RGB")
    return close_to(image.getpixel((4, 2)), (200, 30, 30), 40)  # type: ignore[arg-type]


def test_pictures_that_do_not_decode_show_offline_until_good_ones_come(
    streams: StreamServer, start_server: Callable[..., Server]
) -> None:
    streams.parts = b"\xff\xd8" + bytes(2000) + b"\xff\xd9"  # a JPEG of nothing but zeros
    server = start_server(url_config(f"{streams.url}/live.mjpeg"))
    tv = StreamReader(server.port)
    try:
        wait_for(
            lambda: server.status()["live_error"] == "its pictures do not decode (damaged data)",
            timeout=8,
            what="the reason",
        )
        wait_for(lambda: offline_frame(tv.latest()), what="the offline frame")
        streams.parts = None
        tv.wait_colour(GREEN, timeout=8)
    finally:
        tv.close()
    assert server.log().count("its pictures do not decode") == 1
