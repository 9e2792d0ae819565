"""What a file in the folder is to the show: a still picture, an animation, a document of pages,
a video clip, or something that will never show and why (in words a person can act on).

Only headers are read here; the watch's worker thread calls `probe_file` for every new or
changed file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .document import count_pages
from .imaging import MAX_PIXELS, UnreadableImage, open_picture
from .motion import probe_clip
from .shortcut import page_url

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv"})
DOCUMENT_SUFFIXES = frozenset({".pdf"})
WEB_SUFFIXES = frozenset({".url", ".html", ".htm"})
ANIMATED_FORMATS = frozenset({"GIF", "PNG", "WEBP"})
"""Pictures of several frames that play; a camera's MPO (a second picture for depth or 3D) and
a multi-page TIFF show their first picture."""
_RAW = "a camera RAW file: export it as JPEG (or HEIC) to show it"
_NEVER_SHOWN = {
    **dict.fromkeys(
        (".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".dng", ".raf", ".orf"),
        _RAW,
    ),
    **dict.fromkeys((".rw2", ".pef", ".srw", ".x3f", ".3fr", ".erf", ".kdc", ".raw"), _RAW),
    ".psd": "a Photoshop document: export it as JPEG or PNG to show it",
    ".svg": "an SVG drawing: export it as PNG to show it",
    ".eps": "a PostScript drawing: export it as PDF or PNG to show it",
    ".ai": "an Illustrator drawing: export it as PDF or PNG to show it",
    **dict.fromkeys(
        (".doc", ".docx", ".odt", ".ppt", ".pptx", ".odp", ".key", ".pages", ".xls", ".xlsx"),
        "an office document: save it as PDF to show its pages",
    ),
    **dict.fromkeys(
        (".avi", ".wmv", ".flv", ".mpg", ".mpeg", ".3gp", ".ts"),
        "a video format that is not shown: convert it to MP4 (H.264) or WebM",
    ),
}
"""Files people drop that will never show, by suffix, with what to do instead."""


@dataclass(frozen=True)
class Probe:
    """A file's kind and what the show needs to know of it before showing it."""

    kind: str
    """"still", "animation", "document", "video" or "web" (a page drawn by the browser)."""
    width: int = 0
    height: int = 0
    pages: int = 1
    seconds: float | None = None
    """A clip's length, when its container says."""


def probe_file(path: Path, max_pixels: int = MAX_PIXELS) -> Probe:
    """The file's kind from its header, or UnreadableImage saying why it will not show."""
    suffix = path.suffix.lower()
    reason = _NEVER_SHOWN.get(suffix)
    if reason is not None:
        raise UnreadableImage(reason)
    if suffix in WEB_SUFFIXES:
        page_url(path)
        return Probe("web")
    if suffix in DOCUMENT_SUFFIXES:
        return Probe("document", pages=count_pages(path))
    if suffix in VIDEO_SUFFIXES:
        width, height, seconds = probe_clip(path)
        return Probe("video", width, height, seconds=seconds)
    with open_picture(path, max_pixels) as image:
        moving = image.format in ANIMATED_FORMATS and bool(getattr(image, "is_animated", False))
        return Probe("animation" if moving else "still", *image.size)
