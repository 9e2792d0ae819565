"""A real RTSP server on 127.0.0.1 for the tests: GStreamer's gst-rtsp-server (Debian's
gir1.2-gst-rtsp-server-1.0, run by the system's python3 with python3-gi), serving a solid colour
as Motion JPEG over RTP at /live. FFmpeg has no RTSP server a client can pull from (its RTSP
"listen" mode only receives a stream pushed to it), so the tests use GStreamer's.

    python3 tests/rtsp_server.py PORT RRGGBB   (prints "ready" once it listens)
"""

from __future__ import annotations

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    port, colour = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( videotestsrc is-live=true pattern=solid-color foreground-color=0xff{colour} "
        "! video/x-raw,format=I420,width=160,height=90,framerate=10/1 ! jpegenc "
        "! rtpjpegpay name=pay0 pt=26 )"
    )
    factory.set_shared(True)
    server.get_mount_points().add_factory("/live", factory)
    server.attach(None)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
