"""A cap on the memory of each page the shared browser draws, so that the few drawings run at
once also bound the memory they take.

A page runs in a renderer process. Chromium reserves far more address space than it uses (V8,
WebAssembly), so a limit on the address space (RLIMIT_AS) would stop it; its own sandbox caps
its renderers' data instead (RLIMIT_DATA: the private writable memory a process maps, at 8 GB
or more), and so does this, lower, with or without the sandbox. The limit is set on the zygote
that forks the renderers, so every renderer started afterwards inherits it, and on the renderers
already running. A page that outgrows it has its allocations refused: a large buffer throws in
the page's script, a script heap that cannot grow ends the renderer, and the page fails alone.

Linux only (it reads /proc and uses prlimit); elsewhere pages run without the cap.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

Processes = dict[int, tuple[int, list[bytes]]]
"""Every process by id: its parent's id and its command line's words. Words, not arguments:
Chromium rewrites its processes' command lines as one string with spaces, and the switches
looked for here hold none."""


def cap_renderers(marker: str, limit: int) -> str | None:
    """Set RLIMIT_DATA to `limit` bytes on the renderer zygotes and the renderers of the browser
    whose command line carries the argument `marker`: None when done, else why it could not be.
    Called once a launch, on a worker thread of the browser's loop (it reads /proc)."""
    if sys.platform != "linux":
        return "only Linux caps them"
    browser = next(
        (
            pid
            for pid, (_, args) in _processes().items()
            if marker.encode() in args and not _kind(args)
        ),
        None,
    )
    if browser is None:
        return "its process was not found"
    zygotes = [
        pid
        for pid, args in _family(browser).items()
        if _kind(args) == b"zygote" and b"--no-zygote-sandbox" not in args
    ]
    if not zygotes:
        return "it has no zygote that starts its renderers"
    try:
        for pid in zygotes:
            _lower(pid, limit)
        for pid, args in _family(browser).items():
            if _kind(args) == b"renderer":
                _lower(pid, limit)
    except PermissionError as error:
        return f"not permitted ({error.strerror})"
    return None


def _lower(pid: int, limit: int) -> None:
    """Lower the process's data limit to `limit` (or its hard limit, if that is lower)."""
    import resource

    try:
        hard = resource.prlimit(pid, resource.RLIMIT_DATA)[1]
        new = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
        resource.prlimit(pid, resource.RLIMIT_DATA, (new, new))
    except ProcessLookupError:
        pass  # it has just ended


def _processes() -> Processes:
    found: Processes = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            args = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").split()
        except (OSError, IndexError, ValueError):
            continue
        found[int(stat.parent.name)] = (parent, args)
    return found


def _family(root: int) -> dict[int, list[bytes]]:
    """The command lines of the processes descended from `root`, by id."""
    processes = _processes()
    children: defaultdict[int, list[int]] = defaultdict(list)
    for pid, (parent, _) in processes.items():
        children[parent].append(pid)
    family: dict[int, list[bytes]] = {}
    waiting = list(children[root])
    while waiting:
        pid = waiting.pop()
        if pid not in family:
            family[pid] = processes[pid][1]
            waiting += children[pid]
    return family


def _kind(args: list[bytes]) -> bytes:
    """A Chromium process's `--type` (b"zygote", b"renderer" …); b"" for the browser itself."""
    return next((arg[7:] for arg in args if arg.startswith(b"--type=")), b"")
