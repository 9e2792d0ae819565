"""When slides change: pure functions of the clock, so the rules are tested as a table.

Times are `time.monotonic()` seconds unless a name says otherwise. The slideshow's thread calls
them on every step.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

CATCH_UP_STEPS = 1000
"""The most slides a show moves on by in one catch-up; past that it starts afresh on the next."""

S = TypeVar("S")


def slide_seconds(own: float | None, clip: float | None, interval: float) -> float:
    """How long a slide stays: its own duration from schedule.toml, else a clip's length, else
    `[slideshow] interval`."""
    return own or clip or interval


def next_slide_starts(due: float, now: float, seconds: float) -> float:
    """When the next slide's time begins, the current one (of `seconds`) having been due at
    `due`: a little late keeps to the schedule, so fast shows do not drift; a whole slide late
    (the machine slept, the slide took long to prepare) starts afresh now."""
    return due if now - due < seconds else now


def catch_up(
    first: S | None,
    due: float,
    now: float,
    advance: Callable[[S], S | None],
    seconds: Callable[[S | None], float],
) -> tuple[S | None, float]:
    """The slide a show nobody watched is on by the clock, and when its time began.

    `first` began at `due`; each slide lasts `seconds(slide)` and is followed by
    `advance(slide)`. After `CATCH_UP_STEPS` slides, the one reached starts afresh at `now`.
    """
    current = first
    for _ in range(CATCH_UP_STEPS):
        ends = due + seconds(current)
        if current is None or ends > now:
            return current, due
        current, due = advance(current), ends
    return current, now


def still_wait(slide_left: float, clock: datetime | None, banner_left: float | None) -> float:
    """Seconds a still slide's frame stays as it is: until the slide ends, the next minute when
    a clock is drawn on it (`clock` is the wall-clock time now), or a banner's end."""
    wait = slide_left
    if clock is not None:
        wait = min(wait, 60.0 - clock.second - clock.microsecond / 1e6)
    if banner_left is not None:
        wait = min(wait, banner_left)
    return max(0.0, wait)
