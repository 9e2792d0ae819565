"""schedule.toml: which slides show when, with an injected clock."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import BLUE, GREEN, RED, Server, StreamReader, solid, wait_for

from framecast.slideshow.folder import FolderPlaylist
from framecast.slideshow.schedule import ScheduleError, parse_schedule

# 2026-11-20 is a Friday.
FRIDAY_NOON = dt.datetime(2026, 11, 20, 12, 0)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute)


def test_a_slide_no_rule_matches_always_shows() -> None:
    schedule = parse_schedule('[[rule]]\nmatch = "sale-*"\ndays = ["sat"]\n')
    assert schedule.allows("holiday.jpg", FRIDAY_NOON)
    assert not schedule.allows("sale-1.jpg", FRIDAY_NOON)
    assert schedule.allows("sale-1.jpg", at(21, 12))
    assert schedule.duration("holiday.jpg") is None


def test_hours_dates_and_duration() -> None:
    schedule = parse_schedule(
        '[[rule]]\nmatch = "menu-*.png"\nduration = 12\nfrom = 2026-11-20\nuntil = 2026-11-22\n'
        'hours = ["08:00-11:30", "17:00-19:00"]\n'
    )
    assert schedule.duration("menu-lunch.png") == 12.0
    assert schedule.allows("menu-lunch.png", at(20, 8))
    assert schedule.allows("menu-lunch.png", at(20, 11, 29))
    assert not schedule.allows("menu-lunch.png", at(20, 11, 30))
    assert schedule.allows("menu-lunch.png", at(22, 18))
    assert not schedule.allows("menu-lunch.png", at(19, 9)), "before from"
    assert not schedule.allows("menu-lunch.png", at(23, 9)), "after until"


def test_hours_past_midnight_belong_to_the_day_they_start() -> None:
    schedule = parse_schedule(
        '[[rule]]\nmatch = "night.jpg"\ndays = ["fri"]\nhours = ["22:00-02:00"]\n'
    )
    assert schedule.allows("night.jpg", at(20, 23))
    assert schedule.allows("night.jpg", at(21, 1, 30)), "Saturday 01:30 is Friday night"
    assert not schedule.allows("night.jpg", at(21, 2, 0))
    assert not schedule.allows("night.jpg", at(20, 1, 0)), "Friday 01:00 is Thursday night"
    assert not schedule.allows("night.jpg", at(20, 21, 59))


def test_the_later_rule_wins() -> None:
    schedule = parse_schedule(
        '[[rule]]\nmatch = "*.jpg"\nhours = ["09:00-17:00"]\nduration = 5\n'
        '[[rule]]\nmatch = "vip-*.jpg"\nduration = 20\n'
    )
    assert schedule.allows("vip-1.jpg", at(20, 23)), "the later rule has no hours"
    assert schedule.duration("vip-1.jpg") == 20.0
    assert not schedule.allows("other.jpg", at(20, 23))


def test_a_daylight_saving_change_keeps_wall_clock_hours() -> None:
    schedule = parse_schedule('[[rule]]\nmatch = "*"\nhours = ["02:00-03:00"]\n')
    # 2026-03-29 02:30 does not exist in Central Europe; the rule reads wall-clock time only.
    assert schedule.allows("a.jpg", dt.datetime(2026, 3, 29, 2, 30))
    assert schedule.allows("a.jpg", dt.datetime(2026, 10, 25, 2, 30))
    assert not schedule.allows("a.jpg", dt.datetime(2026, 10, 25, 3, 0))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[rule]]\nduration = 5\n", "rule 1: match is required"),
        ('[[rule]]\nmatch = "a"\nhours = ["25:00-26:00"]\n', "rule 1: hours"),
        ('[[rule]]\nmatch = "a"\nhours = "08:00-09:00"\n', "rule 1: hours"),
        ('[[rule]]\nmatch = "a"\ndays = ["funday"]\n', "rule 1: days"),
        ('[[rule]]\nmatch = "a"\nduration = 0\n', "rule 1: duration = 0"),
        ('[[rule]]\nmatch = "a"\nfrom = "tomorrow"\n', "rule 1: from"),
        ('[[rule]]\nmatch = "a"\ncolour = "red"\n', "unknown key 'colour'"),
        ('[[rule]]\nmatch = "a"\n[[rule]]\nmatch = "b"\nuntil = 5\n', "rule 2: until"),
        ("[[rule]\n", "not valid TOML"),
        ('title = "x"\n', "unknown key 'title'"),
    ],
)
def test_bad_schedules_name_the_rule_and_the_key(text: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_schedule(text)


@pytest.fixture
def clock() -> list[dt.datetime]:
    return [FRIDAY_NOON]


@pytest.fixture
def playlist(images: Path, clock: list[dt.datetime]) -> Iterator[FolderPlaylist]:
    changed = threading.Event()
    running = FolderPlaylist(images, False, "name", changed.set, clock=lambda: clock[0])
    running.start()
    wait_for(lambda: running.folder_exists is not None, what="the first look")
    yield running
    running.stop()


def shown(playlist: FolderPlaylist, steps: int = 6) -> set[str]:
    names, current = set(), None
    for _ in range(steps):
        current = playlist.advance(current)
        if current is not None:
            names.add(current.name)
    return names


def test_the_folder_applies_schedule_toml_live_and_keeps_the_last_good_one(
    images: Path, playlist: FolderPlaylist, clock: list[dt.datetime]
) -> None:
    solid(images / "always.png", RED)
    solid(images / "evening.png", GREEN)
    solid(images / "weekend.png", BLUE)
    wait_for(lambda: playlist.count == 3, what="three slides")
    assert shown(playlist) == {"always.png", "evening.png", "weekend.png"}
    (images / "schedule.toml").write_text(
        '[[rule]]\nmatch = "evening.png"\nhours = ["18:00-23:00"]\nduration = 9\n'
        '[[rule]]\nmatch = "weekend.png"\ndays = ["sat", "sun"]\n'
    )
    wait_for(lambda: shown(playlist) == {"always.png"}, what="the schedule applied")
    assert playlist.count == 3, "the schedule file is not a slide"
    assert playlist.skipped() == []
    clock[0] = at(21, 19)
    assert shown(playlist) == {"always.png", "evening.png", "weekend.png"}
    evening = playlist.lookup(images / "evening.png")
    assert evening is not None
    assert playlist.duration(evening) == 9.0

    (images / "schedule.toml").write_text('[[rule]]\nmatch = "x"\nhours = ["8-9"]\n')
    wait_for(lambda: playlist.schedule_error, what="schedule_error")
    assert "rule 1: hours" in (playlist.schedule_error or "")
    assert shown(playlist) == {"always.png", "evening.png", "weekend.png"}, "the last good one"
    clock[0] = FRIDAY_NOON
    assert shown(playlist) == {"always.png"}
    (images / "schedule.toml").unlink()
    wait_for(lambda: playlist.schedule_error is None, what="the error cleared")
    assert shown(playlist) == {"always.png", "evening.png", "weekend.png"}


def test_nothing_in_its_window_leaves_no_slide(
    images: Path, playlist: FolderPlaylist, clock: list[dt.datetime]
) -> None:
    solid(images / "night.png", RED)
    (images / "schedule.toml").write_text('[[rule]]\nmatch = "*"\nhours = ["22:00-06:00"]\n')
    wait_for(lambda: playlist.count == 1, what="the slide")
    wait_for(lambda: playlist.advance(None) is None, what="nothing scheduled at noon")
    clock[0] = at(20, 23)
    assert playlist.advance(None) is not None


def test_a_slide_keeps_its_own_duration_on_the_stream(
    images: Path, start_server: Callable[..., Server]
) -> None:
    solid(images / "a.png", RED)
    solid(images / "b.png", GREEN)
    (images / "schedule.toml").write_text('[[rule]]\nmatch = "a.png"\nduration = 0.5\n')
    server = start_server(interval=30)
    stream = StreamReader(server.port)
    stream.wait_colour(RED)
    stream.wait_colour(GREEN, timeout=2)
    assert server.status()["schedule_error"] is None
    (images / "schedule.toml").write_text("[[rule]\n")
    error = wait_for(lambda: server.status()["schedule_error"], what="schedule_error")
    assert error.startswith("schedule.toml: not valid TOML")
    assert "Schedule not applied" in server.log()


def test_order_puts_the_named_slides_first_in_its_order() -> None:
    from framecast.slideshow.ordering import Rotation, Slide

    schedule = parse_schedule('order = ["c.jpg", "a.jpg"]\n[[rule]]\nmatch = "b.jpg"\n')
    assert schedule.order == ("c.jpg", "a.jpg")
    rotation = Rotation("name")
    rotation.listed = {name: place for place, name in enumerate(schedule.order)}
    slides = [Slide(Path(n), n, 0, 1) for n in ("a.jpg", "b.jpg", "c.jpg", "d.jpg")]
    shown, current = [], None
    for _ in range(4):
        current = rotation.advance(slides, current)
        assert current is not None
        shown.append(current.name)
    assert shown == ["c.jpg", "a.jpg", "b.jpg", "d.jpg"]
    with pytest.raises(ScheduleError, match="order"):
        parse_schedule('order = "a.jpg"\n')
