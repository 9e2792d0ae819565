"""`/status` as one typed value: the JSON is made in one place, and an edge reads back what its
origin published."""

from __future__ import annotations

import json

import pytest

from framecast.relay.origin import read_heartbeat
from framecast.status import ServerStatus


def test_the_default_channel_is_at_the_top_and_every_channel_under_channels() -> None:
    status = ServerStatus(
        channels={"default": {"slide": "a.jpg", "slides": 2}, "menu": {"slide": None}},
        uptime_s=12.34567,
        instance="abc",
        config_error="[stream] fps: bad",
        parts={"web": {"renders": 3}},
    )
    body = status.as_json()
    assert body["slide"] == "a.jpg"
    assert body["slides"] == 2
    assert body["uptime_s"] == 12.346
    assert body["instance"] == "abc"
    assert body["config_error"] == "[stream] fps: bad"
    assert body["web"] == {"renders": 3}
    assert body["channels"] == {"default": {"slide": "a.jpg", "slides": 2}, "menu": {"slide": None}}
    body["channels"]["menu"]["clients"] = 1
    assert "clients" not in status.channels["menu"], "the web layer's additions stay its own"


def test_an_edge_reads_back_what_its_origin_published() -> None:
    published = ServerStatus({"default": {"slide": "b.png"}}, 3.0, "origin-1", None, {"web": {}})
    told = ServerStatus.from_json(published.as_json())
    assert told == published
    assert ServerStatus.from_json({}) == ServerStatus({}, 0.0, "")


def test_junk_read_back_leaves_out_what_is_of_the_wrong_shape() -> None:
    assert ServerStatus.from_json(["not", "an", "object"]) == ServerStatus({}, 0.0, "")
    told = ServerStatus.from_json(
        {
            "channels": {"default": ["junk"], "menu": {"slide": "a.jpg"}},
            "uptime_s": "soon",
            "instance": 7,
            "config_error": {"no": "text"},
        }
    )
    assert told == ServerStatus({"menu": {"slide": "a.jpg"}}, 0.0, "7")
    assert told.as_json()["channels"] == {"menu": {"slide": "a.jpg"}}


def test_an_edge_heartbeat_of_the_wrong_shape_is_refused() -> None:
    assert read_heartbeat(b'{"id": "edge-1", "viewers": 3}') == {"id": "edge-1", "viewers": 3}
    for junk in (b"[1, 2]", b'"edge"'):
        with pytest.raises(ValueError, match="a heartbeat is a JSON object"):
            read_heartbeat(junk)
    with pytest.raises(json.JSONDecodeError):
        read_heartbeat(b"{not json")
