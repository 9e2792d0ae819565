from __future__ import annotations

from pathlib import Path

import pytest

from framecast.config import ConfigError, Settings, load_settings, parse_settings

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_config_has_every_key_with_the_defaults() -> None:
    text = (ROOT / "config.toml").read_text()
    settings = parse_settings(text, ROOT)
    defaults = parse_settings("", ROOT)
    assert settings == defaults
    for key in ("host", "port", "source", "width", "height", "quality", "keepalive", "folder"):
        assert f"\n{key} = " in text
    for key in ("interval", "order", "fit", "background", "recursive", "monitor", "fps"):
        assert f"\n{key} = " in text
    for key in ("new_first", "transition", "transition_seconds", "transition_fps"):
        assert f"\n{key} = " in text
    for key in ("clock", "clock_format", "caption", "font_size"):
        assert f"\n# {key} = " in text
    for key in ("region", "quality", "token"):
        assert f"\n# {key} = " in text
    for key in ("max_clients", "client_timeout"):
        assert f"\n{key} = " in text
    assert settings.slideshow.folder == ROOT / "images"


def test_defaults() -> None:
    settings = parse_settings("", Path("/srv/show"))
    assert settings.server.host == "0.0.0.0"
    assert settings.server.port == 8000
    assert (settings.stream.width, settings.stream.height, settings.stream.quality) == (
        1920,
        1080,
        80,
    )
    assert settings.stream.source == "slideshow"
    assert settings.slideshow.interval == 5.0
    assert settings.slideshow.order == "name"
    assert settings.slideshow.fit == "contain"
    assert settings.slideshow.background == (0, 0, 0)
    assert settings.slideshow.recursive is False
    assert settings.slideshow.folder == Path("/srv/show/images")


def test_values_are_parsed_and_relative_folder_resolves_against_config_folder() -> None:
    settings = parse_settings(
        """
        [server]
        port = 9000
        [stream]
        quality = 60
        width = 1280
        height = 720
        keepalive = 5
        [slideshow]
        folder = "../photos"
        interval = 2
        order = "shuffle"
        fit = "cover"
        background = "#0a0B0c"
        recursive = true
        """,
        Path("/srv/show"),
    )
    assert settings.server.port == 9000
    assert settings.stream.keepalive == 5.0
    assert settings.slideshow.folder == Path("/srv/photos")
    assert settings.slideshow.interval == 2.0
    assert settings.slideshow.background == (10, 11, 12)
    assert settings.slideshow.recursive is True


def test_short_colour() -> None:
    assert parse_settings('[slideshow]\nbackground = "#f80"', Path()).slideshow.background == (
        255,
        136,
        0,
    )


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.stream.quality = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[stream]\nquality = 0",
            "[stream] quality = 0 is not allowed: expected a whole number from 1 to 95",
        ),
        ("[stream]\nquality = 96", "[stream] quality = 96"),
        ("[stream]\nquality = 80.5", "[stream] quality = 80.5"),
        ("[stream]\nquality = true", "[stream] quality = true"),
        (
            '[stream]\nsource = "tv"',
            '[stream] source = "tv" is not allowed: expected one of "slideshow"',
        ),
        ("[stream]\nwidth = 0", "[stream] width = 0"),
        ("[stream]\nkeepalive = 0", "[stream] keepalive = 0"),
        ("[server]\nport = 70000", "[server] port = 70000"),
        ('[server]\nhost = ""', '[server] host = "" is not allowed: expected a non-empty string'),
        (
            "[slideshow]\ninterval = -1",
            "[slideshow] interval = -1 is not allowed: expected a number",
        ),
        ('[slideshow]\ninterval = "5"', '[slideshow] interval = "5"'),
        ("[slideshow]\ninterval = nan", "[slideshow] interval = nan"),
        ('[slideshow]\norder = "random"', '"name", "mtime", "shuffle"'),
        ('[slideshow]\nfit = "stretch"', '[slideshow] fit = "stretch"'),
        ('[slideshow]\nbackground = "black"', '[slideshow] background = "black"'),
        (
            "[slideshow]\nrecursive = 1",
            "[slideshow] recursive = 1 is not allowed: expected true or false",
        ),
        ("[slideshow]\nintervall = 3", "[slideshow] has unknown key 'intervall'"),
        ("[slidshow]\ninterval = 3", "unknown table or key 'slidshow'"),
        ("slideshow = 3", "'slideshow' must be a table"),
        ("[slideshow\ninterval = 3", "not valid TOML"),
        ("[stream]\nquality = 80\nquality = 70\nwidth = 640\n", "at line 3"),
        ("[screen]\nfps = 0", "[screen] fps = 0 is not allowed: expected a number above 0"),
        (
            '[overlay]\nclock = "middle"',
            '[overlay] clock = "middle" is not allowed: expected one of',
        ),
        ("[overlay]\nfont_size = 0", "[overlay] font_size = 0 is not allowed"),
        ('[overlay]\nclock_format = "HH:MM"', "[overlay] clock_format"),
        ('[overlay]\ncaption = "title"', '[overlay] caption = "title"'),
        ("[slideshow]\ntransition_seconds = 11", "[slideshow] transition_seconds = 11"),
        ('[slideshow]\ntransition = "wipe"', '"fade", "none"'),
        ("[slideshow]\nnew_first = 1", "[slideshow] new_first = 1"),
        ("[screen]\nfps = -5", "[screen] fps = -5 is not allowed"),
        ("[screen]\nmonitor = -1", "[screen] monitor = -1 is not allowed"),
        ("[screen]\nregion = [0, 0, 0, 10]", "[screen] region = [0, 0, 0, 10] is not allowed"),
        ("[screen]\nregion = [0, 0, 10]", "expected [left, top, width, height]"),
        ("[screen]\nquality = 100", "[screen] quality = 100"),
    ],
)
def test_bad_values_name_the_key_the_value_and_what_is_allowed(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_settings(text, Path())
    assert expected in str(error.value)


def test_load_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(path)
    path.write_text("[stream]\nquality = 0\n")
    with pytest.raises(ConfigError, match=r"config\.toml: \[stream\] quality = 0"):
        load_settings(path)
    path.write_bytes(b"\xff\xfe[")
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(path)


def test_screen_settings() -> None:
    screen = parse_settings(
        '[stream]\nsource = "screen"\n[screen]\nmonitor = "HDMI-1"\n'
        "region = [10, 20, 300, 200]\nfps = 120\nquality = 60\n",
        Path(),
    ).screen
    assert screen.monitor == "HDMI-1"
    assert screen.region == (10, 20, 300, 200)
    assert screen.fps == 120.0
    assert screen.quality == 60
    defaults = parse_settings("", Path()).screen
    assert (defaults.monitor, defaults.region, defaults.fps, defaults.quality) == (
        1,
        None,
        15.0,
        None,
    )


def test_server_limits_and_token() -> None:
    server = parse_settings(
        '[server]\nmax_clients = 3\nclient_timeout = 5\ntoken = "abcdefgh12"\n', Path()
    ).server
    assert (server.max_clients, server.client_timeout, server.token) == (3, 5.0, "abcdefgh12")
    assert "abcdefgh12" not in repr(server)
    with pytest.raises(ConfigError) as error:
        parse_settings('[server]\ntoken = "short"\n', Path())
    assert "[server] token = (hidden) is not allowed" in str(error.value)
    assert "short" not in str(error.value)


def test_signage_settings() -> None:
    settings = parse_settings(
        '[slideshow]\nfit = "blur"\ntransition = "none"\ntransition_seconds = 2\n'
        'transition_fps = 10\nnew_first = false\n[overlay]\nclock = "bottom-left"\n'
        'clock_format = "%a %H:%M"\ncaption = "name"\nfont_size = 30\n',
        Path(),
    )
    assert settings.slideshow.fit == "blur"
    assert (settings.slideshow.transition, settings.slideshow.transition_seconds) == ("none", 2.0)
    assert settings.slideshow.new_first is False
    assert settings.overlay.clock == "bottom-left"
    assert settings.overlay.caption == "name"
    defaults = parse_settings("", Path())
    assert defaults.slideshow.transition == "fade"
    assert defaults.slideshow.new_first is True
    assert defaults.overlay.clock is None
