"""One decode of each camera or stream address, however many channels show it.

A `LiveFeed` owns the FFmpeg connection (through PyAV) and the thread that reads it: it decodes
the pictures at the stream's own pace (a recorded stream, an MP4 or a finished HLS playlist, is
paced by its timestamps), turns at most the fastest `max_fps` any of its channels asks for into
pictures, and tells each picture apart from the last by a version. Each channel's `LiveSource`
takes the pictures it wants and fits and encodes them at its own size.

A stream that cannot be opened, ends, stalls (no packet for `[stream] url_timeout` seconds: the
read gives up, the thread never hangs) or sends what cannot be shown is opened again with
back-off; the feed says why and since when it is offline, and logs each reason once.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import av
from PIL import Image

from ..logtext import redacted_url
from ..render.imaging import short_error
from ..supervise import STOP_SECONDS, SharedFeed

log = logging.getLogger(__name__)

FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 4.0
"""Reconnects wait 0.5, 1, 2, 4, 4 ... s: a camera that comes back is shown within about 4 s."""
DRIFT_SECONDS = 1.0
"""A recorded stream's picture more than this behind or ahead of the clock starts its pacing
afresh (a live stream that paused, a jump in the timestamps) instead of racing or sleeping."""
PERIOD_SLACK = 0.9
"""A picture is turned into an image when at least this share of a `max_fps` period has passed
since the last: a stream at exactly `max_fps` arrives with jitter, and a whole period would drop
every picture that came a hair early."""
OPTIONS = {"probesize": "500000", "analyzeduration": "1000000", "rtsp_flags": "prefer_tcp"}
"""FFmpeg's options: a short probe (the first picture comes sooner), RTSP over TCP first."""
PROTOCOLS = {
    "http": "http,https,tls,tcp,crypto",
    "https": "http,https,tls,tcp,crypto",
    "rtsp": "rtsp,rtsps,rtp,srtp,udp,tcp,tls",
    "rtsps": "rtsp,rtsps,rtp,srtp,udp,tcp,tls",
}
"""What FFmpeg may open for an address of each scheme, the parts an HLS playlist or an RTSP
session name included: never a file of this machine (a playlist listing file:///etc/...)."""


SHOWING = ""
"""What the feed last logged when that was its pictures, not a reason."""


class LiveError(Exception):
    """Why a stream cannot be shown now, written for a person (no credentials in it)."""


@dataclass(frozen=True)
class Wants:
    """What one channel asks of a feed."""

    max_fps: float
    timeout: float
    max_pixels: int


@dataclass(frozen=True)
class Look:
    """The feed now: the newest picture (native size, RGB) and its version, whether the stream
    is connected, and why and since when (`time.time()`) it is not."""

    tick: int
    picture: Image.Image | None
    version: int
    connected: bool
    error: str | None = None
    offline_since: float | None = None


class LiveFeed(SharedFeed[Look]):
    """The reading thread of one address, running while any channel is attached.

    `attach`, `detach`, `wait` and `latest` are called by the channels' threads, `start` and
    `stop` by the registry for the first and the last of them; the feed's own thread calls
    `run`. `status` is read by HTTP threads.
    """

    def __init__(self, url: str) -> None:
        super().__init__("live-feed", Look(0, None, 0, False, None, time.time()))
        self.url = url
        self.shown_url = redacted_url(url)
        self._wants: dict[int, Wants] = {}
        self._decoded = 0
        self._opens = 0
        self._logged: str | None = None

    def attach(self, channel: object, wants: Wants) -> None:
        with self._cond:
            self._wants[id(channel)] = wants

    def detach(self, channel: object) -> bool:
        """`channel` wants no more pictures; whether it was the last."""
        with self._cond:
            self._wants.pop(id(channel), None)
            return not self._wants

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def status(self) -> dict[str, object]:
        """What /status says of the stream: its address without credentials, whether it is
        connected, how many pictures were decoded and opens made, and the last error."""
        with self._cond:
            look = self._look
            return {
                "live_url": self.shown_url,
                "live_connected": look.connected,
                "live_frames": self._decoded,
                "live_opens": self._opens,
                "live_error": look.error,
            }

    def _combined(self) -> Wants:
        with self._cond:
            wants = list(self._wants.values()) or [Wants(30.0, 10.0, 50_000_000)]
        return Wants(
            max(w.max_fps for w in wants),
            min(w.timeout for w in wants),
            min(w.max_pixels for w in wants),
        )

    def _show(self, picture: Image.Image | None, connected: bool, error: str | None) -> None:
        with self._cond:
            old = self._look
            version = old.version + 1 if picture is not None else old.version
            since = None if connected else (old.offline_since or time.time())
            self._look = Look(
                old.tick + 1, picture or old.picture, version, connected, error, since
            )
            self._cond.notify_all()

    def run(self) -> None:
        """The feed's thread: open, decode until the stream ends, stalls or fails, then open
        again after a back-off that grows while it keeps failing."""
        backoff = FIRST_BACKOFF_SECONDS
        while not self.stopping.is_set():
            try:
                shown = self._play()
                if self.stopping.is_set():
                    return
                if shown:
                    # A recorded stream came to its end: it plays again from the start.
                    backoff = FIRST_BACKOFF_SECONDS
                    continue
                raise LiveError("the stream ended before its first picture")
            except LiveError as error:
                if self._look.connected:
                    backoff = FIRST_BACKOFF_SECONDS
                self._fail(str(error))
            if self.stopping.wait(backoff):
                return
            backoff = min(MAX_BACKOFF_SECONDS, backoff * 2)

    def _fail(self, reason: str) -> None:
        if reason != self._logged:
            log.warning("Live stream %s: %s", self.shown_url, reason)
            self._logged = reason
        self._show(None, False, reason)

    def _play(self) -> bool:
        """Open the stream and show its pictures until it ends (True when any was shown) or
        the feed stops; LiveError says why it could not go on."""
        wants = self._combined()
        container = self._open(wants.timeout)
        shown = False
        try:
            if not container.streams.video:
                raise LiveError(
                    "sound only: the stream has no picture"
                    if container.streams.audio
                    else "the stream has no picture in it"
                )
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for picture in self._pictures(container, stream, wants.timeout):
                if not shown and self._logged != SHOWING:
                    log.info(
                        "Live stream %s: showing %d×%d",
                        self.shown_url,
                        picture.width,
                        picture.height,
                    )
                    self._logged = SHOWING
                shown = True
                self._show(picture, True, None)
        finally:
            container.close()
        return shown

    def _open(self, timeout: float) -> av.container.InputContainer:
        with self._cond:
            self._opens += 1
        parts = urlsplit(self.url)
        if parts.hostname:
            try:
                socket.getaddrinfo(parts.hostname, parts.port or 80, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError) as error:
                raise LiveError(
                    f"the host {parts.hostname} does not resolve ({short_error(error)})"
                ) from None
        try:
            return av.open(
                self.url,
                mode="r",
                format="v4l2" if not parts.hostname else None,
                options={**OPTIONS, "protocol_whitelist": PROTOCOLS.get(parts.scheme, "file")},
                timeout=(timeout, timeout),
            )
        except (av.FFmpegError, OSError) as error:
            raise LiveError(_described(error, timeout, opening=True)) from None

    def _pictures(
        self, container: av.container.InputContainer, stream: av.VideoStream, timeout: float
    ) -> Iterator[Image.Image]:
        """The stream's pictures, paced by their timestamps, at most the fastest `max_fps`
        asked; every frame is decoded (a frame of H.264 needs the ones before it). Data that
        yields no picture for `timeout` s (no keyframe ever) counts as a stall."""
        origin: float | None = None
        shown_at = 0.0
        pictured_at = time.monotonic()
        try:
            for packet in container.demux(stream):
                if self.stopping.is_set():
                    return
                frames = packet.decode()
                if not frames and time.monotonic() > pictured_at + timeout:
                    raise LiveError(
                        f"no picture for {timeout:g} s although data comes (no keyframe, or "
                        "pictures that do not decode)"
                    )
                for frame in frames:
                    pictured_at = time.monotonic()
                    with self._cond:
                        self._decoded += 1
                    wants = self._combined()
                    if frame.width * frame.height > wants.max_pixels:
                        raise LiveError(
                            f"too large: {frame.width}×{frame.height} pixels is over the "
                            f"{wants.max_pixels // 1_000_000} megapixel limit "
                            "([slideshow] max_megapixels)"
                        )
                    now = time.monotonic()
                    if frame.time is not None:
                        due = now if origin is None else origin + frame.time
                        if origin is None or abs(due - now) > DRIFT_SECONDS:
                            origin, due = now - frame.time, now
                        if due > now and self.stopping.wait(due - now):
                            return
                        now = time.monotonic()
                    if now < shown_at + PERIOD_SLACK / wants.max_fps:
                        continue
                    shown_at = now
                    yield frame.to_image()  # type: ignore[no-untyped-call]
        except (av.FFmpegError, OSError) as error:
            raise LiveError(_described(error, timeout, opening=False)) from None


def _described(error: BaseException, timeout: float, opening: bool) -> str:
    """What went wrong, for a person: from the error's kind and its text without the file
    name (FFmpeg's errors carry the address, credentials and all)."""
    reason = getattr(error, "strerror", None) or type(error).__name__
    if isinstance(error, (av.error.HTTPError, av.error.HTTPClientError)):
        return f"the server answers {reason.removeprefix('Server returned ')}"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused: nothing listens at that address and port"
    if isinstance(error, av.error.ExitError):
        if opening:
            return f"no answer that FFmpeg could open within {timeout:g} s"
        return f"the stream stalled: nothing came for {timeout:g} s ([stream] url_timeout)"
    if isinstance(error, av.error.InvalidDataError):
        if opening:
            return "not a video stream: the address answers something else (a web page?)"
        return "its pictures do not decode (damaged data)"
    if isinstance(error, FileNotFoundError):
        return "no such device or file"
    if isinstance(error, PermissionError):
        return "permission denied (a camera device: add the user to the video group)"
    return f"cannot {'open' if opening else 'read'} it ({reason})"


class LiveFeeds:
    """The feeds in use, by address; a feed starts with its first channel and stops with its
    last. Called by the channels' threads; shared by every show of one app."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._feeds: dict[str, LiveFeed] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._feeds)

    def attach(self, channel: object, url: str, wants: Wants) -> LiveFeed:
        with self._lock:
            feed = self._feeds.get(url)
            started = feed is None
            if feed is None:
                feed = self._feeds[url] = LiveFeed(url)
            feed.attach(channel, wants)
        if started:
            feed.start()
        return feed

    def detach(self, channel: object, feed: LiveFeed, timeout: float = STOP_SECONDS) -> None:
        with self._lock:
            last = feed.detach(channel)
            if last and self._feeds.get(feed.url) is feed:
                del self._feeds[feed.url]
        if last:
            feed.stop(timeout)
