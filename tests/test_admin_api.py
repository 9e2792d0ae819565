"""The admin API as a script or the admin page uses it: the Flask app in this process with its
config in a temp folder, real files written to and moved in the channel's folder."""

from __future__ import annotations

import http.client
import io
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image
from support import GREEN, RED, Server, centre, close_to, config_text, solid

from framecast.config import load_settings
from framecast.manage import schedule_edit
from framecast.service.runtime import Framecast
from framecast.web.admin_auth import LOCKED_TOKEN_DELAY

ADMIN = "admin-token-123"
VIEW = "view-token-456"


def jpeg(colour: tuple[int, int, int] = RED) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 36), colour).save(out, "JPEG")
    return out.getvalue()


def config(admin: str | None = ADMIN, extra: str = "") -> str:
    server = f'token = "{VIEW}"\n'
    text = config_text().replace("[server]\n", "[server]\n" + server)
    if admin is not None:
        text += f'\n[admin]\ntoken = "{admin}"\nmax_upload_mb = 1\n'
    return text + extra


class Admin:
    def __init__(self, folder: Path, text: str) -> None:
        self.config = folder / "config.toml"
        self.config.write_text(text)
        self.images = folder / "images"
        self.images.mkdir()
        self.framecast = Framecast(self.config, load_settings(self.config), "127.0.0.1", 8000)
        self.client: FlaskClient = self.framecast.app.test_client()
        self.csrf = ""

    def login(self) -> Admin:
        answer = self.client.post("/api/admin/login", json={"token": ADMIN})
        assert answer.status_code == 200
        self.csrf = answer.get_json()["csrf"]
        return self

    def change(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"X-CSRF-Token": self.csrf, "X-Framecast": "1", **kwargs.pop("headers", {})}
        answer = self.client.open(path, method=method, headers=headers, **kwargs)
        # Werkzeug spools a body over 500 KB to a temporary file and leaves it open.
        answer.request.input_stream.close()
        return answer

    def upload(self, *files: tuple[bytes, str], channel: str = "default") -> Any:
        data = {"file": [(io.BytesIO(body), name) for body, name in files]}
        return self.change("POST", f"/api/admin/channels/{channel}/slides", data=data)

    def everything(self) -> list[str]:
        """Every name in the folder, hidden ones and the trash's included."""
        return sorted(str(p.relative_to(self.images)) for p in self.images.rglob("*"))


@pytest.fixture
def admin(tmp_path: Path) -> Admin:
    return Admin(tmp_path, config()).login()


def test_without_an_admin_token_there_is_no_admin_page(tmp_path: Path) -> None:
    off = Admin(tmp_path, config(admin=None))
    assert off.client.get("/admin").status_code == 404
    bearer = {"Authorization": f"Bearer {VIEW}"}
    assert off.client.get("/api/admin/channels", headers=bearer).status_code == 404


def test_each_token_opens_only_its_own_side(tmp_path: Path) -> None:
    admin = Admin(tmp_path, config())
    view = {"Authorization": f"Bearer {VIEW}"}
    owner = {"Authorization": f"Bearer {ADMIN}"}
    assert admin.client.get("/admin").status_code == 200, "the page itself asks for the token"
    assert admin.client.get("/api/admin/channels", headers=view).status_code == 401
    assert admin.client.get("/api/admin/channels", headers=owner).status_code == 200
    assert admin.client.get("/status", headers=owner).status_code == 401
    assert admin.client.get("/status", headers=view).status_code == 200
    assert admin.client.post("/api/admin/login", json={"token": VIEW}).status_code == 401


def test_log_in_sets_a_strict_http_only_cookie_and_changes_need_the_csrf_token(
    tmp_path: Path,
) -> None:
    admin = Admin(tmp_path, config())
    answer = admin.client.post("/api/admin/login", json={"token": ADMIN})
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert ADMIN not in cookie
    csrf = answer.get_json()["csrf"]
    assert admin.client.get("/api/admin/channels").status_code == 200
    body = {"text": "Hello", "channel": None, "minutes": 1}
    no_csrf = admin.client.post("/api/admin/announce", json=body)
    assert no_csrf.status_code == 403
    forged = admin.client.post(
        "/api/admin/announce",
        data={"text": "Hello"},
        headers={"Origin": "http://evil.example", "X-CSRF-Token": csrf},
    )
    assert forged.status_code == 403, "a form posted from another site"
    with_csrf = admin.client.post("/api/admin/announce", json=body, headers={"X-CSRF-Token": csrf})
    assert with_csrf.status_code == 200
    assert (
        admin.client.post("/api/admin/logout", json={}, headers={"X-CSRF-Token": csrf}).status_code
        == 200
    )
    assert admin.client.get("/api/admin/channels").status_code == 401


def test_five_wrong_tokens_in_a_minute_lock_out_guesses_but_not_the_owner(
    tmp_path: Path,
) -> None:
    admin = Admin(tmp_path, config()).login()
    for _ in range(5):
        assert admin.client.post("/api/admin/login", json={"token": "nope"}).status_code == 401
    locked = admin.client.post("/api/admin/login", json={"token": "nope-again"})
    assert locked.status_code == 429
    assert 50 <= int(locked.headers["Retry-After"]) <= 60
    assert admin.client.get("/api/admin/channels").status_code == 200, "an open session passes"
    bearer = {"Authorization": f"Bearer {ADMIN}"}
    started = time.monotonic()
    assert admin.client.get("/api/admin/channels", headers=bearer).status_code == 200
    assert admin.client.post("/api/admin/login", json={"token": ADMIN}).status_code == 200
    assert time.monotonic() - started >= 2 * LOCKED_TOKEN_DELAY, "the right token, slowly"
    wrong = {"Authorization": "Bearer nope"}
    assert admin.client.get("/api/admin/channels", headers=wrong).status_code == 429


def session_cookie(admin: Admin) -> str:
    cookie = admin.client.get_cookie("framecast_admin")
    assert cookie is not None, "logged in"
    return cookie.value


def test_a_session_is_a_random_secret_the_server_keeps_and_log_out_ends(tmp_path: Path) -> None:
    admin = Admin(tmp_path, config()).login()
    first = session_cookie(admin)
    admin.login()
    second = session_cookie(admin)
    assert first != second, "each log-in its own random session"
    assert ADMIN not in first
    assert admin.change("POST", "/api/admin/logout", json={}).status_code == 200
    admin.client.set_cookie("framecast_admin", second)
    assert admin.client.get("/api/admin/channels").status_code == 401, "log-out ended it"
    admin.client.set_cookie("framecast_admin", first)
    assert admin.client.get("/api/admin/channels").status_code == 200, "the other one is open"


def test_a_new_admin_token_ends_every_session(tmp_path: Path) -> None:
    admin = Admin(tmp_path, config()).login()
    assert admin.client.get("/api/admin/channels").status_code == 200
    admin.config.write_text(config(admin="a-new-admin-token"))
    admin.framecast.watcher.reload()
    assert admin.client.get("/api/admin/channels").status_code == 401


def test_guessed_session_cookies_count_like_wrong_tokens(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    admin = Admin(tmp_path, config())
    with caplog.at_level("WARNING"):
        for guess in range(5):
            admin.client.set_cookie("framecast_admin", f"guess-{guess}")
            assert admin.client.get("/api/admin/channels").status_code == 401
    assert "no such session" in caplog.text
    admin.client.set_cookie("framecast_admin", "guess-5")
    assert admin.client.get("/api/admin/channels").status_code == 429
    locked = admin.client.post("/api/admin/login", json={"token": "guess"})
    assert locked.status_code == 429


def test_the_cookie_is_secure_when_the_request_came_over_https(tmp_path: Path) -> None:
    admin = Admin(tmp_path, config())
    plain = admin.client.post("/api/admin/login", json={"token": ADMIN})
    assert "Secure" not in plain.headers["Set-Cookie"]
    proxied = admin.client.post(
        "/api/admin/login", json={"token": ADMIN}, headers={"X-Forwarded-Proto": "https"}
    )
    assert "Secure" in proxied.headers["Set-Cookie"]
    direct = admin.client.post(
        "/api/admin/login", json={"token": ADMIN}, base_url="https://localhost"
    )
    assert "Secure" in direct.headers["Set-Cookie"]


def test_a_large_body_is_refused_before_it_is_read_but_a_folder_order_may_be_long(
    admin: Admin,
) -> None:
    big = b'{"token": "' + b"x" * (200 * 1024) + b'"}'
    refused = admin.client.post("/api/admin/login", data=big, content_type="application/json")
    assert refused.status_code == 413
    assert "over 64 KB" in refused.get_json()["error"]
    names = [
        f"slide-{n:05d}-with-a-long-name-as-cameras-and-people-give-them.jpg" for n in range(1200)
    ]
    for name in names:
        (admin.images / name).write_bytes(b"")
    answer = admin.change("PUT", "/api/admin/channels/default/order", json=names)
    assert answer.status_code == 200, "a folder's order is larger than 64 KB"
    assert answer.get_json()["order"] == names


def test_uploads_land_whole_under_clean_unique_names(admin: Admin) -> None:
    answer = admin.upload(
        (jpeg(RED), "photo.jpg"), (jpeg(GREEN), "photo.jpg"), (jpeg(), "../../etc/x.jpg")
    )
    assert answer.status_code == 200
    assert answer.get_json()["stored"] == ["photo.jpg", "photo (2).jpg", "x.jpg"]
    newline = admin.change(
        "POST",
        "/api/admin/channels/default/slides",
        data=b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''a%0Ab.jpg"
        + b"\r\nContent-Type: image/jpeg\r\n\r\n"
        + jpeg()
        + b"\r\n--b--\r\n",
        content_type="multipart/form-data; boundary=b",
    )
    assert newline.get_json()["stored"] == ["ab.jpg"], "a newline in the name is dropped"
    assert admin.everything() == ["ab.jpg", "photo (2).jpg", "photo.jpg", "x.jpg"]
    with Image.open(admin.images / "photo (2).jpg") as image:
        assert image.convert("RGB").getpixel((5, 5))[1] > 150, "the second file's own bytes"
    listed = admin.client.get("/api/admin/channels/default/slides").get_json()
    assert listed["slides"] == ["ab.jpg", "photo (2).jpg", "photo.jpg", "x.jpg"], "show order"


def test_an_upload_is_held_to_the_channels_max_megapixels(tmp_path: Path) -> None:
    text = config().replace("[slideshow]\n", "[slideshow]\nmax_megapixels = 1\n")
    admin = Admin(tmp_path, text).login()
    large = io.BytesIO()
    Image.new("RGB", (1200, 1000), GREEN).save(large, "PNG")
    answer = admin.upload((large.getvalue(), "wide.png"), (jpeg(), "small.jpg"))
    assert answer.status_code == 200
    assert answer.get_json()["stored"] == ["small.jpg"]
    refused = answer.get_json()["refused"]
    assert [item["name"] for item in refused] == ["wide.png"]
    assert "max_megapixels" in refused[0]["reason"]
    assert admin.everything() == ["small.jpg"]


@pytest.mark.parametrize(
    ("body", "name", "reason"),
    [
        (b"just some text", "notes.jpg", "not something the show can show"),
        (b"", "empty.jpg", "empty"),
    ],
)
def test_a_file_that_cannot_show_is_refused_and_leaves_nothing(
    admin: Admin, body: bytes, name: str, reason: str
) -> None:
    answer = admin.upload((body, name))
    assert answer.status_code == 400
    assert reason in answer.get_json()["refused"][0]["reason"]
    assert admin.everything() == []


def test_too_big_and_too_many_are_refused(admin: Admin) -> None:
    big = admin.upload((b"\xff" * (2 * 1024 * 1024), "huge.jpg"))
    assert big.status_code == 413
    assert "max_upload_mb" in big.get_json()["error"]
    many = admin.upload(*[(jpeg(), f"{i}.jpg") for i in range(100)])
    assert many.status_code == 400
    assert "at most 50" in many.get_json()["error"]
    assert admin.everything() == []


def test_remove_to_the_trash_restore_and_missing_names(admin: Admin) -> None:
    admin.upload((jpeg(), "a.jpg"), (jpeg(), "b.jpg"))
    gone = admin.change("DELETE", "/api/admin/channels/default/slides/a.jpg")
    assert gone.status_code == 200
    assert admin.everything() == [".trash", ".trash/a.jpg", "b.jpg"]
    listed = admin.client.get("/api/admin/channels/default/slides").get_json()
    assert listed["slides"] == ["b.jpg"]
    assert [item["name"] for item in listed["trash"]] == ["a.jpg"]
    back = admin.change("POST", "/api/admin/channels/default/slides/a.jpg/restore")
    assert back.get_json()["restored"] == "a.jpg"
    assert "a.jpg" in admin.everything()
    missing = admin.change("DELETE", "/api/admin/channels/default/slides/nothing.jpg")
    assert missing.status_code == 404
    assert admin.change("DELETE", "/api/admin/channels/nowhere/slides/a.jpg").status_code == 404


def test_ten_removes_of_one_slide_at_once_trash_it_once_and_say_404_to_the_rest(
    admin: Admin,
) -> None:
    admin.upload((jpeg(), "a.jpg"))
    start = threading.Barrier(10)
    codes: list[int] = []

    def remove() -> None:
        start.wait()
        codes.append(admin.change("DELETE", "/api/admin/channels/default/slides/a.jpg").status_code)

    removers = [threading.Thread(target=remove) for _ in range(10)]
    for remover in removers:
        remover.start()
    for remover in removers:
        remover.join(10)
    assert sorted(codes) == [200] + [404] * 9
    assert admin.everything() == [".trash", ".trash/a.jpg"]


def test_a_relative_link_in_the_trash_is_listed_and_restored(admin: Admin) -> None:
    (admin.images / "photos").mkdir()
    (admin.images / "photos" / "x.jpg").write_bytes(jpeg())
    (admin.images / "a.jpg").symlink_to("photos/x.jpg")
    assert admin.change("DELETE", "/api/admin/channels/default/slides/a.jpg").status_code == 200
    listed = admin.client.get("/api/admin/channels/default/slides").get_json()
    assert [item["name"] for item in listed["trash"]] == ["a.jpg"], "it points nowhere there"
    back = admin.change("POST", "/api/admin/channels/default/slides/a.jpg/restore")
    assert back.status_code == 200
    assert (admin.images / "a.jpg").read_bytes() == jpeg(), "it shows its picture again"


def test_the_order_is_written_to_schedule_toml_keeping_its_rules(admin: Admin) -> None:
    admin.upload((jpeg(), "a.jpg"), (jpeg(), "b.jpg"), (jpeg(), "c.jpg"))
    schedule = admin.images / "schedule.toml"
    schedule.write_text('# my rules\n[[rule]]\nmatch = "c.jpg"  # short\nduration = 2\n')
    bad = admin.change("PUT", "/api/admin/channels/default/order", json=["a.jpg", "z.jpg"])
    assert bad.status_code == 400
    assert "z.jpg" in bad.get_json()["error"]
    assert "missing from the list: b.jpg, c.jpg" in bad.get_json()["error"]
    good = admin.change(
        "PUT", "/api/admin/channels/default/order", json=["c.jpg", "a.jpg", "b.jpg"]
    )
    assert good.status_code == 200
    text = schedule.read_text()
    assert 'order = ["c.jpg", "a.jpg", "b.jpg"]' in text
    assert "# my rules" in text
    assert 'match = "c.jpg"  # short' in text
    listed = admin.client.get("/api/admin/channels/default/slides").get_json()
    assert listed["slides"] == ["c.jpg", "a.jpg", "b.jpg"]


def test_announcements_are_checked(admin: Admin) -> None:
    long = admin.change("POST", "/api/admin/announce", json={"text": "x" * 10_000})
    assert long.status_code == 400
    assert "200 characters" in long.get_json()["error"]
    for body in (
        {"text": "Hi", "color": "red"},
        {"text": "Hi", "minutes": -1},
        {"text": "Hi", "channel": "nowhere"},
        {"text": "Hi", "channel": ["default"]},
    ):
        assert admin.change("POST", "/api/admin/announce", json=body).status_code == 400, body
    made = admin.change("POST", "/api/admin/announce", json={"text": "Closing", "color": "#00ff00"})
    assert made.get_json()["color"] == "#00ff00"
    channels = admin.client.get("/api/admin/channels").get_json()["channels"]
    assert channels[0]["announcement"]["text"] == "Closing"
    assert admin.change("DELETE", "/api/admin/announce").get_json()["cleared"] is True
    channels = admin.client.get("/api/admin/channels").get_json()["channels"]
    assert channels[0]["announcement"] is None


def test_the_qr_code_and_the_controls(admin: Admin) -> None:
    qr = admin.client.get("/api/admin/channels/default/qr.svg")
    assert qr.mimetype == "image/svg+xml"
    assert b"<svg" in qr.data
    bad = admin.change("POST", "/api/admin/channels/default/control", json={"action": "explode"})
    assert bad.status_code == 400


def test_an_upload_cut_off_halfway_leaves_nothing_in_the_folder(
    tmp_path: Path, start_server: Any
) -> None:
    (tmp_path / "images").mkdir(exist_ok=True)
    server: Server = start_server(text=config().replace("max_upload_mb = 1", "max_upload_mb = 50"))
    login = server_post_json(server.port, "/api/admin/login", b'{"token": "%s"}' % ADMIN.encode())
    cookie = login.split(b"Set-Cookie: ", 1)[1].split(b";", 1)[0]
    csrf = login.rsplit(b'"csrf":"', 1)[1].split(b'"', 1)[0]

    def upload(name: bytes, length: int, sent: bytes) -> socket.socket:
        part = (
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="' + name + b'"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n"
        )
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.sendall(
            b"POST /api/admin/channels/default/slides HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: %d\r\nX-Framecast: 1\r\nX-CSRF-Token: "
            % (len(part) + length)
            + csrf
            + b"\r\nCookie: "
            + cookie
            + b"\r\n\r\n"
            + part
            + sent
        )
        return sock

    upload(b"slow.jpg", 10_000_000, jpeg()[:200]).close()
    whole = jpeg() + b"\r\n--b--\r\n"
    with upload(b"whole.jpg", len(whole), whole) as sock:
        assert b"200 OK" in sock.recv(65536)
    images = tmp_path / "images"
    assert sorted(p.name for p in images.rglob("*")) == ["whole.jpg"]
    assert server.get("/healthz")[0] == 200


def server_post_json(port: int, path: str, body: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_an_announcement_for_some_minutes_ends_by_itself() -> None:
    from framecast.announcements import Announcement, Announcements

    now = [1000.0]
    announcements = Announcements(clock=lambda: now[0])
    heard: list[int] = []
    announcements.on_change(lambda: heard.append(1))
    announcements.announce(Announcement("All", (1, 2, 3), None, None))
    announcements.announce(Announcement("Menu only", (1, 2, 3), "menu", 1060.0))
    assert announcements.current("menu").text == "Menu only"  # type: ignore[union-attr]
    assert announcements.current("window").text == "All"  # type: ignore[union-attr]
    now[0] = 1061.0
    assert announcements.current("menu").text == "All", "its own has ended"  # type: ignore[union-attr]
    assert announcements.clear(None) is True
    assert announcements.current("menu") is None
    assert len(heard) == 3


def test_a_slide_gets_its_own_time_in_schedule_toml(admin: Admin) -> None:
    admin.upload((jpeg(), "a.jpg"), (jpeg(), "b.jpg"))
    schedule = admin.images / "schedule.toml"
    schedule.write_text('# mine\n[[rule]]\nmatch = "*.png"  # pictures\nduration = 4\n')
    path = "/api/admin/channels/default/slides/a.jpg/timing"
    body = {"seconds": 12, "days": ["mon", "sat"], "hours": ["08:00-11:30"]}
    assert admin.change("PUT", path, json=body).status_code == 200
    text = schedule.read_text()
    assert 'match = "*.png"  # pictures' in text
    assert 'match = "a.jpg"' in text
    timing = admin.client.get("/api/admin/channels/default/slides").get_json()["timing"]
    assert timing["a.jpg"] == {"duration": 12, "days": ["mon", "sat"], "hours": ["08:00-11:30"]}
    bad = admin.change("PUT", path, json={"seconds": None, "days": None, "hours": ["25:00-26"]})
    assert bad.status_code == 400
    assert "hours" in bad.get_json()["error"]
    assert admin.change("PUT", path, json={"seconds": "ten"}).status_code == 400
    missing = "/api/admin/channels/default/slides/zzz.jpg/timing"
    assert admin.change("PUT", missing, json={"seconds": 3}).status_code == 404
    cleared = admin.change("PUT", path, json={"seconds": None, "days": None, "hours": None})
    assert cleared.status_code == 200
    assert 'match = "a.jpg"' not in schedule.read_text()
    assert 'match = "*.png"' in schedule.read_text()


def test_twenty_timing_edits_at_once_keep_all_twenty_rules(admin: Admin) -> None:
    names = [f"{n:02d}.jpg" for n in range(20)]
    admin.upload(*[(jpeg(), name) for name in names])
    start = threading.Barrier(len(names))
    codes: list[int] = []

    def give_time(name: str) -> None:
        start.wait()
        path = f"/api/admin/channels/default/slides/{name}/timing"
        codes.append(admin.change("PUT", path, json={"seconds": 7}).status_code)

    editors = [threading.Thread(target=give_time, args=(name,)) for name in names]
    for editor in editors:
        editor.start()
    for editor in editors:
        editor.join(20)
    assert codes == [200] * len(names)
    timing = admin.client.get("/api/admin/channels/default/slides").get_json()["timing"]
    assert sorted(timing) == names


def test_a_save_made_meanwhile_by_a_person_is_never_overwritten(
    admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin.upload((jpeg(), "a.jpg"))
    schedule = admin.images / "schedule.toml"
    person = '[[rule]]\nmatch = "*.jpg"\nduration = 9\n'
    schedule.write_text('[[rule]]\nmatch = "a.jpg"\nduration = 3\n')
    real = schedule_edit.parse_schedule

    def saved_meanwhile(text: str) -> object:
        schedule.write_text(person)  # the person's editor saves while the admin edit is made
        return real(text)

    monkeypatch.setattr(schedule_edit, "parse_schedule", saved_meanwhile)
    path = "/api/admin/channels/default/slides/a.jpg/timing"
    refused = admin.change("PUT", path, json={"seconds": 5})
    assert refused.status_code == 409
    assert "changed by someone else meanwhile" in refused.get_json()["error"]
    assert schedule.read_text() == person


def test_a_channel_switches_to_the_screen_until_its_settings_change(admin: Admin) -> None:
    solid(admin.images / "a.png", GREEN)
    admin.framecast.start()
    try:
        thumbnail = admin.client.get("/api/admin/channels/default/thumbnail.jpg")
        assert thumbnail.status_code == 200
        with Image.open(io.BytesIO(thumbnail.data)) as image:
            assert image.size == (320, 180)
            assert close_to(image.convert("RGB").getpixel((160, 90)), GREEN)
        path = "/api/admin/channels/default/source"
        assert admin.change("POST", path, json={"source": "tv"}).status_code == 400
        assert admin.change("POST", path, json={"source": "screen"}).status_code == 200
        switched = admin.framecast.status().as_json()
        assert (switched["source"], switched["source_switched"]) == ("screen", "screen")
        admin.config.write_text(admin.config.read_text().replace("interval = 30", "interval = 20"))
        admin.framecast.watcher.reload()
        edited = admin.framecast.status().as_json()
        assert edited["source"] == "slideshow", "a config edit ends the switch"
        assert edited["source_switched"] is None
    finally:
        admin.framecast.stop()


def test_a_channel_without_a_url_is_not_switched_to_a_stream(admin: Admin) -> None:
    solid(admin.images / "a.png", GREEN)
    admin.framecast.start()
    try:
        path = "/api/admin/channels/default/source"
        refused = admin.change("POST", path, json={"source": "url"})
        assert refused.status_code == 400
        assert "has no [stream] url" in refused.get_json()["error"]
        assert admin.framecast.status().as_json()["source"] == "slideshow"
    finally:
        admin.framecast.stop()


def read_only_wrapper(folder: Path) -> list[str]:
    """Runs the server in a mount namespace of its own where `folder` is a read-only mount, as
    `ProtectSystem=strict` leaves a slide folder under a service unit."""
    mount = f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder}"
    return ["unshare", "-rm", "sh", "-c", f'{mount} && exec "$@"', "sh"]


@pytest.mark.live
def test_a_read_only_folder_answers_json_that_names_it(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    solid(images / "a.png", RED)
    (tmp_path / "config.toml").write_text(config())
    server = Server(tmp_path / "config.toml", wrapper=read_only_wrapper(images)).wait_ready()
    try:
        bearer = {"Authorization": f"Bearer {ADMIN}", "X-Framecast": "1"}
        slides = "/api/admin/channels/default/slides"
        attempts = [
            ("DELETE", f"{slides}/a.png", None, {}),
            ("PUT", "/api/admin/channels/default/order", b'["a.png"]', {}),
            ("PUT", f"{slides}/a.png/timing", b'{"seconds": 5}', {}),
            (
                "POST",
                slides,
                b'--b\r\nContent-Disposition: form-data; name="file"; filename="b.jpg"\r\n\r\n'
                + jpeg()
                + b"\r\n--b--\r\n",
                {"Content-Type": "multipart/form-data; boundary=b"},
            ),
        ]
        for method, path, body, headers in attempts:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            json_type = {"Content-Type": "application/json"} if body and not headers else {}
            connection.request(method, path, body, {**bearer, **json_type, **headers})
            answer = connection.getresponse()
            said = json.loads(answer.read())
            connection.close()
            assert answer.status == 503, (method, path, said)
            assert answer.getheader("Content-Type") == "application/json"
            assert f"this server may not write in {images}" in said["error"]
        assert sorted(p.name for p in images.rglob("*")) == ["a.png"]
        assert server.log().count("Admin: this server may not write in") == len(attempts)
        assert "Traceback" not in server.log()
        code, snapshot = server.get(f"/snapshot.jpg?token={VIEW}")
        assert code == 200
        assert close_to(centre(snapshot), RED), "the show goes on"
    finally:
        server.stop()
