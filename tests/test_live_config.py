"""`source = "url"`: which addresses a channel may show, refused at load naming the key, and
credentials hidden wherever an address is shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from framecast.config import ConfigError, parse_settings
from framecast.logtext import redacted_url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/stream",
        "https://cams.example/live/index.m3u8",
        "http://example.net/clip.mp4",
        "rtsp://admin:secret@10.0.0.5:554/Streaming/Channels/101",
        "rtsps://camera.local/live",
        "/dev/video0",
        "/dev/video12",
    ],
)
def test_a_channel_may_show_a_stream(url: str) -> None:
    text = f'[stream]\nsource = "slideshow"\n[channels.door]\nsource = "url"\nurl = "{url}"\n'
    door = parse_settings(text, Path(".")).shows()["door"]
    assert (door.stream.source, door.stream.url) == ("url", url)


def test_a_channel_takes_the_url_of_the_stream_table() -> None:
    text = '[stream]\nurl = "http://127.0.0.1/a.mp4"\n[channels.door]\nsource = "url"\n'
    settings = parse_settings(text, Path("."))
    assert settings.shows()["door"].stream.url == "http://127.0.0.1/a.mp4"
    assert settings.stream.source == "slideshow"


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "stream.mp4",
        "../cams/a.mp4",
        "/home/me/a.mp4",
        "ftp://host/a.mp4",
        "http:///no-host",
        "udp://239.0.0.1:1234",
        "/dev/video",
        "concat:a.mp4|b.mp4",
    ],
)
def test_other_addresses_are_refused_naming_the_key(url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_settings(f'[channels.door]\nsource = "url"\nurl = "{url}"\n', Path("."))
    message = str(refused.value)
    assert message.startswith("[channels.door] url = ")
    assert "http://, https:// or rtsp://" in message
    assert "/dev/video0" in message


def test_a_url_source_without_a_url_is_refused() -> None:
    with pytest.raises(ConfigError, match=r'\[channels.door\] source = "url" needs url'):
        parse_settings('[channels.door]\nsource = "url"\n', Path("."))
    with pytest.raises(ConfigError, match=r'\[stream\] source = "url" needs url'):
        parse_settings('[stream]\nsource = "url"\n', Path("."))


def test_a_refused_url_keeps_its_credentials_out_of_the_message() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_settings('[stream]\nurl = "ftp://me:hunter2@host/x?token=abc"\n', Path("."))
    assert "hunter2" not in str(refused.value)
    assert "abc" not in str(refused.value)
    assert "ftp://***@host/x?token=***" in str(refused.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:hunter2@10.0.0.5:554/live", "rtsp://***@10.0.0.5:554/live"),
        ("http://me@cam/a.m3u8", "http://***@cam/a.m3u8"),
        (
            "http://[::1]:81/x?x=1&api_key=k1&Password=p1",
            "http://[::1]:81/x?x=1&api_key=***&Password=***",
        ),
        (
            "https://cdn/a.m3u8?auth=zzz&sig=yyy&quality=hd",
            "https://cdn/a.m3u8?auth=***&sig=***&quality=hd",
        ),
        ("http://u:p@[::1]:81/", "http://***@[::1]:81/"),
        ("/dev/video0", "/dev/video0"),
        ("redis://framecast:pw@127.0.0.1:6379/0", "redis://***@127.0.0.1:6379/0"),
    ],
)
def test_credentials_are_hidden(url: str, shown: str) -> None:
    assert redacted_url(url) == shown
