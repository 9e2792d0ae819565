"""Uploads, the trash and the slide list of a channel's folder, on real files: an upload is put in
place whole and only if it shows, under a free name, and anything that fails leaves nothing
behind; trashed files come back with their bytes."""

from __future__ import annotations

import errno
import io
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, NoReturn, cast

import pytest
from PIL import Image
from werkzeug.exceptions import ClientDisconnected

from framecast.manage import files
from framecast.manage.files import (
    TRASH,
    FileRefused,
    clean_name,
    restore_file,
    slide_files,
    store_upload,
    trash_file,
    trash_list,
)

LIMIT = 10_000_000


def jpeg(colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def upload(folder: Path, name: str, data: bytes, max_bytes: int = LIMIT) -> str:
    return store_upload(folder, name, io.BytesIO(data), max_bytes, len(data))


def refusal(call: Callable[..., object], *args: object) -> FileRefused:
    """The FileRefused that `call(*args)` raises."""
    with pytest.raises(FileRefused) as caught:
        call(*args)
    return caught.value


def everything(folder: Path) -> list[str]:
    """Every entry in the folder, hidden ones too."""
    return sorted(os.listdir(folder))


class Unread:
    """A request body that must not be read."""

    def read(self, size: int = -1) -> NoReturn:
        pytest.fail("the body was read")


class Endless:
    """A body that never ends, counting what was read of it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        assert self.read_bytes < 100 * files.CHUNK, "reading did not stop at the limit"
        self.read_bytes += size
        return b"\xff" * size


class Dropped:
    """A body whose client goes away after its first half."""

    def __init__(self, data: bytes, error: BaseException) -> None:
        self.data = data
        self.error = error
        self.reads = 0

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        if self.reads == 1:
            return self.data[: len(self.data) // 2]
        raise self.error


def test_an_upload_is_stored_whole_under_its_name(tmp_path: Path) -> None:
    data = jpeg()
    assert upload(tmp_path, "photo.jpg", data) == "photo.jpg"
    assert (tmp_path / "photo.jpg").read_bytes() == data
    assert everything(tmp_path) == ["photo.jpg"]


def test_an_upload_of_a_taken_name_gets_the_next_free_one(tmp_path: Path) -> None:
    first, second, third = jpeg((255, 0, 0)), jpeg((0, 255, 0)), jpeg((0, 0, 255))
    assert upload(tmp_path, "photo.jpg", first) == "photo.jpg"
    assert upload(tmp_path, "photo.jpg", second) == "photo (2).jpg"
    assert upload(tmp_path, "photo.jpg", third) == "photo (3).jpg"
    assert (tmp_path / "photo.jpg").read_bytes() == first
    assert (tmp_path / "photo (2).jpg").read_bytes() == second
    assert (tmp_path / "photo (3).jpg").read_bytes() == third


def test_uploads_of_one_name_at_once_all_get_names_of_their_own(tmp_path: Path) -> None:
    pictures = [jpeg((index * 20, 0, 0)) for index in range(8)]
    names: list[str] = []
    start = threading.Barrier(len(pictures))

    def send(data: bytes) -> None:
        start.wait()
        names.append(upload(tmp_path, "same.jpg", data))

    threads = [threading.Thread(target=send, args=(data,)) for data in pictures]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(names)) == len(pictures)
    assert sorted((tmp_path / name).read_bytes() for name in names) == sorted(pictures)
    assert len(everything(tmp_path)) == len(pictures)


def test_an_upload_with_a_path_is_stored_in_the_folder_under_its_last_part(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "channel" / "images"
    folder.mkdir(parents=True)
    assert upload(folder, "../../etc/passwd.jpg", jpeg()) == "passwd.jpg"
    assert everything(folder) == ["passwd.jpg"]
    assert everything(tmp_path / "channel") == ["images"]


def test_an_upload_that_does_not_show_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    error = refusal(upload, tmp_path, "x.jpg", b"just some text, not a picture\n")
    assert error.status == 400
    assert error.reason.startswith("not something the show can show: ")
    assert everything(tmp_path) == []


def test_a_file_that_will_never_show_is_refused_with_what_to_do(tmp_path: Path) -> None:
    error = refusal(upload, tmp_path, "scan.psd", b"8BPS and more")
    assert error.status == 400
    assert "export it as JPEG or PNG" in error.reason
    assert everything(tmp_path) == []


def test_a_probe_that_fails_unexpectedly_refuses_the_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(path: Path, max_pixels: int) -> NoReturn:
        raise RuntimeError("decoder crashed")

    monkeypatch.setattr(files, "probe_file", broken)
    error = refusal(upload, tmp_path, "photo.jpg", jpeg())
    assert error.status == 400
    assert "RuntimeError" in error.reason
    assert everything(tmp_path) == []


def test_an_empty_upload_is_refused(tmp_path: Path) -> None:
    error = refusal(upload, tmp_path, "photo.jpg", b"")
    assert (error.status, error.reason) == (400, "the file is empty")
    assert everything(tmp_path) == []


def test_a_content_length_over_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    body = cast(BinaryIO, Unread())
    error = refusal(store_upload, tmp_path, "photo.jpg", body, 1000, 1001)
    assert error.status == 413
    assert everything(tmp_path) == []


def test_a_body_over_the_limit_is_refused_as_soon_as_it_is_over(tmp_path: Path) -> None:
    body = Endless()
    limit = 3 * files.CHUNK + 5
    error = refusal(store_upload, tmp_path, "photo.jpg", cast(BinaryIO, body), limit, None)
    assert error.status == 413
    assert body.read_bytes == 4 * files.CHUNK
    assert everything(tmp_path) == []


def test_a_body_of_exactly_the_limit_is_taken_and_one_byte_more_is_not(tmp_path: Path) -> None:
    data = jpeg()
    over = refusal(store_upload, tmp_path, "a.jpg", io.BytesIO(data), len(data) - 1, None)
    assert over.status == 413
    assert store_upload(tmp_path, "a.jpg", io.BytesIO(data), len(data), None) == "a.jpg"
    assert everything(tmp_path) == ["a.jpg"]


@pytest.mark.parametrize(
    "error",
    [ConnectionResetError("connection reset"), ClientDisconnected()],
    ids=["OSError", "ClientDisconnected"],
)
def test_a_client_that_goes_away_mid_upload_leaves_nothing(
    tmp_path: Path, error: BaseException
) -> None:
    body = Dropped(jpeg(), error)
    with pytest.raises(type(error)):
        store_upload(tmp_path, "photo.jpg", cast(BinaryIO, body), LIMIT, None)
    assert body.reads == 2
    assert everything(tmp_path) == []


def test_a_full_disk_is_said_so_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(descriptor: int) -> NoReturn:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    error = refusal(upload, tmp_path, "photo.jpg", jpeg())
    assert error.status == 507
    assert error.reason == f"the disk of {tmp_path} is full: remove files or make room"
    assert everything(tmp_path) == []


def test_an_upload_to_a_missing_folder_is_refused(tmp_path: Path) -> None:
    error = refusal(upload, tmp_path / "gone", "photo.jpg", jpeg())
    assert (error.status, error.reason) == (404, "the channel's folder does not exist")
    assert everything(tmp_path) == []


def test_names_are_counted_only_so_far(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "MAX_COPIES", 2)
    upload(tmp_path, "photo.jpg", jpeg())
    upload(tmp_path, "photo.jpg", jpeg())
    error = refusal(upload, tmp_path, "photo.jpg", jpeg())
    assert error.status == 409
    assert everything(tmp_path) == ["photo (2).jpg", "photo.jpg"]


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("photo.jpg", "photo.jpg"),
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("a\nb.jpg", "ab.jpg"),
        ("..\\x.png", "x.png"),
        (".hidden.jpg", "hidden.jpg"),
        ("C:\\Users\\me\\Pictures\\beach.heic", "beach.heic"),
        ("\x00\tname\x1b[31m.jpg", "name[31m.jpg"),
        (" . trip.jpg . ", "trip.jpg"),
        ("cafe\u0301.jpg", "café.jpg"),
        ("ok\u200b.jpg", "ok.jpg"),
    ],
)
def test_an_uploaded_name_is_made_safe(raw: str, clean: str) -> None:
    assert clean_name(raw) == clean


@pytest.mark.parametrize(
    "raw", ["...", "", "noext", "dir/", "\n\t", ".jpg", "a.jpg~", "page.tmp", "schedule.toml"]
)
def test_a_name_with_nothing_usable_is_refused(raw: str) -> None:
    error = refusal(clean_name, raw)
    assert error.status == 400
    assert error.reason


def test_a_long_name_is_cut_keeping_its_suffix() -> None:
    assert clean_name("a" * 300 + ".jpeg") == "a" * 145 + ".jpeg"
    long = clean_name("写真" * 100 + ".jpg")
    assert long.endswith(".jpg")
    assert long.startswith("写真写真")
    assert len(long.encode()) <= files.MAX_NAME_BYTES
    refused = refusal(clean_name, "a." + "x" * 200)
    assert refused.status == 400


def test_a_long_non_ascii_name_can_be_uploaded(tmp_path: Path) -> None:
    name = upload(tmp_path, "写真" * 100 + ".jpg", jpeg())
    assert everything(tmp_path) == [name]
    assert upload(tmp_path, "写真" * 100 + ".jpg", jpeg()) == name[:-4] + " (2).jpg"


def test_a_trashed_file_comes_back_with_its_bytes(tmp_path: Path) -> None:
    data = jpeg()
    (tmp_path / "photo.jpg").write_bytes(data)
    assert trash_file(tmp_path, "photo.jpg") == "photo.jpg"
    assert not (tmp_path / "photo.jpg").exists()
    assert slide_files(tmp_path) == []
    listed = trash_list(tmp_path)
    assert [(item["name"], item["size"]) for item in listed] == [("photo.jpg", len(data))]
    assert restore_file(tmp_path, "photo.jpg") == "photo.jpg"
    assert (tmp_path / "photo.jpg").read_bytes() == data
    assert trash_list(tmp_path) == []
    assert everything(tmp_path) == [TRASH, "photo.jpg"]


def test_a_name_trashed_twice_gets_two_names_in_the_trash(tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"first")
    first = trash_file(tmp_path, "photo.jpg")
    (tmp_path / "photo.jpg").write_bytes(b"second")
    second = trash_file(tmp_path, "photo.jpg")
    assert (first, second) == ("photo.jpg", "photo (2).jpg")
    assert (tmp_path / TRASH / first).read_bytes() == b"first"
    assert (tmp_path / TRASH / second).read_bytes() == b"second"


def test_a_restored_file_whose_name_was_taken_meanwhile_gets_a_free_one(tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"old")
    trash_file(tmp_path, "photo.jpg")
    (tmp_path / "photo.jpg").write_bytes(b"new")
    assert restore_file(tmp_path, "photo.jpg") == "photo (2).jpg"
    assert (tmp_path / "photo.jpg").read_bytes() == b"new"
    assert (tmp_path / "photo (2).jpg").read_bytes() == b"old"


def test_the_trash_lists_the_latest_trashed_first_by_when_it_was_trashed(tmp_path: Path) -> None:
    for name in ("a.jpg", "b.jpg"):
        (tmp_path / name).write_bytes(b"x" * 3)
        os.utime(tmp_path / name, (1_000_000_000, 1_000_000_000))
    before = time.time()
    trash_file(tmp_path, "a.jpg")
    time.sleep(0.05)
    trash_file(tmp_path, "b.jpg")
    listed = trash_list(tmp_path)
    assert [item["name"] for item in listed] == ["b.jpg", "a.jpg"]
    for item in listed:
        assert item["size"] == 3
        assert isinstance(item["trashed"], float)
        assert item["trashed"] >= before - 1


def test_there_is_no_trash_until_something_is_trashed(tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"x")
    assert trash_list(tmp_path) == []
    assert everything(tmp_path) == ["photo.jpg"]


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("missing.jpg", 404),
        ("../x", 400),
        ("sub\\x.jpg", 400),
        ("schedule.toml", 404),
        ("sub", 404),
        (".hidden.jpg", 404),
        (TRASH, 404),
        (".", 404),
        ("..", 404),
        ("", 404),
    ],
)
def test_only_a_slide_file_can_be_trashed(tmp_path: Path, name: str, status: int) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    (tmp_path / "x").write_bytes(b"outside")
    (folder / "schedule.toml").write_text("")
    (folder / "sub").mkdir()
    (folder / ".hidden.jpg").write_bytes(b"x")
    (folder / TRASH).mkdir()
    error = refusal(trash_file, folder, name)
    assert error.status == status
    assert everything(folder) == [".hidden.jpg", TRASH, "schedule.toml", "sub"]
    assert everything(folder / TRASH) == []
    assert (tmp_path / "x").read_bytes() == b"outside"


def test_a_missing_trashed_name_cannot_be_restored(tmp_path: Path) -> None:
    assert refusal(restore_file, tmp_path, "photo.jpg").status == 404
    (tmp_path / "photo.jpg").write_bytes(b"x")
    trash_file(tmp_path, "photo.jpg")
    assert refusal(restore_file, tmp_path, "other.jpg").status == 404
    assert refusal(restore_file, tmp_path, "../photo.jpg").status == 400
    assert everything(tmp_path / TRASH) == ["photo.jpg"]


def test_a_trash_that_is_a_link_is_not_used(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    elsewhere = tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (elsewhere / "secret.jpg").write_bytes(b"secret")
    (folder / TRASH).symlink_to(elsewhere)
    (folder / "photo.jpg").write_bytes(b"x")
    assert refusal(trash_file, folder, "photo.jpg").status == 409
    assert refusal(restore_file, folder, "secret.jpg").status == 409
    assert refusal(trash_list, folder).status == 409
    assert everything(elsewhere) == ["secret.jpg"]
    assert everything(folder) == [TRASH, "photo.jpg"]


def test_the_slide_files_are_the_ones_the_show_looks_at(tmp_path: Path) -> None:
    (tmp_path / "b.jpg").write_bytes(b"bb")
    (tmp_path / "a.png").write_bytes(b"a")
    (tmp_path / "C.gif").write_bytes(b"ccc")
    for ignored in (".hidden.jpg", "schedule.toml", "x.tmp", "y.jpg~", "style.css"):
        (tmp_path / ignored).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.jpg").write_bytes(b"x")
    (tmp_path / TRASH).mkdir()
    (tmp_path / TRASH / "old.jpg").write_bytes(b"x")
    os.utime(tmp_path / "a.png", (1_000_000_000, 1_000_000_000))
    listed = slide_files(tmp_path)
    assert [(item["name"], item["size"]) for item in listed] == [
        ("C.gif", 3),
        ("a.png", 1),
        ("b.jpg", 2),
    ]
    assert listed[1]["modified"] == 1_000_000_000.0


def test_the_slide_files_of_a_missing_folder_are_refused(tmp_path: Path) -> None:
    assert refusal(slide_files, tmp_path / "gone").status == 404
