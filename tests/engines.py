"""The player page in engines other than Chromium, each driven without a browser download:
Firefox (Debian's firefox-esr over WebDriver BiDi, by the npm package puppeteer-core, in
`tests/engines/`) and WebKit (Debian's WebKitWebDriver and its MiniBrowser, through Selenium;
WebKitGTK has no headless mode, so it runs on the suite's Xvfb). The test command installs
them."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

ENGINES = Path(__file__).resolve().parent / "engines"


def _missing(found: list[tuple[str, object]]) -> None:
    """Skip when a part is missing on a developer's machine; in CI that is a failure."""
    missing = [name for name, ok in found if not ok]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"missing {', '.join(missing)}: the test command installs them")
        pytest.skip(f"missing {', '.join(missing)} (bash scripts/test.sh installs them)")


def need_firefox() -> str:
    """firefox-esr and the driver's npm packages; in CI their absence is a failure."""
    firefox = shutil.which("firefox-esr")
    puppeteer = (ENGINES / "node_modules" / "puppeteer-core").exists()
    _missing(
        [
            ("firefox-esr", firefox),
            ("node", shutil.which("node")),
            ("tests/engines/node_modules", puppeteer),
        ]
    )
    assert firefox is not None
    return firefox


class FirefoxPage:
    """One page in a headless Firefox, steered over the driver's stdin and stdout."""

    def __init__(self, width: int, height: int) -> None:
        firefox = need_firefox()
        self._process = subprocess.Popen(
            ["node", str(ENGINES / "firefox_page.mjs"), firefox, str(width), str(height)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ENGINES,
        )
        self.version = str(self._answer()["ready"])

    def _answer(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise AssertionError("the Firefox driver ended")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(command) + "\n")
        self._process.stdin.flush()
        return self._answer()

    def goto(self, url: str) -> None:
        answer = self._ask({"goto": url})
        assert answer.get("ok"), answer

    def centre(self) -> tuple[int, ...]:
        """The pixel in the middle of the page as shown; () when no screenshot came."""
        answer = self._ask({"shot": True})
        if "png" not in answer:
            return ()
        return _png_centre(base64.b64decode(answer["png"]))

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5)
        if self._process.stdout is not None:
            self._process.stdout.close()


def _png_centre(png: bytes) -> tuple[int, ...]:
    with Image.open(io.BytesIO(png)) as shot:
        return tuple(shot.convert("RGB").getpixel((shot.width // 2, shot.height // 2)))


class WebKitPage:
    """One MiniBrowser window on X display `display`, steered by WebKitWebDriver."""

    def __init__(self, width: int, height: int, display: str) -> None:
        driver = shutil.which("WebKitWebDriver")
        browsers = sorted(Path("/usr/lib").glob("*/webkit2gtk-4.*/MiniBrowser"))
        _missing([("WebKitWebDriver (webkit2gtk-driver)", driver), ("MiniBrowser", browsers)])
        from selenium import webdriver
        from selenium.webdriver.webkitgtk.options import Options
        from selenium.webdriver.webkitgtk.service import Service

        options = Options()
        options.binary_location = str(browsers[-1])
        options.add_argument("--automation")
        # The page's stream never finishes loading: do not wait for it.
        options.page_load_strategy = "none"
        service = Service(executable_path=driver, env={**os.environ, "DISPLAY": display})
        self._driver = webdriver.WebKitGTK(options=options, service=service)
        self._driver.set_window_size(width, height)
        self.version = str(self._driver.capabilities.get("browserVersion"))

    def goto(self, url: str) -> None:
        self._driver.get(url)

    def centre(self) -> tuple[int, ...]:
        return _png_centre(self._driver.get_screenshot_as_png())

    def close(self) -> None:
        self._driver.quit()
