"""The watched folder against hostile or odd contents: links out of the folder, a folder replaced
under the watch, names that would forge log lines, files that make the decoder raise anything,
and schedule.toml files built to end the worker thread."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from support import (
    BLUE,
    GREEN,
    RED,
    Server,
    StreamReader,
    config_text,
    drop_atomically,
    names,
    solid,
    wait_for,
)

from framecast.render import imaging, kinds
from framecast.slideshow import watch as watch_module
from framecast.slideshow.folder import FolderPlaylist
from framecast.slideshow.scan import MAX_SCHEDULE_BYTES
from framecast.slideshow.schedule import ScheduleError, parse_schedule
from framecast.slideshow.watch import FolderWatch

FORGED = "a\nWARNING forged\x1b[31m.jpg"
ESCAPED = "a\\nWARNING forged\\x1b[31m.jpg"


def outside_reason(target: Path) -> str:
    return f'a link to {target}, outside the folder ([slideshow] follow_symlinks = "all" shows it)'


# --- links ----------------------------------------------------------------------------------


def test_a_link_out_of_the_folder_is_skipped_with_its_reason(
    images: Path, tmp_path: Path, watch: Callable[..., FolderPlaylist]
) -> None:
    secret = solid(tmp_path / "secret.jpg", RED)
    solid(images / "real.jpg", GREEN)
    (images / "outside.jpg").symlink_to(secret)
    (images / "inside.jpg").symlink_to(images / "real.jpg")
    playlist = watch()
    assert names(playlist) == ["inside.jpg", "real.jpg"]
    assert playlist.skipped() == [{"file": "outside.jpg", "reason": outside_reason(secret)}]
    (images / "later.jpg").symlink_to(secret)
    wait_for(lambda: len(playlist.skipped()) == 2, what="a link made while running")
    assert playlist.skipped()[0] == {"file": "later.jpg", "reason": outside_reason(secret)}
    assert playlist.count == 2


def test_all_shows_links_out_of_the_folder(
    images: Path, tmp_path: Path, watch: Callable[..., FolderPlaylist]
) -> None:
    (images / "outside.jpg").symlink_to(solid(tmp_path / "elsewhere.jpg", BLUE))
    playlist = watch(follow_symlinks="all")
    assert names(playlist) == ["outside.jpg"]
    assert playlist.skipped() == []


def test_a_link_to_a_folder_outside_is_not_walked(
    images: Path, tmp_path: Path, watch: Callable[..., FolderPlaylist]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    solid(elsewhere / "private.jpg", RED)
    solid(images / "top.jpg", GREEN)
    (images / "trip").symlink_to(elsewhere)
    (images / "loop").symlink_to(images)
    inside = watch(recursive=True)
    assert names(inside) == ["top.jpg"]
    assert inside.skipped() == [{"file": "trip", "reason": outside_reason(elsewhere)}]
    everything = watch(recursive=True, follow_symlinks="all")
    assert names(everything) == ["top.jpg", "trip/private.jpg"]
    assert everything.skipped() == []


def test_a_schedule_linked_from_outside_is_not_read(
    images: Path, tmp_path: Path, watch: Callable[..., FolderPlaylist]
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nmatch = "*"\nduration = 3\n')
    (images / "schedule.toml").symlink_to(rules)
    playlist = watch()
    assert playlist.schedule_error == f"schedule.toml: {outside_reason(rules)}"


# --- the folder itself -------------------------------------------------------------------------


def test_a_folder_renamed_away_and_made_again_is_watched_again(
    images: Path, tmp_path: Path, watch: Callable[..., FolderPlaylist]
) -> None:
    solid(images / "old.jpg", RED)
    playlist = watch()
    assert names(playlist) == ["old.jpg"]
    os.rename(images, tmp_path / "images-before")
    images.mkdir()
    drop_atomically(images, "new.jpg", GREEN)
    wait_for(
        lambda: names(playlist) == ["new.jpg"],
        timeout=8,
        what="the file in the new folder (far sooner than the 30 s rescan)",
    )
    drop_atomically(images, "newer.jpg", BLUE)
    wait_for(lambda: playlist.count == 2, timeout=8, what="a second file, seen by the new watch")


# --- log lines ----------------------------------------------------------------------------------


def test_a_file_name_cannot_forge_log_lines(
    images: Path, watch: Callable[..., FolderPlaylist], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    playlist = watch()
    (images / FORGED).write_text("not an image")
    solid(images / ("good" + FORGED), GREEN)
    wait_for(
        lambda: playlist.count == 1 and len(playlist.skipped()) == 1,
        what="the bad file skipped and the good one added",
    )
    [skipped] = playlist.skipped()
    assert skipped["file"] == FORGED
    messages = [r.getMessage() for r in caplog.records if "forged" in r.getMessage()]
    assert f"Skipped {ESCAPED}: {skipped['reason']}" in messages
    assert any(m.startswith(f"Slide added: good{ESCAPED} (") for m in messages)
    assert all("\n" not in m and "\x1b" not in m for m in messages)


def test_a_slide_rewritten_fifty_times_a_second_is_prepared_and_logged_a_bounded_number_of_times(
    start_server: Callable[..., Server], images: Path, tmp_path: Path
) -> None:
    """A camera's snapshot rewritten in place: about one new frame a second (the bound allows
    twice that, and the first and the last change, for a loaded machine; each change was one),
    one "changed" line a minute, and the last picture shown."""
    red, green, blue = (
        solid(tmp_path / f"{n}.jpg", colour).read_bytes()
        for n, colour in enumerate((RED, GREEN, BLUE))
    )
    camera = images / "camera.jpg"
    camera.write_bytes(red)
    server = start_server(config_text(interval=60))
    stream = StreamReader(server.port)
    stream.wait_colour(RED)
    frames_before = stream.count()
    started = time.monotonic()
    for n in range(150):
        camera.write_bytes(green if n % 2 == 0 else red)
        time.sleep(0.02)
    burst = time.monotonic() - started
    camera.write_bytes(blue)
    stream.wait_colour(BLUE)
    assert stream.count() - frames_before <= 2 * burst + 2
    assert server.log().count("Slide changed: camera.jpg") == 1
    stream.close()


def test_a_slide_read_while_it_is_rewritten_is_not_skipped(
    start_server: Callable[..., Server], images: Path, tmp_path: Path
) -> None:
    """A big picture rewritten in place 50 times a second is often read half-written, by the
    watch or while it is decoded: that says nothing of the file, which stays in the show with
    no line in the log (it was skipped, then added again, every second or two)."""
    versions = []
    for n in range(2):
        noisy = tmp_path / f"{n}.png"
        Image.effect_noise((1920, 1080), 60 + n).convert("RGB").save(noisy, compress_level=1)
        versions.append(noisy.read_bytes())
    camera = images / "camera.png"
    camera.write_bytes(versions[0])
    server = start_server(config_text(interval=60))
    stream = StreamReader(server.port)
    wait_for(stream.count, 10, what="a first frame")
    for n in range(150):
        camera.write_bytes(versions[n % 2])
        time.sleep(0.02)
    solid(camera, BLUE, (1920, 1080))
    stream.wait_colour(BLUE)
    log = server.log()
    assert "Skipped camera.png" not in log
    assert "Slide added: camera.png" not in log
    assert server.status()["skipped"] == []
    stream.close()


# --- the worker thread lives on -----------------------------------------------------------------


def test_anything_the_decoder_raises_skips_only_that_file(
    images: Path,
    watch: Callable[..., FolderPlaylist],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def probe(path: Path, max_pixels: int = imaging.MAX_PIXELS) -> kinds.Probe:
        if path.name == "damaged.avif":
            raise RuntimeError("decoder exploded\x1b[0m")
        return kinds.probe_file(path, max_pixels)

    monkeypatch.setattr(watch_module, "probe_file", probe)
    playlist = watch()
    drop_atomically(images, "damaged.avif", RED)
    reason = "cannot read it (RuntimeError: decoder exploded\\x1b[0m)"
    wait_for(
        lambda: playlist.skipped() == [{"file": "damaged.avif", "reason": reason}],
        what="the damaged file skipped with its reason",
    )
    drop_atomically(images, "fine.jpg", GREEN)
    wait_for(lambda: names(playlist) == ["fine.jpg"], what="a later good file")
    records = [r for r in caplog.records if "damaged.avif" in r.getMessage()]
    assert [r.getMessage() for r in records] == [f"Skipped damaged.avif: {reason}"]
    assert records[0].exc_info is None


def test_an_unexpected_error_is_logged_once_and_the_worker_goes_on(
    images: Path,
    watch: Callable[..., FolderPlaylist],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = watch_module.is_ignored

    def is_ignored(name: str) -> bool:
        if name == "trap.jpg":
            raise RuntimeError("a bug")
        return real(name)

    monkeypatch.setattr(watch_module, "is_ignored", is_ignored)
    playlist = watch()
    drop_atomically(images, "trap.jpg", RED)
    reason = "cannot examine it (RuntimeError: a bug)"
    wait_for(
        lambda: playlist.skipped() == [{"file": "trap.jpg", "reason": reason}],
        what="the file that hit the bug skipped",
    )
    drop_atomically(images, "trap.jpg", BLUE)
    drop_atomically(images, "fine.jpg", GREEN)
    wait_for(lambda: names(playlist) == ["fine.jpg"], what="a later good file")
    errors = [r for r in caplog.records if "Unexpected error" in r.getMessage()]
    assert [r.getMessage() for r in errors] == [
        "Unexpected error in the folder watcher (examining a file) (it goes on):"
    ]
    assert errors[0].exc_info is not None


def test_a_failed_rescan_is_retried(
    images: Path,
    watch: Callable[..., FolderPlaylist],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = FolderWatch._list_files
    calls: list[int] = []

    def list_files(folder: FolderWatch) -> dict[Path, tuple[int, int]]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("listing failed")
        return real(folder)

    monkeypatch.setattr(FolderWatch, "_list_files", list_files)
    monkeypatch.setattr(watch_module, "RESCAN_SECONDS", 0.2)
    solid(images / "a.jpg", GREEN)
    playlist = watch()
    wait_for(lambda: playlist.count == 1, what="the rescan after the failed one")
    errors = [r for r in caplog.records if "Unexpected error" in r.getMessage()]
    assert [r.getMessage() for r in errors] == [
        "Unexpected error in the folder watcher (rescanning) (it goes on):"
    ]


# --- schedule.toml ------------------------------------------------------------------------------


def test_a_deeply_nested_schedule_is_an_error() -> None:
    with pytest.raises(ScheduleError, match="nested too deeply"):
        parse_schedule("a = " + "[" * 100_000 + "]" * 100_000)


def test_a_huge_bad_schedule_value_is_cut_short() -> None:
    with pytest.raises(ScheduleError) as error:
        parse_schedule('[[rule]]\nmatch = "*"\nhours = ["' + "9" * 1_000_000 + '"]\n')
    assert len(str(error.value)) < 300


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("a = " + "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("#" * (MAX_SCHEDULE_BYTES + 1), "too large: over 1000000 bytes"),
    ],
)
def test_a_hostile_schedule_is_reported_and_the_worker_goes_on(
    images: Path, watch: Callable[..., FolderPlaylist], text: str, error: str
) -> None:
    playlist = watch()
    (images / "schedule.toml").write_text(text)
    problem = wait_for(lambda: playlist.schedule_error, what="the schedule error")
    assert problem.startswith("schedule.toml: ")
    assert error in problem
    drop_atomically(images, "fine.jpg", GREEN)
    wait_for(lambda: names(playlist) == ["fine.jpg"], what="a later good file")
