"""The QR code of the stream's address: in the start-up log and on the placeholder frame, read
back with a real decoder, as a phone's camera would."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from support import Server, config_text, free_port, wait_for

from framecast.qr import TERMINAL_QUIET_ZONE, modules, qr_image, terminal_qr
from framecast.render.imaging import RenderSpec, encode_jpeg
from framecast.render.placeholder import render_message

URL = "http://192.168.1.20:8000/"


def decoded(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


def terminal_picture(text: str) -> Image.Image:
    """The terminal code drawn back as pixels, one per half block, light where a block is."""
    lines = text.split("\n")
    picture = Image.new("L", (len(lines[0]), 2 * len(lines)), 0)
    for row, line in enumerate(lines):
        for column, char in enumerate(line):
            if char in "█▀":
                picture.putpixel((column, 2 * row), 255)
            if char in "█▄":
                picture.putpixel((column, 2 * row + 1), 255)
    return picture.resize((picture.width * 8, picture.height * 8), Image.Resampling.NEAREST)


def test_the_image_code_reads_as_the_url() -> None:
    image = qr_image(URL, 200)
    assert image.mode == "RGB"
    side = modules(URL)
    assert image.width == image.height == (200 // side) * side
    assert image.getpixel((0, 0)) == (255, 255, 255)
    assert decoded(image) == [URL]


def test_the_terminal_code_is_half_blocks_half_as_tall_and_reads_as_the_url() -> None:
    text = terminal_qr(URL)
    lines = text.split("\n")
    side = modules(URL, border=TERMINAL_QUIET_ZONE)
    assert len(lines) == (side + 1) // 2
    assert {len(line) for line in lines} == {side}
    assert set(text) <= set("█▀▄ \n")
    assert decoded(terminal_picture(text)) == [URL]


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (320, 180), (1080, 1920)])
def test_the_placeholder_code_reads_as_the_url_after_jpeg(width: int, height: int) -> None:
    url = "http://127.0.0.1:54321/"
    spec = RenderSpec(width, height, "contain", (0, 0, 0), 85)
    frame = render_message("No images yet", ["Drop images into /srv/images"], spec, url)
    jpeg = Image.open(io.BytesIO(encode_jpeg(frame, spec.quality)))
    assert decoded(jpeg) == [url]


def test_a_frame_too_small_for_a_readable_code_shows_the_address_as_text_only() -> None:
    spec = RenderSpec(160, 90, "contain", (0, 0, 0), 85)
    with_address = render_message("No images yet", ["Drop images into /srv"], spec, URL)
    without = render_message("No images yet", ["Drop images into /srv"], spec)
    assert decoded(with_address) == []
    white = with_address.convert("L").histogram()[255]
    assert white < 0.05 * spec.width * spec.height, "no white quiet zone, only text"
    assert with_address.tobytes() != without.tobytes()


@pytest.mark.live
def test_the_empty_folder_placeholder_and_the_log_show_the_code_of_the_address(
    tmp_path: Path, images: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    config = tmp_path / "config.toml"
    text = config_text(width=640, height=360)
    config.write_text(text.replace('host = "127.0.0.1"\n', f'host = "127.0.0.1"\nport = {port}\n'))
    server = Server(config, port=port)
    try:
        server.wait_ready()

        def snapshot_codes() -> list[str]:
            code, body = server.get("/snapshot.jpg")
            return decoded(Image.open(io.BytesIO(body))) if code == 200 else []

        assert wait_for(snapshot_codes, what="a QR code on the placeholder") == [url]
        code_in_log = f"Point a phone's camera at this code to open {url}:\n{terminal_qr(url)}\n"
        log = wait_for(lambda: code_in_log in server.log() and server.log(), what="the code")
        assert f"Framecast is streaming: open {url} on a TV browser" in log
    finally:
        server.stop()
