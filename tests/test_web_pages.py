"""Web pages as slides (`.url` and `.html` files) and the screenshot API, rendered by Debian's
Chromium through Playwright, against a web server in the test serving pages of known colours."""

from __future__ import annotations

import base64
import http.client
import io
import os
import signal
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from pages import PageServer
from PIL import Image
from support import (
    BLUE,
    GREEN,
    RED,
    TEST_BROWSER_MARK,
    YELLOW,
    Server,
    StreamReader,
    centre,
    close_to,
    config_text,
    in_network_namespace,
    need_tool,
    solid,
    wait_for,
)

from framecast.config import WebSettings, load_settings
from framecast.service.runtime import Framecast

pytestmark = pytest.mark.browser

WEB = "\n[web]\n"


@pytest.fixture(scope="module")
def pages() -> Iterator[PageServer]:
    need_tool("chromium", "chromium")
    server = PageServer(RED)
    yield server
    server.close()


def shortcut(folder: Path, name: str, url: str) -> Path:
    path = folder / name
    path.write_text(f"[InternetShortcut]\r\nURL={url}\r\n")
    return path


def wait_snapshot(server: Server, colour: tuple[int, int, int], what: str) -> None:
    """Until the channel's snapshot shows `colour` (a web page is drawn within 30 s)."""
    wait_for(
        lambda: (c := server.snapshot_centre()) is not None and close_to(c, colour),
        timeout=30,
        what=what,
    )


def skipped(server: Server) -> dict[str, str]:
    return {item["file"]: item["reason"] for item in server.status()["skipped"]}


# --- web slides -------------------------------------------------------------------------------


def test_a_url_slide_shows_the_page_and_its_new_colour_after_refresh(
    images: Path, start_server: Callable[..., Server], pages: PageServer
) -> None:
    pages.colour = GREEN
    shortcut(images, "lunch.url", pages.url + "/colour")
    server = start_server(interval=1, extra=WEB + "refresh = 1\n")
    stream = StreamReader(server.port)
    stream.wait_colour(GREEN, timeout=20)
    assert server.status()["slides"] == 1
    pages.colour = BLUE
    stream.wait_colour(BLUE, timeout=20)
    assert server.status()["web"]["renders"] >= 2
    stream.close()


def test_an_html_slide_shows_its_relative_image_and_its_folder_is_not_a_slide(
    images: Path, start_server: Callable[..., Server], pages: PageServer
) -> None:
    (images / "menu_files").mkdir()
    solid(images / "menu_files" / "logo.png", YELLOW)
    (images / "menu.html").write_text(
        '<!DOCTYPE html><html><body style="margin:0">'
        '<img src="menu_files/logo.png" style="display:block;width:100vw;height:100vh">'
        "</body></html>"
    )
    server = start_server(extra="recursive = true\n")
    stream = StreamReader(server.port)
    stream.wait_colour(YELLOW, timeout=20)
    assert server.status()["slides"] == 1
    stream.close()


def test_an_html_slide_reads_only_its_own_folder(
    images: Path, tmp_path: Path, start_server: Callable[..., Server], pages: PageServer
) -> None:
    """Four quarters: its own picture shows (yellow); a `file:` address, an escape by an encoded
    `../`, and a link out of the folder, each to a red picture the server may read, do not: the
    green page shows through."""
    secret = solid(tmp_path / "secret.png", RED)
    (images / "menu_files").mkdir()
    solid(images / "menu_files" / "own.png", YELLOW)
    (images / "menu_files" / "link.png").symlink_to(secret)
    quarter = "position:fixed;width:50vw;height:50vh"
    (images / "menu.html").write_text(
        '<!DOCTYPE html><html><body style="margin:0;background:#1ec83c">'
        f'<img src="menu_files/own.png" style="{quarter};left:0;top:0">'
        f'<img src="{secret.as_uri()}" style="{quarter};left:50vw;top:0">'
        f'<img src="..%2fsecret.png" style="{quarter};left:0;top:50vh">'
        f'<img src="menu_files/link.png" style="{quarter};left:50vw;top:50vh">'
        "</body></html>"
    )
    server = start_server()
    stream = StreamReader(server.port)

    def quarters() -> list[tuple[int, ...]] | None:
        frame = stream.latest()
        if frame is None:
            return None
        image = Image.open(io.BytesIO(frame)).convert("RGB")
        spots = [(80, 45), (240, 45), (80, 135), (240, 135)]
        return [tuple(image.getpixel(spot)) for spot in spots]  # type: ignore[misc]

    def drawn() -> list[tuple[int, ...]] | None:
        seen = quarters()
        return seen if seen is not None and close_to(seen[0], YELLOW) else None

    seen = wait_for(drawn, timeout=20, what="the slide's own picture")
    assert [close_to(pixel, GREEN) for pixel in seen[1:]] == [True, True, True], seen
    stream.close()


def test_a_page_that_hangs_is_skipped_after_the_timeout_and_the_show_goes_on(
    images: Path, start_server: Callable[..., Server], pages: PageServer
) -> None:
    solid(images / "a.png", GREEN)
    shortcut(images, "b.url", pages.url + "/hang")
    server = start_server(interval=1, extra=WEB + "timeout = 2\n")
    stream = StreamReader(server.port)
    stream.wait_colour(GREEN, timeout=10)
    wait_for(lambda: "b.url" in skipped(server), timeout=20, what="the hanging page skipped")
    assert "did not load and draw within 2 s" in skipped(server)["b.url"]
    stream.wait_colour(GREEN)
    assert server.get("/healthz")[0] == 200
    stream.close()


def test_a_page_slow_to_load_again_shows_its_last_drawing_and_holds_nothing(
    images: Path, start_server: Callable[..., Server], pages: PageServer
) -> None:
    """Once a page is drawn, a refresh that loads slowly shows the last drawing: the slide
    before it is not held for the whole `[web] timeout`, at any refresh."""
    pages.colour = RED
    solid(images / "a.png", GREEN)
    shortcut(images, "b.url", pages.url + "/slow")
    server = start_server(interval=1, extra=WEB + "refresh = 1\ntimeout = 60\n")
    stream = StreamReader(server.port)
    try:
        stream.wait_colour(RED, timeout=20)
        pages.slow = True
        slowed = time.monotonic()
        hung = pages.hits.get("/slow", 0)
        wait_for(lambda: pages.hits.get("/slow", 0) > hung, 10, what="a refresh that hangs")

        def shown_since(colour: tuple[int, int, int], since: float) -> bool:
            return any(at > since and close_to(centre(j), colour) for at, j in stream.frames)

        for _ in range(2):
            wait_for(lambda s=slowed: shown_since(GREEN, s), 10, what="the photo")
            green = max(at for at, j in stream.frames if close_to(centre(j), GREEN))
            wait_for(lambda g=green: shown_since(RED, g), 10, what="the page's last drawing")
            slowed = time.monotonic()
        assert "b.url" not in skipped(server)
    finally:
        pages.slow = False
        stream.close()


def test_a_page_that_never_finishes_loading_is_drawn_as_it_is(
    images: Path, start_server: Callable[..., Server], pages: PageServer
) -> None:
    """A dashboard that keeps a request open never fires its load event: it is drawn as it is
    once its share of `[web] timeout` has passed, as a slide and through the API, not skipped."""
    pages.colour = BLUE
    shortcut(images, "board.url", pages.url + "/never-loads")
    server = start_server(extra=WEB + "timeout = 4\napi = true\nallow_private = true\n")
    wait_snapshot(server, BLUE, "the page on screen")
    assert "board.url" not in skipped(server)
    assert "Web slide board.url: drawn before it finished loading" in server.log()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", f"/api/screenshot?url={pages.url}/never-loads&width=200&height=100")
    answer = connection.getresponse()
    body = answer.read()
    connection.close()
    assert answer.status == 200, body
    assert close_to(centre_of(body), BLUE)
    assert "drawn before it finished loading" in str(answer.getheader("X-Framecast-Note"))


def test_a_page_opening_hundreds_of_popups_opens_none_and_writes_no_log_line(
    images: Path, start_server: Callable[..., Server], pages: PageServer
) -> None:
    """As a web slide and through the API, on a real server: its log stays quiet."""
    pages.colour = YELLOW
    shortcut(images, "flood.url", pages.url + "/popup-flood")
    server = start_server(extra=WEB + "api = true\nallow_private = true\n")
    wait_snapshot(server, YELLOW, "the web slide on screen")
    code, body = server.get(f"/api/screenshot?url={pages.url}/popup-flood&width=200&height=100")
    assert code == 200, body
    assert close_to(centre_of(body), YELLOW)
    assert pages.hits.get("/opened", 0) == 0, "no pop-up was opened"
    lines = server.log().splitlines()
    complaints = [
        line
        for line in lines
        if any(word in line for word in ("WARNING", "ERROR", "Traceback", "popup", "pop-up"))
        and "Running as root" not in line
    ]
    assert complaints == []
    assert len(lines) < 60, "a log of the start-up's lines, not one a pop-up"


def test_bad_shortcuts_and_a_missing_browser_are_skipped_with_their_reasons(
    images: Path, start_server: Callable[..., Server], pages: PageServer
) -> None:
    solid(images / "a.png", GREEN)
    (images / "empty.url").write_text("[InternetShortcut]\r\nIconIndex=0\r\n")
    shortcut(images, "local.url", "file:///etc/passwd")
    shortcut(images, "script.url", "javascript:alert(1)")
    shortcut(images, "page.url", pages.url + "/colour")
    (images / "gone.url").write_bytes(b"\xff\xfe" + b"\x00" * 100_000)
    server = start_server(interval=1, extra=WEB + 'chromium = "/nowhere/chromium"\n')
    stream = StreamReader(server.port)
    stream.wait_colour(GREEN, timeout=10)
    wait_for(lambda: len(skipped(server)) == 5, timeout=20, what="five files skipped")
    reasons = skipped(server)
    assert "no URL= line" in reasons["empty.url"]
    assert "only http and https" in reasons["local.url"]
    assert "only http and https" in reasons["script.url"]
    assert "install chromium" in reasons["page.url"]
    assert "not an Internet shortcut" in reasons["gone.url"]
    log = server.log()
    assert "Skipped page.url" in log
    assert "Traceback" not in log
    stream.wait_colour(GREEN)
    stream.close()


# --- the screenshot API -------------------------------------------------------------------------


class Api:
    """A Framecast app in this process, its config editable, for the API's HTTP contract."""

    def __init__(self, folder: Path) -> None:
        self.config = folder / "config.toml"
        (folder / "images").mkdir()
        self.write("api = true\nallow_private = true\n")
        self.framecast = Framecast(self.config, load_settings(self.config), "127.0.0.1", 8000)
        self.client: FlaskClient = self.framecast.app.test_client()

    def write(self, web: str, server: str = "") -> None:
        text = config_text().replace("[server]\n", "[server]\n" + server)
        self.config.write_text(text + WEB + web)

    def configure(self, web: str, server: str = "") -> None:
        self.write(web, server)
        self.framecast.watcher.reload()
        assert self.framecast.watcher.error is None

    def get(self, **args: Any) -> Any:
        return self.client.get("/api/screenshot", query_string=args)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, pages: PageServer) -> Iterator[Api]:
    made = Api(tmp_path_factory.mktemp("api"))
    yield made
    made.framecast.stop()


@pytest.fixture
def private_allowed(api: Api) -> Api:
    api.configure("api = true\nallow_private = true\n")
    return api


def centre_of(data: bytes) -> tuple[int, ...]:
    """The middle pixel of an image of any format."""
    image = decoded(data).convert("RGB")
    return tuple(image.getpixel((image.width // 2, image.height // 2)))  # type: ignore[arg-type]


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_the_api_renders_the_size_format_and_colour_asked_for(
    private_allowed: Api, pages: PageServer
) -> None:
    pages.colour = BLUE
    for fmt, mimetype, pil in (("png", "image/png", "PNG"), ("jpeg", "image/jpeg", "JPEG")):
        answer = private_allowed.get(url=pages.url + "/colour", width=640, height=360, format=fmt)
        assert answer.status_code == 200, answer.get_json()
        assert answer.mimetype == mimetype
        image = decoded(answer.data)
        assert (image.format, image.size) == (pil, (640, 360))
        assert close_to(image.convert("RGB").getpixel((320, 180)), BLUE)
    answer = private_allowed.get(url=pages.url + "/colour", width=300, height=200, format="webp")
    image = decoded(answer.data)
    assert (answer.mimetype, image.format, image.size) == ("image/webp", "WEBP", (300, 200))


def test_a_repeat_is_served_from_the_cache_with_its_etag(
    private_allowed: Api, pages: PageServer
) -> None:
    args = {"url": pages.url + "/colour?cache", "width": 200, "height": 100}
    first = private_allowed.get(**args)
    renders = private_allowed.framecast.screenshots.renders
    second = private_allowed.get(**args)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.headers["X-Framecast-Cache"] == "miss"
    assert second.headers["X-Framecast-Cache"] == "hit"
    assert second.data == first.data
    assert second.headers["ETag"] == first.headers["ETag"]
    assert "max-age=300" in second.headers["Cache-Control"]
    assert private_allowed.framecast.screenshots.renders == renders, "no second rendering"
    again = private_allowed.client.get(
        "/api/screenshot", query_string=args, headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
    assert private_allowed.framecast.status().parts["web"]["api_cache_hits"] >= 2


@pytest.mark.parametrize(
    ("args", "parameter"),
    [
        ({}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "http://"}, "url"),
        ({"url": "https://example.invalid/", "width": "0"}, "width"),
        ({"url": "https://example.invalid/", "width": "3841"}, "width"),
        ({"url": "https://example.invalid/", "height": "2161"}, "height"),
        ({"url": "https://example.invalid/", "height": "²"}, "height"),
        ({"url": "https://example.invalid/", "format": "gif"}, "format"),
        ({"url": "https://example.invalid/", "delay": "10001"}, "delay"),
        ({"url": "https://example.invalid/", "full_page": "maybe"}, "full_page"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(
    private_allowed: Api, args: dict[str, str], parameter: str
) -> None:
    answer = private_allowed.get(**args)
    assert answer.status_code == 400
    assert answer.get_json()["parameter"] == parameter
    assert answer.get_json()["allowed"]


def test_a_batch_renders_each_request_and_checks_them_all_first(
    private_allowed: Api, pages: PageServer
) -> None:
    pages.colour = GREEN
    items = [{"url": pages.url + "/colour?batch", "width": 100 + i, "height": 50} for i in range(3)]
    answer = private_allowed.client.post("/api/screenshots", json=items)
    assert answer.status_code == 200
    results = answer.get_json()["screenshots"]
    assert [r["status"] for r in results] == [200, 200, 200]
    for i, result in enumerate(results):
        image = decoded(base64.b64decode(result["image"]))
        assert image.size == (100 + i, 50)
        assert close_to(image.convert("RGB").getpixel((50, 25)), GREEN)
    too_many = private_allowed.client.post("/api/screenshots", json=items * 4)
    assert too_many.status_code == 400
    assert too_many.get_json()["parameter"] == "body"
    bad_item = private_allowed.client.post("/api/screenshots", json=[items[0], {"url": "ftp://x"}])
    assert bad_item.status_code == 400
    assert bad_item.get_json()["index"] == 1


def test_an_eleventh_rendering_at_once_gets_429_with_retry_after(
    api: Api, pages: PageServer
) -> None:
    api.configure("api = true\nallow_private = true\ntimeout = 3\n")
    items = [{"url": f"{pages.url}/hang?{i}"} for i in range(10)]
    answers: list[Any] = []
    batch = threading.Thread(
        target=lambda: answers.append(api.client.post("/api/screenshots", json=items))
    )
    batch.start()
    try:
        wait_for(lambda: pages.hits.get("/hang", 0) >= 3, timeout=15, what="renderings begun")
        refused = api.get(url=pages.url + "/colour?eleventh")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "3"
    finally:
        batch.join(60)
    results = answers[0].get_json()["screenshots"]
    assert all(r["status"] == 504 and "within 3 s" in r["error"] for r in results)
    assert api.get(url=pages.url + "/colour?after").status_code == 200


def test_misbehaving_pages(private_allowed: Api, pages: PageServer) -> None:
    pages.colour = YELLOW
    popups = private_allowed.get(url=pages.url + "/popups", width=200, height=100)
    assert popups.status_code == 200
    assert close_to(decoded(popups.data).convert("RGB").getpixel((100, 50)), YELLOW)
    tall = private_allowed.get(url=pages.url + "/tall", width=100, height=100, full_page="true")
    assert tall.status_code == 200
    assert decoded(tall.data).size == (100, 16384)
    assert "cut at 16384 px" in tall.headers["X-Framecast-Note"]
    webp = private_allowed.get(
        url=pages.url + "/tall", width=100, height=100, full_page="true", format="webp"
    )
    assert webp.status_code == 200, "WebP holds at most 16383 px a side"
    assert decoded(webp.data).size == (100, 16383)
    assert "cut at 16383 px" in webp.headers["X-Framecast-Note"]
    loop = private_allowed.get(url=pages.url + "/loop")
    assert loop.status_code == 502
    assert "REDIRECT" in loop.get_json()["error"].upper()
    missing = private_allowed.get(url=pages.url + "/nothing-here")
    assert missing.status_code == 502
    assert "HTTP 404" in missing.get_json()["error"]


def test_a_failed_rendering_answers_json_with_a_status_saying_how(
    api: Api, pages: PageServer, tmp_path: Path
) -> None:
    api.configure("api = true\nallow_private = true\ntimeout = 3\n")
    pages.colour = GREEN
    liar = api.get(url=pages.url + "/liar", width=100, height=100, full_page="true")
    assert liar.status_code == 200, "a page's own scripts cannot break the full page"
    assert decoded(liar.data).size == (100, 3000)
    hung = api.get(url=pages.url + "/hang?alone")
    assert (hung.status_code, hung.mimetype) == (504, "application/json")
    assert "within 3 s" in hung.get_json()["error"]
    missing = api.get(url=pages.url + "/nothing-here")
    assert (missing.status_code, missing.mimetype) == (502, "application/json")
    nowhere = Api(tmp_path)
    try:
        nowhere.configure('api = true\nallow_private = true\nchromium = "/nowhere/chromium"\n')
        unavailable = nowhere.get(url=pages.url + "/colour")
        assert (unavailable.status_code, unavailable.mimetype) == (503, "application/json")
        assert "no Chromium" in unavailable.get_json()["error"]
    finally:
        nowhere.framecast.stop()


def test_a_full_page_is_cut_at_3840_px_across_and_32_megapixels(
    private_allowed: Api, pages: PageServer
) -> None:
    pages.colour = BLUE
    huge = private_allowed.get(
        url=pages.url + "/sized?w=20000&h=20000", width=200, height=100, full_page="true"
    )
    assert huge.status_code == 200
    image = decoded(huge.data)
    assert image.size == (3840, 32_000_000 // 3840)
    assert close_to(image.convert("RGB").getpixel((3000, 8000)), BLUE)
    note = huge.headers["X-Framecast-Note"]
    assert "20000 px wide: cut at 3840 px" in note
    assert "20000 px high: cut at 8333 px" in note
    across = private_allowed.get(
        url=pages.url + "/sized?w=20000&h=500", width=1000, height=100, full_page="true"
    )
    assert decoded(across.data).size == (3840, 500)
    assert across.headers["X-Framecast-Note"] == "the page is 20000 px wide: cut at 3840 px"
    many = private_allowed.get(
        url=pages.url + "/sized?w=3000&h=12000", width=3000, height=100, full_page="true"
    )
    assert decoded(many.data).size == (3000, 10666)
    assert many.headers["X-Framecast-Note"] == "the page is 12000 px high: cut at 10666 px"


def test_a_page_that_wants_too_much_memory_fails_alone_and_the_browser_goes_on(
    private_allowed: Api, pages: PageServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="framecast.browser.engine")
    pages.colour = GREEN
    hog = private_allowed.get(url=pages.url + "/hog")
    assert (hog.status_code, hog.mimetype) == (422, "application/json")
    assert "ran out of memory" in hog.get_json()["error"]
    assert caplog.text.count("crashed its renderer, most likely out of memory") == 1
    items = [{"url": pages.url + "/hog?later", "delay": 5000}, {"url": pages.url + "/colour?by"}]
    batch = private_allowed.client.post("/api/screenshots", json=items)
    assert batch.status_code == 200
    assert [item["status"] for item in batch.get_json()["screenshots"]] == [422, 200]
    buffers = private_allowed.get(url=pages.url + "/buffers", width=64, height=36)
    assert buffers.status_code == 200
    assert close_to(decoded(buffers.data).convert("RGB").getpixel((32, 18)), GREEN), "refused"
    after = private_allowed.get(url=pages.url + "/colour?after-the-hogs", width=64, height=36)
    assert after.status_code == 200
    assert close_to(decoded(after.data).convert("RGB").getpixel((32, 18)), GREEN)


def browser_processes() -> list[int]:
    """The main processes (not their helpers) of the Chromium the server under test started
    from this test process; not the tests' own Chromium."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        parents[int(stat.parent.name)] = (int(fields[1]), command)
    found = []
    for pid, (_, command) in parents.items():
        ancestor = pid
        while ancestor in parents and ancestor != os.getpid():
            ancestor = parents[ancestor][0]
        main = b"chromium" in command and b"--type=" not in command
        if ancestor == os.getpid() and main and TEST_BROWSER_MARK.encode() not in command:
            found.append(pid)
    return found


def test_a_crashed_browser_is_started_again_for_the_next_rendering(
    private_allowed: Api, pages: PageServer
) -> None:
    pages.colour = GREEN
    assert private_allowed.get(url=pages.url + "/colour?before-crash").status_code == 200
    crashed = browser_processes()
    assert crashed, "the shared browser is running"
    for pid in crashed:
        os.kill(pid, signal.SIGKILL)

    def drawn_again() -> bool:
        answer = private_allowed.get(url=pages.url + f"/colour?after-crash-{time.monotonic()}")
        return answer.status_code == 200 and close_to(
            decoded(answer.data).convert("RGB").getpixel((10, 10)), GREEN
        )

    wait_for(drawn_again, timeout=30, interval=0.5, what="a rendering after the crash")
    assert set(browser_processes()).isdisjoint(crashed)


def test_private_targets_are_refused_by_default_and_the_api_is_off_unless_asked(
    api: Api, pages: PageServer
) -> None:
    api.configure("api = true\n")
    answer = api.get(url=pages.url + "/colour?private")
    assert answer.status_code == 403
    assert "allow_private" in answer.get_json()["error"]
    for url in ("http://localhost:9/", "http://169.254.169.254/latest/", "http://[::1]:9/"):
        assert api.get(url=url).status_code == 403, url
    api.configure("api = false\n")
    assert api.get(url=pages.url + "/colour").status_code == 404
    api.configure("api = true\nallow_private = true\n", 'token = "secret-token"\n')
    assert api.get(url=pages.url + "/colour").status_code == 401
    answer = api.client.get(
        "/api/screenshot",
        query_string={"url": pages.url + "/colour"},
        headers={"Authorization": "Bearer secret-token"},
    )
    assert answer.status_code == 200


INSIDE = textwrap.dedent(
    """
    import json, sys, urllib.parse
    sys.path.insert(0, {tests!r})
    from pages import PageServer
    from support import centre
    from framecast.browser.engine import PageBrowser, PageRefused, Shot
    from framecast.browser.screenshot_service import ScreenshotService
    from framecast.config import WebSettings

    lan = PageServer((200, 30, 30))
    public = PageServer((30, 200, 60), host={public!r}, port=80)
    browser = PageBrowser(lambda: WebSettings(timeout=10))
    service = ScreenshotService(browser)
    seen = {{}}
    shot = service.shoot(Shot(public.url + "/colour", 64, 36, "jpeg"))
    seen["public"] = list(centre(shot.data))
    secret = urllib.parse.quote(lan.url + "/colour")
    try:
        service.shoot(Shot(public.url + "/to?url=" + secret, 64, 36))
        seen["redirect"] = "rendered"
    except PageRefused as refused:
        seen["redirect"] = str(refused)
    onward = urllib.parse.quote(public.url + "/colour?again")
    shot = service.shoot(Shot(public.url + "/to?url=" + onward, 64, 36, "jpeg"))
    seen["public_redirect"] = list(centre(shot.data))
    image = urllib.parse.quote(lan.url + "/secret.png")
    shot = service.shoot(Shot(public.url + "/with-image?src=" + image, 64, 36, "jpeg"))
    seen["with_image"] = list(centre(shot.data))
    seen["lan_hits"] = lan.hits
    seen["public_hits"] = public.hits
    browser.stop(5)
    print(json.dumps(seen))
    """
)


def test_a_public_page_cannot_reach_the_lan_by_redirect_or_by_a_request_it_makes() -> None:
    """In a network namespace with one public address of its own on `lo` (nothing leaves it),
    a public page redirects to a loopback page, and another asks for an image there."""
    need_tool("chromium", "chromium")
    public = "11.0.0.1"
    script = INSIDE.format(tests=str(Path(__file__).parent), public=public)
    setup = f"ip link set lo up && ip addr add {public}/32 dev lo"
    seen = in_network_namespace(setup, script)
    assert close_to(tuple(seen["public"]), (30, 200, 60)), "a public page renders"
    assert "refused" in seen["redirect"]
    assert "127.0.0.1" in seen["redirect"]
    assert close_to(tuple(seen["public_redirect"]), (30, 200, 60)), "a public redirect is followed"
    assert close_to(tuple(seen["with_image"]), (30, 200, 60)), "the page renders without it"
    assert seen["lan_hits"] == {}, "nothing reached the LAN page"
    # Chromium itself sometimes asks the public host for /favicon.ico; the pages asked for these.
    asked_by_pages = {path: n for path, n in seen["public_hits"].items() if path != "/favicon.ico"}
    assert asked_by_pages == {"/colour": 2, "/to": 2, "/with-image": 1}


def test_the_browser_is_started_afresh_after_its_share_of_pages(
    pages: PageServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from framecast.browser import engine

    monkeypatch.setattr(engine, "RECYCLE_AFTER", 2)
    browser = engine.PageBrowser(WebSettings)
    caplog.set_level("INFO", logger="framecast.browser.engine")
    try:
        pages.colour = BLUE
        drawn = [
            browser.render(engine.Shot(f"{pages.url}/colour?{i}", 64, 36, "jpeg", guarded=False))
            for i in range(3)
        ]
    finally:
        browser.stop(5)
    assert all(close_to(centre(shot.data), BLUE) for shot in drawn)
    assert caplog.text.count("Started the web page browser") == 2
    assert "Starting the web page browser afresh after 2 pages" in caplog.text
