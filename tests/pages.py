"""A web server in the test, serving pages of known colours (and pages that misbehave) for
web slides and the screenshot API."""

from __future__ import annotations

import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from support import GREEN, hex_colour

Colour = tuple[int, int, int]


def page_of(colour: Colour, body: str = "", script: str = "") -> bytes:
    style = f"html,body{{margin:0;height:100%;background:{hex_colour(colour)}}}"
    return (
        f"<!DOCTYPE html><html><head><style>{style}</style></head>"
        f"<body>{body}<script>{script}</script></body></html>"
    ).encode()


class PageServer:
    """Pages on `host`, on a free port. `colour` is what `/colour` shows now; `hits` counts
    the requests for each path."""

    def __init__(self, colour: Colour, host: str = "127.0.0.1", port: int = 0) -> None:
        self.colour = colour
        self.hits: dict[str, int] = {}
        self.slow = False
        """While set, `/slow` never finishes loading; else it is `/colour`."""
        self._released = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.answer(self)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        parts = urllib.parse.urlsplit(request.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        self.hits[parts.path] = self.hits.get(parts.path, 0) + 1
        if parts.path == "/hang" or (parts.path == "/slow" and self.slow):
            self._released.wait(60)
            return
        if parts.path == "/to":
            return self._send(request, 302, b"", {"Location": query["url"]})
        if parts.path == "/loop":
            return self._send(request, 302, b"", {"Location": "/loop"})
        if parts.path in ("/colour", "/slow"):
            return self._send(request, 200, page_of(self.colour))
        if parts.path == "/never-loads":
            # Draws at once, but a picture it asks for never comes: its load event never fires.
            picture = '<img src="/hang?never-loads" style="width:1px;height:1px">'
            return self._send(request, 200, page_of(self.colour, picture))
        if parts.path == "/tall":
            return self._send(request, 200, page_of(self.colour, '<div style="height:50000px">'))
        if parts.path == "/sized":
            box = f'<div style="width:{int(query["w"])}px;height:{int(query["h"])}px"></div>'
            return self._send(request, 200, page_of(self.colour, box))
        if parts.path == "/liar":
            lies = (
                "Math.max = function () { return 'tall'; };"
                "Object.defineProperty(document.documentElement, 'scrollHeight',"
                " {get: function () { return 'high'; }});"
            )
            tall = '<div style="height:3000px"></div>'
            return self._send(request, 200, page_of(self.colour, tall, lies))
        if parts.path == "/hog":
            # Holds ever more script objects, at once or (?later) a moment after it has loaded.
            hog = "var kept = []; while (true) { kept.push(new Array(100000).fill(kept.length)); }"
            if "later" in query:
                hog = f"setTimeout(function () {{ {hog} }}, 200);"
            return self._send(request, 200, page_of(self.colour, script=hog))
        if parts.path == "/buffers":
            # 3 GB of buffers, each filled: green if they were refused, red if all were had.
            fill = (
                "var kept = [], colour = 'red';"
                "try { for (var i = 0; i < 30; i++) {"
                " var buffer = new Uint8Array(100 * 1000 * 1000);"
                " buffer.fill(1); kept.push(buffer); } }"
                f" catch (refused) {{ colour = '{hex_colour(GREEN)}'; kept = []; }}"
                "document.body.style.background = colour;"
            )
            return self._send(request, 200, page_of(self.colour, script=fill))
        if parts.path == "/popup-flood":
            # 200 windows as it runs and 200 more once loaded, each to be counted in /opened.
            flood = "for (var i = 0; i < 200; i++) { window.open('/opened?' + i); }"
            script = f"{flood} window.addEventListener('load', function () {{ {flood} }});"
            return self._send(request, 200, page_of(self.colour, script=script))
        if parts.path == "/opened":
            return self._send(request, 200, page_of(self.colour))
        if parts.path == "/popups":
            opens = "for (var i = 0; i < 100; i++) { window.open('/colour'); alert(i); }"
            return self._send(request, 200, page_of(self.colour, script=opens))
        if parts.path == "/with-image":
            image = f'<img src="{query["src"]}" style="width:10px;height:10px">'
            return self._send(request, 200, page_of(self.colour, image))
        self._send(request, 404, b"not here")

    @staticmethod
    def _send(
        request: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        request.send_response(status)
        request.send_header("Content-Type", "text/html" if status == 200 else "text/plain")
        request.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(body)

    def close(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
