"""The bytes of a multipart/x-mixed-replace JPEG stream, as browsers really treat it.

Chromium draws a part only once the *next* part's headers have arrived (crbug 527446), so each
JPEG is followed at once by the boundary and headers of the part after it. The cost is that a
part cannot carry Content-Length (its size is not known yet); the gain is that every frame is on
screen the moment it is sent, in Chromium and Firefox alike, without sending anything twice.
"""

from __future__ import annotations

BOUNDARY = "frame"
MIMETYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
PART_HEADERS = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n\r\n".encode("ascii")
PART_END = b"\r\n" + PART_HEADERS


def part(jpeg: bytes) -> bytes:
    """One frame as it goes on the wire: the JPEG, then the next part's boundary and headers.

    A stream is PART_HEADERS, then `part(jpeg)` for each frame. One bytes object per frame, so
    a client's frame is one write; build it once per frame and share it (web.fanout.PartCache)."""
    return jpeg + PART_END
