"""A real HTTP server on 127.0.0.1 for live sources: files (an MP4, an HLS playlist and its
segments, written by PyAV), an endless MJPEG stream of a colour the test sets, a stream that
stalls while the test holds it, and the bad answers (404, a web page). It counts the requests
for each path, so a test sees how many times a stream was opened."""

from __future__ import annotations

import collections
import io
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from media import clip
from PIL import Image

Colour = tuple[int, int, int]
MJPEG_BOUNDARY = "frame"


def hls(folder: Path, colours: list[Colour], seconds_each: float = 1.0, fps: int = 10) -> Path:
    """An HLS playlist (VOD) of H.264 segments written by PyAV's "hls" muxer, each colour for
    `seconds_each`; returns the playlist."""
    folder.mkdir(parents=True, exist_ok=True)
    options = {"hls_time": "1", "hls_list_size": "0", "hls_playlist_type": "vod"}
    return clip(
        folder / "index.m3u8", colours, fps, round(seconds_each * fps), fmt="hls", options=options
    )


def mp4(
    path: Path,
    colours: list[Colour],
    seconds_each: float = 1.0,
    fps: int = 10,
    size: tuple[int, int] = (160, 90),
) -> Path:
    """A progressive MP4 (H.264, moov first so it plays while it downloads, over a server that
    answers no range requests)."""
    options = {"movflags": "faststart"}
    return clip(path, colours, fps, round(seconds_each * fps), size, options=options)


def jpeg(colour: Colour, size: tuple[int, int] = (160, 90)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


class QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-file (a decoder closing its stream) is no error here."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class StreamServer:
    """Serves `folder` and the live paths below on a free loopback port, on threads of its own.

    - `/live.mjpeg`: endless MJPEG at `fps` of `colour` (set it any time); while `stalled` is
      set, it sends nothing and holds the connection.
    - `/missing`: 404. `/page.html`: a web page. Anything else: a file of `folder`.
    """

    def __init__(self, folder: Path, fps: float = 10.0) -> None:
        self.folder = folder
        self.fps = fps
        self.colour: Colour = (30, 200, 60)
        self.size = (160, 90)
        self.stalled = threading.Event()
        self.parts: bytes | None = None
        """When set, what each part of /live.mjpeg carries instead of a JPEG of `colour`."""
        self.opens: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        owner = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(owner.folder), **kwargs)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                with owner._lock:
                    owner.opens[path] += 1
                if path == "/live.mjpeg":
                    owner._mjpeg(self)
                elif path == "/page.html":
                    body = b"<!doctype html><html><body><h1>Camera login</h1></body></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    super().do_GET()

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> StreamServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        self.stalled.clear()
        self.server.shutdown()
        self.server.server_close()

    def opened(self, path: str) -> int:
        with self._lock:
            return self.opens[path]

    def _mjpeg(self, handler: SimpleHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}")
        handler.end_headers()
        try:
            while not self._closing.is_set():
                if self.stalled.is_set():
                    self._closing.wait(0.05)
                    continue
                body = self.parts or jpeg(self.colour, self.size)
                handler.wfile.write(
                    f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                    + b"\r\n"
                )
                handler.wfile.flush()
                time.sleep(1 / self.fps)
        except OSError:
            pass
