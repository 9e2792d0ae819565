"""The slideshow source with a real folder, renderer and hub, in-process so its work can be
counted."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image
from support import BLUE, GREEN, RED, YELLOW, centre, close_to, solid, wait_for

from framecast.config import Settings, parse_settings
from framecast.hub import FrameHub
from framecast.slideshow.renderer import SlideRenderer
from framecast.slideshow.source import SlideshowSource


class WatchedHub(FrameHub):
    """A hub with a stream client on it from the start: the producer makes frames only for
    watchers."""

    def __init__(self) -> None:
        super().__init__()
        self._client = ExitStack()
        self._client.enter_context(self.subscribe())


class Show:
    def __init__(self, folder: Path, interval: float) -> None:
        base = parse_settings(
            f'[slideshow]\ninterval = {interval}\ntransition = "none"\n', folder.parent
        )
        self.settings: Settings = replace(base, stream=replace(base.stream, width=160, height=90))
        self.hub = WatchedHub()
        self.renderer = SlideRenderer()
        self.producer = SlideshowSource(self.hub, lambda: self.settings, self.renderer)
        self.seq = 0

    def colours_seen(self, count: int) -> list[tuple[int, ...]]:
        """The centre colours of the next `count` frames published after those already seen."""
        seen: list[tuple[int, ...]] = []
        while len(seen) < count:
            frame = self.hub.wait_newer(self.seq, 5)
            assert frame is not None, "no new frame"
            self.seq = frame.seq
            seen.append(centre(frame.jpeg))
        return seen


@pytest.fixture
def show(images: Path) -> Iterator[Show]:
    solid(images / "1.png", RED)
    solid(images / "2.png", GREEN)
    running = Show(images, interval=0.1)
    running.producer.start()
    yield running
    running.producer.stop()


def test_each_slide_is_rendered_once_however_many_passes(show: Show) -> None:
    colours = show.colours_seen(8)
    assert close_to(colours[0], RED)
    assert all(close_to(c, RED if i % 2 == 0 else GREEN) for i, c in enumerate(colours))
    assert show.renderer.renders == 2


def test_a_changed_file_is_rendered_again_and_shown(show: Show, images: Path) -> None:
    show.colours_seen(2)
    solid(images / "1.png", BLUE)
    wait_for(lambda: any(close_to(c, BLUE) for c in show.colours_seen(2)), what="the changed slide")
    assert show.renderer.renders == 3


def test_a_settings_change_renders_the_current_slide_again(show: Show) -> None:
    show.colours_seen(1)
    wider = replace(show.settings, stream=replace(show.settings.stream, width=200))
    show.settings = wider
    show.producer.wake()
    frame = wait_for(
        lambda: (f := show.hub.latest()) is not None and f.width == 200 and f, what="new size"
    )
    assert frame.height == 90


def test_the_next_slide_is_prepared_before_it_is_due(images: Path) -> None:
    solid(images / "1.png", RED)
    solid(images / "2.png", GREEN)
    slow = Show(images, interval=30)
    slow.producer.start()
    try:
        wait_for(lambda: slow.renderer.renders == 2, what="the next slide rendered ahead")
        assert slow.hub.frames == 1
    finally:
        slow.producer.stop()


def test_a_deleted_current_slide_leaves_at_once(images: Path) -> None:
    solid(images / "1.png", RED)
    solid(images / "2.png", GREEN)
    slow = Show(images, interval=30)
    slow.producer.start()
    try:
        assert close_to(slow.colours_seen(1)[0], RED)
        os.remove(images / "1.png")
        assert close_to(slow.colours_seen(1)[0], GREEN)
    finally:
        slow.producer.stop()


def slideshow(folder: Path, text: str, clock: object = None) -> tuple[SlideshowSource, FrameHub]:
    """A running slideshow on `folder`, 160×90, without transitions unless `text` asks."""
    if "transition" not in text:
        if "[slideshow]" not in text:
            text += "[slideshow]\n"
        text = text.replace("[slideshow]\n", '[slideshow]\ntransition = "none"\n')
    settings = parse_settings("[stream]\nwidth = 160\nheight = 90\n" + text, folder.parent)
    hub = WatchedHub()
    options = {"clock": clock} if clock else {}
    producer = SlideshowSource(hub, lambda: settings, **options)  # type: ignore[arg-type]
    producer.start()
    return producer, hub


def test_a_fade_publishes_blends_between_the_slides(images: Path) -> None:
    solid(images / "1.png", RED)
    solid(images / "2.png", GREEN)
    producer, hub = slideshow(
        images, '[slideshow]\ninterval = 1\ntransition = "fade"\ntransition_seconds = 0.2\n'
    )
    try:
        frames = []
        seq = 0
        while len(frames) < 6:
            frame = hub.wait_newer(seq, 5)
            assert frame is not None
            seq = frame.seq
            frames.append(centre(frame.jpeg))
        assert close_to(frames[0], RED)
        blends = [c for c in frames[1:] if not close_to(c, RED) and not close_to(c, GREEN)]
        assert len(blends) >= 3, frames
        assert any(close_to(c, (125, 115, 45), 40) for c in blends), "a half-way blend"
    finally:
        producer.stop()


def test_a_long_transition_is_capped_and_said_so(
    images: Path, caplog: pytest.LogCaptureFixture
) -> None:
    solid(images / "1.png", RED)
    producer, _ = slideshow(
        images, '[slideshow]\ninterval = 1\ntransition = "fade"\ntransition_seconds = 3\n'
    )
    try:
        wait_for(lambda: "capped at 0.5 s" in caplog.text, what="the cap in the log")
    finally:
        producer.stop()


def test_the_clock_changes_the_frame_when_the_minute_changes(images: Path) -> None:
    from datetime import datetime

    solid(images / "1.png", (240, 240, 240), (160, 90))
    now = [datetime(2026, 11, 22, 9, 41, 10)]
    producer, hub = slideshow(
        images, '[overlay]\nclock = "top-left"\nfont_size = 20\n', clock=lambda: now[0]
    )
    try:
        first = wait_for(hub.latest, what="a frame")
        corner = Image.open(io.BytesIO(first.jpeg)).convert("L").crop((0, 0, 70, 30))
        assert corner.getextrema()[0] < 120, "a plate where the clock is"
        now[0] = datetime(2026, 11, 22, 9, 41, 50)
        producer.wake()
        assert hub.wait_newer(first.seq, 0.5) is None, "no new frame within the same minute"
        now[0] = datetime(2026, 11, 22, 9, 42, 0)
        producer.wake()
        second = hub.wait_newer(first.seq, 5)
        assert second is not None
        after = Image.open(io.BytesIO(second.jpeg)).convert("L").crop((0, 0, 70, 30))
        assert after.tobytes() != corner.tobytes()
    finally:
        producer.stop()


def test_next_previous_pause_and_resume(images: Path) -> None:
    for name, colour in (("1.png", RED), ("2.png", GREEN), ("3.png", BLUE)):
        solid(images / name, colour)
    producer, hub = slideshow(images, "[slideshow]\ninterval = 30\n")
    try:
        wait_for(lambda: producer.playlist and producer.playlist.count == 3, what="three slides")
        wait_for(lambda: (f := hub.latest()) and close_to(centre(f.jpeg), RED), what="red")
        producer.command("next")
        wait_for(lambda: close_to(centre(hub.latest().jpeg), GREEN), what="next")  # type: ignore[union-attr]
        producer.command("next")
        wait_for(lambda: close_to(centre(hub.latest().jpeg), BLUE), what="next again")  # type: ignore[union-attr]
        producer.command("previous")
        wait_for(lambda: close_to(centre(hub.latest().jpeg), GREEN), what="back")  # type: ignore[union-attr]
        producer.command("pause")
        wait_for(lambda: producer.paused, what="paused")
        producer.command("resume")
        wait_for(lambda: not producer.paused, what="resumed")
        with pytest.raises(ValueError, match="unknown command"):
            producer.command("explode")
    finally:
        producer.stop()


def test_a_paused_show_stays_on_its_slide(images: Path) -> None:
    solid(images / "1.png", RED)
    solid(images / "2.png", GREEN)
    producer, hub = slideshow(images, "[slideshow]\ninterval = 0.2\n")
    try:
        producer.command("pause")
        wait_for(lambda: producer.paused, what="paused")
        shown = hub.latest()
        assert shown is not None
        assert hub.wait_newer(shown.seq, 0.8) is None, "a paused show moved on"
        producer.command("resume")
        assert hub.wait_newer(shown.seq, 2) is not None
    finally:
        producer.stop()


def test_a_new_file_is_shown_at_once_then_the_order_goes_on(images: Path) -> None:
    for name, colour in (("1.png", RED), ("2.png", GREEN), ("3.png", BLUE)):
        solid(images / name, colour)
    producer, hub = slideshow(images, "[slideshow]\ninterval = 30\n")
    try:
        wait_for(lambda: producer.playlist and producer.playlist.folder_exists, what="first look")
        wait_for(lambda: (f := hub.latest()) and close_to(centre(f.jpeg), RED), what="red")
        solid(images / "9-new.png", YELLOW)
        wait_for(lambda: close_to(centre(hub.latest().jpeg), YELLOW), what="the new file at once")  # type: ignore[union-attr]
        producer.command("next")
        wait_for(lambda: close_to(centre(hub.latest().jpeg), GREEN), what="then the order")  # type: ignore[union-attr]
    finally:
        producer.stop()
