"""Looking at a slide folder on disk: the files to examine, links that lead out of it, its
schedule file and its identity. Functions of the filesystem alone, called by the folder's
worker thread."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..logtext import printable
from .schedule import SCHEDULE_FILE, Schedule, ScheduleError, parse_schedule

IGNORED_SUFFIXES = ("~", ".part", ".tmp", ".crdownload")
PAGE_FOLDER_SUFFIX = "_files"
PAGE_PART_SUFFIXES = (".css", ".js", ".mjs", ".woff", ".woff2", ".ttf", ".otf", ".map")
MAX_SCHEDULE_BYTES = 1_000_000
"""schedule.toml is read only up to this size: anyone who can drop files can write it."""


def is_ignored(name: str) -> bool:
    """Hidden and temporary files, anything in a hidden folder, and the parts of a saved web
    page (its `NAME_files` folder, as browsers save one, and its style sheets and scripts) are
    never slides."""
    parts = name.split("/")
    return (
        any(p.startswith(".") for p in parts)
        or any(p.endswith(PAGE_FOLDER_SUFFIX) for p in parts[:-1])
        or parts[-1].endswith(IGNORED_SUFFIXES)
        or parts[-1].lower().endswith(PAGE_PART_SUFFIXES)
    )


def list_files(folder: Path, recursive: bool, follow: bool) -> dict[Path, tuple[int, int]]:
    """Every file to examine, with its mtime and size. In recursive mode without `follow`,
    links to folders are listed instead of walked, so that each gets its reason; with `follow`
    they are walked, each real folder once (a link may point back up)."""
    files: dict[Path, tuple[int, int]] = {}
    walked: set[str] = set()
    for root, dirs, names in os.walk(folder, followlinks=follow):
        real = os.path.realpath(root)
        if real in walked:
            dirs[:] = []
            continue
        walked.add(real)
        dirs[:] = [d for d in dirs if not is_ignored(f"{d}/")] if recursive else []
        linked = [] if follow else [d for d in dirs if os.path.islink(os.path.join(root, d))]
        for name in names + linked:
            path = Path(root) / name
            relative = path.relative_to(folder).as_posix()
            if is_ignored(relative) or relative == SCHEDULE_FILE:
                continue
            try:
                info = path.stat()
            except OSError:
                continue
            files[path] = (info.st_mtime_ns, info.st_size)
    return files


def outside(path: Path, folder: Path, follow: bool) -> str | None:
    """Why `path` is refused for leading out of `folder` (a link, unless `follow`), or None. A
    file deleted meanwhile is None: its deletion event follows."""
    if follow:
        return None
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        return None
    except (OSError, RuntimeError) as error:
        return f"cannot follow it ({type(error).__name__}: {printable(str(error))})"
    if target.is_relative_to(folder.resolve()):
        return None
    return (
        f"a link to {printable(str(target))}, outside the folder "
        '([slideshow] follow_symlinks = "all" shows it)'
    )


def read_schedule(path: Path, folder: Path, follow: bool) -> Schedule:
    """The folder's schedule.toml; ScheduleError (or OSError, UnicodeDecodeError) if it cannot
    be used."""
    refused = outside(path, folder, follow)
    if refused is not None:
        raise ScheduleError(refused)
    with path.open("rb") as file:
        data = file.read(MAX_SCHEDULE_BYTES + 1)
    if len(data) > MAX_SCHEDULE_BYTES:
        raise ScheduleError(f"too large: over {MAX_SCHEDULE_BYTES} bytes")
    return parse_schedule(data.decode("utf-8"))


def identity(folder: Path) -> tuple[int, int] | None:
    """The folder's device and inode, or None if there is no folder at its path."""
    try:
        info = folder.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None
