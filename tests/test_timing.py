"""Slide timing as a table: how long a slide stays, when the next one starts, where a show
nobody watched is by the clock, and how long a still frame stands."""

from __future__ import annotations

from datetime import datetime

import pytest

from framecast.slideshow.timing import (
    CATCH_UP_STEPS,
    catch_up,
    next_slide_starts,
    slide_seconds,
    still_wait,
)


@pytest.mark.parametrize(
    ("own", "clip", "interval", "seconds"),
    [
        (None, None, 10.0, 10.0),  # the folder's interval
        (4.0, None, 10.0, 4.0),  # schedule.toml's duration wins
        (None, 7.5, 10.0, 7.5),  # a clip plays its length
        (4.0, 7.5, 10.0, 4.0),  # a rule's duration cuts a clip short
    ],
)
def test_how_long_a_slide_stays(
    own: float | None, clip: float | None, interval: float, seconds: float
) -> None:
    assert slide_seconds(own, clip, interval) == seconds


@pytest.mark.parametrize(
    ("due", "now", "seconds", "starts"),
    [
        (100.0, 100.0, 5.0, 100.0),  # on time
        (100.0, 100.3, 5.0, 100.0),  # a little late keeps to the schedule
        (100.0, 104.9, 5.0, 100.0),
        (100.0, 105.0, 5.0, 105.0),  # a whole slide late starts afresh
        (100.0, 900.0, 5.0, 900.0),
    ],
)
def test_when_the_next_slide_starts(due: float, now: float, seconds: float, starts: float) -> None:
    assert next_slide_starts(due, now, seconds) == starts


def ring(count: int) -> tuple[object, object]:
    """A playlist of `count` slides numbered from 0, looping."""
    return (lambda slide: (slide + 1) % count), (lambda slide: 10.0)


@pytest.mark.parametrize(
    ("first", "due", "now", "slide", "began"),
    [
        (1, 0.0, 5.0, 1, 0.0),  # still within the first slide
        (1, 0.0, 10.0, 2, 10.0),  # exactly one slide later
        (1, 0.0, 35.0, 4, 30.0),  # three slides on
        (1, 0.0, 65.0, 2, 60.0),  # round the five-slide loop
    ],
)
def test_a_show_nobody_watched_catches_up_with_the_clock(
    first: int, due: float, now: float, slide: int, began: float
) -> None:
    advance, seconds = ring(5)
    assert catch_up(first, due, now, advance, seconds) == (slide, began)  # type: ignore[arg-type]


def test_catching_up_stops_on_an_empty_playlist_and_after_its_step_limit() -> None:
    assert catch_up(None, 0.0, 100.0, lambda s: s, lambda s: 10.0) == (None, 0.0)
    steps = CATCH_UP_STEPS * 10.0
    slide, began = catch_up(0, 0.0, steps * 3, lambda s: s + 1, lambda s: 10.0)
    assert (slide, began) == (CATCH_UP_STEPS, steps * 3), "starts afresh past the limit"


NINE_41_10 = datetime(2026, 12, 7, 9, 41, 10, 500_000)


@pytest.mark.parametrize(
    ("left", "clock", "banner", "wait"),
    [
        (12.0, None, None, 12.0),  # until the slide ends
        (-3.0, None, None, 0.0),  # overdue: at once
        (120.0, NINE_41_10, None, 49.5),  # a clock: until the minute turns
        (12.0, NINE_41_10, None, 12.0),
        (120.0, None, 8.0, 8.0),  # a banner ends first
        (120.0, NINE_41_10, 60.0, 49.5),
    ],
)
def test_how_long_a_still_frame_stands(
    left: float, clock: datetime | None, banner: float | None, wait: float
) -> None:
    assert still_wait(left, clock, banner) == pytest.approx(wait)
