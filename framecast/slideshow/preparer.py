"""Slides decoded and scaled on a worker thread, so the show never waits on a file.

The slideshow asks for the slides it will show next; a worker renders them through the
`SlideRenderer` cache. While a big photo is being prepared the current slide stays on the
stream. A file whose preparation raises, whatever it raises, or takes longer than
`[slideshow] prepare_timeout` gets a reason instead of a frame: the slideshow skips it. A worker
stuck past the timeout is left to finish on its own (its result is dropped) and a fresh worker
takes the next slide.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..logtext import printable
from ..render.imaging import RenderSpec, UnreadableImage
from .ordering import Slide
from .renderer import RenderKey, SlideRenderer

log = logging.getLogger(__name__)

_Key = tuple[Slide, RenderSpec]
FAILURES_KEPT = 1000


@dataclass(frozen=True)
class Refused:
    """The slide cannot be shown; `reason` is written for the user."""

    reason: str


Prepared = bytes | Refused | None
"""The slide's frame, why it cannot be shown, or None while it is still being prepared."""


class SlidePreparer:
    """Renders wanted slides on a worker thread.

    `want`, `result`, `stop` are called by the slideshow's thread; the worker calls `on_ready`
    (which wakes the slideshow) after each slide it finished.
    """

    def __init__(self, renderer: SlideRenderer, on_ready: Callable[[], None]) -> None:
        self._renderer = renderer
        self._on_ready = on_ready
        self._cond = threading.Condition()
        self._wanted: list[_Key] = []
        self._failed: dict[RenderKey, str] = {}
        """Refusals by the renderer's key: a web page's expires with its refresh period."""
        self._job: tuple[_Key, float] | None = None
        """The slide being prepared and when it began."""
        self._generation = 0
        self._timeout = 10.0
        self._stopping = False
        self._workers: list[threading.Thread] = []

    def want(self, slides: list[Slide], spec: RenderSpec, timeout: float) -> None:
        """Prepare these slides, first things first; earlier wishes are dropped."""
        with self._cond:
            self._timeout = timeout
            self._expire()
            if not slides and not self._wanted:
                return  # nothing wanted still: a show nobody watches wakes no worker
            self._wanted = [(slide, spec) for slide in slides]
            self._ensure_worker()
            self._cond.notify_all()

    def result(self, slide: Slide, spec: RenderSpec) -> Prepared:
        """The slide's frame if it is ready, its reason if it was refused, else None. A web
        page being drawn anew for a new refresh period is its last drawing meanwhile: a page
        slow to load must not hold the show at every refresh."""
        key = (slide, spec)
        with self._cond:
            self._expire()
            refused = self._failed.get(self._renderer.key(*key))
        ready = self._renderer.cached(slide, spec) or self._renderer.last_drawing(slide, spec)
        if ready is not None:
            return ready
        return None if refused is None else Refused(refused)

    def stop(self, timeout: float) -> None:
        """End the workers; wait up to `timeout` s for them (a stuck one is a daemon)."""
        with self._cond:
            self._stopping = True
            workers = list(self._workers)
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    def _expire(self) -> None:
        """Give up on a job past the timeout and hand the work to a new worker (lock held)."""
        if self._job is None:
            return
        key, started = self._job
        allowed, setting = self._renderer.time_allowed(key[0], self._timeout)
        if time.monotonic() - started < allowed:
            return
        self._fail(key, f"took longer than {allowed:g} s to prepare ({setting})")
        self._job = None
        self._generation += 1
        log.warning("Gave up preparing %s after %g s", printable(key[0].name), allowed)
        self._ensure_worker()

    def _ensure_worker(self) -> None:
        """A worker for the current generation (lock held)."""
        self._workers = [w for w in self._workers if w.is_alive()]
        generation = self._generation
        if any(w.name == f"slide-preparer-{generation}" for w in self._workers):
            return
        worker = threading.Thread(
            target=self._run,
            args=(generation,),
            name=f"slide-preparer-{generation}",
            daemon=True,
        )
        self._workers.append(worker)
        worker.start()

    def _fail(self, key: _Key, reason: str) -> None:
        """Record a refusal (lock held); the oldest are forgotten past `FAILURES_KEPT`."""
        self._failed[self._renderer.key(*key)] = reason
        while len(self._failed) > FAILURES_KEPT:
            del self._failed[next(iter(self._failed))]

    def _next_job(self, generation: int) -> _Key | None:
        """The first wanted slide not ready nor refused, or None to end (lock held)."""
        while not self._stopping and generation == self._generation:
            for key in self._wanted:
                failed = self._renderer.key(*key) in self._failed
                if not failed and self._renderer.cached(*key) is None:
                    self._job = (key, time.monotonic())
                    return key
            self._cond.wait()
        return None

    def _run(self, generation: int) -> None:
        """A worker thread: render what is wanted until stopped or replaced."""
        while True:
            with self._cond:
                key = self._next_job(generation)
            if key is None:
                return
            reason = self._render(*key)
            with self._cond:
                if generation != self._generation:
                    return
                self._job = None
                if reason is not None:
                    self._fail(key, reason)
            self._on_ready()

    def _render(self, slide: Slide, spec: RenderSpec) -> str | None:
        """Render into the cache; the reason it cannot be shown, or None."""
        try:
            self._renderer.render(slide, spec)
        except UnreadableImage as error:
            return str(error)
        except MemoryError:
            return "not enough memory to prepare it: lower [slideshow] max_megapixels"
        except Exception as error:
            return f"cannot read it ({type(error).__name__}: {printable(str(error), 120)})"
        return None
