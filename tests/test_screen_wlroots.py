"""`[screen] backend = "wlroots"`: wlr-screencopy with damage, against a real headless sway run
by an unprivileged user; and the protocol's Python, which is what pywayland's scanner makes of
the XML shipped beside it."""

from __future__ import annotations

from pathlib import Path

from framecast.screen import protocols


def test_the_protocol_python_is_what_the_scanner_makes_of_the_xml(tmp_path: Path) -> None:
    written = protocols.generate(tmp_path)
    assert [path.name for path in written] == ["wlr_screencopy_unstable_v1.py"]
    for path in written:
        assert path.read_bytes() == (protocols.HERE / path.name).read_bytes(), (
            f"{path.name} is not what the scanner makes: run framecast.screen.protocols.generate()"
        )
    assert b"Copyright \xc2\xa9 2018 Simon Ser" in written[0].read_bytes()
