"""What the slideshow puts on the stream: a slide with its labels, faded in from the frame before,
or a placeholder that says why there is no slide; each made once and published only when what
is shown changes."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path, PurePosixPath

from PIL import Image

from ..announcements import Announcement
from ..config import Settings, SlideshowSettings
from ..hub import FrameHub
from ..render.compose import Labels, fade, finished, label, overlay_labels
from ..render.imaging import RenderSpec, encode_jpeg, turn, unturn
from ..render.placeholder import render_message
from .folder import FolderPlaylist
from .ordering import Slide

log = logging.getLogger(__name__)


class SlidePresenter:
    """Publishes the slideshow's frames to one hub. Called by the slideshow's thread only.

    `address` gives the address TVs open, shown with its QR code on the set-up placeholders;
    `banner` the channel's announcement now, drawn across the top of every slide.
    """

    def __init__(
        self,
        hub: FrameHub,
        clock: Callable[[], datetime],
        address: Callable[[], str] | None,
        banner: Callable[[], Announcement | None] = lambda: None,
    ) -> None:
        self._hub = hub
        self._clock = clock
        self._address = address
        self._banner = banner
        self._shown: tuple[object, ...] | None = None
        self._shown_image: Image.Image | None = None
        self._shown_path: Path | None = None
        self._capped: SlideshowSettings | None = None
        self._resting = False

    def show_slide(self, slide: Slide, jpeg: bytes, settings: Settings, spec: RenderSpec) -> None:
        """Put the prepared slide on the stream, with labels and a fade when they are on."""
        labels = self._labels(settings, slide)
        fade_steps = self._fade_steps(settings.slideshow)
        if labels.empty and not fade_steps:
            # The frame itself is in the key: a web page drawn anew is the same slide.
            self._show(("slide", slide, spec, jpeg), lambda: jpeg, spec)
        else:
            self._show_composed(slide, jpeg, labels, fade_steps, settings.slideshow, spec)

    def show_frame(
        self, slide: Slide, picture: Image.Image, settings: Settings, spec: RenderSpec
    ) -> None:
        """Put one frame of a moving slide on the stream: `picture` is fitted to the upright
        panel; it gets the slide's labels, is turned for the panel and encoded without the GIL
        (a clip's frames come many times a second)."""
        rgb, jpeg = finished(picture, self._labels(settings, slide), spec)
        self._hub.publish(jpeg, spec.width, spec.height)
        self._shown, self._shown_image, self._shown_path = ("frame", slide), rgb, slide.path
        self._resting = False

    def rest(self) -> None:
        """Nobody wants frames: the hub's frame is marked outdated, so that a snapshot or a new
        client waits for the current slide, which the next show confirms when it is still the
        frame there."""
        self._hub.outdate()
        self._resting = True

    def forget(self) -> None:
        """Another source took over the stream: the next slide is made afresh, with no fade."""
        self._shown = self._shown_image = None

    def _labels(self, settings: Settings, slide: Slide) -> Labels:
        return overlay_labels(
            settings.overlay, self._clock(), self._banner(), PurePosixPath(slide.name).stem
        )

    def _fade_steps(self, settings: SlideshowSettings) -> int:
        """How many frames a fade takes at most, its length capped at half the interval."""
        if settings.transition != "fade":
            return 0
        seconds = min(settings.transition_seconds, settings.interval / 2)
        if seconds < settings.transition_seconds and self._capped != settings:
            log.warning(
                "transition_seconds = %g is longer than half the %g s interval: capped at %g s",
                settings.transition_seconds,
                settings.interval,
                seconds,
            )
        self._capped = settings
        steps = round(seconds * settings.transition_fps)
        return steps if steps > 1 else 0

    def _show_composed(
        self,
        slide: Slide,
        jpeg: bytes,
        labels: Labels,
        fade_steps: int,
        settings: SlideshowSettings,
        spec: RenderSpec,
    ) -> None:
        """Publish the slide with its labels, faded in from the frame before when it is new and
        that frame was on the stream (not outdated by a rest). Labels are drawn on the upright
        picture, so that they read upright on a turned panel; without labels the prepared JPEG
        is the final frame as it is."""
        key = ("composed", slide, spec, labels, jpeg)
        if self._still_shown(key):
            return
        with Image.open(io.BytesIO(jpeg)) as decoded:
            upright = label(unturn(decoded.convert("RGB"), spec.rotate), labels)
        frame = turn(upright, spec.rotate)
        before = None if self._resting else self._shown_image
        final = jpeg if labels.empty else encode_jpeg(frame, spec.quality, optimize=True)
        if before is not None and fade_steps and slide.path != self._shown_path:
            between = fade(before, frame, fade_steps, spec.quality, len(final))
            pace = fade_steps / settings.transition_fps / (len(between.jpegs) + 1)
            next_at = time.monotonic()
            for part in between.jpegs:
                self._hub.publish(part, *between.size)
                next_at += pace
                time.sleep(max(0.0, next_at - time.monotonic()))
        self._hub.publish(final, spec.width, spec.height)
        self._shown, self._shown_image, self._shown_path = key, frame, slide.path
        self._resting = False

    def show_placeholder(self, playlist: FolderPlaylist, spec: RenderSpec) -> None:
        """Say why there is no slide: no folder, no images, or none scheduled now."""
        exists = playlist.folder_exists
        if exists is None:
            return
        folder = str(playlist.folder)
        if exists and playlist.count:
            title = "Nothing is scheduled now"
            lines = [f"{playlist.count} slide(s) are outside their times in schedule.toml"]
        elif exists:
            title, lines = "No images yet", [f"Drop images into {folder}"]
            skipped = len(playlist.skipped())
            if skipped:
                lines.append(f"{skipped} file(s) skipped: see /status")
        else:
            title, lines = "Folder not found", [f"Create {folder} and drop images into it"]
        # A show still to be set up names the address to open, with its QR code for a phone;
        # one that has slides, only waiting for their times, keeps its plain message.
        address = None if (exists and playlist.count) or self._address is None else self._address()
        self._show(
            ("placeholder", title, tuple(lines), address, spec),
            lambda: encode_jpeg(
                turn(render_message(title, lines, spec.upright, address), spec.rotate),
                spec.quality,
            ),
            spec,
        )

    def _show(self, key: tuple[object, ...], jpeg: Callable[[], bytes], spec: RenderSpec) -> None:
        """Publish the frame `key` names, unless it is already what the stream shows."""
        if not self._still_shown(key):
            self._hub.publish(jpeg(), spec.width, spec.height)
            self._shown, self._shown_image, self._resting = key, None, False

    def _still_shown(self, key: tuple[object, ...]) -> bool:
        """Whether the hub's frame is the one `key` names; after a rest it is confirmed, so that
        it counts as current again without being made twice."""
        if key != self._shown:
            return False
        if self._resting:
            self._hub.confirm()
            self._resting = False
        return True
