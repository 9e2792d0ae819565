"""The snapshot API and the control API, through Flask's test client on the real app: real
shows on a real folder, no socket (none of these contracts needs one)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image
from support import BLUE, GREEN, RED, centre, close_to, config_text, solid, wait_for

from framecast.config import load_settings
from framecast.service.runtime import Framecast

CONTROL = {"X-Framecast": "1"}


class App:
    """The whole app in-process on `images`, started; its test client stands in for a TV."""

    def __init__(self, folder: Path, text: str) -> None:
        config = folder / "config.toml"
        config.write_text(text)
        self.framecast = Framecast(config, load_settings(config), "127.0.0.1", 8000)
        self.client: FlaskClient = self.framecast.app.test_client()
        self.framecast.start()

    def snapshot_centre(self) -> tuple[int, ...] | None:
        answer = self.client.get("/snapshot.jpg")
        return centre(answer.data) if answer.status_code == 200 else None

    def shows(self, colour: tuple[int, int, int]) -> None:
        wait_for(lambda: close_to(self.snapshot_centre() or (), colour), what=f"{colour} shown")

    def status(self) -> Any:
        return self.client.get("/status").get_json()


@pytest.fixture
def start_app(images: Path) -> Iterator[Any]:
    apps: list[App] = []

    def start(text: str | None = None, **options: Any) -> App:
        app = App(images.parent, text if text is not None else config_text(**options))
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.framecast.stop()


def test_snapshot_sizes_formats_and_errors(images: Path, start_app: Any) -> None:
    solid(images / "a.png", GREEN)
    app = start_app()
    app.shows(GREEN)
    for query, size, mime in (
        ("width=160", (160, 90), "image/jpeg"),
        ("height=45", (80, 45), "image/jpeg"),
        ("width=100&height=100&format=png", (100, 100), "image/png"),
        ("format=webp&quality=50", (320, 180), "image/webp"),
    ):
        answer = app.client.get(f"/snapshot?{query}")
        assert answer.status_code == 200, query
        assert answer.mimetype == mime
        image = Image.open(io.BytesIO(answer.data))
        assert image.size == size, query
        assert close_to(image.convert("RGB").getpixel((size[0] // 2, size[1] // 2)), GREEN)  # type: ignore[arg-type]
    for query, name in (
        ("width=0", "width"),
        ("width=4000", "width"),
        ("height=abc", "height"),
        ("format=gif", "format"),
        ("quality=0", "quality"),
    ):
        answer = app.client.get(f"/snapshot.jpg?{query}")
        assert answer.status_code == 400, query
        error = answer.get_json()
        assert error["parameter"] == name
        assert error["allowed"]


def test_snapshots_carry_an_etag_and_honour_if_none_match(images: Path, start_app: Any) -> None:
    solid(images / "a.png", RED)
    app = start_app()
    app.shows(RED)
    first = app.client.get("/snapshot.jpg?width=64")
    etag = first.headers["ETag"]
    assert etag
    assert app.status()["instance"] in etag, "one id for the process, in /status and ETags"
    again = app.client.get("/snapshot.jpg?width=64", headers={"If-None-Match": etag})
    assert again.status_code == 304
    other = app.client.get("/snapshot.jpg?width=32", headers={"If-None-Match": etag})
    assert other.status_code == 200
    solid(images / "a.png", BLUE)
    app.shows(BLUE)
    changed = app.client.get("/snapshot.jpg?width=64", headers={"If-None-Match": etag})
    assert changed.status_code == 200


def test_a_phone_drives_the_show(
    images: Path, start_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    solid(images / "1.png", RED)
    solid(images / "2.png", GREEN)
    solid(images / "3.png", BLUE)
    app = start_app(interval=30)
    app.shows(RED)
    with caplog.at_level(logging.INFO):
        assert app.client.post("/api/next", headers=CONTROL).status_code == 200
    app.shows(GREEN)
    assert app.client.post("/api/previous", headers=CONTROL).status_code == 200
    app.shows(RED)
    assert app.client.post("/api/pause", headers=CONTROL).status_code == 200
    assert wait_for(lambda: app.status()["paused"], what="paused in /status")
    assert app.client.post("/api/resume", headers=CONTROL).status_code == 200
    assert wait_for(lambda: not app.status()["paused"], what="resumed")
    answer = app.client.post("/api/explode", headers=CONTROL)
    assert answer.status_code == 404
    assert "unknown" in answer.get_json()["error"]
    assert "Control: next on default" in caplog.text


def test_the_control_api_needs_the_token_when_one_is_set(images: Path, start_app: Any) -> None:
    solid(images / "1.png", RED)
    solid(images / "2.png", GREEN)
    token = "phone-remote-77"
    text = config_text().replace('host = "127.0.0.1"', f'host = "127.0.0.1"\ntoken = "{token}"')
    app = start_app(text=text)
    assert app.client.post("/api/next", headers=CONTROL).status_code == 401
    bearer = {**CONTROL, "Authorization": f"Bearer {token}"}
    assert app.client.post("/api/next", headers=bearer).status_code == 200
    assert app.client.post(f"/api/next?token={token}", headers=CONTROL).status_code == 200
