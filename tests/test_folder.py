"""The watched folder with real files and real filesystem events (watchdog, inotify here)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support import BLUE, GREEN, RED, bomb_png, drop_atomically, names, solid, wait_for

from framecast.render.imaging import SLIDE_FORMAT_NAMES
from framecast.slideshow.folder import FolderPlaylist
from framecast.slideshow.scan import is_ignored


def stays(condition: Callable[[], bool], seconds: float) -> bool:
    """True if `condition` held at every poll for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not condition():
            return False
        time.sleep(0.02)
    return True


def test_files_present_at_start_are_slides(
    images: Path, watch: Callable[..., FolderPlaylist]
) -> None:
    solid(images / "a.jpg", RED)
    solid(images / "b.png", GREEN)
    playlist = watch()
    assert names(playlist) == ["a.jpg", "b.png"]


def test_a_file_renamed_in_joins_within_a_second(
    images: Path, watch: Callable[..., FolderPlaylist]
) -> None:
    playlist = watch()
    dropped = time.monotonic()
    drop_atomically(images, "new.jpg", BLUE)
    wait_for(lambda: playlist.count == 1, timeout=1.0, what="the dropped file")
    assert time.monotonic() - dropped < 1.0
    assert names(playlist) == ["new.jpg"]


def test_a_file_moved_in_from_another_folder_joins_within_a_second(
    images: Path, watch: Callable[..., FolderPlaylist], tmp_path: Path
) -> None:
    playlist = watch()
    outside = solid(tmp_path / "from-desktop.jpg", GREEN)
    moved = time.monotonic()
    os.replace(outside, images / "from-desktop.jpg")
    wait_for(lambda: playlist.count == 1, timeout=1.0, what="the moved-in file")
    assert time.monotonic() - moved < 1.0


def test_a_slow_copy_joins_only_once_complete(
    images: Path, watch: Callable[..., FolderPlaylist], tmp_path: Path
) -> None:
    source = solid(tmp_path / "photo.jpg", RED, (1600, 900))
    data = source.read_bytes()
    playlist = watch()
    with (images / "photo.jpg").open("wb") as copy:
        for start in range(0, len(data) // 2, 1024):
            copy.write(data[start : start + 1024])
            copy.flush()
            time.sleep(0.002)
        assert stays(lambda: playlist.count == 0, 1.5), "a half-copied file joined the show"
        copy.write(data[len(data) // 2 :])
    closed = time.monotonic()
    wait_for(lambda: playlist.count == 1, timeout=1.0, what="the completed copy")
    assert time.monotonic() - closed < 1.0
    assert playlist.skipped() == []


def test_deleted_and_replaced_files_leave_and_change(
    images: Path, watch: Callable[..., FolderPlaylist]
) -> None:
    solid(images / "a.jpg", RED)
    solid(images / "b.jpg", GREEN)
    playlist = watch()
    before = playlist.lookup(images / "a.jpg")
    assert before is not None
    solid(images / "a.jpg", BLUE, (640, 360))
    wait_for(
        lambda: (now := playlist.lookup(images / "a.jpg")) is not None and now != before,
        timeout=1.0,
        what="the replaced file",
    )
    (images / "b.jpg").unlink()
    wait_for(lambda: playlist.count == 1, timeout=1.0, what="the deleted file to leave")
    os.replace(images / "a.jpg", images.parent / "moved-away.jpg")
    wait_for(lambda: playlist.count == 0, timeout=1.0, what="the moved-away file to leave")


def test_hidden_and_temporary_files_are_ignored(
    images: Path, watch: Callable[..., FolderPlaylist]
) -> None:
    playlist = watch()
    for name in (".hidden.jpg", "photo.jpg~", "photo.jpg.part", "x.tmp", "big.jpg.crdownload"):
        solid(images / name, RED) if name.endswith(".jpg") else (images / name).write_bytes(b"x")
    solid(images / "real.png", GREEN)
    wait_for(lambda: playlist.count == 1, what="the one real slide")
    assert stays(lambda: playlist.skipped() == [], 0.3)
    assert names(playlist) == ["real.png"]
    assert is_ignored("sub/.git/x.jpg")
    assert not is_ignored("holiday.2024.jpg")


def test_bad_files_are_skipped_with_a_reason_and_logged_once(
    images: Path, watch: Callable[..., FolderPlaylist], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING")
    playlist = watch()
    (images / "empty.jpg").write_bytes(b"")
    (images / "notes.jpg").write_text("this is text, not a photo")
    bomb_png(images / "bomb.png")
    solid(images / "good.jpg", GREEN)
    wait_for(
        lambda: len(playlist.skipped()) == 3 and playlist.count == 1,
        what="three skipped files and the good one",
    )
    assert playlist.skipped() == [
        {
            "file": "bomb.png",
            "reason": "too large: 900 megapixels is over the 89 megapixel limit (not decoded)",
        },
        {"file": "empty.jpg", "reason": "empty file (0 bytes)"},
        {
            "file": "notes.jpg",
            "reason": f"not a {SLIDE_FORMAT_NAMES} image",
        },
    ]
    assert names(playlist) == ["good.jpg"]
    os.utime(images / "notes.jpg")
    (images / "empty.jpg").write_bytes(b"")
    wait_for(lambda: caplog.text.count("Skipped empty.jpg") == 2, what="a log line per change")
    assert caplog.text.count("Skipped notes.jpg") == 1
    solid(images / "notes.jpg", BLUE)
    wait_for(lambda: playlist.count == 2, what="the mended file to join")
    assert len(playlist.skipped()) == 2


def test_a_missing_folder_is_waited_for(
    tmp_path: Path, watch: Callable[..., FolderPlaylist]
) -> None:
    folder = tmp_path / "later"
    playlist = watch(folder)
    assert playlist.folder_exists is False
    folder.mkdir()
    wait_for(lambda: playlist.folder_exists, what="the folder to be seen")
    drop_atomically(folder, "first.jpg", RED)
    wait_for(lambda: playlist.count == 1, what="a slide in the new folder")


def test_subfolders_only_when_recursive(images: Path, watch: Callable[..., FolderPlaylist]) -> None:
    (images / "trip").mkdir()
    solid(images / "trip" / "beach.jpg", BLUE)
    solid(images / "top.jpg", RED)
    assert names(watch()) == ["top.jpg"]
    deep = watch(recursive=True)
    assert names(deep) == ["top.jpg", "trip/beach.jpg"]
    drop_atomically(images / "trip", "sea.jpg", GREEN)
    wait_for(lambda: deep.count == 3, what="a file dropped into a subfolder")


def test_a_file_deleted_before_it_is_read_leaves_no_trace(
    images: Path, watch: Callable[..., FolderPlaylist]
) -> None:
    playlist = watch()
    for n in range(20):
        path = solid(images / f"brief{n}.jpg", RED)
        path.unlink()
    drop_atomically(images, "stays.jpg", GREEN)
    wait_for(lambda: playlist.count == 1, what="the one file that stayed")
    assert stays(lambda: playlist.skipped() == [] and playlist.count == 1, 0.3)
