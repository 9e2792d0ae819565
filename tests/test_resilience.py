"""Nothing a file does stops the show: unexpected errors, slow preparation, big and foreign files,
and a health check that tells when the show is stuck."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image
from support import (
    BLUE,
    GREEN,
    RED,
    OneChannel,
    Server,
    StreamReader,
    bomb_png,
    centre,
    close_to,
    config_text,
    plain_png,
    solid,
    wait_for,
)

from framecast.config import Settings, parse_settings
from framecast.hub import FrameHub
from framecast.render import imaging
from framecast.render.imaging import (
    SLIDE_FORMAT_NAMES,
    RenderSpec,
    UnreadableImage,
    render_slide,
)
from framecast.render.kinds import probe_file
from framecast.slideshow.presenter import SlidePresenter
from framecast.slideshow.renderer import SlideRenderer
from framecast.slideshow.source import SlideshowSource
from framecast.status import ServerStatus
from framecast.web import create_app

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n{ } loop\n"


def settings_for(folder: Path, interval: float, extra: str = "") -> Settings:
    base = parse_settings(
        f'[slideshow]\ninterval = {interval}\ntransition = "none"\n{extra}', folder.parent
    )
    return replace(base, stream=replace(base.stream, width=160, height=90))


class Show:
    """A slideshow on a real folder, in-process so its parts can be made to misbehave."""

    def __init__(self, folder: Path, interval: float, extra: str = "") -> None:
        self.settings = settings_for(folder, interval, extra)
        self.hub = FrameHub()
        self.renderer = SlideRenderer()
        self.producer = SlideshowSource(self.hub, lambda: self.settings, self.renderer)

    def colour_shown(self, colour: tuple[int, int, int], timeout: float = 10) -> None:
        def shown() -> bool:
            frame = self.hub.latest()
            return frame is not None and close_to(centre(frame.jpeg), colour)

        wait_for(shown, timeout, what=f"{colour} on the stream")


@pytest.fixture
def make_show(images: Path) -> Iterator[Callable[..., Show]]:
    shows: list[Show] = []
    watching = ExitStack()

    def make(interval: float, extra: str = "") -> Show:
        show = Show(images, interval, extra)
        shows.append(show)
        watching.enter_context(show.hub.subscribe())
        show.producer.start()
        return show

    with watching:
        yield make
        for show in shows:
            show.producer.stop()


def test_postscript_named_jpg_is_never_opened_as_postscript(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    path.write_bytes(EPS)
    with pytest.raises(UnreadableImage, match=f"not a {SLIDE_FORMAT_NAMES} image"):
        probe_file(path)
    with pytest.raises(UnreadableImage, match="not a JPEG"):
        render_slide(path, RenderSpec(160, 90, "contain", (0, 0, 0), 80))


def test_an_image_over_max_megapixels_is_refused_before_decoding(tmp_path: Path) -> None:
    path = bomb_png(tmp_path / "tall.png", side=9400)
    spec = RenderSpec(160, 90, "contain", (0, 0, 0), 80, max_pixels=50_000_000)
    with pytest.raises(UnreadableImage, match=r"over the 50 megapixel limit \(\[slideshow\]"):
        render_slide(path, spec)


def test_a_transparent_image_is_flattened_after_shrinking(tmp_path: Path) -> None:
    path = tmp_path / "clear.png"
    image = Image.new("RGBA", (1600, 900), (255, 0, 0, 0))
    image.paste((*GREEN, 255), (400, 225, 1200, 675))
    image.save(path)
    frame = Image.open(io.BytesIO(render_slide(path, RenderSpec(160, 90, "cover", BLUE, 90))))
    assert close_to(frame.getpixel((80, 45)), GREEN)
    assert close_to(frame.getpixel((5, 5)), BLUE)


def test_an_unexpected_decoder_error_skips_only_that_file(
    make_show: Callable[..., Show], images: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = imaging.render_slide

    def damaged_blp(path: Path, spec: RenderSpec) -> bytes:
        if path.name == "2.png":
            raise NotImplementedError("BLP2 with this encoding is not supported")
        return real(path, spec)

    monkeypatch.setattr("framecast.slideshow.renderer.render_slide", damaged_blp)
    solid(images / "1.png", RED)
    solid(images / "2.png", GREEN)
    solid(images / "3.png", BLUE)
    show = make_show(0.2)
    show.colour_shown(BLUE)
    show.colour_shown(RED)
    skipped = show.producer.playlist.skipped()  # type: ignore[union-attr]
    assert skipped == [
        {
            "file": "2.png",
            "reason": "cannot read it (NotImplementedError: BLP2 with this "
            "encoding is not supported)",
        }
    ]


def test_a_slow_slide_is_skipped_after_prepare_timeout_while_the_show_goes_on(
    make_show: Callable[..., Show], images: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = imaging.render_slide
    release = threading.Event()

    def slow(path: Path, spec: RenderSpec) -> bytes:
        if path.name == "2.png":
            release.wait(30)
        return real(path, spec)

    monkeypatch.setattr("framecast.slideshow.renderer.render_slide", slow)
    solid(images / "1.png", RED)
    solid(images / "2.png", GREEN)
    solid(images / "3.png", BLUE)
    show = make_show(0.3, "prepare_timeout = 1.0\n")
    try:
        show.colour_shown(BLUE)
        show.colour_shown(RED)
        reasons = {s["file"]: s["reason"] for s in show.producer.playlist.skipped()}  # type: ignore[union-attr]
        assert reasons == {"2.png": "took longer than 1 s to prepare ([slideshow] prepare_timeout)"}
        assert show.producer.stall_reason() is None
    finally:
        release.set()


def test_the_current_slide_stays_on_while_the_next_is_prepared(
    make_show: Callable[..., Show], images: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = imaging.render_slide
    release = threading.Event()
    started = threading.Event()

    def slow(path: Path, spec: RenderSpec) -> bytes:
        if path.name == "2.png":
            started.set()
            release.wait(30)
        return real(path, spec)

    monkeypatch.setattr("framecast.slideshow.renderer.render_slide", slow)
    solid(images / "1.png", RED)
    solid(images / "2.png", GREEN)
    show = make_show(0.2)
    show.colour_shown(RED)
    wait_for(started.is_set, 5, what="the next slide's preparation")
    frames = show.hub.frames
    wait_for(lambda: show.producer.slide == "1.png", 5, what="slide 1 on screen")
    assert show.producer.stall_reason() is None
    release.set()
    show.colour_shown(GREEN)
    assert show.hub.frames > frames


def test_an_unexpected_error_in_the_slideshow_is_logged_once_and_the_show_goes_on(
    make_show: Callable[..., Show],
    images: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures = iter([True, True, True])
    real = SlidePresenter._labels

    def flaky(self: SlidePresenter, settings: Settings, slide: object) -> object:
        if next(failures, False):
            raise KeyError("surprise")
        return real(self, settings, slide)  # type: ignore[arg-type]

    monkeypatch.setattr(SlidePresenter, "_labels", flaky)
    solid(images / "1.png", RED)
    solid(images / "2.png", GREEN)
    with caplog.at_level(logging.ERROR):
        show = make_show(0.2)
        show.colour_shown(RED)
        show.colour_shown(GREEN)
    tracebacks = [r for r in caplog.records if r.exc_info and "slideshow" in r.getMessage()]
    assert len(tracebacks) == 1
    assert "KeyError" in caplog.text


@pytest.mark.live
def test_healthz_says_503_with_the_reason_when_the_show_is_stuck(
    make_show: Callable[..., Show], images: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stuck = threading.Event()
    release = threading.Event()
    real = SlideshowSource._step

    def hang(self: SlideshowSource, *args: object) -> float:
        if (images / "hang").exists():
            stuck.set()
            release.wait(30)
        return real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(SlideshowSource, "_step", hang)
    solid(images / "1.png", RED)
    show = make_show(0.1)
    app = create_app(
        OneChannel(show.hub, show.producer.command),
        lambda: ServerStatus({}, 0.0, "test"),
        lambda: show.settings,
        health=show.producer.stall_reason,
    )
    client = app.test_client()
    show.colour_shown(RED)
    assert client.get("/healthz").status_code == 200
    (images / "hang").write_text("")
    try:
        wait_for(stuck.is_set, 5, what="the slideshow to hang")

        def unhealthy() -> bool:
            return client.get("/healthz").status_code == 503

        wait_for(unhealthy, 15, what="/healthz to say 503")
        body = client.get("/healthz").get_data(as_text=True)
        assert "has not moved on" in body
    finally:
        release.set()
    wait_for(lambda: client.get("/healthz").status_code == 200, 10, what="health again")


def test_a_live_server_skips_a_postscript_a_too_large_and_a_too_thin_file_and_keeps_streaming(
    start_server: Callable[..., Server], images: Path
) -> None:
    solid(images / "1.png", RED)
    server = start_server(
        config_text(interval=0.2).replace("[slideshow]\n", "[slideshow]\nmax_megapixels = 1\n")
    )
    (images / "x.jpg").write_bytes(EPS)
    solid(images / "big.png", GREEN, size=(1200, 1000))
    plain_png(images / "line.png", (1, 900_000))
    solid(images / "3.png", BLUE)
    stream = StreamReader(server.port)  # watched: an unwatched show renders nothing to refuse

    def reasons() -> dict[str, str]:
        return {s["file"]: s["reason"] for s in server.status()["skipped"]}

    wait_for(lambda: len(reasons()) == 3, 10, what="three files skipped")
    assert reasons()["x.jpg"] == f"not a {SLIDE_FORMAT_NAMES} image"
    assert "over the 1 megapixel limit ([slideshow] max_megapixels)" in reasons()["big.png"]
    assert reasons()["line.png"] == (
        "too thin to show: 1×900000 pixels would be under one pixel wide on the 320×180 frame"
    )
    assert server.log().count("Skipped line.png: too thin to show") == 1
    wait_for(lambda: close_to(server.snapshot_centre() or (0, 0, 0), BLUE), 10, what="blue")
    assert server.get("/healthz")[0] == 200
    stream.close()
