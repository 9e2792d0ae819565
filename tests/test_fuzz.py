"""Hundreds of damaged files dropped into a live server's folder: the show goes on.

Every format Pillow can write is written, then truncated, bit-flipped and given another
format's header. Each case must end up shown or skipped with a reason, the stream must keep
delivering frames, and a good file dropped after them must still appear.
"""

from __future__ import annotations

import io
import itertools
import random
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image
from support import Server, StreamReader, close_to, config_text, wait_for

SEED = 11
MAGENTA = (230, 20, 210)


def valid_files() -> Iterator[tuple[str, bytes]]:
    """One small picture in every format this Pillow can write, in the first mode it takes."""
    Image.init()
    gradient = Image.linear_gradient("L").resize((48, 32)).convert("RGB")
    for fmt in sorted(Image.SAVE):
        for mode in ("RGB", "RGBA", "L", "P", "1"):
            buffer = io.BytesIO()
            try:
                gradient.convert(mode).save(buffer, fmt)
            except Exception:
                continue
            yield fmt, buffer.getvalue()
            break


def cases() -> list[tuple[str, bytes]]:
    """(file name, content): each valid file, and mutated ones."""
    rng = random.Random(SEED)
    originals = list(valid_files())
    made: list[tuple[str, bytes]] = []
    for number, (fmt, data) in enumerate(originals):
        ext = rng.choice([".jpg", ".png", "." + fmt.lower()])
        variants = [("valid", data)]
        for cut in (0.25, 0.5, 0.9):
            variants.append((f"cut{int(cut * 100)}", data[: max(1, int(len(data) * cut))]))
        for flip in range(3):
            damaged = bytearray(data)
            for _ in range(1 + flip * 4):
                at = rng.randrange(len(damaged))
                damaged[at] ^= 1 << rng.randrange(8)
            variants.append((f"flip{flip}", bytes(damaged)))
        for swap in range(2):
            other = rng.choice(originals)[1]
            variants.append((f"swap{swap}", other[:32] + data[32:]))
        made += [(f"{number:02d}-{fmt}-{kind}{ext}", content) for kind, content in variants]
    return made


@pytest.mark.filterwarnings("ignore:IM image format is deprecated:DeprecationWarning")
def test_hundreds_of_damaged_files_never_stop_the_show(
    start_server: Callable[..., Server], images: Path
) -> None:
    files = cases()
    assert len(files) >= 200
    server = start_server(config_text(width=160, height=90, interval=0.05, keepalive=1))
    reader = StreamReader(server.port)
    try:
        wait_for(lambda: reader.count() > 0, 10, what="the first frame")
        for name, content in files:
            (images / name).write_bytes(content)

        def accounted() -> bool:
            status = server.status()
            return status["slides"] + len(status["skipped"]) == len(files)

        wait_for(accounted, 60, what="every file shown or skipped")
        status = server.status()
        frames_then = status["frames"]
        # Go round the whole show once more: files that pass the header check but fail to
        # decode are found, and skipped, when their turn comes.
        wait_for(
            lambda: server.status()["frames"] >= frames_then + status["slides"] + 5,
            120,
            what="one more pass through every slide",
        )
        status = server.status()
        assert status["slides"] + len(status["skipped"]) == len(files)
        assert all(item["reason"] for item in status["skipped"])
        assert status["slides"] >= 10, "valid files of the common formats must be shown"
        print(f"{len(files)} cases: {status['slides']} shown, {len(status['skipped'])} skipped")

        (images / "zz-good.png").write_bytes(_png(MAGENTA))
        wait_for(
            lambda: close_to(reader.latest_centre() or (0, 0, 0), MAGENTA),
            60,
            what="a good file dropped after them",
        )
        assert server.get("/healthz")[0] == 200
        arrived = [at for at, _ in reader.frames] + [time.monotonic()]
        longest_silence = max(later - earlier for earlier, later in itertools.pairwise(arrived))
        assert longest_silence < 5, "the stream (keepalive 1 s) went silent"
    finally:
        reader.close()
    log = server.log()
    assert "Traceback" not in log
    assert "Unexpected error" not in log
    skipped_lines = re.findall(r"Skipped (\S+): ", log)
    assert skipped_lines, "skipped files are logged with their reason"


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (160, 90), colour).save(buffer, "PNG")
    return buffer.getvalue()
