"""A real server on a loopback port, read by real HTTP clients, frames decoded to pixels."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from support import BLUE, GREEN, RED, Server, StreamReader, close_to, solid, wait_for

from framecast.hub import FrameHub
from framecast.web.fanout import DelayLine
from framecast.web.stream import picture_delay


def test_stream_sends_the_current_slide_at_once_with_browser_friendly_headers(
    images: Path, start_server: Callable[..., Server]
) -> None:
    solid(images / "a.png", RED)
    server = start_server(interval=30)
    wait_for(lambda: server.status()["slide"] == "a.png", what="the first slide")
    started = time.monotonic()
    stream = StreamReader(server.port)
    stream.wait_colour(RED, timeout=1.0)
    assert time.monotonic() - started < 1.0
    assert stream.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
    assert "no-store" in stream.headers["Cache-Control"]
    assert stream.headers["X-Accel-Buffering"] == "no"
    assert stream.count() == 1
    stream.close()


def test_slides_follow_the_interval_in_name_order(
    images: Path, start_server: Callable[..., Server]
) -> None:
    solid(images / "slide10.png", BLUE)
    solid(images / "slide2.png", GREEN)
    solid(images / "slide1.png", RED)
    server = start_server(interval=0.5)
    stream = StreamReader(server.port)
    seen: list[str] = []

    def record() -> bool:
        centre = stream.latest_centre()
        for name, colour in (("r", RED), ("g", GREEN), ("b", BLUE)):
            if centre and close_to(centre, colour) and (not seen or seen[-1] != name):
                seen.append(name)
        return len(seen) >= 5

    wait_for(record, timeout=8, interval=0.05, what="five slide changes")
    text = "".join(seen)
    assert "rgb" in text + text, text
    stream.close()


def test_every_client_gets_the_same_frames_and_is_counted(
    images: Path, start_server: Callable[..., Server]
) -> None:
    solid(images / "a.png", RED)
    server = start_server()
    clients = [StreamReader(server.port) for _ in range(3)]
    for client in clients:
        client.wait_colour(RED)
    wait_for(lambda: server.status()["clients"] == 3, what="three clients counted")
    assert len({client.latest() for client in clients}) == 1
    for client in clients:
        client.close()
    wait_for(lambda: server.status()["clients"] == 0, timeout=10, what="clients to be dropped")
    assert "connected (3 watching)" in server.log()


def test_clients_that_hang_up_while_frames_flow_are_dropped(
    images: Path, start_server: Callable[..., Server]
) -> None:
    """At 20 slides a second a stream never waits long enough to look for a hang-up: the
    write to a closed connection ends it instead."""
    solid(images / "a.png", RED)
    solid(images / "b.png", BLUE)
    server = start_server(interval=0.05)
    clients = [StreamReader(server.port) for _ in range(3)]
    wait_for(lambda: all(client.count() >= 3 for client in clients), what="frames flowing")
    for client in clients[1:]:
        client.close()
    wait_for(lambda: server.status()["clients"] == 1, timeout=5, what="two clients dropped")
    before = clients[0].count()
    wait_for(lambda: clients[0].count() >= before + 5, what="the last client still served")
    clients[0].close()


def test_an_idle_stream_resends_its_frame_every_keepalive(
    images: Path, start_server: Callable[..., Server]
) -> None:
    solid(images / "a.png", RED)
    server = start_server(interval=60, keepalive=1)
    stream = StreamReader(server.port)
    stream.wait_colour(RED)
    wait_for(lambda: stream.count() >= 3, timeout=4, what="two keepalive re-sends")
    frames = [jpeg for _, jpeg in stream.frames]
    assert len(set(frames)) == 1
    assert server.status()["frames"] == 1, "a re-send is not a new frame"
    stream.close()


def test_snapshot_status_and_health(images: Path, start_server: Callable[..., Server]) -> None:
    solid(images / "a.png", GREEN)
    (images / "notes.txt").write_text("not an image")
    server = start_server()
    wait_for(lambda: server.snapshot_centre(), what="a snapshot")
    assert close_to(server.snapshot_centre() or (), GREEN)
    status = wait_for(lambda: (s := server.status())["skipped"] and s, what="skipped list")
    assert status["source"] == "slideshow"
    assert status["slide"] == "a.png"
    assert status["slides"] == 1
    assert status["frames"] >= 1
    assert status["uptime_s"] > 0
    assert status["config_error"] is None
    assert status["skipped"] == [
        {"file": "notes.txt", "reason": "not a JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC or AVIF image"}
    ]
    assert server.get("/healthz") == (200, b"ok")


def test_page_is_served(start_server: Callable[..., Server]) -> None:
    server = start_server()
    code, body = server.get("/")
    assert code == 200
    assert b'<img id="screen"' in body
    assert b"/player.js" in body
    code, script = server.get("/player.js")
    assert code == 200
    assert b"'stream?id='" in script


def test_new_client_gets_the_placeholder_for_an_empty_folder(
    images: Path, start_server: Callable[..., Server]
) -> None:
    server = start_server()
    stream = StreamReader(server.port)
    wait_for(stream.latest, what="a placeholder frame")
    assert server.status()["slide"] is None
    solid(images / "late.png", BLUE)
    stream.wait_colour(BLUE, timeout=3)
    stream.close()


def test_a_delay_line_gives_each_frame_its_delay_after_it_was_published() -> None:
    hub = FrameHub()
    line = DelayLine(0.3)
    first = hub.publish(b"first", 1, 1)
    line.offer(first)
    assert line.due(first.published_at + 0.29) is None
    assert line.next_due() == first.published_at + 0.3
    assert line.due(first.published_at + 0.3) is first
    assert line.next_due() == math.inf
    skipped = hub.publish(b"skipped", 1, 1)
    newest = hub.publish(b"newest", 1, 1)
    line.offer(skipped)
    line.offer(newest)
    assert line.due(newest.published_at + 0.3) is newest, "an older frame due as well is skipped"
    undelayed = DelayLine(0)
    undelayed.offer(newest)
    assert undelayed.due(newest.published_at) is newest


def test_a_pages_delay_is_whole_milliseconds_capped_and_nothing_else() -> None:
    assert picture_delay("411") == 0.411
    assert picture_delay("99999999999") == picture_delay("2001") == 2.0
    assert picture_delay("") == picture_delay("-5") == picture_delay("\u00b2") == 0.0
