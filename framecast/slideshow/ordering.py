"""Which slide comes next: natural name order, modification time, or shuffled passes.

Pure logic over the current set of slides, so files may come and go between any two calls; the
playlist calls it under its own lock.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

_DIGITS = re.compile(r"(\d+)")
Place = tuple[Path, int]
HISTORY = 100
"""How many shuffled slides "previous" can step back through."""


@dataclass(frozen=True)
class Slide:
    """A file that passed the header check, or one page of a document; `name` is the file's
    path relative to the folder."""

    path: Path
    name: str
    mtime_ns: int
    size: int
    kind: str = "still"
    """"still", "animation", "document" or "video" (render/kinds.py)."""
    pages: int = 1
    page: int = 0
    """Which page of a document this slide is, from 0."""
    seconds: float | None = None
    """A clip's length."""

    @property
    def place(self) -> tuple[Path, int]:
        """Which slide this is, whatever its file's size and time."""
        return self.path, self.page

    @property
    def title(self) -> str:
        """The slide as /status and the log name it."""
        return (
            f"{self.name} (page {self.page + 1} of {self.pages})" if self.pages > 1 else self.name
        )

    @property
    def moving(self) -> bool:
        return self.kind in ("animation", "video")


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts "slide2" before "slide10", ignoring case."""
    return tuple(
        (1, int(part)) if part.isdigit() else (0, part.casefold())
        for part in _DIGITS.split(name)
        if part
    )


class Rotation:
    """Keeps the place in the show; `order` is "name", "mtime" or "shuffle"."""

    def __init__(self, order: str, rng: random.Random | None = None) -> None:
        self.order = order
        self.listed: dict[str, int] = {}
        """File names placed first, by their place (schedule.toml `order`)."""
        self._rng = rng or random.Random()
        self._bag: list[Place] = []
        self._shown: set[Place] = set()
        self._history: list[Place] = []

    def peek(self, slides: list[Slide], current: Slide | None) -> Slide | None:
        """The slide `advance` would return, without moving."""
        return self._pick(slides, current, take=False)

    def advance(self, slides: list[Slide], current: Slide | None) -> Slide | None:
        """The slide after `current` (which may have left the set), or None if there are none."""
        return self._pick(slides, current, take=True)

    def back(self, slides: list[Slide], current: Slide | None) -> Slide | None:
        """The slide shown before `current` (in shuffle, the one actually shown before it)."""
        if not slides:
            return None
        if self.order == "shuffle":
            by_path = {s.place: s for s in slides}
            while self._history:
                earlier = self._history.pop()
                if current is not None and earlier == current.place:
                    continue
                if earlier in by_path:
                    return by_path[earlier]
            return current if current in slides else slides[0]
        ordered = sorted(slides, key=self._key)
        if current is None:
            return ordered[-1]
        before = self._key(current)
        return next((s for s in reversed(ordered) if self._key(s) < before), ordered[-1])

    def _pick(self, slides: list[Slide], current: Slide | None, take: bool) -> Slide | None:
        if not slides:
            return None
        if self.order == "shuffle":
            return self._shuffled(slides, current, take)
        ordered = sorted(slides, key=self._key)
        if current is None:
            return ordered[0]
        after = self._key(current)
        return next((s for s in ordered if self._key(s) > after), ordered[0])

    def _key(self, slide: Slide) -> tuple[object, ...]:
        place = self.listed.get(slide.name)
        if place is not None:
            return (0, place, slide.page)
        if self.order == "mtime":
            return (1, slide.mtime_ns, natural_key(slide.name), slide.name, slide.page)
        return (1, natural_key(slide.name), slide.name, slide.page)

    def _shuffled(self, slides: list[Slide], current: Slide | None, take: bool) -> Slide:
        by_path = {s.place: s for s in slides}
        self._bag = [p for p in self._bag if p in by_path]
        for path in by_path.keys() - self._shown - set(self._bag):
            self._bag.insert(self._rng.randint(0, len(self._bag)), path)
        if not self._bag:
            self._shown.clear()
            self._bag = list(by_path)
            self._rng.shuffle(self._bag)
            if len(self._bag) > 1 and current is not None and self._bag[0] == current.place:
                swap = self._rng.randint(1, len(self._bag) - 1)
                self._bag[0], self._bag[swap] = self._bag[swap], self._bag[0]
        chosen = self._bag[0]
        if take:
            self._bag.pop(0)
            self._shown.add(chosen)
            if current is not None:
                self._history = [*self._history[-(HISTORY - 1) :], current.place]
        return by_path[chosen]
