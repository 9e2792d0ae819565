"""Internet-shortcut files (`lunch.url`): what a desktop makes when a link is dragged out of a
browser, an INI file whose `[InternetShortcut]` section holds `URL=...`."""

from __future__ import annotations

import configparser
from pathlib import Path
from urllib.parse import urlsplit

from .imaging import UnreadableImage, readable

MAX_SHORTCUT_BYTES = 64 * 1024
WEB_SCHEMES = ("http", "https")


def page_url(path: Path) -> str:
    """The address a `.url` or `.html` slide shows; raises UnreadableImage saying why not."""
    if path.suffix.lower() in (".html", ".htm"):
        return path.resolve().as_uri()
    with readable(path), path.open("rb") as file:
        data = file.read(MAX_SHORTCUT_BYTES + 1)
    if len(data) > MAX_SHORTCUT_BYTES:
        raise UnreadableImage("not an Internet shortcut: a .url file is a few lines of text")
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(data.decode("utf-8-sig", errors="replace"))
        url = parser.get("InternetShortcut", "URL", fallback="").strip()
    except configparser.Error:
        url = ""
    if not url:
        raise UnreadableImage(
            "no URL= line: a .url file holds [InternetShortcut] then URL=https://..."
        )
    return checked_url(url)


def checked_url(url: str) -> str:
    """`url` if it is an http or https address with a host; raises UnreadableImage."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in WEB_SCHEMES:
        shown = parts.scheme or url[:20]
        raise UnreadableImage(f"a {shown}: link is not shown: only http and https pages are")
    if not parts.hostname:
        raise UnreadableImage(f"the address {url[:80]} has no host")
    return url
