"""A channel's slide files as the admin page changes them: uploads put in place whole and only
once they are known to show, and a trash inside the folder that files go to and come back from.

Called on HTTP threads; everything here touches only the given folder. Files being written and
the trash are hidden (their names start with "."), so the show never sees them.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import threading
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from ..logtext import printable
from ..render.imaging import MAX_PIXELS, UnreadableImage
from ..render.kinds import probe_file
from ..slideshow.scan import is_ignored
from ..slideshow.schedule import SCHEDULE_FILE

TRASH = ".trash"
CHUNK = 1 << 20
MAX_NAME_CHARS = 150
MAX_NAME_BYTES = 200
"""File systems allow 255 bytes of name; this leaves room for the ".upload-…-" prefix and a
" (N)" counter when the name is in UTF-8 of several bytes a character. A suffix may take at
most half of either limit, so that some of the name itself stays."""
MAX_COPIES = 10_000
"""How far "photo (N).jpg" counts before a name counts as taken for good."""
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_NOT_ALLOWED = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})
_PLACING = threading.Lock()
"""Held while a free name is chosen and taken: os.rename replaces a file that took the name
meanwhile, so two requests at once must not both pick it."""


class FileRefused(Exception):
    """An upload or a file action that cannot be done; `reason` is for the person on the phone."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        """The HTTP status to answer with: 400, 404, 409, 413 or 507."""


def write_refused(error: OSError, folder: Path) -> FileRefused:
    """What the person on the phone can act on, for an OSError from changing `folder`: a full
    disk (507), a folder this server may not write (503: a read-only mount, or the service
    run without write access), a file that went meanwhile (404), anything else (500)."""
    why = error.strerror or type(error).__name__
    if error.errno in _DISK_FULL:
        return FileRefused(f"the disk of {folder} is full: remove files or make room", 507)
    if error.errno in _NOT_ALLOWED:
        return FileRefused(
            f"this server may not write in {folder} ({why}): give the user it runs as write "
            'access to the folder (README, "Manage from a phone")',
            503,
        )
    if isinstance(error, FileNotFoundError):
        return FileRefused(f"a file in {folder} went away meanwhile: reload and try again", 404)
    return FileRefused(f"cannot change {folder}: {why}", 500)


def clean_name(raw: str) -> str:
    """The uploaded file's name made safe to use in the folder: its last path part, without
    control characters, leading dots (that would hide it) or trailing dots and spaces, at most
    150 characters with its suffix kept, in NFC. FileRefused (400) if no usable name is left,
    or the name is one the show never shows (a temporary file, schedule.toml)."""
    last = re.split(r"[/\\]", raw)[-1]
    kept = "".join(char for char in last if char.isprintable())
    name = unicodedata.normalize("NFC", kept).lstrip(". ").rstrip(". ")
    if not name:
        raise FileRefused("the file has no usable name", 400)
    stem, suffix = os.path.splitext(name)
    if not suffix:
        raise FileRefused(
            f"{printable(name, 80)} has no suffix (like .jpg) that says what it is", 400
        )
    if len(suffix) > MAX_NAME_CHARS // 2 or len(suffix.encode()) > MAX_NAME_BYTES // 2:
        raise FileRefused(f"the suffix of {printable(name, 80)} is too long", 400)
    stem = stem[: MAX_NAME_CHARS - len(suffix)]
    while len(f"{stem}{suffix}".encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
    name = stem + suffix
    if name == SCHEDULE_FILE:
        raise FileRefused(f"{SCHEDULE_FILE} is the channel's schedule, not a slide", 400)
    if is_ignored(name):
        raise FileRefused(f"the show skips files named like {printable(name, 80)}", 400)
    return name


def store_upload(
    folder: Path,
    raw_name: str,
    body: BinaryIO,
    max_bytes: int,
    length: int | None,
    max_pixels: int = MAX_PIXELS,
) -> str:
    """Put the upload in `folder` under its cleaned name, or "name (2).jpg" and so on if that is
    taken, and return the name. It is written to a hidden file first and put in place only when
    whole, synced and known to show (a picture of at most `max_pixels`, the channel's
    `[slideshow] max_megapixels`); on any failure, even a client that goes away, nothing of it
    stays. `length` is the request's Content-Length, if it said one."""
    if length is not None and length > max_bytes:
        raise _too_large(max_bytes)
    name = clean_name(raw_name)
    _require_folder(folder)
    temporary = folder / f".upload-{secrets.token_hex(8)}-{name}"
    try:
        try:
            _receive(body, temporary, max_bytes)
            _check(temporary, max_pixels)
            placed = _rename_free(temporary, folder, name)
        finally:
            temporary.unlink(missing_ok=True)
        _sync_folder(folder)
    except ConnectionError:
        raise
    except OSError as error:
        raise write_refused(error, folder) from None
    return placed


def trash_file(folder: Path, name: str) -> str:
    """Move the slide file `name` into the folder's trash and return its name there (its own
    name, or "name (2).jpg" and so on if the trash has one by that name)."""
    source = _named(folder, name, _is_slide_name, f"no slide named {printable(name, 80)}")
    trash = _trash(folder)
    trash.mkdir(exist_ok=True)
    return _rename_free(source, trash, name)


def restore_file(folder: Path, trashed: str) -> str:
    """Move `trashed` out of the trash back into the folder and return its name there: the
    same name if it is free, else "name (2).jpg" and so on."""
    source = _named(
        _trash(folder),
        trashed,
        _is_trash_name,
        f"nothing named {printable(trashed, 80)} in the trash",
    )
    return _rename_free(source, folder, trashed)


def trash_list(folder: Path) -> list[dict[str, object]]:
    """The trash's files, most recently trashed first: name, size and when it was trashed (the
    file's ctime, which the move into the trash set; its mtime is still the picture's own)."""
    trash = _trash(folder)
    if not trash.is_dir():
        return []
    found = sorted(_files(trash, _is_trash_name), key=lambda file: file[2], reverse=True)
    return [{"name": name, "size": info.st_size, "trashed": moved} for name, info, moved in found]


def slide_files(folder: Path) -> list[dict[str, object]]:
    """The files directly in `folder` that the show looks at (not hidden, temporary or
    schedule.toml), by name, each with its size and mtime."""
    _require_folder(folder)
    return [
        {"name": name, "size": info.st_size, "modified": info.st_mtime}
        for name, info, _ in sorted(_files(folder, _is_slide_name), key=lambda file: file[0])
    ]


def _too_large(max_bytes: int) -> FileRefused:
    limit = f"{max_bytes / 1_000_000:g} MB" if max_bytes >= 1_000_000 else f"{max_bytes} bytes"
    return FileRefused(f"the file is too large: the limit is {limit}", 413)


def _require_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise FileRefused("the channel's folder does not exist", 404)


def _receive(body: BinaryIO, path: Path, max_bytes: int) -> None:
    """Write `body` to the new file `path`, synced, stopping as soon as it is over
    `max_bytes`."""
    size = 0
    with path.open("xb") as file:
        while chunk := body.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(max_bytes)
            file.write(chunk)
        if size == 0:
            raise FileRefused("the file is empty", 400)
        file.flush()
        os.fsync(file.fileno())


def _check(path: Path, max_pixels: int) -> None:
    """FileRefused (400) unless the show can show the file: an upload that never shows is
    better refused while the person is still there."""
    try:
        probe_file(path, max_pixels)
    except UnreadableImage as error:
        raise FileRefused(f"not something the show can show: {error}", 400) from error
    except Exception as error:
        raise FileRefused(
            f"not something the show can show: it cannot be read ({type(error).__name__})", 400
        ) from error


def _free_names(name: str) -> Iterator[str]:
    stem, suffix = os.path.splitext(name)
    yield name
    for number in range(2, MAX_COPIES + 1):
        yield f"{stem} ({number}){suffix}"


def _taken(name: str) -> FileRefused:
    return FileRefused(f"too many files named like {printable(name, 80)}", 409)


def _rename_free(source: Path, folder: Path, name: str) -> str:
    """Move `source` into `folder` (the same file system) under the first free name like
    `name`. A rename, not a link: the folder watch takes a file that is moved in as complete,
    while a new link brings no sign that its writing is over."""
    with _PLACING:
        for candidate in _free_names(name):
            target = folder / candidate
            if not os.path.lexists(target):
                try:
                    os.rename(source, target)
                except FileNotFoundError:
                    gone = printable(source.name, 80)
                    raise FileRefused(f"{gone} is not there any more", 404) from None
                return candidate
    raise _taken(name)


def _trash(folder: Path) -> Path:
    """The folder's trash, which must be a folder of its own (or not exist yet): through a link
    named .trash, files would be trashed to, and restored from, anywhere."""
    trash = folder / TRASH
    if trash.is_symlink() or (trash.exists() and not trash.is_dir()):
        raise FileRefused(f"{TRASH} in the channel's folder is not a folder", 409)
    return trash


def _is_slide_name(name: str) -> bool:
    return not is_ignored(name) and name != SCHEDULE_FILE


def _is_trash_name(name: str) -> bool:
    return not name.startswith(".")


def _named(folder: Path, name: str, wanted: Callable[[str], bool], missing: str) -> Path:
    """`folder/name`, a file that is there and wanted; FileRefused 400 for a name with path
    parts, 404 with `missing` for any other."""
    if "/" in name or "\\" in name:
        raise FileRefused(f"{printable(name, 80)} is not a file name (it has / or \\)", 400)
    path = folder / name
    if not name or not wanted(name) or not (path.is_file() or path.is_symlink()):
        raise FileRefused(missing, 404)
    return path


def _files(
    folder: Path, wanted: Callable[[str], bool]
) -> Iterator[tuple[str, os.stat_result, float]]:
    """The wanted files directly in `folder`: name, stat (through a link; of the link itself
    when it points nowhere, as a relative link moved into the trash does) and the ctime of the
    entry itself. Files removed meanwhile are left out."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if not wanted(entry.name):
                continue
            try:
                own = entry.stat(follow_symlinks=False)
                if entry.is_file():
                    info = entry.stat()
                elif entry.is_symlink():
                    info = own
                else:
                    continue
            except FileNotFoundError:
                continue
            yield entry.name, info, own.st_ctime


def _sync_folder(folder: Path) -> None:
    """Sync the folder itself, so that the new name survives a power cut too."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
