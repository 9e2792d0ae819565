"""Pure Pillow functions: read an image file safely, fit it to the output frame, turn it for a
turned panel, encode JPEG.

No threads and no state here; callers decide when and how often to call them.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import simplejpeg
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from ..checks import Colour
from ..config import Settings
from ..logtext import printable

MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
"""The most pixels a file may claim to be looked at at all (Pillow's own warning limit); the
slides' own limit, `[slideshow] max_megapixels`, is lower and applies before decoding."""

register_heif_opener()

SLIDE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF", "AVIF")
"""The only decoders a picture file is offered to, whatever its content claims: Pillow also
recognises formats like EPS by content, and opening those runs external programs (Ghostscript).
JPEG covers the multi-picture JPEGs (MPO) that cameras write; HEIF (iPhone photos) comes from
pillow-heif, AVIF from Pillow itself."""
SLIDE_FORMAT_NAMES = "JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC or AVIF"

SLIDE_FILTER = Image.Resampling.BILINEAR
"""Pillow's bilinear is a true area filter when shrinking: within 1.5 dB PSNR of Lanczos (both
near 50 dB) at under half its cost, measured in bench/bench_core.py."""

_ROTATED_ORIENTATIONS = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112
_TURNS = {
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}
"""Pillow turns counter-clockwise: against a panel turned clockwise by the same angle."""


class UnreadableImage(Exception):
    """A file that cannot be shown; the message is the reason, written for the user."""


@dataclass(frozen=True)
class RenderSpec:
    """Everything that decides how a slide looks on the stream."""

    width: int
    height: int
    fit: str
    background: Colour
    quality: int
    max_pixels: int = 50_000_000
    """Larger images are refused before decoding. Preparing a slide holds at most about 10 bytes
    a pixel (bench/bench_slide_memory.py: 457 MB for a 50 MP PNG with transparency)."""
    rotate: int = 0
    """Degrees the panel is turned clockwise: the picture is composed upright for the panel
    (`upright`) and turned into the width×height frame by `turn`."""

    @property
    def upright(self) -> RenderSpec:
        """The spec the picture is composed with, as it stands on the panel: width and height
        swapped for a quarter turn, and no turn of its own."""
        if self.rotate == 0:
            return self
        if self.rotate == 180:
            return replace(self, rotate=0)
        return replace(self, width=self.height, height=self.width, rotate=0)


def render_spec(settings: Settings, quality: int | None = None) -> RenderSpec:
    """How frames are rendered under `settings`: the stream's size, the slides' fit and
    background, and the stream's quality unless `quality` overrides it."""
    return RenderSpec(
        settings.stream.width,
        settings.stream.height,
        settings.slideshow.fit,
        settings.slideshow.background,
        quality or settings.stream.quality,
        round(settings.slideshow.max_megapixels * 1_000_000),
        settings.stream.rotate,
    )


def turn(picture: Image.Image, rotate: int) -> Image.Image:
    """The upright `picture` turned into the frame of a panel turned `rotate` degrees clockwise,
    so that it stands upright on the panel; `picture` itself when the panel is not turned."""
    return picture if rotate == 0 else picture.transpose(_TURNS[rotate])


def unturn(frame: Image.Image, rotate: int) -> Image.Image:
    """A frame made by `turn` back as the upright picture, to draw on it."""
    return frame if rotate == 0 else frame.transpose(_TURNS[360 - rotate])


def render_slide(path: Path, spec: RenderSpec) -> bytes:
    """Decode, orient, fit, turn and encode one slide file as a frame of the output size.

    Whatever the decoder raises becomes UnreadableImage: a file can only get itself skipped.
    """
    panel = spec.upright
    with open_picture(path, spec.max_pixels) as image:
        width, height = image.size
        try:
            # Before getexif, which decodes a PNG to look for EXIF after its pixels.
            thin = too_thin(width, height, panel)
            if thin and too_thin(height, width, panel):
                raise UnreadableImage(thin)
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
            if orientation in _ROTATED_ORIENTATIONS:
                width, height = height, width
            thin = too_thin(width, height, panel)
            if thin:
                raise UnreadableImage(thin)
            image.draft("RGB", _draft_size(fitted_size(width, height, panel)))
            image.load()
            # exif_transpose copies even an upright image: a whole decoded image more.
            oriented = ImageOps.exif_transpose(image) if orientation != 1 else image
            frame = turn(fit_flat(oriented, panel), spec.rotate)
        except UnreadableImage:
            raise
        except MemoryError:
            raise UnreadableImage(
                "not enough memory to decode it: lower [slideshow] max_megapixels"
            ) from None
        except (OSError, SyntaxError, ValueError) as error:
            raise UnreadableImage(f"damaged or incomplete image ({short_error(error)})") from None
        except Exception as error:
            raise UnreadableImage(
                f"cannot decode it ({type(error).__name__}: {short_error(error)})"
            ) from None
    return encode_jpeg(frame, spec.quality, optimize=True)


DRAFT_SLACK = 0.9
"""A JPEG decodes at 1/2, 1/4 or 1/8 of its size for a fraction of the work. The smallest of
those that leaves the picture at least this share of the size it shows at is taken, and the rest
scaled up: at TV distance 10% is not seen, and a 24-megapixel photo prepares in about half the
time (docs/benchmarks.md, "Kinds of files")."""


def _draft_size(size: tuple[int, int]) -> tuple[int, int]:
    return max(1, int(size[0] * DRAFT_SLACK)), max(1, int(size[1] * DRAFT_SLACK))


def short_error(error: BaseException) -> str:
    """An error's message, on one line and cut short: it goes into the log and /status."""
    return printable(str(error), 120)


def fit_flat(image: Image.Image, spec: RenderSpec) -> Image.Image:
    """The image fitted to the frame and flattened to RGB, shrunk first where it can be: the
    flattening then works on the small copy, not on a second full-size image. Called by the
    thread preparing a slide or playing an animation."""
    if image.mode in ("RGBA", "LA", "La", "RGBa"):
        # Pillow resizes RGBA and LA through a premultiplied copy: LA made RGBA first was one
        # whole decoded image more. The blurred fill is made from the shrunk copy too.
        alpha = image if image.mode in ("RGBA", "LA") else image.convert("RGBA")
        size = fitted_size(image.width, image.height, spec)
        if spec.fit in ("contain", "blur") and size != image.size:
            alpha = alpha.resize(size, SLIDE_FILTER, reducing_gap=2.0)
        elif spec.fit == "cover":
            alpha = _cover(alpha, (spec.width, spec.height), SLIDE_FILTER)
        return fit(to_rgb(alpha, spec.background), spec)
    return fit(to_rgb(image, spec.background), spec)


@contextmanager
def readable(path: Path) -> Iterator[None]:
    """Turns what any file can do wrong (be empty, gone, unreadable, a folder) into
    UnreadableImage, for the body that opens it."""
    try:
        if path.stat().st_size == 0:
            raise UnreadableImage("empty file (0 bytes)")
        yield
    except FileNotFoundError:
        raise UnreadableImage("file disappeared before it could be read") from None
    except PermissionError:
        raise UnreadableImage("permission denied: the server cannot read this file") from None
    except IsADirectoryError:
        raise UnreadableImage("a folder, not a file") from None


def open_picture(path: Path, max_pixels: int) -> Image.Image:
    try:
        with readable(path):
            image = Image.open(path, formats=SLIDE_FORMATS)
    except UnreadableImage:
        raise
    except UnidentifiedImageError:
        raise UnreadableImage(f"not a {SLIDE_FORMAT_NAMES} image") from None
    except Image.DecompressionBombError as error:
        counted = re.search(r"\((\d+) pixels\)", str(error))
        size = f"{int(counted.group(1)) // 1_000_000} megapixels" if counted else "the image"
        raise UnreadableImage(_too_large(size, max_pixels)) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise UnreadableImage(f"damaged image header ({short_error(error)})") from None
    except Exception as error:
        raise UnreadableImage(
            f"cannot read its header ({type(error).__name__}: {short_error(error)})"
        ) from None
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise UnreadableImage(_too_large(f"{width}×{height} pixels", max_pixels))
    return image


def too_thin(width: int, height: int, spec: RenderSpec) -> str | None:
    """Why a width×height picture is refused unread when it would be under one pixel wide or
    high contained in the frame (whatever the fit), else None: nothing of it would show, and
    decoding it costs far more than its pixels, as Pillow keeps 8 bytes for every row and a PNG
    decoder two whole rows (a 1×49,000,000 PNG took over 1 GB). Called by the thread that
    prepares a slide."""
    if width * spec.height < height:
        side = "wide"
    elif height * spec.width < width:
        side = "high"
    else:
        return None
    return (
        f"too thin to show: {width}×{height} pixels would be under one pixel {side} on the "
        f"{spec.width}×{spec.height} frame"
    )


def _too_large(size: str, max_pixels: int) -> str:
    limit = "" if max_pixels == MAX_PIXELS else " ([slideshow] max_megapixels)"
    return (
        f"too large: {size} is over the {max_pixels // 1_000_000} megapixel limit{limit} "
        "(not decoded)"
    )


def fitted_size(width: int, height: int, spec: RenderSpec) -> tuple[int, int]:
    """The size a width×height image takes on the frame (before cropping, for cover)."""
    pick = max if spec.fit == "cover" else min
    scale = pick(spec.width / width, spec.height / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def to_rgb(image: Image.Image, background: Colour) -> Image.Image:
    """RGB, with transparency flattened onto the background and 16-bit grey scaled down."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", image.size, background)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def fit(
    image: Image.Image, spec: RenderSpec, resample: Image.Resampling = SLIDE_FILTER
) -> Image.Image:
    """`image` scaled to the frame: letterboxed on the background (contain), cropped to fill
    (cover), or contained over a blurred, darkened copy of itself that fills the frame (blur)."""
    frame_size = (spec.width, spec.height)
    if image.size == frame_size:
        return image
    if spec.fit == "cover":
        return _cover(image, frame_size, resample)
    size = fitted_size(image.width, image.height, spec)
    if size != image.size:
        image = image.resize(size, resample, reducing_gap=2.0)
    if size == frame_size:
        return image
    if spec.fit == "blur":
        frame = _blurred_fill(image, frame_size)
    else:
        frame = Image.new("RGB", frame_size, spec.background)
    frame.paste(image, ((spec.width - size[0]) // 2, (spec.height - size[1]) // 2))
    return frame


def _cover(image: Image.Image, size: tuple[int, int], resample: Image.Resampling) -> Image.Image:
    scale = max(size[0] / image.width, size[1] / image.height)
    crop_w, crop_h = size[0] / scale, size[1] / scale
    left, top = (image.width - crop_w) / 2, (image.height - crop_h) / 2
    box = (left, top, left + crop_w, top + crop_h)
    return image.resize(size, resample, box=box, reducing_gap=2.0)


BLUR_SHRINK = 16
"""The blurred fill is made at 1/16 of the frame's size and scaled up: a wide, cheap blur."""
BLUR_BRIGHTNESS = 0.45


def _blurred_fill(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The image cropped to fill `size`, blurred and darkened, to sit behind the whole image."""
    small = (max(1, size[0] // BLUR_SHRINK), max(1, size[1] // BLUR_SHRINK))
    fill = _cover(image, small, Image.Resampling.BOX).filter(ImageFilter.GaussianBlur(1.5))
    fill = fill.point(lambda value: value * BLUR_BRIGHTNESS)
    return fill.resize(size, Image.Resampling.BILINEAR)


def encode_jpeg(image: Image.Image, quality: int, optimize: bool = False) -> bytes:
    """Baseline 4:2:0 JPEG, which every MJPEG decoder in a TV browser accepts."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, subsampling="4:2:0", optimize=optimize)
    return buffer.getvalue()


def encode_raw(raw: bytearray, size: tuple[int, int], colorspace: str, quality: int) -> bytes:
    """Raw 4-byte pixels ("RGBX", "BGRX") of `size` as a baseline 4:2:0 JPEG, by simplejpeg,
    which lets go of the GIL while it encodes."""
    return encode_pixels(memoryview(raw).cast("B", (size[1], size[0], 4)), colorspace, quality)


def encode_pixels(pixels: memoryview, colorspace: str, quality: int) -> bytes:
    jpeg: bytes = simplejpeg.encode_jpeg(
        pixels, quality=quality, colorspace=colorspace, colorsubsampling="420"
    )
    return jpeg


SNAPSHOT_FORMATS = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


def convert_frame(jpeg: bytes, size: tuple[int, int], fmt: str, quality: int) -> bytes:
    """A published frame at another size (scaled to exactly `size`) or in another format."""
    with Image.open(io.BytesIO(jpeg)) as image:
        image.draft("RGB", size)
        frame = image.convert("RGB")
    if frame.size != size:
        frame = frame.resize(size, SLIDE_FILTER, reducing_gap=2.0)
    buffer = io.BytesIO()
    if fmt == "png":
        frame.save(buffer, "PNG", compress_level=3)
    elif fmt == "webp":
        frame.save(buffer, "WEBP", quality=quality)
    else:
        frame.save(buffer, "JPEG", quality=quality, subsampling="4:2:0")
    return buffer.getvalue()
