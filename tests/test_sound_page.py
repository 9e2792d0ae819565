"""Sound on the TV page (issue 18): a real Chromium, playing into its own null sink of a
private PulseAudio, hears the machine's sound once a person presses "Sound on", and only then.

Playwright's `evaluate` counts as a user gesture: nothing is evaluated on a page before its
button is pressed with real input events, and the proof that there is no sound before the
press is read from the server (no listener) and the page's markup.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sound import PrivatePulse, Tone
from support import CHROMIUM_ARGS, RED, Server, config_text, solid, wait_for, write_config

ANALYSER = """() => {
  const audio = document.getElementById('sound');
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 8192;
  context.createMediaElementSource(audio).connect(analyser);
  analyser.connect(context.destination);
  window.testAnalyser = analyser;
  window.testContext = context;
}"""
HEARD = """() => {
  const analyser = window.testAnalyser;
  const levels = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(levels);
  let loudest = 1;
  for (let i = 2; i < levels.length; i++) { if (levels[i] > levels[loudest]) { loudest = i; } }
  return levels[loudest] > -70 ? loudest * window.testContext.sampleRate / analyser.fftSize : 0;
}"""


@pytest.fixture(scope="module")
def sound_browser(pulse: PrivatePulse, browser: Any) -> Iterator[Any]:
    """A Chromium of this module's own, launched by the session's Playwright, that plays into
    the `tv` sink (never the speakers)."""
    env = {**os.environ, "PULSE_SERVER": pulse.address, "PULSE_SINK": "tv"}
    launched = browser.browser_type.launch(
        executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS, env=env
    )
    yield launched
    launched.close()


def sound_text(pulse: PrivatePulse, source: str = "system") -> str:
    return config_text(extra=f'\n[audio]\nsource = "{source}"\nserver = "{pulse.address}"\n')


def listeners(server: Server) -> int:
    return int(server.status()["channels"]["default"]["audio"]["listeners"])


def wait_hearing(page: Any, hz: float, timeout: float = 10) -> None:
    wait_for(
        lambda: abs(page.evaluate(HEARD) - hz) < 15,
        timeout=timeout,
        interval=0.1,
        what=f"the page's analyser to hear {hz} Hz (hears {page.evaluate(HEARD):.0f} Hz)",
    )


def test_no_button_without_sound_then_the_remotes_ok_turns_it_on(
    pulse: PrivatePulse, sound_browser: Any, images: Path, start_server: Any, tmp_path: Path
) -> None:
    solid(images / "red.png", RED)
    server = start_server(config_text())
    page = sound_browser.new_page()
    try:
        with page.expect_response(lambda response: "/status" in response.url):
            page.goto(server.url + "/", wait_until="domcontentloaded")
        assert not page.locator("#sound-on").is_visible()
        write_config(tmp_path / "config.toml", sound_text(pulse))
        page.locator("#sound-on").wait_for(state="visible", timeout=10_000)
        assert listeners(server) == 0
        with Tone(pulse, 1250):
            page.keyboard.press("Enter")
            wait_for(lambda: listeners(server) == 1, what="the page listening after OK")
            assert not page.locator("#sound-on").is_visible()
            page.evaluate(ANALYSER)
            wait_hearing(page, 1250)
            wait_for(
                lambda: "delay=" in (page.locator("#screen").get_attribute("src") or ""),
                timeout=20,
                what="the picture asked for later, to line it up with the sound",
            )
    finally:
        page.close()


def test_the_page_hears_the_sound_only_after_the_press_and_across_a_restart(
    pulse: PrivatePulse, sound_browser: Any, images: Path, start_server: Any
) -> None:
    solid(images / "red.png", RED)
    server = start_server(sound_text(pulse))
    page = sound_browser.new_page()
    try:
        with Tone(pulse, 1000) as tone:
            with page.expect_response(lambda response: "/status" in response.url):
                page.goto(server.url + "/", wait_until="domcontentloaded")
            page.locator("#sound-on").wait_for(state="visible")
            assert page.locator("#sound").get_attribute("src") is None
            assert listeners(server) == 0
            page.locator("#sound-on").click()
            page.evaluate(ANALYSER)
            wait_hearing(page, 1000)
            tone.hz = 1500
            wait_hearing(page, 1500)

            port = server.port
            server.stop()
            restarted = Server(server.config, port=port).wait_ready()
            try:
                tone.hz = 600
                wait_hearing(page, 600, timeout=30)
                assert not page.locator("#sound-on").is_visible()
            finally:
                restarted.stop()
    finally:
        page.close()
