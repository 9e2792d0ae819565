"""X DAMAGE against a real Xvfb: drawing is reported, an unchanged screen is not grabbed again,
and a display without the extension, or one that goes away, still works by comparing grabs."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import pytest
from support import (
    BLUE,
    GREEN,
    RED,
    YELLOW,
    Server,
    StreamReader,
    VirtualDisplay,
    config_text,
    environment,
    need_tool,
    wait_for,
)
from Xlib import display as xdisplay

from framecast.config import ScreenSettings
from framecast.screen.grab import Grab, ScreenGrabber
from framecast.screen.xdamage import EVERYWHERE, DamageUnavailable, DamageWatch


@pytest.fixture
def display_without_damage() -> Iterator[VirtualDisplay]:
    need_tool("Xvfb", "xvfb")
    screen = VirtualDisplay(without=("DAMAGE",)).start()
    yield screen
    screen.stop()


def reported(watch: DamageWatch) -> bool:
    """Whether the watch reports drawing within a second (the X server reports it at once)."""
    try:
        wait_for(watch.drawn, timeout=1.0, what="a damage report")
    except AssertionError:
        return False
    return True


def test_drawing_on_the_root_or_in_a_window_is_reported_once(display: VirtualDisplay) -> None:
    watch = DamageWatch(display.name)
    try:
        reported(watch)  # whatever was drawn before the watch began
        assert not watch.drawn()
        display.paint(RED)
        assert reported(watch)
        assert not watch.drawn(), "one drawing is one report"

        client = xdisplay.Display(display.name)
        screen = client.screen()
        window = screen.root.create_window(
            20, 20, 100, 80, 0, screen.root_depth, background_pixel=screen.white_pixel
        )
        window.map()
        client.sync()
        assert reported(watch), "mapping a window draws it"
        gc = window.create_gc(foreground=screen.black_pixel)
        window.fill_rectangle(gc, 10, 10, 30, 30)
        client.sync()
        box = wait_for(watch.drawn, timeout=1.0, what="drawing inside a child window")
        assert box == (30, 30, 60, 60), "the box drawn, in root window pixels"
        assert not watch.drawn()
        client.close()
    finally:
        watch.close()


def test_a_display_that_goes_away_reads_as_drawing_everywhere(display: VirtualDisplay) -> None:
    watch = DamageWatch(display.name)
    reported(watch)
    display.crash()
    assert [watch.drawn() for _ in range(3)] == [EVERYWHERE] * 3, "a grab must follow"
    assert watch.queued(), "a waiting feed looks at once"
    watch.close()


@pytest.mark.display
def test_a_display_without_damage_or_no_display_is_refused(
    display_without_damage: VirtualDisplay,
) -> None:
    with pytest.raises(DamageUnavailable, match="no DAMAGE extension"):
        DamageWatch(display_without_damage.name)
    with pytest.raises(DamageUnavailable, match="cannot connect"):
        DamageWatch(":0.9999")


def grab_until(
    grabber: ScreenGrabber,
    done: Callable[[Grab], bool],
    timeout: float = 2.0,
    settings: ScreenSettings | None = None,
) -> Grab:
    found: list[Grab] = []

    def look() -> bool:
        found[:] = [grabber.grab(settings or ScreenSettings())]
        return done(found[0])

    wait_for(look, timeout=timeout, what="a grab")
    return found[0]


def centre_bgr(grab: Grab) -> tuple[int, int, int]:
    at = 4 * (grab.height // 2 * grab.width + grab.width // 2)
    blue, green, red = grab.pixels[at : at + 3]
    return red, green, blue


def test_an_unchanged_screen_is_not_grabbed_again(
    display: VirtualDisplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPLAY", display.name)
    display.paint(GREEN)
    grabber = ScreenGrabber()
    try:
        first = grab_until(grabber, lambda grab: centre_bgr(grab) == GREEN)
        again = grab_until(grabber, lambda grab: not grab.drawn)
        assert again.pixels is first.pixels, "nothing drawn: the last grab stands"
        deadline = time.monotonic() + 1.5  # past the once-a-second check grab
        while time.monotonic() < deadline:
            assert grabber.grab(ScreenSettings()).pixels is first.pixels
            time.sleep(0.02)
        display.paint(BLUE)
        fresh = grab_until(grabber, lambda grab: grab.drawn)
        assert centre_bgr(fresh) == BLUE
    finally:
        grabber.close()


def test_drawing_outside_the_region_is_not_grabbed(
    display: VirtualDisplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Capturing the right half: drawing on the left half is no reason to grab it again."""
    monkeypatch.setenv("DISPLAY", display.name)
    display.paint(GREEN)
    client = xdisplay.Display(display.name)
    root = client.screen().root
    gc = root.create_gc(foreground=0xFFFFFF)
    right_half = ScreenSettings(region=(320, 0, 320, 360))
    grabber = ScreenGrabber()
    try:
        first = grab_until(grabber, lambda grab: centre_bgr(grab) == GREEN, settings=right_half)
        grab_until(grabber, lambda grab: not grab.drawn, settings=right_half)
        root.fill_rectangle(gc, 10, 10, 50, 50)
        client.sync()
        deadline = time.monotonic() + 0.3  # the report arrives within a millisecond
        while time.monotonic() < deadline:
            assert grabber.grab(right_half).pixels is first.pixels
            time.sleep(0.01)
        root.fill_rectangle(gc, 330, 100, 50, 50)
        client.sync()
        fresh = grab_until(grabber, lambda grab: grab.drawn, settings=right_half)
        assert fresh.first_row == 100, "the grab knows where drawing began"
        assert fresh.pixels[4 * (100 * 320 + 20)] == 0xFF
    finally:
        grabber.close()
        client.close()


def test_a_change_damage_never_reports_is_caught_within_seconds(
    display: VirtualDisplay, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A desktop drawn by the GPU may change without the X server knowing: the once-a-second
    check grab finds the change, and from then on every grab is compared."""
    monkeypatch.setenv("DISPLAY", display.name)
    display.paint(GREEN)
    grabber = ScreenGrabber()
    try:
        grab_until(grabber, lambda grab: centre_bgr(grab) == GREEN)
        grab_until(grabber, lambda grab: not grab.drawn)
        monkeypatch.setattr(DamageWatch, "drawn", lambda self: None)
        display.paint(BLUE)
        assert centre_bgr(grab_until(grabber, lambda grab: grab.drawn, timeout=3.0)) == BLUE
        assert "the X server did not report a change" in caplog.text
        display.paint(RED)
        assert centre_bgr(grabber.grab(ScreenSettings())) == RED, "every grab is compared now"
    finally:
        grabber.close()


@pytest.mark.display
def test_without_damage_the_stream_still_follows_the_screen(
    display_without_damage: VirtualDisplay, start_server: Callable[..., Server]
) -> None:
    display_without_damage.paint(YELLOW)
    server = start_server(
        env=environment(DISPLAY=display_without_damage.name),
        text=config_text(source="screen", extra="\n[screen]\nfps = 20\n"),
    )
    stream = StreamReader(server.port)
    stream.wait_colour(YELLOW)
    wait_for(lambda: server.status()["screen_fps"] > 10, what="capture at full pace")
    frames = server.status()["frames"]
    display_without_damage.paint(RED)
    stream.wait_colour(RED)
    assert server.status()["frames"] == frames + 1
    assert "compares every grab: the X server has no DAMAGE extension" in server.log()


def test_a_waiting_grabber_wakes_for_drawing_or_when_woken(
    display: VirtualDisplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPLAY", display.name)
    grabber = ScreenGrabber()
    wake, poke = os.pipe()
    try:
        grab_until(grabber, lambda grab: not grab.drawn)
        assert not grabber.wait_drawn(0.2, wake), "nothing drawn"
        display.paint(YELLOW)
        assert grabber.wait_drawn(5.0, wake)
        assert grabber.grab(ScreenSettings()).drawn
        os.write(poke, b"!")
        assert not grabber.wait_drawn(5.0, wake), "woken, nothing drawn"
    finally:
        grabber.close()
        os.close(wake)
        os.close(poke)
