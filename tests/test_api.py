"""The snapshot API and the control API on a real server."""

from __future__ import annotations

import http.client
import io
import json
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from support import BLUE, GREEN, RED, Server, StreamReader, close_to, config_text, solid, wait_for


def post(server: Server, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("POST", path, headers={"X-Framecast": "1", **(headers or {})})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, json.loads(body) if body else {}


def fetch(
    server: Server, path: str, headers: dict[str, str] | None = None
) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.read()
    return response


def test_snapshot_sizes_formats_and_errors(
    images: Path, start_server: Callable[..., Server]
) -> None:
    solid(images / "a.png", GREEN)
    server = start_server()
    wait_for(lambda: server.snapshot_centre(), what="a frame")
    for query, size, mime in (
        ("width=160", (160, 90), "image/jpeg"),
        ("height=45", (80, 45), "image/jpeg"),
        ("width=100&height=100&format=png", (100, 100), "image/png"),
        ("format=webp&quality=50", (320, 180), "image/webp"),
    ):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        connection.request("GET", f"/snapshot?{query}")
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200, query
        assert response.getheader("Content-Type") == mime
        image = Image.open(io.BytesIO(body))
        assert image.size == size, query
        assert close_to(image.convert("RGB").getpixel((size[0] // 2, size[1] // 2)), GREEN)  # type: ignore[arg-type]
    for query, name in (
        ("width=0", "width"),
        ("width=4000", "width"),
        ("height=abc", "height"),
        ("format=gif", "format"),
        ("quality=0", "quality"),
    ):
        code, body = server.get(f"/snapshot.jpg?{query}")
        assert code == 400, query
        error = json.loads(body)
        assert error["parameter"] == name
        assert error["allowed"]


def test_snapshots_carry_an_etag_and_honour_if_none_match(
    images: Path, start_server: Callable[..., Server]
) -> None:
    solid(images / "a.png", RED)
    server = start_server()
    wait_for(lambda: server.snapshot_centre(), what="a frame")
    first = fetch(server, "/snapshot.jpg?width=64")
    etag = first.getheader("ETag")
    assert etag
    again = fetch(server, "/snapshot.jpg?width=64", {"If-None-Match": etag})
    assert again.status == 304
    other = fetch(server, "/snapshot.jpg?width=32", {"If-None-Match": etag})
    assert other.status == 200
    solid(images / "a.png", BLUE)
    wait_for(lambda: close_to(server.snapshot_centre() or (), BLUE), what="the new frame")
    assert fetch(server, "/snapshot.jpg?width=64", {"If-None-Match": etag}).status == 200


def test_a_phone_drives_the_show(images: Path, start_server: Callable[..., Server]) -> None:
    solid(images / "1.png", RED)
    solid(images / "2.png", GREEN)
    solid(images / "3.png", BLUE)
    server = start_server(interval=30)
    stream = StreamReader(server.port)
    stream.wait_colour(RED)
    assert post(server, "/api/next")[0] == 200
    stream.wait_colour(GREEN)
    assert post(server, "/api/previous")[0] == 200
    stream.wait_colour(RED)
    assert post(server, "/api/pause")[0] == 200
    assert wait_for(lambda: server.status()["paused"], what="paused in /status")
    assert post(server, "/api/resume")[0] == 200
    assert wait_for(lambda: not server.status()["paused"], what="resumed")
    code, body = post(server, "/api/explode")
    assert code == 404
    assert "unknown" in body["error"]
    assert "Control: next" in server.log()


def test_the_control_api_needs_the_token_when_one_is_set(
    images: Path, start_server: Callable[..., Server]
) -> None:
    solid(images / "1.png", RED)
    solid(images / "2.png", GREEN)
    token = "phone-remote-77"
    text = config_text().replace('host = "127.0.0.1"', f'host = "127.0.0.1"\ntoken = "{token}"')
    server = start_server(text=text)
    assert post(server, "/api/next")[0] == 401
    assert post(server, "/api/next", {"Authorization": f"Bearer {token}"})[0] == 200
    assert post(server, f"/api/next?token={token}")[0] == 200
