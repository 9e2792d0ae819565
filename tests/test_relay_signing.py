"""Issue 25: what origins and edges write into Redis is signed, frames are JPEGs of the size they
state, and settings from Redis pass the checks of `config.toml` (no Redis needed here)."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from framecast.config import ServerSettings, Settings, parse_settings
from framecast.relay import settings_wire, wire
from framecast.relay.signing import SECRET_VARIABLE, Signer, Unsigned, secret_from_environment

SIGNER = Signer(b"0123456789abcdef-shared")


def frame_fields(jpeg: bytes, width: int = 64, height: int = 36) -> dict[bytes, bytes]:
    fields = {
        "jpeg": jpeg,
        "seq": 7,
        "width": width,
        "height": height,
        "standing": 1,
        "sent": "1.5",
    }
    signed = SIGNER.sign_fields("framecast:default:frames", fields)
    return SIGNER.check_fields(
        "framecast:default:frames", {name.encode(): value for name, value in signed.items()}
    )


def jpeg(size: tuple[int, int] = (64, 36), kind: str = "JPEG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(out, kind)
    return out.getvalue()


def stored(fields: dict[str, bytes]) -> dict[bytes, bytes]:
    """Fields as Redis gives them back."""
    return {name.encode(): value for name, value in fields.items()}


def test_signed_fields_come_back_whole() -> None:
    signed = SIGNER.sign_fields("framecast:control", {"kind": "command", "seq": 3})
    assert SIGNER.check_fields("framecast:control", stored(signed)) == {
        b"kind": b"command",
        b"seq": b"3",
    }


@pytest.mark.parametrize(
    "forge",
    [
        lambda f: {k: v for k, v in f.items() if k != "sig"},
        lambda f: {**f, "value": b"screen"},
        lambda f: {**f, "extra": b"1"},
        lambda f: {k: v for k, v in f.items() if k != "value"},
        lambda f: {**f, "sig": b"0" * 64},
    ],
    ids=["unsigned", "changed", "added", "removed", "wrong signature"],
)
def test_a_changed_entry_is_refused(forge: object) -> None:
    signed = SIGNER.sign_fields("framecast:control", {"kind": "source", "value": "slideshow"})
    with pytest.raises(Unsigned):
        SIGNER.check_fields("framecast:control", stored(forge(signed)))  # type: ignore[operator]


def test_a_signature_holds_for_its_own_key_and_secret_only() -> None:
    signed = stored(SIGNER.sign_fields("framecast:menu:frames", {"jpeg": b"x"}))
    with pytest.raises(Unsigned):
        SIGNER.check_fields("framecast:default:frames", signed)
    with pytest.raises(Unsigned):
        Signer(b"another-secret-of-sixteen").check_fields("framecast:menu:frames", signed)
    sealed = SIGNER.seal("framecast:settings", b'{"a": 1}')
    assert SIGNER.open("framecast:settings", sealed) == b'{"a": 1}'
    for wrong in (b'{"a": 1}', sealed.replace(b"1}", b"2}"), sealed[:-1]):
        with pytest.raises(Unsigned):
            SIGNER.open("framecast:settings", wrong)
    with pytest.raises(Unsigned):
        SIGNER.open("framecast:status", sealed)


def test_a_frame_is_a_jpeg_of_the_size_it_states() -> None:
    frame = wire.parse(frame_fields(jpeg()))
    assert (frame.width, frame.height, frame.seq, frame.standing) == (64, 36, 7, True)
    for fields, says in (
        (frame_fields(b"junk bytes"), "not a JPEG"),
        (frame_fields(jpeg(kind="PNG")), "not a JPEG"),
        (frame_fields(jpeg((64, 36)), width=1920, height=1080), "64×36"),
    ):
        with pytest.raises(ValueError, match=says):
            wire.parse(fields)


CONFIG = """
[server]
token = "the-origins-own-token"
[admin]
token = "the-origins-admin-token"
[slideshow]
folder = "images"
background = "#102030"
[overlay]
caption = "name"
[screen]
region = [0, 0, 100, 100]
[channels.menu]
folder = "menu"
fit = "cover"
rotate = 90
[channels.menu.audio]
source = "mic"
[tvs]
tv1 = "menu"
"""


def test_settings_travel_whole_without_the_origins_tokens(tmp_path: Path) -> None:
    origin = parse_settings(CONFIG, tmp_path)
    data = settings_wire.encode(origin)
    assert b"the-origins" not in data
    server = ServerSettings(port=9000, token="the-edges-own-token")
    edge = settings_wire.decode(data, server)
    assert edge == replace(
        origin,
        server=server,
        admin=Settings().admin,
        channels=tuple(
            (name, replace(channel, server=server, admin=Settings().admin))
            for name, channel in origin.channels
        ),
    )
    assert dict(edge.channels)["menu"].stream.rotate == 90


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda t: t["stream"].update(keepalive=0), "[stream] keepalive = 0 is not allowed"),
        (lambda t: t["stream"].update(width=10**6), "[stream] width = 1000000 is not allowed"),
        (lambda t: t["channels"]["menu"].update(fit="x"), '[channels.menu] fit = "x"'),
        (lambda t: t["stream"].update(transport="mp4"), "unknown key 'transport'"),
        (lambda t: t.update(server={"port": 1}), "not a config's tables"),
    ],
)
def test_settings_from_redis_pass_the_config_checks(
    tmp_path: Path, change: object, says: str
) -> None:
    tables = json.loads(settings_wire.encode(parse_settings(CONFIG, tmp_path)))
    change(tables)  # type: ignore[operator]
    with pytest.raises(ValueError, match="settings") as refused:
        settings_wire.decode(json.dumps(tables).encode(), ServerSettings())
    assert says in str(refused.value)


@pytest.mark.parametrize("data", [b"", b"[]", b"{not json", b'"text"', b'{"stream": 5}'])
def test_unreadable_settings_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="settings"):
        settings_wire.decode(data, ServerSettings())


@pytest.mark.parametrize(
    ("value", "ok"),
    [(None, False), ("", False), ("fifteen-chars!!", False), ("sixteen-chars!!!", True)],
)
def test_the_shared_secret_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str | None, ok: bool
) -> None:
    if value is None:
        monkeypatch.delenv(SECRET_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(SECRET_VARIABLE, value)
    if ok:
        assert secret_from_environment() == value.encode()  # type: ignore[union-attr]
    else:
        with pytest.raises(ValueError, match=r"\$FRAMECAST_RELAY_SECRET"):
            secret_from_environment()
