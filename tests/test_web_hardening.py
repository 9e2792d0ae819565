"""Issue 11 on the HTTP face: bounded snapshots, strict numbers, no cross-site control, no
foreign Host names. Flask's test client on the real app and a real hub."""

from __future__ import annotations

import io
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image
from support import OneChannel, wait_for

import framecast.web.snapshot as snapshot_module
from framecast.audio.audio_hub import AudioHub
from framecast.config import Settings
from framecast.hub import FrameHub
from framecast.status import ServerStatus
from framecast.web import create_app
from framecast.web.snapshot import SNAPSHOT_MAX, SnapshotCache, SnapshotRequest
from framecast.web.viewers import Viewer, Viewers


def jpeg(size: tuple[int, int], colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


@dataclass
class App:
    """The real app on a real hub, with settings a test can change and the controls it got."""

    hub: FrameHub
    client: FlaskClient
    settings: Settings
    controls: list[str] = field(default_factory=list)
    health: str | None = None

    def set_server(self, **changes: Any) -> None:
        self.settings = replace(self.settings, server=replace(self.settings.server, **changes))


@pytest.fixture
def app() -> Iterator[App]:
    hub = FrameHub()
    state = App(hub, None, Settings())  # type: ignore[arg-type]

    def control(action: str) -> None:
        if action not in ("next", "previous", "pause", "resume"):
            raise ValueError(f"unknown action {action!r}")
        state.controls.append(action)

    flask_app = create_app(
        OneChannel(hub, control),
        lambda: ServerStatus({}, 0.0, "test"),
        lambda: state.settings,
        lambda: state.health,
    )
    state.client = flask_app.test_client()
    yield state
    hub.close()


def image_size(body: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(body)) as image:
        return image.size


# A. Snapshots: both sides capped, renders bounded, cache bounded by bytes.


@pytest.mark.parametrize(
    ("frame_size", "query", "expected"),
    [
        ((1080, 1920), "width=3840", (1215, 2160)),
        ((200, 4000), "width=3840", (108, 2160)),
        ((4000, 200), "height=2160", (3840, 192)),
        ((7680, 4320), "format=png", (3840, 2160)),
        ((320, 180), "width=160", (160, 90)),
        ((1, 4000), "width=1", (1, 2160)),
    ],
)
def test_both_sides_of_a_snapshot_are_capped(
    app: App, frame_size: tuple[int, int], query: str, expected: tuple[int, int]
) -> None:
    app.hub.publish(jpeg(frame_size), *frame_size)
    response = app.client.get(f"/snapshot.jpg?{query}")
    assert response.status_code == 200
    size = image_size(response.data)
    assert size == expected
    assert size[0] <= SNAPSHOT_MAX[0]
    assert size[1] <= SNAPSHOT_MAX[1]


@dataclass
class Gate:
    """Holds snapshot conversions until opened, so a test can see what happens meanwhile."""

    opened: threading.Event = field(default_factory=threading.Event)
    waiting: list[tuple[int, int]] = field(default_factory=list)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    held = Gate()
    real = snapshot_module.convert_frame

    def held_convert(data: bytes, size: tuple[int, int], fmt: str, quality: int) -> bytes:
        held.waiting.append(size)
        held.opened.wait(10)
        return real(data, size, fmt, quality)

    monkeypatch.setattr(snapshot_module, "convert_frame", held_convert)
    yield held
    held.opened.set()


def fetch_in_background(client: FlaskClient, path: str) -> tuple[threading.Thread, list[int]]:
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(client.get(path).status_code))
    thread.start()
    return thread, codes


def test_renders_beyond_snapshot_workers_get_429_and_cached_ones_do_not_wait(
    app: App, gate: Gate, caplog: pytest.LogCaptureFixture
) -> None:
    app.hub.publish(jpeg((320, 180)), 320, 180)
    app.set_server(snapshot_workers=1)
    first, first_codes = fetch_in_background(app.client, "/snapshot.jpg?width=100")
    wait_for(lambda: gate.waiting, what="the first render to start")
    with caplog.at_level(logging.WARNING, logger="framecast.web"):
        busy = app.client.get("/snapshot.jpg?width=101")
        again = app.client.get("/snapshot.jpg?width=102")
    assert busy.status_code == 429
    assert busy.headers["Retry-After"] == "1"
    assert "retry" in busy.get_json()["error"]
    assert again.status_code == 429
    assert caplog.text.count("snapshot_workers") == 1, "logged once per address per minute"
    assert app.client.get("/snapshot.jpg").status_code == 200, "the frame as sent needs no slot"

    app.set_server(snapshot_workers=2)
    second, second_codes = fetch_in_background(app.client, "/snapshot.jpg?width=101")
    wait_for(lambda: len(gate.waiting) == 2, what="a second render once the limit is 2")
    gate.opened.set()
    first.join(10)
    second.join(10)
    assert first_codes == [200]
    assert second_codes == [200]

    gate.opened.clear()
    app.set_server(snapshot_workers=1)
    third, _ = fetch_in_background(app.client, "/snapshot.jpg?width=103")
    wait_for(lambda: len(gate.waiting) == 3, what="a third render to hold the only slot")
    cached = app.client.get("/snapshot.jpg?width=100")
    assert cached.status_code == 200, "a cached snapshot needs no slot"
    assert image_size(cached.data) == (100, 56)
    gate.opened.set()
    third.join(10)


def test_the_snapshot_cache_is_bounded_by_bytes(app: App) -> None:
    frame = app.hub.publish(jpeg((640, 360)), 640, 360)
    # PNG ignores the quality: three snapshots of the same bytes under three keys.
    wanted = [SnapshotRequest((640, 360), "png", quality) for quality in (1, 2, 3)]
    size = len(SnapshotCache().render(frame, wanted[0]))
    cache = SnapshotCache(max_bytes=size * 2)
    for each in wanted:
        assert cache.cached(frame, each) is None
        cache.render(frame, each)
    assert cache.cached(frame, wanted[0]) is None, "the oldest went when the bytes ran over"
    assert cache.cached(frame, wanted[1]) is not None
    assert cache.cached(frame, wanted[2]) is not None
    small = SnapshotCache(max_bytes=size - 1)
    assert small.render(frame, wanted[0])
    assert small.cached(frame, wanted[0]) is None, "one larger than the budget is not kept"


# B. Numbers: ASCII digits only, and only a few of them.


@pytest.mark.parametrize(
    "value",
    ["²", "①", "١٢٣", "٣", "9" * 5000, "0" * 7 + "1", "-5", "+5", " 5", "5.0", "", "0"],
)
def test_numbers_that_are_not_plain_digits_are_400_with_one_log_line(
    app: App, value: str, caplog: pytest.LogCaptureFixture
) -> None:
    app.hub.publish(jpeg((320, 180)), 320, 180)
    with caplog.at_level(logging.WARNING, logger="framecast.web"):
        for name in ("width", "height", "quality"):
            response = app.client.get("/snapshot.jpg", query_string={name: value})
            assert response.status_code == 400, (name, value)
            assert response.get_json()["parameter"] == name
    refusals = [r for r in caplog.records if "Refused a snapshot" in r.getMessage()]
    assert len(refusals) == 1, "once per address per minute"
    assert refusals[0].exc_info is None
    assert "\n" not in refusals[0].getMessage()
    assert app.client.get("/snapshot.jpg?width=160").status_code == 200


# C. Cross-site control and Host names.


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "text/plain"},
        {"Content-Type": "multipart/form-data; boundary=x"},
    ],
)
def test_a_simple_post_that_any_page_could_send_is_refused(
    app: App, headers: dict[str, str]
) -> None:
    response = app.client.post("/api/pause", headers=headers, data="action=pause")
    assert response.status_code == 403
    assert "X-Framecast: 1" in response.get_json()["error"]
    assert app.controls == []


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Framecast": "1"},
        {"Content-Type": "application/json"},
        {"Content-Type": "application/json; charset=utf-8"},
        {"Authorization": "Bearer anything"},
        {"X-Framecast": "1", "Origin": "http://localhost"},
        {"X-Framecast": "1", "Referer": "http://localhost/?token=x"},
        {"X-Framecast": "1", "Origin": "https://localhost"},
    ],
)
def test_a_post_that_a_browser_must_preflight_from_this_host_is_served(
    app: App, headers: dict[str, str]
) -> None:
    response = app.client.post("/api/pause", headers=headers)
    assert response.status_code == 200
    assert app.controls == ["pause"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost:8001"},
        {"Origin": "http://localhost.evil.example"},
        {"Origin": "ftp://localhost"},
        {"Origin": "http://[::1"},
        {"Referer": "http://evil.example/page.html"},
    ],
)
def test_a_post_from_a_page_on_another_site_is_refused(
    app: App, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="framecast.web"):
        for _ in range(3):
            response = app.client.post(
                "/api/pause", headers={**headers, "X-Framecast": "1"}, json={}
            )
            assert response.status_code == 403
            assert "another site" in response.get_json()["error"]
    assert app.controls == []
    assert caplog.text.count("Refused POST /api/pause") == 1


def test_origin_and_host_must_name_the_same_port(app: App) -> None:
    same = {"Host": "127.0.0.1:8000", "Origin": "http://127.0.0.1:8000", "X-Framecast": "1"}
    assert app.client.post("/api/next", headers=same).status_code == 200
    other = {**same, "Origin": "http://127.0.0.1:9000"}
    assert app.client.post("/api/next", headers=other).status_code == 403
    ipv6 = {"Host": "[::1]:8000", "Origin": "http://[::1]:8000", "X-Framecast": "1"}
    assert app.client.post("/api/next", headers=ipv6).status_code == 200
    assert app.controls == ["next", "next"]


def test_refusals_keep_their_meaning_for_unknown_routes_and_methods(app: App) -> None:
    assert app.client.post("/stream").status_code == 405
    assert app.client.post("/nothing-here").status_code == 404
    response = app.client.post("/api/explode", headers={"X-Framecast": "1"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "localhost:8000",
        "LOCALHOST.",
        "127.0.0.1:8000",
        "10.20.30.40",
        "[::1]:8000",
        "[fe80::1]",
        socket.gethostname(),
        f"{socket.gethostname()}.local:8000",
    ],
)
def test_this_machines_names_and_any_address_are_served(app: App, host: str) -> None:
    app.hub.publish(jpeg((320, 180)), 320, 180)
    for path in ("/status", "/", "/snapshot.jpg"):
        assert app.client.get(path, headers={"Host": host}).status_code == 200, (host, path)


def test_another_host_name_is_400_naming_it_except_for_health(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """A page on rebind.evil.example whose name now resolves to this machine reads nothing."""
    with caplog.at_level(logging.WARNING, logger="framecast.web"):
        for path in ("/status", "/snapshot.jpg", "/", "/stream"):
            response = app.client.get(path, headers={"Host": "rebind.evil.example:8000"})
            assert response.status_code == 400, path
            error = response.get_json()["error"]
            assert "rebind.evil.example" in error
            assert "[server] allowed_hosts" in error
        posted = app.client.post(
            "/api/pause", headers={"Host": "rebind.evil.example", "X-Framecast": "1"}
        )
        assert posted.status_code == 400
    assert app.controls == []
    lines = [r for r in caplog.records if "Refused requests for host" in r.getMessage()]
    assert len(lines) == 1
    assert "rebind.evil.example" in lines[0].getMessage()
    healthy = app.client.get("/healthz", headers={"Host": "rebind.evil.example"})
    assert healthy.status_code == 200


def test_allowed_hosts_replaces_the_machines_names_but_keeps_addresses(app: App) -> None:
    app.set_server(allowed_hosts=("signage.example",))
    for host, code in (
        ("signage.example", 200),
        ("SIGNAGE.example:8000", 200),
        ("127.0.0.1", 200),
        ("[::1]:8000", 200),
        ("localhost", 200),
        (f"{socket.gethostname()}.local", 400),
        ("other.example", 400),
    ):
        assert app.client.get("/status", headers={"Host": host}).status_code == code, host


def test_health_says_503_with_the_reason(app: App) -> None:
    assert app.client.get("/healthz").data == b"ok"
    app.health = "the show has not moved on"
    response = app.client.get("/healthz")
    assert response.status_code == 503
    assert response.data == b"unhealthy: the show has not moved on"


def test_the_names_mdns_announces_are_served(app: App) -> None:
    for host in ("framecast.local", "framecast-2.local:8000"):
        assert app.client.get("/status", headers={"Host": host}).status_code == 200
    assert app.client.get("/status", headers={"Host": "framecast.example"}).status_code == 400
    app.set_server(name="lobby")
    assert app.client.get("/status", headers={"Host": "lobby.local"}).status_code == 200


@pytest.mark.parametrize("delay", ["abc", "-5", "\u00b2", "99999999", "300"])
def test_a_stream_with_any_delay_sends_its_frame(app: App, delay: str) -> None:
    """A page's `?delay=` holds a live picture back; nonsense is no delay, and too much is
    capped, so a standing frame still goes out at once."""
    frame = jpeg((32, 18))
    app.hub.publish(frame, 32, 18)
    response = app.client.get(f"/stream?delay={delay}", buffered=False)
    try:
        assert response.status_code == 200
        body = b""
        for chunk in response.response:
            body += chunk
            if frame in body:
                break
        assert frame in body
    finally:
        response.close()


def test_a_local_proxy_seen_as_mapped_ipv4_is_not_capped_like_a_tv() -> None:
    """With `host = "::"` a reverse proxy on this machine connects as `::ffff:127.0.0.1`: its
    streams are every TV's, so they are not held to a TV's cap; a mapped LAN address is."""
    viewers = Viewers(lambda: 1)
    local = [Viewer("::ffff:127.0.0.1", "proxy", None, "default") for _ in range(3)]
    remote = [Viewer("::ffff:192.0.2.7", "tv", None, "default") for _ in range(2)]
    for viewer in local + remote:
        viewers.add(viewer)
    assert [viewer.ended.is_set() for viewer in local] == [False, False, False]
    assert [viewer.ended.is_set() for viewer in remote] == [True, False]


class OneSound:
    """The sound of the default channel: one hub nobody publishes to (silence is enough)."""

    def __init__(self) -> None:
        self.wav = AudioHub()

    def hub(self, channel: str, fmt: str) -> AudioHub | None:
        return self.wav if (channel, fmt) == ("default", "wav") else None

    def status(self, channel: str) -> dict[str, Any]:
        return {"format": "wav", "error": None}


def test_sound_listeners_are_held_to_max_clients_and_the_per_address_cap() -> None:
    settings = Settings()
    settings = replace(
        settings, server=replace(settings.server, max_clients=2, max_streams_per_address=1)
    )
    hub, sound = FrameHub(), OneSound()
    flask_app = create_app(
        OneChannel(hub), lambda: ServerStatus({}, 0.0, "test"), lambda: settings, sound=sound
    )
    client = flask_app.test_client()

    def listen(address: str) -> Any:
        answer = client.get("/audio.wav", buffered=False, environ_base={"REMOTE_ADDR": address})
        if answer.status_code == 200:
            assert next(iter(answer.response))[:4] == b"RIFF", "the listener is counted now"
        return answer

    first = listen("192.0.2.5")
    second = listen("192.0.2.5")
    rest = threading.Thread(target=lambda: list(first.response), daemon=True)
    rest.start()
    rest.join(5)
    assert not rest.is_alive(), "the older listener from that address ended"
    first.close()
    other = listen("192.0.2.6")
    full = listen("192.0.2.7")
    assert (second.status_code, other.status_code, full.status_code) == (200, 200, 503)
    assert full.headers["Retry-After"]
    for answer in (second, other):
        answer.close()
    assert listen("192.0.2.7").status_code == 200, "room again once they left"
    hub.close()
    sound.wav.close()
