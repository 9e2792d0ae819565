from __future__ import annotations

import itertools
import random
from pathlib import Path

from framecast.slideshow.ordering import Rotation, Slide, natural_key


def slides(*names: str, mtimes: list[int] | None = None) -> list[Slide]:
    times = mtimes or list(range(len(names)))
    return [Slide(Path("/f") / n, n, t, 1) for n, t in zip(names, times, strict=True)]


def walk(rotation: Rotation, items: list[Slide], steps: int) -> list[str]:
    shown: list[str] = []
    current = None
    for _ in range(steps):
        current = rotation.advance(items, current)
        assert current is not None
        shown.append(current.name)
    return shown


def test_natural_order_puts_2_before_10_and_ignores_case() -> None:
    names = ["slide10.jpg", "Slide2.jpg", "slide1.jpg", "a/b.jpg", "B.png"]
    assert sorted(names, key=natural_key) == [
        "a/b.jpg",
        "B.png",
        "slide1.jpg",
        "Slide2.jpg",
        "slide10.jpg",
    ]


def test_name_order_wraps_around() -> None:
    items = slides("img10.jpg", "img2.jpg", "img1.jpg")
    assert walk(Rotation("name"), items, 4) == ["img1.jpg", "img2.jpg", "img10.jpg", "img1.jpg"]


def test_mtime_order_oldest_first() -> None:
    items = slides("a.jpg", "b.jpg", "c.jpg", mtimes=[30, 10, 20])
    assert walk(Rotation("mtime"), items, 3) == ["b.jpg", "c.jpg", "a.jpg"]


def test_next_after_a_removed_slide_continues_in_order() -> None:
    items = slides("1.jpg", "2.jpg", "3.jpg")
    rotation = Rotation("name")
    assert rotation.advance(items[::2], items[1]) == items[2]


def test_a_new_file_joins_in_its_place() -> None:
    rotation = Rotation("name")
    items = slides("1.jpg", "3.jpg")
    first = rotation.advance(items, None)
    grown = slides("1.jpg", "2.jpg", "3.jpg")
    assert rotation.advance(grown, first) == grown[1]


def test_shuffle_covers_every_slide_each_pass_and_never_repeats() -> None:
    names = [f"{i}.jpg" for i in range(7)]
    rotation = Rotation("shuffle", random.Random(1))
    shown = walk(rotation, slides(*names), 7 * 40)
    for start in range(0, len(shown), 7):
        assert sorted(shown[start : start + 7]) == sorted(names)
    assert all(a != b for a, b in itertools.pairwise(shown))
    assert len({tuple(shown[i : i + 7]) for i in range(0, len(shown), 7)}) > 1


def test_shuffle_of_two_alternates() -> None:
    shown = walk(Rotation("shuffle", random.Random(3)), slides("a", "b"), 50)
    assert all(a != b for a, b in itertools.pairwise(shown))


def test_shuffle_takes_new_and_drops_removed_slides_mid_pass() -> None:
    rotation = Rotation("shuffle", random.Random(5))
    items = slides("a", "b", "c", "d")
    current = rotation.advance(items, None)
    assert current is not None
    removed = next(s for s in items if s != current)
    changed = [*(s for s in items if s != removed), *slides("e")]
    rest = [rotation.advance(changed, current) for _ in range(len(changed) - 1)]
    assert sorted(s.name for s in rest if s) == sorted(s.name for s in changed if s != current)


def test_peek_matches_advance() -> None:
    for order in ("name", "mtime", "shuffle"):
        rotation = Rotation(order, random.Random(2))
        items = slides("a", "b", "c")
        current = None
        for _ in range(10):
            peeked = rotation.peek(items, current)
            current = rotation.advance(items, current)
            assert peeked == current


def test_no_slides() -> None:
    assert Rotation("name").advance([], None) is None
    assert Rotation("shuffle").advance([], None) is None
