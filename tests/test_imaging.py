from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import BLUE, GREEN, RED, ROOT, bomb_png, close_to, need_pixman, plain_png

from framecast.render import pixman
from framecast.render.imaging import (
    RenderSpec,
    UnreadableImage,
    render_slide,
)
from framecast.render.kinds import Probe, probe_file
from framecast.render.motion import first_frame
from framecast.render.screen_frame import encode_screen

SPEC = RenderSpec(320, 180, "contain", (0, 0, 0), 90)


def pixels(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG"
    return image.convert("RGB")


def two_tone(
    size: tuple[int, int], left: tuple[int, int, int], right: tuple[int, int, int]
) -> Image.Image:
    image = Image.new("RGB", size, left)
    image.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return image


def test_contain_letterboxes_a_portrait_image_on_the_background(tmp_path: Path) -> None:
    path = tmp_path / "portrait.png"
    Image.new("RGB", (90, 160), RED).save(path)
    frame = pixels(render_slide(path, RenderSpec(320, 180, "contain", (0, 0, 255), 90)))
    assert frame.size == (320, 180)
    assert close_to(frame.getpixel((160, 90)), RED)
    assert close_to(frame.getpixel((10, 90)), (0, 0, 255))
    assert close_to(frame.getpixel((310, 90)), (0, 0, 255))


def test_cover_fills_the_frame_and_crops(tmp_path: Path) -> None:
    path = tmp_path / "portrait.png"
    image = Image.new("RGB", (90, 160), GREEN)
    image.paste(RED, (0, 0, 90, 20))
    image.save(path)
    frame = pixels(render_slide(path, RenderSpec(320, 180, "cover", (0, 0, 255), 90)))
    for x, y in ((3, 90), (316, 90), (160, 3), (160, 176)):
        assert close_to(frame.getpixel((x, y)), GREEN)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
def test_every_common_format_is_read_by_content_not_extension(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "no-extension-hint.dat"
    Image.new("RGB", (64, 36), BLUE).save(path, fmt)
    assert probe_file(path) == Probe("still", 64, 36)
    assert close_to(pixels(render_slide(path, SPEC)).getpixel((160, 90)), BLUE, 30)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "phone.jpg"
    sideways = two_tone((160, 90), RED, BLUE)
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways.save(path, exif=exif, quality=95)
    frame = pixels(render_slide(path, RenderSpec(180, 320, "cover", (0, 0, 0), 90)))
    assert close_to(frame.getpixel((90, 40)), RED, 40)
    assert close_to(frame.getpixel((90, 280)), BLUE, 40)


def test_transparency_is_flattened_onto_the_background(tmp_path: Path) -> None:
    path = tmp_path / "logo.png"
    Image.new("RGBA", (320, 180), (255, 0, 0, 0)).save(path)
    frame = pixels(render_slide(path, RenderSpec(320, 180, "contain", (0, 255, 0), 90)))
    assert close_to(frame.getpixel((160, 90)), (0, 255, 0))


def test_sixteen_bit_grey_keeps_its_brightness(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    Image.new("I;16", (64, 36), 32768).save(path)
    grey = pixels(render_slide(path, SPEC)).getpixel((160, 90))
    assert close_to(grey, (128, 128, 128), 8)


def test_cmyk_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "print.jpg"
    Image.new("CMYK", (64, 36), (0, 255, 255, 0)).save(path)
    assert close_to(pixels(render_slide(path, SPEC)).getpixel((160, 90)), (255, 0, 0), 30)


def test_large_jpeg_uses_draft_mode(tmp_path: Path) -> None:
    path = tmp_path / "camera.jpg"
    Image.new("RGB", (6000, 4000), RED).save(path, quality=90)
    with Image.open(path) as image:
        image.draft("RGB", (320, 213))
        assert image.size == (750, 500)
    assert close_to(pixels(render_slide(path, SPEC)).getpixel((160, 90)), RED)


def test_decompression_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    path = bomb_png(tmp_path / "bomb.png")
    started = time.process_time()
    with pytest.raises(
        UnreadableImage, match="too large: 900 megapixels is over the 89 megapixel limit"
    ):
        probe_file(path)
    with pytest.raises(UnreadableImage, match="too large"):
        render_slide(path, SPEC)
    assert time.process_time() - started < 0.5, "the bomb was decoded"


PREPARE_AND_MEASURE = """
import sys
from pathlib import Path
from framecast.render.imaging import RenderSpec, UnreadableImage, render_slide
from framecast.render.motion import first_frame

def peak_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

spec = RenderSpec(1920, 1080, sys.argv[2], (0, 0, 0), 80, max_pixels=50_000_000)
before = peak_kib()
try:
    if sys.argv[3] == "animation":
        first_frame(Path(sys.argv[1]), "animation", spec)
    else:
        render_slide(Path(sys.argv[1]), spec)
    outcome = "shown"
except UnreadableImage as error:
    outcome = str(error)
print((peak_kib() - before) // 1024, outcome)
"""


def prepared_in_a_fresh_process(
    path: Path, fit: str = "contain", kind: str = "still"
) -> tuple[int, str]:
    """Prepare `path` for a 1920×1080 frame in a new process: the growth of its peak resident
    size (MB), which is that preparation's alone, and "shown" or the reason it was refused."""
    out = subprocess.run(
        [sys.executable, "-c", PREPARE_AND_MEASURE, str(path), fit, kind],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    growth, outcome = out.strip().split(" ", 1)
    return int(growth), outcome


def test_a_picture_thinner_than_a_pixel_on_the_frame_is_refused_unread(tmp_path: Path) -> None:
    """1×10,000,000 grey pixels (10 MB decoded) took 204 MB to prepare: Pillow keeps 8 bytes for
    every row. On a 1080-high frame it would be a two-hundredth of a pixel wide."""
    growth, outcome = prepared_in_a_fresh_process(plain_png(tmp_path / "line.png", (1, 10_000_000)))
    assert outcome == (
        "too thin to show: 1×10000000 pixels would be under one pixel wide on the 1920×1080 frame"
    )
    assert growth < 50


@pytest.mark.parametrize(
    ("mode", "fit", "kind"),
    [
        ("RGBA", "contain", "still"),
        ("LA", "contain", "still"),
        ("RGBA", "blur", "still"),
        ("L", "cover", "still"),
        ("RGBA", "contain", "animation"),
    ],
)
def test_preparing_a_picture_holds_about_ten_bytes_a_pixel(
    tmp_path: Path, mode: str, fit: str, kind: str
) -> None:
    """The README's bound, with 20 MB for the frame and its JPEG. A grey picture with
    transparency (made RGBA before shrinking), one with transparency under the blur fit and an
    animation's frame with transparency (both flattened at full size) took 13 bytes a pixel."""
    path = tmp_path / "picture.png"
    frames = [Image.new(mode, (4000, 3000), level) for level in (100, 200)]
    if kind == "animation":
        frames[0].save(path, save_all=True, append_images=frames[1:], compress_level=1)
    else:
        frames[0].save(path, compress_level=1)
    growth, outcome = prepared_in_a_fresh_process(path, fit, kind)
    assert outcome == "shown"
    assert growth < 4000 * 3000 * 10 / 2**20 + 20


def test_thin_pictures_show_while_they_are_a_pixel_on_the_frame(tmp_path: Path) -> None:
    """The limit is the frame's own: a line one pixel wide or high on it shows, a thinner one
    is refused, and a picture turned by its EXIF is measured as it stands."""
    assert pixels(
        render_slide(plain_png(tmp_path / "tall.png", (1, 180), level=250), SPEC)
    ).size == (
        320,
        180,
    )
    with pytest.raises(UnreadableImage, match="1×181 pixels would be under one pixel wide on"):
        render_slide(plain_png(tmp_path / "taller.png", (1, 181)), SPEC)
    with pytest.raises(UnreadableImage, match="321×1 pixels would be under one pixel high on"):
        render_slide(plain_png(tmp_path / "wide.png", (321, 1)), SPEC)
    turned = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (2, 500), RED).save(turned, exif=exif)
    assert pixels(render_slide(turned, SPEC)).size == (320, 180)
    with pytest.raises(UnreadableImage, match="500×2 pixels would be under one pixel high on"):
        render_slide(turned, RenderSpec(200, 400, "cover", (0, 0, 0), 90))


def test_a_thin_animation_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "line.gif"
    frames = [Image.new("RGB", (1, 400), colour) for colour in (RED, BLUE)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with pytest.raises(UnreadableImage, match="1×400 pixels would be under one pixel wide"):
        first_frame(path, "animation", SPEC)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"hello, I am a text file\n", "not a JPEG, PNG"),
    ],
)
def test_unreadable_files_say_why(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    with pytest.raises(UnreadableImage, match=reason):
        probe_file(path)


def test_truncated_jpeg_is_refused_when_decoded(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    buffer = io.BytesIO()
    Image.effect_noise((640, 480), 50).convert("RGB").save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    assert probe_file(path) == Probe("still", 640, 480)
    with pytest.raises(UnreadableImage, match="damaged or incomplete"):
        render_slide(path, SPEC)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableImage, match="disappeared"):
        probe_file(tmp_path / "gone.jpg")


def bgrx(image: Image.Image) -> bytearray:
    """An RGB image as a screen grab: blue, green, red, padding."""
    red, green, blue = image.split()
    return bytearray(Image.merge("RGBA", (blue, green, red, Image.new("L", image.size))).tobytes())


@pytest.mark.parametrize("size", [(12, 6), (1920, 1080)])
def test_two_thirds_by_pixman_is_bilinear(size: tuple[int, int]) -> None:
    """Each output pixel is 3/4 of an outer source pixel and 1/4 of the middle one of three,
    along each axis (within pixman's 7-bit weights)."""
    need_pixman()
    rng = np.random.default_rng(7)
    source = rng.integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)
    frame = (size[0] * 2 // 3, size[1] * 2 // 3)
    out = pixman.scale_bgrx(
        bytearray(source.tobytes()), size, (0, 0, *size), frame, (0, 0, *frame), (0, 0, 0)
    )
    shrunk = np.frombuffer(out, np.uint8).reshape(frame[1], frame[0], 4)[..., :3]

    def along(pixels: np.ndarray, axis: int) -> np.ndarray:
        first, middle, last = (
            np.take(pixels, range(k, pixels.shape[axis], 3), axis) for k in range(3)
        )
        even, odd = 0.75 * first + 0.25 * middle, 0.75 * last + 0.25 * middle
        return np.stack([even, odd], axis=axis + 1).reshape(
            *pixels.shape[:axis], -1, *pixels.shape[axis + 1 :]
        )

    expected = along(along(source[..., :3].astype(np.float64), 1), 0)
    assert np.abs(shrunk - expected).max() <= 2


def bilinear_padded(
    source: np.ndarray, box: tuple[float, ...], frame: tuple[int, int]
) -> np.ndarray:
    """The reference: each output pixel centre mapped into `box` of the source, the two
    nearest pixel centres along each axis weighted by distance, edges repeated outwards."""

    def axis(start: float, length: float, count: int, size: int) -> tuple[np.ndarray, ...]:
        at = start + (np.arange(count) + 0.5) * length / count - 0.5
        low = np.floor(at)
        weight = at - low
        low = low.astype(int)
        return np.clip(low, 0, size - 1), np.clip(low + 1, 0, size - 1), weight

    x0, x1, wx = axis(box[0], box[2], frame[0], source.shape[1])
    y0, y1, wy = axis(box[1], box[3], frame[1], source.shape[0])
    rows = source[y0] * (1 - wy)[:, None, None] + source[y1] * wy[:, None, None]
    return rows[:, x0] * (1 - wx)[None, :, None] + rows[:, x1] * wx[None, :, None]


@pytest.mark.parametrize(
    ("size", "box", "frame"),
    [
        ((1280, 720), (0, 0, 1280, 720), (1920, 1080)),
        ((37, 21), (0, 0, 37, 21), (290, 180)),
        ((640, 360), (10.5, 3.25, 600, 350), (1700, 1000)),
    ],
)
def test_pixman_scaling_up_is_bilinear_to_the_edges(
    size: tuple[int, int], box: tuple[float, ...], frame: tuple[int, int]
) -> None:
    """Scaled up in parts (the inside on pixman's fast path, the edges around it), the frame
    is one bilinear picture: no seam, and the edges repeat the source's outermost pixels."""
    need_pixman()
    rng = np.random.default_rng(3)
    source = rng.integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)
    out = pixman.scale_bgrx(
        bytearray(source.tobytes()), size, box, frame, (0, 0, *frame), (0, 0, 0)
    )
    scaled = np.frombuffer(out, np.uint8).reshape(frame[1], frame[0], 4)[..., :3]
    expected = bilinear_padded(source[..., :3].astype(np.float64), box, frame)
    # pixman weighs with 7 bits per axis and steps in 16.16 fixed point: on noise that is up
    # to 6 levels off; a seam or an unpadded edge would be off by up to 255.
    assert np.abs(scaled - expected).max() <= 6


@pytest.fixture(params=["pixman", "Pillow"])
def scaler(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Screen frames scaled by pixman, and by Pillow as on a machine without pixman."""
    if request.param == "Pillow":
        monkeypatch.setattr(pixman, "available", False)
    else:
        need_pixman()
    return str(request.param)


def test_a_screen_frame_at_two_thirds_keeps_its_picture(scaler: str) -> None:
    """1080p BGRX to a 720p JPEG: the left half red, the right half blue, still so."""
    raw = bgrx(two_tone((1920, 1080), RED, BLUE))
    spec = RenderSpec(1280, 720, "contain", (0, 0, 0), 90)
    image = pixels(encode_screen(raw, 1920, 1080, spec))
    assert image.size == (1280, 720)
    assert close_to(image.getpixel((320, 360)), RED)
    assert close_to(image.getpixel((960, 360)), BLUE)


def test_a_screen_contained_in_another_shape_is_letterboxed_on_the_background(
    scaler: str,
) -> None:
    """A 4:3 screen on a 16:9 frame: bars of the background colour, the picture between."""
    raw = bgrx(two_tone((1600, 1200), RED, BLUE))
    background = (200, 120, 10)
    image = pixels(encode_screen(raw, 1600, 1200, RenderSpec(1280, 720, "contain", background, 90)))
    assert close_to(image.getpixel((60, 360)), background)
    assert close_to(image.getpixel((1220, 360)), background)
    assert close_to(image.getpixel((400, 360)), RED)
    assert close_to(image.getpixel((880, 360)), BLUE)


def test_a_screen_covering_another_shape_is_cropped_to_its_middle(scaler: str) -> None:
    """A 4:3 screen, red at the top quarter, green in the middle, blue at the bottom quarter,
    covering a 16:9 frame: only the middle rows, without bars."""
    screen = Image.new("RGB", (1600, 1200), GREEN)
    screen.paste(RED, (0, 0, 1600, 300))
    screen.paste(BLUE, (0, 900, 1600, 1200))
    spec = RenderSpec(1280, 720, "cover", (0, 0, 0), 90)
    image = pixels(encode_screen(bgrx(screen), 1600, 1200, spec))
    # The middle 1600×900 rows 150-1050 are shown: red to row 150 of 900, blue from row 750.
    assert close_to(image.getpixel((640, 40)), RED)
    assert close_to(image.getpixel((640, 360)), GREEN)
    assert close_to(image.getpixel((640, 680)), BLUE)
    assert close_to(image.getpixel((5, 360)), GREEN)


def test_a_screen_shrunk_by_more_than_half_is_area_filtered() -> None:
    """1080p to 480×270: bilinear would sample between pixels 1 and 2 of every four and miss
    one-pixel lines drawn on pixel 0; the area filter keeps each as a quarter of a grey."""
    lines = Image.new("L", (1920, 1080), 0)
    lines.putdata([255 * (x % 4 == 0) for _ in range(1080) for x in range(1920)])
    raw = bgrx(lines.convert("RGB"))
    spec = RenderSpec(480, 270, "contain", (0, 0, 0), 90)
    image = pixels(encode_screen(raw, 1920, 1080, spec))
    values = [image.getpixel((x, 135))[0] for x in range(100, 380)]  # type: ignore[index]
    assert all(40 < value < 90 for value in values), values
