"""PDF pages as slides, rendered by PDFium (pypdfium2) sharp at the size they take on the frame.

PDFium is not thread-safe: every call into it holds `_PDFIUM`. A document is opened for each
call and closed after it, so a 2,000-page file costs the memory of one page at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pypdfium2 as pdfium

from .imaging import (
    RenderSpec,
    UnreadableImage,
    encode_jpeg,
    fit,
    fitted_size,
    readable,
    short_error,
    turn,
)

_PDFIUM = threading.Lock()
PAPER = (255, 255, 255, 255)
"""A page's own background: paper white, whatever the show's background colour."""


@contextmanager
def _document(path: Path) -> Iterator[pdfium.PdfDocument]:
    """The open document, with PDFium's lock held; its errors as UnreadableImage."""
    with _PDFIUM:
        try:
            with readable(path):
                document = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as error:
            if "password" in str(error).lower():
                raise UnreadableImage("password-protected PDF: save a copy without one") from None
            raise UnreadableImage(f"damaged or incomplete PDF ({short_error(error)})") from None
        try:
            yield document
        except pdfium.PdfiumError as error:
            raise UnreadableImage(f"damaged PDF page ({short_error(error)})") from None
        finally:
            document.close()


def count_pages(path: Path) -> int:
    """How many pages the PDF has (read from its header), or UnreadableImage."""
    with _document(path) as document:
        pages = len(document)
    if pages == 0:
        raise UnreadableImage("a PDF without pages")
    return pages


def render_page(path: Path, page: int, spec: RenderSpec) -> bytes:
    """Page `page` (from 0) of the PDF, rendered at the size it takes on the panel, as a frame."""
    panel = spec.upright
    with _document(path) as document:
        if page >= len(document):
            raise UnreadableImage(f"has no page {page + 1} any more")
        sheet = document[page]
        try:
            width, height = sheet.get_size()
            target = fitted_size(max(1, round(width)), max(1, round(height)), panel)
            bitmap = sheet.render(scale=target[0] / width, fill_color=PAPER)
            picture = bitmap.to_pil().convert("RGB")
        finally:
            sheet.close()
    return encode_jpeg(turn(fit(picture, panel), spec.rotate), spec.quality, optimize=True)
