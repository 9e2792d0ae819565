"""The folder's schedule.toml as the admin page changes it: the order (`order = [...]` at the
top) and a slide's own time (a `[[rule]]` whose match is the slide's exact name, last, so it
wins). Edited with tomlkit, so that the rules, comments and layout a person wrote stay as they
were; checked by the show's own parser before it is written; written to a hidden temporary
file, synced and renamed into place, so the folder watch only ever reads a whole file.

Edits are made one at a time (two phones saving at once both keep their change), and an edit
is written only if the file is still as it was read: a person's own save meanwhile is never
overwritten; the admin's change is refused with a message instead.

Called on the HTTP thread of an admin request.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from ..slideshow.ordering import natural_key
from ..slideshow.scan import read_schedule
from ..slideshow.schedule import SCHEDULE_FILE, ScheduleError, parse_schedule
from .files import FileRefused, slide_files, write_refused

_EDITING = threading.Lock()
"""Held from reading schedule.toml to writing it back, by one admin edit at a time."""


def read_order(folder: Path) -> tuple[str, ...]:
    """schedule.toml's `order`; none when the file is missing or cannot be used."""
    path = folder / SCHEDULE_FILE
    try:
        return read_schedule(path, folder, follow=False).order
    except (OSError, UnicodeDecodeError, ScheduleError):
        return ()


def show_order(folder: Path, listed: tuple[str, ...]) -> list[str]:
    """The folder's slide files in the order they show: those named in `listed` first, in
    that order, then the rest by name."""
    places: dict[str, int] = {}
    for place, name in enumerate(listed):
        places.setdefault(name, place)
    names = [str(item["name"]) for item in slide_files(folder)]
    first = sorted((n for n in names if n in places), key=lambda n: places[n])
    rest = sorted((n for n in names if n not in places), key=natural_key)
    return first + rest


def set_order(folder: Path, names: list[str]) -> None:
    """Write `names` as the order; they must be exactly the folder's slide files (FileRefused
    400 naming the unknown and the missing ones)."""
    present = {str(item["name"]) for item in slide_files(folder)}
    unknown = [name for name in names if name not in present]
    missing = sorted(present - set(names), key=natural_key)
    twice = sorted(name for name, count in Counter(names).items() if count > 1)
    problems = []
    if unknown:
        problems.append("not in the folder: " + ", ".join(unknown))
    if missing:
        problems.append("missing from the list: " + ", ".join(missing))
    if twice:
        problems.append("named twice: " + ", ".join(twice))
    if problems:
        raise FileRefused("; ".join(problems), 400)
    with _EDITING:
        document, seen = _document(folder)
        document["order"] = names
        _write(folder, document, seen)


def timings(folder: Path) -> dict[str, dict[str, Any]]:
    """Each slide's own time, as `set_timing` wrote it: the rules that name one file exactly
    (none while schedule.toml cannot be read)."""
    try:
        document = _read(folder)
    except FileRefused:
        return {}
    found: dict[str, dict[str, Any]] = {}
    for rule in _rules(document) if document is not None else []:
        match = rule.get("match")
        if isinstance(match, str) and not any(c in match for c in "*?["):
            found[match] = {key: rule.get(key) for key in TIMING_KEYS}
    return found


def set_timing(
    folder: Path,
    name: str,
    seconds: float | None,
    days: list[str] | None,
    hours: list[str] | None,
) -> None:
    """Give the slide `name` its own seconds on screen, days of the week and hours of the day
    (None: as usual); all None removes its own rule. FileRefused 400 for a bad value, in the
    schedule's own words."""
    if name not in {str(item["name"]) for item in slide_files(folder)}:
        raise FileRefused(f"no slide named {name}", 404)
    wanted = {"duration": seconds, "days": days, "hours": hours}
    with _EDITING:
        document, seen = _document(folder)
        kept = [rule for rule in _rules(document) if rule.get("match") != name]
        if any(value is not None for value in wanted.values()):
            rule = tomlkit.table()
            rule["match"] = name
            for key, value in wanted.items():
                if value is not None:
                    rule[key] = value
            kept.append(rule)
        array = tomlkit.aot()
        for rule in kept:
            array.append(rule)
        if "rule" in document:
            del document["rule"]
        if kept:
            document["rule"] = array
        _write(folder, document, seen)


TIMING_KEYS = ("duration", "days", "hours")


def _rules(document: tomlkit.TOMLDocument) -> list[Any]:
    rules = document.get("rule", [])
    return list(rules) if isinstance(rules, list) else []


def _read(folder: Path) -> tomlkit.TOMLDocument | None:
    return _read_text(folder)[0]


def _read_text(folder: Path) -> tuple[tomlkit.TOMLDocument | None, str | None]:
    """schedule.toml parsed, and its text as read (None, None when there is none)."""
    text = _current(folder)
    try:
        return (tomlkit.parse(text) if text is not None else None), text
    except TOMLKitError as error:
        reason = f"{SCHEDULE_FILE} cannot be read, so it is not changed: {error}"
        raise FileRefused(reason, 409) from None


def _current(folder: Path) -> str | None:
    """schedule.toml's text now, None when there is none."""
    path = folder / SCHEDULE_FILE
    try:
        return path.read_text(encoding="utf-8") if path.exists() else None
    except (OSError, UnicodeDecodeError) as error:
        reason = f"{SCHEDULE_FILE} cannot be read, so it is not changed: {error}"
        raise FileRefused(reason, 409) from None


def _document(folder: Path) -> tuple[tomlkit.TOMLDocument, str | None]:
    """The schedule to edit (a new one when there is none), and the text it was read from."""
    document, seen = _read_text(folder)
    if document is None:
        document = tomlkit.document()
        document.add(tomlkit.comment("Set from the admin page; see the README, schedule.toml."))
    return document, seen


def _write(folder: Path, document: tomlkit.TOMLDocument, seen: str | None) -> None:
    """Check the edited schedule with the show's parser, then put it in place, unless the file
    is no longer the text `seen` (FileRefused 409: somebody saved it meanwhile)."""
    text = tomlkit.dumps(document)
    try:
        parse_schedule(text)
    except ScheduleError as error:
        raise FileRefused(str(error), 400) from None
    if _current(folder) != seen:
        raise FileRefused(
            f"{SCHEDULE_FILE} was changed by someone else meanwhile, so this change was not "
            "written: look again and retry",
            409,
        )
    _replace(folder / SCHEDULE_FILE, text)


def _replace(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as error:
        raise write_refused(error, path.parent) from None
    finally:
        temporary.unlink(missing_ok=True)
