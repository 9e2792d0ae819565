"""The words every layer shares for steering a show: the name of what it shows, and what it
can be told.

They live in the foundations so that an edge, which only relays another machine's shows, checks
an admin's request without loading any of the code that makes frames.
"""

from __future__ import annotations

from typing import Literal, get_args

SourceName = Literal["slideshow", "screen", "url"]
"""What a channel shows: its folder of slides, this machine's live screen, or a camera or network
stream (`[stream] url`)."""
SOURCES: tuple[SourceName, ...] = get_args(SourceName)

Command = Literal["next", "previous", "pause", "resume"]
"""What a channel's slideshow can be told from the control API or the admin page."""
COMMANDS: tuple[Command, ...] = get_args(Command)


def source_name(value: object) -> SourceName:
    """`value` as the name of a source; ValueError saying which names there are otherwise."""
    for name in SOURCES:
        if value == name:
            return name
    raise ValueError(f"unknown source {value!r}: " + " or ".join(SOURCES))


class Unreachable(Exception):
    """The show a command is for cannot be reached now (an edge whose Redis does not answer);
    the message says why, for a person."""
