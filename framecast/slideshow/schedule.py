"""`schedule.toml` in the watched folder: which slides show when, for how long, in what order.

    order = ["menu.jpg", "opening-hours.png"]   # these first, in this order (before any rule)

    [[rule]]
    match = "sale-*.jpg"            # glob on the file's name within the folder
    duration = 10                   # seconds on screen instead of [slideshow] interval
    from = 2026-12-01               # first day shown (inclusive)
    until = 2026-12-24              # last day shown (inclusive)
    days = ["mon", "tue", "wed"]    # days of the week shown
    hours = ["08:00-11:30", "22:00-02:00"]   # times of day shown; past midnight is fine

A slide matched by no rule is always shown, for the usual interval. Where several rules match a
slide, the last one in the file wins, whole (its window and its duration). Times are the
server's local wall-clock time, so a rule means the same hours on both sides of a
daylight-saving change; a window past midnight belongs to the day it starts on. Slides named in
`order` show first, in that order (with `[slideshow] order` "name" or "mtime"), the others after
them in their usual order; the admin page writes it when slides are dragged into place.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import tomllib
from dataclasses import dataclass
from typing import Any

from ..logtext import printable

SCHEDULE_FILE = "schedule.toml"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")
_KEYS = ("match", "duration", "from", "until", "days", "hours")
SHOWN_CHARACTERS = 80
"""A bad value is echoed in messages cut to this length: it may be megabytes long."""


class ScheduleError(ValueError):
    """The schedule file cannot be used; the message names the rule, the key and the value."""


@dataclass(frozen=True)
class Hours:
    start: dt.time
    end: dt.time

    @property
    def past_midnight(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True)
class Rule:
    match: str
    duration: float | None = None
    start_day: dt.date | None = None
    end_day: dt.date | None = None
    days: frozenset[int] = frozenset(range(7))
    hours: tuple[Hours, ...] = ()

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name, self.match) or fnmatch.fnmatchcase(
            name.rsplit("/", 1)[-1], self.match
        )

    def allows(self, now: dt.datetime) -> bool:
        """Whether `now` is inside this rule's dates, days and hours."""
        if not self.hours:
            return self._allows_day(now.date())
        return any(self._in_window(window, now) for window in self.hours)

    def _in_window(self, window: Hours, now: dt.datetime) -> bool:
        today, clock = now.date(), now.time()
        if not window.past_midnight:
            return window.start <= clock < window.end and self._allows_day(today)
        if clock >= window.start:
            return self._allows_day(today)
        return clock < window.end and self._allows_day(today - dt.timedelta(days=1))

    def _allows_day(self, day: dt.date) -> bool:
        if self.start_day and day < self.start_day:
            return False
        if self.end_day and day > self.end_day:
            return False
        return day.weekday() in self.days


@dataclass(frozen=True)
class Schedule:
    rules: tuple[Rule, ...] = ()
    order: tuple[str, ...] = ()
    """File names to show first, in this order."""

    def rule_for(self, name: str) -> Rule | None:
        """The last rule that matches `name`: later rules win."""
        return next((r for r in reversed(self.rules) if r.matches(name)), None)

    def allows(self, name: str, now: dt.datetime) -> bool:
        rule = self.rule_for(name)
        return rule is None or rule.allows(now)

    def duration(self, name: str) -> float | None:
        rule = self.rule_for(name)
        return rule.duration if rule else None


def parse_schedule(text: str) -> Schedule:
    """A Schedule from the text of schedule.toml; every problem is a ScheduleError."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScheduleError(f"not valid TOML: {error}") from None
    except RecursionError:
        raise ScheduleError("not valid TOML: arrays or tables nested too deeply") from None
    unknown = set(raw) - {"rule", "order"}
    if unknown:
        raise ScheduleError(
            f"unknown key {_show(sorted(unknown)[0])}: write rules as [[rule]] tables"
        )
    rules = raw.get("rule", [])
    if not isinstance(rules, list):
        raise ScheduleError("rules are written as [[rule]] tables")
    order = raw.get("order", [])
    if not isinstance(order, list) or not all(isinstance(name, str) for name in order):
        raise ScheduleError(f'order = {_show(order)}: expected a list of file names like ["a.jpg"]')
    parsed = tuple(_rule(number, item) for number, item in enumerate(rules, 1))
    return Schedule(parsed, tuple(order))


def _rule(number: int, raw: Any) -> Rule:
    where = f"rule {number}"
    if not isinstance(raw, dict):
        raise ScheduleError(f"{where} is not a table")
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise ScheduleError(
            f"{where}: unknown key {_show(unknown[0])}; allowed: {', '.join(_KEYS)}"
        )

    def bad(key: str, allowed: str) -> ScheduleError:
        return ScheduleError(
            f"{where}: {key} = {_show(raw[key])} is not allowed: expected {allowed}"
        )

    match = raw.get("match")
    if not isinstance(match, str) or not match:
        raise ScheduleError(f'{where}: match is required, a file name or glob like "sale-*.jpg"')
    duration = raw.get("duration")
    if duration is not None and (
        isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration <= 0
    ):
        raise bad("duration", "a number of seconds above 0")
    days = _days(raw.get("days", list(DAYS)), lambda: bad("days", f"a list of {', '.join(DAYS)}"))
    hours = tuple(
        _hours(text, lambda: bad("hours", 'a list like ["08:00-11:30", "22:00-02:00"]'))
        for text in _list(raw.get("hours", []), lambda: bad("hours", "a list of strings"))
    )
    start_day, end_day = (_day(raw, key, bad) for key in ("from", "until"))
    return Rule(match, float(duration) if duration else None, start_day, end_day, days, hours)


def _show(value: Any) -> str:
    """A value as the message shows it: one line, at most about SHOWN_CHARACTERS long."""
    return printable(repr(value), SHOWN_CHARACTERS)


def _list(value: Any, error: Any) -> list[Any]:
    if not isinstance(value, list):
        raise error()
    return value


def _days(value: Any, error: Any) -> frozenset[int]:
    names = _list(value, error)
    if not names or any(not isinstance(n, str) or n.lower()[:3] not in DAYS for n in names):
        raise error()
    return frozenset(DAYS.index(n.lower()[:3]) for n in names)


def _hours(text: Any, error: Any) -> Hours:
    found = _HOURS.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        raise error()
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise error()
    end = dt.time(0, 0) if h2 == 24 else dt.time(h2, m2)
    return Hours(dt.time(h1, m1), end)


def _day(raw: dict[str, Any], key: str, bad: Any) -> dt.date | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise bad(key, "a date written like 2026-12-24")
    return value
