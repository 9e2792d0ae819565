"""config.toml that is empty, half-written, nested too deeply, huge or odd, at start and while
running: never applied by accident, always a clear one-line message."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import Server, config_text, wait_for, write_config

from framecast.config import ConfigError, Settings, load_settings, parse_settings
from framecast.config_watch import ConfigWatcher

TOKEN = "sekrit-token-77"
DEEP = "a = " + "[" * 100_000 + "]" * 100_000 + "\n"


def with_token(token: str = TOKEN, **options: object) -> str:
    return config_text(**options).replace(  # type: ignore[arg-type]
        'host = "127.0.0.1"', f'host = "127.0.0.1"\ntoken = "{token}"'
    )


def codes(server: Server) -> tuple[int, int]:
    """/status answered with the token and without it."""
    return server.get(f"/status?token={TOKEN}")[0], server.get("/status")[0]


def stays(condition: Callable[[], bool], seconds: float) -> bool:
    """True if `condition` held at every poll for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not condition():
            return False
        time.sleep(0.1)
    return True


# --- parsing ------------------------------------------------------------------------------


def test_deep_nesting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="nested too deeply"):
        parse_settings(DEEP, Path())


@pytest.mark.parametrize("text", ["", "   \n\n\t\n", "# only a comment\n  # another\n\n"])
def test_an_empty_file_is_an_error_naming_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert str(error.value) == f"{path}: the file is empty (nothing but blank lines and comments)"


def test_a_table_header_alone_is_not_empty(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("# all defaults\n[server]\n")
    assert load_settings(path) == parse_settings("", tmp_path)


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xef\xbb\xbf[stream]\nquality = 60\n")
    assert load_settings(path).stream.quality == 60


def test_text_that_is_not_utf8_says_so(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[stream]\nsource = "\xe9cran"\n')
    with pytest.raises(ConfigError, match="cannot read: not UTF-8 text"):
        load_settings(path)


def test_a_huge_bad_value_is_cut_short() -> None:
    with pytest.raises(ConfigError) as error:
        parse_settings('[slideshow]\norder = "' + "x" * 1_000_000 + '"\n', Path())
    message = str(error.value)
    assert message.startswith('[slideshow] order = "xxxxxxxx')
    assert "…(999920 more)" in message
    assert len(message) < 300


def test_a_huge_unknown_key_is_cut_short() -> None:
    for text in ("[stream]\n" + "k" * 100_000 + " = 1\n", "k" * 100_000 + " = 1\n"):
        with pytest.raises(ConfigError) as error:
            parse_settings(text, Path())
        assert len(str(error.value)) < 300


def test_control_characters_in_a_value_stay_on_one_line() -> None:
    with pytest.raises(ConfigError) as error:
        parse_settings('[slideshow]\nfit = "a\\nERROR forged\\u001b[31m"\n', Path())
    message = str(error.value)
    assert '[slideshow] fit = "a\\nERROR forged\\x1b[31m" is not allowed' in message
    assert "\n" not in message
    assert "\x1b" not in message


# --- the watcher in this process ----------------------------------------------------------


@pytest.fixture
def watcher(tmp_path: Path) -> Iterator[Callable[..., tuple[ConfigWatcher, list[Settings]]]]:
    watchers: list[ConfigWatcher] = []

    def start(
        text: str, on_change: Callable[[Settings, Settings], None] | None = None
    ) -> tuple[ConfigWatcher, list[Settings]]:
        path = tmp_path / "config.toml"
        path.write_text(text)
        applied: list[Settings] = []
        lock = threading.Lock()

        def record(old: Settings, new: Settings) -> None:
            with lock:
                applied.append(new)
            if on_change is not None:
                on_change(old, new)

        running = ConfigWatcher(path, load_settings(path), record)
        running.start()
        watchers.append(running)
        return running, applied

    yield start
    for running in watchers:
        running.stop()


def test_a_config_without_the_token_keeps_it_and_another_token_applies_at_once(
    tmp_path: Path,
    watcher: Callable[..., tuple[ConfigWatcher, list[Settings]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A valid file that lacks the token (a save cut short by a full disk) changes the rest
    and keeps the token; another token applies at once."""
    caplog.set_level(logging.INFO)
    running, _ = watcher(with_token())
    write_config(tmp_path / "config.toml", config_text(background="#ffffff"))
    wait_for(
        lambda: running.settings.slideshow.background == (255, 255, 255),
        what="the rest of the edit to apply",
    )
    assert running.settings.server.token == TOKEN
    assert "Config has no [server] token: the one in force is kept" in caplog.text
    write_config(tmp_path / "config.toml", with_token("another-token-88"))
    wait_for(lambda: running.settings.server.token == "another-token-88", what="the new token")


def test_the_watcher_survives_an_unexpected_error(
    tmp_path: Path,
    watcher: Callable[..., tuple[ConfigWatcher, list[Settings]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    def fail_once(old: Settings, new: Settings) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("applying went wrong")

    running, applied = watcher(config_text(), fail_once)
    write_config(tmp_path / "config.toml", config_text(background="#ff0000"))
    wait_for(lambda: "Unexpected error" in caplog.text, what="the error to be logged")
    write_config(tmp_path / "config.toml", config_text(background="#00ff00"))
    wait_for(
        lambda: running.settings.slideshow.background == (0, 255, 0) and len(applied) == 2,
        what="a later edit to apply",
    )
    errors = [r for r in caplog.records if "Unexpected error" in r.getMessage()]
    assert len(errors) == 1
    assert errors[0].exc_info is not None


# --- a real server ------------------------------------------------------------------------


def test_an_emptied_config_keeps_the_token(
    tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    server = start_server(with_token())
    assert codes(server) == (200, 401)
    (tmp_path / "config.toml").open("w").close()
    error = wait_for(
        lambda: json.loads(server.get(f"/status?token={TOKEN}")[1])["config_error"],
        what="the empty file to be reported",
    )
    assert error.endswith("config.toml: the file is empty (nothing but blank lines and comments)")
    assert stays(lambda: codes(server) == (200, 401), 3.0), "the emptied config opened /status"


def test_only_an_explicit_empty_token_opens_a_running_server(
    tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    server = start_server(with_token())
    write_config(tmp_path / "config.toml", config_text(background="#ffffff"))
    wait_for(lambda: "the one in force is kept" in server.log(), what="the token kept")
    assert stays(lambda: codes(server) == (200, 401), 3.0), "a file without the token opened it"
    write_config(tmp_path / "config.toml", with_token(""))
    wait_for(lambda: server.get("/status")[0] == 200, what='token = "" to open the server')
    assert 'WARNING Config says [server] token = "": the server is open to everyone' in (
        server.log()
    )


def test_deep_nesting_at_start_exits_2_with_a_clear_message(
    start_server: Callable[..., Server],
) -> None:
    server = start_server(DEEP, wait=False)
    assert server.process.wait(10) == 2
    log = server.log()
    assert "Cannot start:" in log
    assert "nested too deeply" in log
    assert "Traceback" not in log


def test_an_empty_config_at_start_exits_2_naming_the_file(
    tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    server = start_server("# nothing yet\n", wait=False)
    assert server.process.wait(10) == 2
    assert f"Cannot start: {tmp_path / 'config.toml'}: the file is empty" in server.log()


def test_deep_nesting_while_running_is_reported_and_reloads_go_on(
    tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    server = start_server()
    write_config(tmp_path / "config.toml", DEEP)
    error = wait_for(lambda: server.status()["config_error"], what="the config error")
    assert "nested too deeply" in error
    write_config(tmp_path / "config.toml", config_text(background="#ffff00"))
    wait_for(lambda: server.status()["config_error"] is None, what="the error to clear")
    assert "slideshow.background changed" in server.log()
    assert "Traceback" not in server.log()
