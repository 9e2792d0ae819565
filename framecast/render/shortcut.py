"""The address a web slide shows: an Internet-shortcut file (`lunch.url`: what a desktop makes
when a link is dragged out of a browser, an INI file whose `[InternetShortcut]` section holds
`URL=...`), or a page made by hand (`menu.html`), drawn from its own folder under
`FOLDER_ORIGIN`."""

from __future__ import annotations

import configparser
from pathlib import Path
from urllib.parse import quote, urlsplit

from .imaging import UnreadableImage, readable

MAX_SHORTCUT_BYTES = 64 * 1024
WEB_SCHEMES = ("http", "https")
FOLDER_PAGE_SUFFIXES = (".html", ".htm")
FOLDER_ORIGIN = "http://framecast-slide.invalid/"
"""Where a `.html` slide is drawn from: the browser serves it and its assets from the slide's
folder under this name (it never reaches a network), so the page is no `file:` page, and
Chromium lets it load no file of the machine. Plain HTTP, so that the page may still show
`http:` dashboards of the LAN (an `https:` page may not)."""


def page_url(path: Path) -> str:
    """The address a `.url` or `.html` slide shows; raises UnreadableImage saying why not."""
    if path.suffix.lower() in FOLDER_PAGE_SUFFIXES:
        return FOLDER_ORIGIN + quote(path.name)
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
