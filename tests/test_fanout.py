"""The fan-out thread on real loopback TCP connections: every part whole, a reader that keeps up
gets every frame, one that stalls skips to the newest and one that takes nothing is ended."""

from __future__ import annotations

import io
import random
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from PIL import Image
from support import close_to, wait_for

from framecast.hub import Frame, FrameHub
from framecast.web import mjpeg
from framecast.web.fanout import FanOut, FanOutStream
from framecast.web.viewers import Viewer

pytestmark = pytest.mark.live

SIDE = (640, 360)


def marked(index: int) -> bytes:
    """A JPEG of noise (large, as a real frame is) with a solid centre saying `index`."""
    rng = random.Random(index)
    picture = Image.frombytes("RGB", SIDE, rng.randbytes(SIDE[0] * SIDE[1] * 3))
    picture.paste(colour_of(index), (270, 130, 370, 230))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def colour_of(index: int) -> tuple[int, int, int]:
    return (index * 5 % 256, 255 - index * 5 % 256, 60)


def index_of(jpeg: bytes, count: int) -> int:
    with Image.open(io.BytesIO(jpeg)) as picture:
        pixel = picture.convert("RGB").getpixel((SIDE[0] // 2, SIDE[1] // 2))
    assert isinstance(pixel, tuple)
    matches = [i for i in range(count) if close_to(pixel, colour_of(i), tolerance=2)]
    assert len(matches) == 1, f"centre {pixel} is one frame's"
    return matches[0]


class PartReader:
    """The TV's end of one connection: splits what arrives into JPEGs, on its own thread once
    `start`ed (a reader not started takes nothing, as a stalled TV)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.parts: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def start(self) -> PartReader:
        self._thread.start()
        return self

    def jpegs(self) -> list[bytes]:
        with self._lock:
            return [jpeg for _, jpeg in self.parts]

    def _read(self) -> None:
        buffer = mjpeg.PART_HEADERS
        while chunk := self.sock.recv(1 << 20):
            buffer += chunk
            while (end := buffer.find(mjpeg.PART_END)) >= 0:
                assert buffer.startswith(mjpeg.PART_HEADERS), "every part starts with headers"
                jpeg = buffer[len(mjpeg.PART_HEADERS) : end]
                with self._lock:
                    self.parts.append((time.monotonic(), jpeg))
                buffer = buffer[end + 2 :]


@pytest.fixture
def connections() -> Iterator[list[tuple[socket.socket, socket.socket]]]:
    """Loopback TCP connections as (server end, TV end); each test makes its own."""
    made: list[tuple[socket.socket, socket.socket]] = []
    yield made
    for pair in made:
        for end in pair:
            end.close()


def connect(made: list[tuple[socket.socket, socket.socket]]) -> tuple[socket.socket, PartReader]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        tv = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    tv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    made.append((server, tv))
    return server, PartReader(tv)


def stream_on(
    hub: FrameHub, server: socket.socket, delay: float = 0.0, client_timeout: float = 30.0
) -> FanOutStream:
    return FanOutStream(
        server, hub, Viewer("127.0.0.1", "test", None, "default"), delay, client_timeout
    )


def fanout_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "stream-fanout" and t.is_alive()]


def test_a_reader_that_keeps_up_gets_every_frame_and_one_that_stalls_skips_to_the_newest(
    connections: list[tuple[socket.socket, socket.socket]],
) -> None:
    count = 40
    frames = [marked(i) for i in range(count)]
    hub = FrameHub()
    fanout = FanOut(lambda: 60.0)
    fast_end, fast = connect(connections)
    slow_end, slow = connect(connections)
    fast_stream, slow_stream = stream_on(hub, fast_end), stream_on(hub, slow_end)
    fanout.add(fast_stream)
    fanout.add(slow_stream)
    fast.start()
    for i, jpeg in enumerate(frames):
        hub.publish(jpeg, *SIDE)
        wait_for(lambda i=i: len(fast.jpegs()) > i, 10, what=f"frame {i} at the reader keeping up")
    assert [index_of(j, count) for j in fast.jpegs()] == list(range(count))
    slow.start()
    wait_for(
        lambda: bool(slow.jpegs()) and index_of(slow.jpegs()[-1], count) == count - 1,
        10,
        what="the newest frame at the reader that stalled",
    )
    seen = [index_of(j, count) for j in slow.jpegs()]
    assert seen == sorted(set(seen)), "whole frames, each once, in order"
    assert len(seen) < count / 2, f"the stalled reader skipped frames ({seen})"
    assert slow_stream.viewer.frames == len(seen)
    assert not fast_stream.ended.is_set()
    assert not slow_stream.ended.is_set()
    fanout.remove(fast_stream)
    fanout.remove(slow_stream)
    assert fanout_threads() == [], "the last stream out stops the thread"


def test_a_reader_that_takes_nothing_is_ended_after_client_timeout_and_the_others_go_on(
    connections: list[tuple[socket.socket, socket.socket]],
) -> None:
    hub = FrameHub()
    fanout = FanOut(lambda: 60.0)
    dead_end, _ = connect(connections)
    live_end, live = connect(connections)
    dead = stream_on(hub, dead_end, client_timeout=0.5)
    alive = stream_on(hub, live_end)
    fanout.add(dead)
    fanout.add(alive)
    live.start()
    published = 0

    def publish_until_ended() -> bool:
        nonlocal published
        hub.publish(marked(published % 30), *SIDE)
        published += 1
        return dead.ended.wait(0.05)

    wait_for(publish_until_ended, 10, what="the stream of the reader that takes nothing to end")
    hub.publish(marked(39), *SIDE)
    wait_for(lambda: index_of(live.jpegs()[-1], 40) == 39, 5, what="a frame after the other ended")
    assert not alive.ended.is_set()
    fanout.remove(dead)
    fanout.remove(alive)


def test_a_quiet_stream_gets_its_frame_again_every_keepalive(
    connections: list[tuple[socket.socket, socket.socket]],
) -> None:
    hub = FrameHub()
    fanout = FanOut(lambda: 0.2)
    end, reader = connect(connections)
    hub.publish(marked(3), *SIDE)
    stream = stream_on(hub, end)
    fanout.add(stream)
    reader.start()
    wait_for(lambda: len(reader.jpegs()) >= 4, 5, what="the same frame resent")
    assert {index_of(j, 40) for j in reader.jpegs()} == {3}
    fanout.remove(stream)


def test_a_moved_stream_shows_its_new_hub_and_a_closed_hub_ends_it(
    connections: list[tuple[socket.socket, socket.socket]],
) -> None:
    first, second = FrameHub(), FrameHub()
    first.publish(marked(1), *SIDE)
    second.publish(marked(2), *SIDE)
    fanout = FanOut(lambda: 60.0)
    end, reader = connect(connections)
    stream = stream_on(first, end)
    fanout.add(stream)
    reader.start()
    wait_for(lambda: len(reader.jpegs()) == 1, 5, what="the first hub's frame")
    fanout.move(stream, second)
    wait_for(lambda: len(reader.jpegs()) == 2, 5, what="the second hub's frame")
    assert [index_of(j, 40) for j in reader.jpegs()] == [1, 2]
    second.close()
    assert stream.ended.wait(5), "its hub closing ends the stream at once"
    fanout.remove(stream)
    assert fanout_threads() == []


def test_a_delayed_stream_gets_each_frame_its_delay_after_it_was_published(
    connections: list[tuple[socket.socket, socket.socket]],
) -> None:
    hub = FrameHub()
    fanout = FanOut(lambda: 60.0)
    end, reader = connect(connections)
    stream = stream_on(hub, end, delay=0.3)
    fanout.add(stream)
    reader.start()
    frames = [marked(i) for i in range(2)]
    published: list[Frame] = [hub.publish(jpeg, *SIDE) for jpeg in frames]
    wait_for(lambda: frames[1] in reader.jpegs(), 5, what="the newer frame, delayed")
    by_jpeg = {frame.jpeg: frame for frame in published}
    for arrived, jpeg in reader.parts:
        assert arrived - by_jpeg[jpeg].published_at >= 0.3, "no frame before its delay"
    fanout.remove(stream)


def test_a_client_that_closed_its_end_is_seen_to_have_left(
    connections: list[tuple[socket.socket, socket.socket]],
) -> None:
    end, reader = connect(connections)
    stream = stream_on(FrameHub(), end)
    assert not stream.client_left()
    reader.sock.close()
    wait_for(stream.client_left, 5, what="the closed end to be seen")
