"""The core interfaces the generated protocols import as `.wayland`: pywayland's own classes, so
that a proxy made by one is the same class as in pywayland."""

from pywayland.protocol.wayland import WlBuffer, WlBufferProxy, WlOutput, WlOutputProxy

__all__ = ["WlBuffer", "WlBufferProxy", "WlOutput", "WlOutputProxy"]
