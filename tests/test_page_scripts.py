"""Every script a page ships parses as ES5: a TV browser from 2016 shows a black screen for one
modern keyword. Parsed by pyjsparser, an ES5 parser that also takes `let` and `const`, which
the check refuses from the syntax tree."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from pyjsparser import PyJsParser
from pyjsparser.pyjsparserdata import JsSyntaxError

SCRIPTS = sorted(Path(str(resources.files("framecast.web").joinpath("templates"))).glob("*.js"))


def es5(source: str) -> None:
    """Raises JsSyntaxError for anything newer than ES5."""
    tree = PyJsParser().parse(source)
    for node in nodes(tree):
        if node.get("type") == "VariableDeclaration" and node.get("kind") != "var":
            raise JsSyntaxError(f"{node['kind']} is not ES5")


def nodes(tree: Any) -> Iterator[dict[str, Any]]:
    if isinstance(tree, dict):
        yield tree
        for value in tree.values():
            yield from nodes(value)
    elif isinstance(tree, list):
        for item in tree:
            yield from nodes(item)


@pytest.mark.parametrize(
    "newer",
    [
        "var f = () => 1;",
        "let x = 1;",
        "const x = 1;",
        "var s = `x`;",
        "class A {}",
        "var {a} = b;",
    ],
)
def test_the_check_refuses_what_is_newer_than_es5(newer: str) -> None:
    with pytest.raises(JsSyntaxError):
        es5(newer)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_every_page_script_is_es5(script: Path) -> None:
    es5(script.read_text())


def test_the_player_and_the_admin_page_are_both_checked() -> None:
    assert {path.name for path in SCRIPTS} == {"admin.js", "player.js"}
