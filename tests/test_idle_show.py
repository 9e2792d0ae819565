"""A show nobody watches keeps its place by the clock but renders, encodes and publishes nothing;
a client or a snapshot gets the current slide as soon as it asks.

A real folder, renderer, hub and slideshow, in-process so that their work can be counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import BLUE, GREEN, RED, centre, close_to, solid, wait_for

from framecast.config import parse_settings
from framecast.hub import FrameHub
from framecast.slideshow.renderer import SlideRenderer
from framecast.slideshow.source import SlideshowSource

COLOURS = {"1.png": RED, "2.png": GREEN, "3.png": BLUE}


class Show:
    """A running slideshow on a folder of three slides, with nobody on its hub."""

    def __init__(self, folder: Path, interval: float) -> None:
        for name, colour in COLOURS.items():
            solid(folder / name, colour)
        settings = parse_settings(
            "[stream]\nwidth = 160\nheight = 90\n"
            f'[slideshow]\ninterval = {interval}\ntransition = "none"\n',
            folder.parent,
        )
        self.hub = FrameHub()
        self.renderer = SlideRenderer()
        self.producer = SlideshowSource(self.hub, lambda: settings, self.renderer)

    def goes_to(self, command: str, slide: str) -> None:
        self.producer.command(command)
        wait_for(lambda: self.producer.slide == slide, what=f"the show on {slide}")


MakeShow = Callable[[float], Show]


@pytest.fixture
def make_show(images: Path) -> Iterator[MakeShow]:
    shows: list[Show] = []

    def make(interval: float) -> Show:
        show = Show(images, interval)
        shows.append(show)
        show.producer.start()
        return show

    yield make
    for show in shows:
        show.producer.stop()


def test_an_unwatched_show_keeps_time_but_makes_no_frame(make_show: MakeShow) -> None:
    """Nobody watches 1 s slides for 1.5 s: nothing is rendered, and the first client gets the
    slide the clock says (the second), not the one the show stopped on."""
    show = make_show(1.0)
    wait_for(lambda: show.producer.slide == "1.png", what="the first slide")
    began = time.monotonic()
    wait_for(lambda: time.monotonic() >= began + 1.5, what="half-way through the second slide")
    assert show.hub.frames == 0
    assert show.renderer.renders == 0
    with show.hub.demand():
        frame = show.hub.current(2.0)
    assert frame is not None
    assert close_to(centre(frame.jpeg), GREEN), "the slide the show is on by the clock"
    assert show.producer.slide == "2.png"


def test_a_client_gets_the_current_slide_then_nothing_is_made_once_it_leaves(
    make_show: MakeShow,
) -> None:
    show = make_show(0.2)
    show.producer.command("pause")
    wait_for(lambda: show.producer.paused, what="paused")
    wait_for(lambda: show.producer.slide is not None, what="a slide")
    slide = show.producer.slide
    assert slide is not None
    with show.hub.subscribe():
        frame = show.hub.wait_newer(0, 5)
        assert frame is not None, "no frame for the client"
        assert close_to(centre(frame.jpeg), COLOURS[slide])
    show.producer.command("resume")
    resumed = time.monotonic()
    wait_for(lambda: time.monotonic() >= resumed + 1.0, what="five slides' time")
    assert show.hub.frames == frame.seq, "a frame was made for nobody"


def test_a_snapshot_of_an_unwatched_show_gets_its_current_slide(make_show: MakeShow) -> None:
    show = make_show(30)
    wait_for(lambda: show.producer.slide == "1.png", what="the first slide")
    show.goes_to("next", "2.png")
    with show.hub.demand():
        green = show.hub.current(2.0)
    assert green is not None
    assert close_to(centre(green.jpeg), GREEN)

    show.goes_to("next", "3.png")
    with show.hub.demand():
        blue = show.hub.current(2.0)
    assert blue is not None
    assert close_to(centre(blue.jpeg), BLUE), "not the outdated frame"

    with show.hub.demand():
        again = show.hub.current(2.0)
    assert again is not None
    assert again.seq == blue.seq, "the same slide is not made again"


def test_an_outdated_frame_waits_for_its_replacement() -> None:
    hub = FrameHub()
    first = hub.publish(b"first", 160, 90)
    hub.outdate()
    assert hub.wait_newer(0, 0.05) is None, "a new client does not get an outdated frame"
    assert hub.current(0.05) == first, "at the timeout, whatever frame there is"
    second = hub.publish(b"second", 160, 90)
    assert hub.wait_newer(0, 0) == second
    assert hub.current(0) == second
    hub.outdate()
    hub.confirm()
    assert hub.wait_newer(0, 0) == second, "confirmed as still current"
