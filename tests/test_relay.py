"""Issue 19: one origin and two edges over a real redis-server, all real processes on loopback
ports; what the TVs of the edges see is checked in decoded pixels."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from PIL import Image
from relay_support import RELAY_SECRET, RedisServer, RoleServer, relay_environment
from support import (
    BLUE,
    GREEN,
    RED,
    ROOT,
    YELLOW,
    StreamReader,
    centre,
    close_to,
    free_port,
    need_tool,
    solid,
    wait_for,
    write_config,
)

from framecast.relay.link import CONTROL, EDGES, SETTINGS, frames_key, heartbeat_key
from framecast.relay.signing import Signer

pytestmark = pytest.mark.live

STALE_SECONDS = 2
CONFIG = """
[server]
host = "127.0.0.1"

[stream]
width = 320
height = 180

[slideshow]
folder = "{folder}"
interval = 600
transition = "none"

[edge]
stale_seconds = {stale}

[channels.menu]
folder = "menu"
"""


@dataclass
class Relay:
    redis: RedisServer
    origin: RoleServer
    edges: list[RoleServer]
    config: Path
    folder: Path

    def restart_origin(self) -> None:
        port = self.origin.port
        assert self.origin.stop() == 0
        self.origin = RoleServer(
            "origin", self.redis.url, self.folder, self.config, port
        ).wait_ready()


def config_text(folder: str = "images") -> str:
    return CONFIG.format(folder=folder, stale=STALE_SECONDS)


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relay]:
    """A redis-server, an origin with slides red, yellow and blue (and a channel "menu" in
    green) and two edges."""
    need_tool("redis-server", "redis-server")
    folder = tmp_path_factory.mktemp("relay")
    for name, colour in (("a.png", RED), ("b.png", YELLOW), ("c.png", BLUE)):
        (folder / "images").mkdir(exist_ok=True)
        solid(folder / "images" / name, colour)
    (folder / "menu").mkdir()
    solid(folder / "menu" / "m.png", GREEN)
    config = folder / "config.toml"
    config.write_text(config_text())
    redis = RedisServer(folder).start()
    origin = RoleServer("origin", redis.url, folder, config)
    edges = [RoleServer("edge", redis.url, folder) for _ in range(2)]
    setup = Relay(redis, origin.wait_ready(), [edge.wait_ready() for edge in edges], config, folder)
    yield setup
    for server in [setup.origin, *setup.edges]:
        server.resume()
        server.stop()
    redis.kill()


@pytest.fixture
def readers(relay: Relay) -> Iterator[list[StreamReader]]:
    """One TV on each edge, on the default channel."""
    opened = [StreamReader(edge.port) for edge in relay.edges]
    yield opened
    for reader in opened:
        reader.close()


def corner(jpeg: bytes) -> tuple[int, ...]:
    """A pixel inside the "offline" mark's plate, at the bottom-right corner."""
    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    return tuple(image.getpixel((image.width - 12, image.height - 9)))  # type: ignore[arg-type]


def marked(reader: StreamReader) -> bool:
    jpeg = reader.latest()
    return jpeg is not None and close_to(corner(jpeg), (24, 24, 24), 40)


ORDER = (RED, YELLOW, BLUE)
"""The default channel's slides, in the order they are shown."""


def common(readers: list[StreamReader]) -> tuple[int, int, int] | None:
    """The slide every reader shows now, if they agree."""
    for colour in ORDER:
        if all((c := r.latest_centre()) is not None and close_to(c, colour) for r in readers):
            return colour
    return None


def go_to(relay: Relay, colour: tuple[int, int, int], readers: list[StreamReader]) -> None:
    """Press "next" at the origin until the edges' TVs show `colour`."""
    for _ in ORDER:
        now = wait_for(lambda: common(readers), 10, what="the edges to show one slide")
        if now == colour:
            return
        assert relay.origin.post("/api/next") == 200
        wait_for(lambda n=now: common(readers) not in (None, n), 5, what="the next slide")
    raise AssertionError(f"never showed {colour}")


@pytest.mark.redis
def test_slides_and_channels_reach_both_edges(relay: Relay, readers: list[StreamReader]) -> None:
    for reader in readers:
        reader.wait_colour(RED, 10)
    for edge in relay.edges:
        menu = StreamReader(edge.port, "/c/menu/stream")
        menu.wait_colour(GREEN, 10)
        menu.close()
        code, _ = edge.get("/snapshot.jpg")
        assert code == 200
        assert close_to(wait_for(edge.snapshot_centre, what="a snapshot"), RED)
        status = edge.status()
        assert set(status["channels"]) == {"default", "menu"}
        assert status["edge"]["origin"]["port"] == relay.origin.port


@pytest.mark.redis
def test_origin_status_lists_both_edges(relay: Relay, readers: list[StreamReader]) -> None:
    for reader in readers:
        reader.wait_colour(RED, 10)
    ports = {f"127.0.0.1:{edge.port}" for edge in relay.edges}

    def listed() -> list[dict[str, object]]:
        edges = relay.origin.status()["edges"]
        seen = [e for e in edges if e["address"] in ports and e["viewers"] == 1]
        return seen if len(seen) == 2 else []

    for edge in wait_for(listed, 5, what="both edges with a viewer in the origin's /status"):
        assert edge["online"] is True
        assert float(edge["last_seen_s"]) < 3  # type: ignore[arg-type]
        assert edge["lag_ms"] is not None


@pytest.mark.redis
def test_a_command_at_an_edge_and_a_live_edit_at_the_origin(
    relay: Relay, readers: list[StreamReader]
) -> None:
    go_to(relay, RED, readers)
    assert relay.edges[0].post("/api/next") == 200
    for reader in readers:
        reader.wait_colour(YELLOW, 5)
    write_config(relay.config, config_text("menu"))
    for reader in readers:
        reader.wait_colour(GREEN, 10)
    write_config(relay.config, config_text())
    for reader in readers:
        reader.wait_colour(RED, 10)


@pytest.mark.redis
def test_edges_ride_out_a_redis_restart(relay: Relay, readers: list[StreamReader]) -> None:
    go_to(relay, RED, readers)
    relay.redis.kill()
    own = StreamReader(relay.origin.port)
    try:
        own.wait_colour(RED)
        for edge in relay.edges:
            wait_for(lambda e=edge: e.status()["edge"]["redis_error"], 5, what="/status says so")
        assert relay.edges[0].post("/api/next") == 503, "control: the origin is unreachable"
        for reader in readers:
            wait_for(lambda r=reader: marked(r), STALE_SECONDS + 5, what="the offline mark")
            assert close_to(reader.latest_centre() or (), RED)
        # The origin's own TVs go on without Redis.
        assert relay.origin.post("/api/next") == 200
        own.wait_colour(YELLOW, 5)
    finally:
        own.close()
    relay.redis.start()
    for reader in readers:
        wait_for(lambda r=reader: not marked(r), 10, what="the mark to go")
        reader.wait_colour(YELLOW, 5)
    assert relay.origin.post("/api/next") == 200
    for reader in readers:
        reader.wait_colour(BLUE, 5)


@pytest.mark.redis
def test_a_stopped_edge_resumes_on_the_newest_frame(
    relay: Relay, readers: list[StreamReader]
) -> None:
    go_to(relay, RED, readers)
    stopped, running = relay.edges[1], readers[0]
    stopped.pause()
    paused_at = time.monotonic()
    try:
        assert relay.origin.post("/api/next") == 200
        running.wait_colour(YELLOW, 5)
        assert relay.origin.post("/api/next") == 200
        running.wait_colour(BLUE, 5)
        time.sleep(max(0.0, paused_at + 5 - time.monotonic()))  # stopped for 5 s, as issued
    finally:
        stopped.resume()
    resumed_at = time.monotonic()
    readers[1].wait_colour(BLUE, 5)
    later = [jpeg for at, jpeg in readers[1].frames if at >= resumed_at]
    assert not any(close_to(centre(jpeg), YELLOW) for jpeg in later), "a backlog was sent"


@pytest.mark.redis
def test_edges_follow_a_restarted_origin(relay: Relay, readers: list[StreamReader]) -> None:
    go_to(relay, RED, readers)
    relay.restart_origin()
    wait_for(lambda: relay.origin.status()["frames"], 10, what="the new origin's first frame")
    assert relay.origin.post("/api/next") == 200
    for reader in readers:
        reader.wait_colour(YELLOW, 10)


def jpeg_of(colour: tuple[int, int, int], size: tuple[int, int] = (320, 180)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def frame_fields(jpeg: bytes) -> dict[str, bytes | int | str]:
    return {
        "jpeg": jpeg,
        "seq": 10**9,
        "width": 320,
        "height": 180,
        "standing": 1,
        "sent": repr(time.time()),
    }


@pytest.mark.redis
def test_what_the_secret_did_not_sign_is_refused(relay: Relay, readers: list[StreamReader]) -> None:
    """Anyone who can write to Redis: switching the origin to its screen, pressing "next",
    putting a picture on the edges' TVs, posing as an edge that wants a channel."""
    go_to(relay, RED, readers)
    client = redis.Redis.from_url(relay.redis.url)
    stranger = Signer(b"not-the-shared-secret-at-all")
    frames = frames_key("default")
    try:
        for fields in (
            {"kind": "source", "channel": "default", "value": "screen", "edge": "x"},
            stranger.sign_fields(
                CONTROL, {"kind": "command", "channel": "default", "value": "next", "edge": "x"}
            ),
        ):
            client.xadd(CONTROL, fields)  # type: ignore[arg-type]
        client.hset(EDGES, "intruder", json.dumps({"id": "intruder", "wants": ["menu"]}))
        client.xadd(frames, frame_fields(jpeg_of(GREEN)))  # type: ignore[arg-type]
        client.xadd(frames, stranger.sign_fields(frames, frame_fields(jpeg_of(GREEN))))
        client.xadd(frames, {"jpeg": b"junk"})

        def refused(server: RoleServer, key: str) -> int:
            status = server.status()
            part = status["relay"] if server is relay.origin else status["edge"]
            return int(part["refused"].get(key, 0))

        wait_for(lambda: refused(relay.origin, CONTROL) >= 2, 5, what="control refused")
        wait_for(
            lambda: refused(relay.origin, heartbeat_key("intruder")) >= 1, 5, what="beat refused"
        )
        for edge in relay.edges:
            wait_for(lambda e=edge: refused(e, frames) >= 1, 5, what="frames refused")
        status = relay.origin.status()
        assert status["source"] == "slideshow"
        assert "intruder" not in {edge["id"] for edge in status["edges"]}
        for reader in readers:
            assert close_to(reader.latest_centre() or (), RED), "no forged frame on a TV"
            assert reader.count() >= 1
        for server in (relay.origin, *relay.edges):
            assert server.log().count("not signed with this machine's") <= 2, server.log()
    finally:
        client.hdel(EDGES, "intruder")
        client.close()
    for reader in readers:
        reader.wait_colour(RED, 5)


@pytest.mark.redis
def test_settings_in_redis_pass_the_config_checks(relay: Relay) -> None:
    """With the origin paused (so that it does not write them over), settings that are
    unsigned, then signed but with `keepalive = 0`, are refused; the edge keeps its channels."""
    client = redis.Redis.from_url(relay.redis.url)
    good = client.get(SETTINGS)
    assert isinstance(good, bytes)
    signer = Signer(RELAY_SECRET.encode())
    tables = json.loads(signer.open(SETTINGS, good))
    tables["stream"]["keepalive"] = 0
    bad = json.dumps(tables).encode()
    edge = relay.edges[0]

    def error() -> str:
        return str(edge.status()["edge"]["settings_error"] or "")

    relay.origin.pause()
    try:
        client.set(SETTINGS, bad)
        wait_for(lambda: "not signed" in error(), 5, what="unsigned settings refused")
        client.set(SETTINGS, signer.seal(SETTINGS, bad))
        wait_for(lambda: "keepalive = 0" in error(), 5, what="keepalive = 0 refused")
        assert set(edge.status()["channels"]) == {"default", "menu"}
    finally:
        relay.origin.resume()
        client.close()
    wait_for(lambda: not error(), 5, what="the origin's own settings again")


def readme_acl_user(password: str) -> list[str]:
    """The README's line for Redis's `framecast` user, as redis-server's arguments."""
    line = next(
        line.strip()
        for line in (ROOT / "README.md").read_text().splitlines()
        if line.strip().startswith("user framecast on >")
    )
    words = line.split()
    return ["--user", *(f">{password}" if w.startswith(">") else w for w in words[1:])]


@pytest.mark.redis
def test_the_readmes_redis_user_carries_the_show(tmp_path: Path) -> None:
    """Redis set up as the README says (no default user, Framecast's own user and password):
    the show reaches an edge's TV; a wrong password stops an edge with a message."""
    need_tool("redis-server", "redis-server")
    password = "a-long-redis-password"
    redis_server = RedisServer(
        tmp_path, "--user", "default", "off", *readme_acl_user(password)
    ).start()
    url = f"redis://framecast@127.0.0.1:{redis_server.port}/0"
    images = tmp_path / "images"
    images.mkdir()
    solid(images / "a.png", RED)
    config = tmp_path / "config.toml"
    config.write_text(
        '[server]\nhost = "127.0.0.1"\n[stream]\nwidth = 320\nheight = 180\n'
        '[slideshow]\nfolder = "images"\ninterval = 600\n'
    )
    origin = RoleServer("origin", url, tmp_path, config, password=password)
    edge = RoleServer("edge", url, tmp_path, password=password)
    wrong = RoleServer("edge", url, tmp_path, password="not-the-password")
    try:
        assert wrong.process.wait(30) == 2
        assert "cannot use Redis at redis://***@127.0.0.1" in wrong.log()
        assert "not-the-password" not in wrong.log()
        origin.wait_ready()
        tv = StreamReader(edge.wait_ready().port)
        tv.wait_colour(RED, 15)
        tv.close()
        assert origin.status()["relay"]["redis_error"] is None
    finally:
        for server in (wrong, edge, origin):
            server.stop()
        redis_server.kill()


@pytest.mark.redis
def test_a_second_origin_refuses_to_start(relay: Relay) -> None:
    second = RoleServer("origin", relay.redis.url, relay.folder, relay.config)
    assert second.process.wait(15) == 2
    log = second.log()
    assert f"pid {relay.origin.process.pid}, port {relay.origin.port}" in log, log
    second.stop()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:1/0", "is not a Redis URL"),
        ("redis://127.0.0.1:{port}/0", "cannot use Redis at redis://127.0.0.1"),
        ("redis://:hunter2@127.0.0.1:{port}/0", "cannot use Redis at redis://***@127.0.0.1"),
    ],
)
def test_a_wrong_redis_url_exits_2(tmp_path: Path, url: str, says: str) -> None:
    command = [sys.executable, str(ROOT / "slideshow.py"), "--role", "edge"]
    result = subprocess.run(
        [*command, "--redis", url.format(port=free_port()), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env=relay_environment(),
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, result.stderr
    assert says in errors[0]
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize("secret", ["", "short"])
def test_a_role_without_the_shared_secret_exits_2(secret: str) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    command = [sys.executable, str(ROOT / "slideshow.py"), "--role", "origin", "--redis", url]
    result = subprocess.run(
        [*command, "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env=relay_environment(secret),
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, result.stderr
    assert "$FRAMECAST_RELAY_SECRET" in errors[0]


@pytest.mark.redis
def test_a_frame_too_large_for_redis_is_logged_and_skipped(tmp_path: Path) -> None:
    need_tool("redis-server", "redis-server")
    redis = RedisServer(tmp_path, "--proto-max-bulk-len", "1mb").start()
    images = tmp_path / "images"
    images.mkdir()
    noise = Image.frombytes("RGB", (1920, 1080), os.urandom(1920 * 1080 * 3))
    noise.save(images / "a-noise.png")
    solid(images / "b-red.png", RED)
    config = tmp_path / "config.toml"
    config.write_text(
        '[server]\nhost = "127.0.0.1"\n[stream]\nquality = 95\n'
        '[slideshow]\nfolder = "images"\ninterval = 1\ntransition = "none"\n'
    )
    origin = RoleServer("origin", redis.url, tmp_path, config)
    edge = RoleServer("edge", redis.url, tmp_path)
    try:
        origin.wait_ready()
        tv = StreamReader(edge.wait_ready().port)
        tv.wait_colour(RED, 15)
        wait_for(lambda: "larger than Redis takes" in origin.log(), 5, what="the log line")
        shown = tv.count()
        wait_for(lambda: tv.count() >= shown + 1, 5, what="the stream to go on")
        tv.wait_colour(RED, 5)
        assert origin.log().count("larger than Redis takes") == 1
        skipped = origin.status()["relay"]["skipped_frames"]
        assert skipped["default"] >= 1
        tv.close()
    finally:
        edge.stop()
        origin.stop()
        redis.kill()
