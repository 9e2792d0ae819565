"""Every kind of file the show plays, made in the test and read back as stream pixels from a real
server: HEIC and AVIF photos, PDF pages, MP4 and WebM clips, animated GIFs; and the files that
will never show, each skipped with a reason while the stream goes on."""

from __future__ import annotations

import http.client
import io
import os
import time
from collections.abc import Callable
from pathlib import Path

import media
import pytest
from PIL import Image
from support import (
    BLUE,
    GREEN,
    RED,
    YELLOW,
    Server,
    StreamReader,
    close_to,
    config_text,
    solid,
    wait_for,
)

from framecast.render.kinds import probe_file

Colour = tuple[int, int, int]
NAMES = {"r": RED, "g": GREEN, "b": BLUE, "y": YELLOW}


def colours_seen(stream: StreamReader, since: int = 0) -> str:
    """The colours of the stream's frames from frame `since` on, one letter per change."""
    seen = ""
    for _, jpeg in stream.frames[since:]:
        letter = colour_of(jpeg)
        if not seen or seen[-1] != letter:
            seen += letter
    return seen


def test_heic_and_avif_show_like_jpegs_with_their_orientation(
    images: Path, start_server: Callable[..., Server]
) -> None:
    media.heic(images / "1.heic", RED)
    turned = Image.new("RGB", (64, 48), RED)
    turned.paste(BLUE, (32, 0, 64, 48))
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter clockwise: the left half comes on top
    turned.save(images / "2.avif", "AVIF", quality=90, exif=exif.tobytes())
    server = start_server(interval=30)
    stream = StreamReader(server.port)
    stream.wait_colour(RED)
    assert server.status()["skipped"] == []
    server_next(server)

    def upright() -> bool:
        latest = stream.latest()
        if latest is None:
            return False
        with Image.open(io.BytesIO(latest)) as image:
            frame = image.convert("RGB")
        top, bottom = frame.getpixel((160, 30)), frame.getpixel((160, 150))
        return close_to(top, RED) and close_to(bottom, BLUE)  # type: ignore[arg-type]

    wait_for(upright, what="the AVIF turned by its EXIF orientation")
    stream.close()


def server_next(server: Server) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("POST", "/api/next", headers={"X-Framecast": "1"})
    assert connection.getresponse().status == 200
    connection.close()


def test_a_pdf_shows_each_page_in_order_and_counts_them(
    images: Path, start_server: Callable[..., Server]
) -> None:
    media.pdf(images / "a-menu.pdf", [RED, BLUE])
    solid(images / "b.png", GREEN)
    server = start_server(interval=0.6)
    stream = StreamReader(server.port)
    wait_for(lambda: "rbg" in colours_seen(stream) * 2, 10, what="page 1, page 2, the photo")
    status = server.status()
    assert status["slides"] == 3, "the PDF's pages count as slides"
    assert status["skipped"] == []
    stream.close()


def test_a_pdf_page_is_rendered_sharp_at_the_output_size(
    images: Path, start_server: Callable[..., Server]
) -> None:
    """A small page (160×90 pt) fills the 320×180 frame: rendered at twice its size, not
    scaled up from a small bitmap, so the edge between its halves stays one pixel sharp."""
    page = Image.new("RGB", (160, 90), RED)
    page.paste(BLUE, (80, 0, 160, 90))
    page.save(images / "halves.pdf", "PDF", resolution=72)
    server = start_server(interval=30)
    stream = StreamReader(server.port)
    wait_for(stream.latest, what="a frame")
    latest = stream.latest()
    assert latest is not None
    with Image.open(io.BytesIO(latest)) as image:
        frame = image.convert("RGB")
    assert frame.size == (320, 180)
    assert close_to(frame.getpixel((20, 90)), RED)  # type: ignore[arg-type]
    assert close_to(frame.getpixel((300, 90)), BLUE)  # type: ignore[arg-type]
    stream.close()


@pytest.mark.parametrize("name", ["clip.mp4", "clip.webm"])
def test_a_clip_plays_at_its_own_rate_then_the_next_slide(
    name: str, images: Path, start_server: Callable[..., Server]
) -> None:
    media.clip(images / f"a-{name}", [RED, GREEN], fps=10, frames_each=10)
    solid(images / "b.png", BLUE)
    server = start_server(interval=30)
    stream = StreamReader(server.port)
    wait_for(lambda: "rgb" in colours_seen(stream), 15, what="the clip's colours, then the photo")
    clip_frames = [at for at, jpeg in stream.frames if colour_of(jpeg) in ("r", "g")]
    rate = (len(clip_frames) - 1) / (clip_frames[-1] - clip_frames[0])
    assert 9.0 <= rate <= 11.0, f"{len(clip_frames)} frames at {rate:.1f} fps, the clip has 10"
    stream.close()


def colour_of(jpeg: bytes) -> str:
    """The letter of the frame's colour at its centre."""
    with Image.open(io.BytesIO(jpeg)) as image:
        pixel = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
    return next((k for k, c in NAMES.items() if close_to(pixel, c, 40)), "?")  # type: ignore[arg-type]


def test_a_clip_alone_in_the_folder_plays_again_from_its_start(
    images: Path, start_server: Callable[..., Server]
) -> None:
    media.clip(images / "loop.mp4", [RED, GREEN], fps=10, frames_each=5)
    server = start_server(interval=30)
    stream = StreamReader(server.port)
    wait_for(lambda: "rgrg" in colours_seen(stream), 10, what="the clip twice")
    stream.close()


def test_a_fast_clip_is_played_at_most_at_max_fps_and_status_shows_its_position(
    images: Path, start_server: Callable[..., Server]
) -> None:
    media.clip(images / "fast.mp4", [RED, GREEN], fps=60, frames_each=120)
    text = config_text(interval=30).replace("[stream]\n", "[stream]\nmax_fps = 20\n")
    server = start_server(text)
    stream = StreamReader(server.port)
    stream.wait_colour(RED)
    began, count = time.monotonic(), stream.count()
    positions = []
    wait_for(
        lambda: positions.append(server.status()["position"]) or time.monotonic() - began > 1.5,
        what="a second and a half of the clip",
    )
    rate = (stream.count() - count) / (time.monotonic() - began)
    assert 17.0 <= rate <= 22.0, f"{rate:.1f} fps from a 60 fps clip with max_fps = 20"
    moving = [p for p in positions if p is not None]
    assert moving, positions
    assert moving == sorted(moving), positions
    assert 0 < moving[-1] < 4.0, positions
    stream.close()


@pytest.mark.parametrize("name", ["spin.gif", "spin.webp", "spin.png"])
def test_an_animation_changes_within_one_slide(
    name: str, images: Path, start_server: Callable[..., Server]
) -> None:
    """Animated GIF, WebP and PNG (APNG): their frames at their own timing, looping."""
    media.animated(images / name, [RED, GREEN, BLUE], frame_ms=200)
    server = start_server(interval=30)
    stream = StreamReader(server.port)
    wait_for(lambda: "rgbrgb" in colours_seen(stream), 5, what="two loops of the frames")
    assert server.status()["slide"] == name
    stream.close()


def test_a_clip_deleted_while_it_plays_ends_at_once(
    images: Path, start_server: Callable[..., Server]
) -> None:
    media.clip(images / "a.mp4", [RED], fps=10, frames_each=100)
    solid(images / "b.png", GREEN)
    server = start_server(interval=30)
    stream = StreamReader(server.port)
    stream.wait_colour(RED)
    (images / "a.mp4").unlink()
    deleted = time.monotonic()
    stream.wait_colour(GREEN, timeout=3)
    assert time.monotonic() - deleted < 3
    stream.close()


def test_a_pdf_replaced_while_its_third_page_shows(
    images: Path, start_server: Callable[..., Server]
) -> None:
    media.pdf(images / "menu.pdf", [RED, GREEN, BLUE])
    server = start_server(interval=30)
    stream = StreamReader(server.port)
    stream.wait_colour(RED)
    server_next(server)
    server_next(server)
    stream.wait_colour(BLUE)
    assert server.status()["slide"] == "menu.pdf (page 3 of 3)"
    media.pdf(images / ".menu.pdf.part", [RED, GREEN, YELLOW])
    os.replace(images / ".menu.pdf.part", images / "menu.pdf")
    stream.wait_colour(YELLOW)
    stream.close()


ENCRYPTED_PDF = b"""%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] >> endobj
4 0 obj << /Filter /Standard /V 1 /R 2 /P -4
/O <00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff>
/U <ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100> >> endobj
trailer << /Root 1 0 R /Encrypt 4 0 R /ID [<0011223344556677><0011223344556677>] >>
%%EOF
"""


def test_files_that_cannot_show_are_skipped_with_a_reason_and_the_show_goes_on(
    images: Path, start_server: Callable[..., Server]
) -> None:
    whole = media.heic(images / "whole.heic", RED).read_bytes()
    (images / "whole.heic").unlink()
    (images / "cut.heic").write_bytes(whole[: len(whole) // 2])
    (images / "notes.heic").write_text("not a photo at all\n")
    (images / "locked.pdf").write_bytes(ENCRYPTED_PDF)
    (images / "broken.mp4").write_bytes(os.urandom(4096))
    media.sound_only(images / "song.mp4")
    (images / "IMG_0001.CR2").write_bytes(b"II*\x00" + os.urandom(2048))
    solid(images / "ok.png", GREEN)
    server = start_server(interval=30)
    stream = StreamReader(server.port)
    stream.wait_colour(GREEN)

    def reasons() -> dict[str, str]:
        return {item["file"]: item["reason"] for item in server.status()["skipped"]}

    wait_for(lambda: len(reasons()) == 6, 10, what=f"six files skipped (so far {reasons()})")
    found = reasons()
    assert "damaged" in found["cut.heic"] or "not a" in found["cut.heic"], found
    assert found["notes.heic"].startswith("not a JPEG"), found
    assert "password" in found["locked.pdf"], found
    assert "clip" in found["broken.mp4"], found
    assert found["song.mp4"] == "a clip with no video in it"
    assert found["IMG_0001.CR2"].startswith("a camera RAW file: export it as JPEG")
    assert server.status()["slides"] == 1
    stream.wait_colour(GREEN)
    stream.close()


def test_a_pdf_of_two_thousand_pages_counts_them_and_shows_the_first_at_once(
    images: Path, start_server: Callable[..., Server]
) -> None:
    media.pdf(images / "book.pdf", [RED] + [BLUE] * 1999, size=(16, 9))
    server = start_server(interval=30)
    stream = StreamReader(server.port)
    stream.wait_colour(RED)
    assert server.status()["slides"] == 2000
    stream.close()


def test_a_multi_page_tiff_is_a_still_picture_not_an_animation(tmp_path: Path) -> None:
    pages = [Image.new("RGB", (64, 36), colour) for colour in (RED, GREEN)]
    pages[0].save(tmp_path / "scan.tif", save_all=True, append_images=pages[1:])
    media.animated(tmp_path / "spin.gif", [RED, GREEN])
    assert probe_file(tmp_path / "scan.tif").kind == "still"
    assert probe_file(tmp_path / "spin.gif").kind == "animation"
