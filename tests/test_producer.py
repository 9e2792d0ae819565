"""The producer with a real folder, renderer and hub, in-process so its work can be counted."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from support import BLUE, GREEN, RED, centre, close_to, solid, wait_for

from framecast.config import Settings, parse_settings
from framecast.hub import FrameHub
from framecast.producer import SlideshowProducer
from framecast.renderer import SlideRenderer


class Show:
    def __init__(self, folder: Path, interval: float) -> None:
        base = parse_settings(f"[slideshow]\ninterval = {interval}\n", folder.parent)
        self.settings: Settings = replace(base, stream=replace(base.stream, width=160, height=90))
        self.hub = FrameHub()
        self.renderer = SlideRenderer()
        self.producer = SlideshowProducer(self.hub, self.settings, self.renderer)
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
    show.producer.apply(wider)
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
