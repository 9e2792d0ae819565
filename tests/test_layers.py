"""The package's folders are layers: a folder imports only folders of its own layer or below,
and the folder graph has no cycle (read from the source with `ast`, as `test_package.py` reads
the package)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "framecast"
LAYERS: list[set[str]] = [
    {""},  # foundations: settings and checks, config watch, hubs, workers, log text, net info
    {"render", "browser", "audio"},
    {"slideshow", "screen", "screen/protocols", "live", "manage"},
    {"shows"},
    {"web"},
    {"relay"},
    {"service"},
]
"""Bottom up, as in the README's module map; "" is the package's root."""
RANK = {folder: rank for rank, layer in enumerate(LAYERS) for folder in layer}
Edges = dict[tuple[str, str], str]


def folder_of(package: Path, module: list[str]) -> str:
    """The folder of a module given as its parts below the package: ["web", "app"] → "web"."""
    if (package.joinpath(*module) / "__init__.py").is_file():
        return "/".join(module)
    return "/".join(module[:-1])


def imports(package: Path, path: Path) -> Iterator[tuple[list[str], int]]:
    """Every module of `package` that `path` imports, as parts below the package, with the line
    it does so on."""
    here = list(path.relative_to(package).parent.parts)
    name = package.name
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = [name, *here][: len(here) + 2 - node.level] if node.level else []
            module = [*base, *(node.module.split(".") if node.module else [])]
            found = [[*module, alias.name] for alias in node.names]
        else:
            continue
        for parts in found:
            if parts[0] != name:
                continue
            inner = parts[1:]
            dotted = package.joinpath(*inner)
            if not (dotted.with_suffix(".py").is_file() or dotted.is_dir()):
                inner = inner[:-1]  # a name from a module, not a module
            yield inner, node.lineno


def folder_edges(package: Path) -> Edges:
    """(importing folder, imported folder) → one place that makes that edge."""
    edges: Edges = {}
    for path in sorted(package.rglob("*.py")):
        source = "/".join(path.relative_to(package).parent.parts)
        for module, line in imports(package, path):
            target = folder_of(package, module)
            if target != source:
                edges.setdefault((source, target), f"{path.relative_to(package.parent)}:{line}")
    return edges


def upward(edges: Edges, rank: dict[str, int]) -> list[str]:
    return [
        f"{where}: {source or 'the root'} imports {target or 'the root'}"
        for (source, target), where in sorted(edges.items())
        if rank[target] > rank[source]
    ]


def cycles(edges: Edges) -> list[list[str]]:
    """Each cycle found by a depth-first walk of the folder graph."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(folder: str, path: list[str]) -> None:
        if folder in path:
            found.append([*path[path.index(folder) :], folder])
            return
        if folder in done:
            return
        for target in sorted(graph.get(folder, ())):
            visit(target, [*path, folder])
        done.add(folder)

    for folder in sorted(graph):
        visit(folder, [])
    return found


def test_every_folder_of_the_package_has_a_layer() -> None:
    folders = {"/".join(p.parent.relative_to(PACKAGE).parts) for p in PACKAGE.rglob("__init__.py")}
    assert folders - set(RANK) == set(), "place each new folder in LAYERS and the README's map"


def test_no_folder_imports_a_folder_above_it() -> None:
    assert upward(folder_edges(PACKAGE), RANK) == []


def test_the_folder_graph_has_no_cycle() -> None:
    assert cycles(folder_edges(PACKAGE)) == []


def test_the_checks_find_an_upward_import_and_a_cycle(tmp_path: Path) -> None:
    package = tmp_path / "framecast"
    files = {
        "__init__.py": "",
        "hub.py": "",
        "render/__init__.py": "",
        "render/kinds.py": "from ..web.app import create_app\nfrom ..hub import Frame\n",
        "web/__init__.py": "",
        "web/app.py": "from framecast.render import kinds\n",
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    edges = folder_edges(package)
    assert set(edges) == {("render", "web"), ("render", ""), ("web", "render")}
    assert upward(edges, {"": 0, "render": 1, "web": 2}) == [
        "framecast/render/kinds.py:1: render imports web"
    ]
    assert cycles(edges) == [["render", "web", "render"]]


def test_an_edge_loads_none_of_the_code_that_makes_frames() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, framecast.relay.edge; print(' '.join(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "framecast.relay.edge" in loaded
    assert [m for m in loaded if m.startswith(("framecast.shows", "framecast.screen"))] == []
    assert "framecast.slideshow.renderer" not in loaded
