"""`/status` as one typed value: the JSON is made in one place, and an edge reads back what its
origin published."""

from __future__ import annotations

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
