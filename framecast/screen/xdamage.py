"""What was drawn on the X screen since the last look, from the X DAMAGE extension.

Grabbing an unchanged 1080p screen only to find it equal to the last grab costs a copy and a
compare of 8 MB per tick. The X server already knows whether, and where, anything was drawn:
a DAMAGE object on the root window reports the bounding box of the drawing as it grows. This
module speaks the four requests it needs over libxcb (which mss loads anyway), so no other
library is needed; any failure only means the caller grabs and compares as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import struct
from ctypes import POINTER, Structure, byref, c_char_p, c_int, c_size_t, c_uint, c_void_p
from typing import Any

REPORT_BOUNDING_BOX = 2
OP_QUERY_VERSION, OP_CREATE, OP_SUBTRACT = 0, 1, 3
REQUEST_CHECKED = 1


class DamageUnavailable(Exception):
    """The display offers no DAMAGE extension (or no libxcb): compare every grab instead."""


class _Extension(Structure):
    _fields_ = [("name", c_char_p), ("global_id", c_int)]


class _ExtensionReply(Structure):
    _fields_ = [
        ("response_type", ctypes.c_uint8),
        ("pad", ctypes.c_uint8),
        ("sequence", ctypes.c_uint16),
        ("length", ctypes.c_uint32),
        ("present", ctypes.c_uint8),
        ("major_opcode", ctypes.c_uint8),
        ("first_event", ctypes.c_uint8),
        ("first_error", ctypes.c_uint8),
    ]


class _Event(Structure):
    """xcb's generic event, laid out as DAMAGE's DamageNotify (the only event asked for)."""

    _fields_ = [
        ("response_type", ctypes.c_uint8),
        ("level", ctypes.c_uint8),
        ("sequence", ctypes.c_uint16),
        ("drawable", ctypes.c_uint32),
        ("damage", ctypes.c_uint32),
        ("timestamp", ctypes.c_uint32),
        ("x", ctypes.c_int16),
        ("y", ctypes.c_int16),
        ("width", ctypes.c_uint16),
        ("height", ctypes.c_uint16),
    ]


Box = tuple[int, int, int, int]
"""left, top, right, bottom in root window pixels (right and bottom excluded)."""
EVERYWHERE: Box = (-(1 << 15), -(1 << 15), 1 << 16, 1 << 16)


class _Screen(Structure):
    _fields_ = [("root", ctypes.c_uint32)]


class _ScreenIterator(Structure):
    _fields_ = [("data", POINTER(_Screen)), ("rem", c_int), ("index", c_int)]


class _IoVec(Structure):
    _fields_ = [("base", c_void_p), ("len", c_size_t)]


class _Request(Structure):
    _fields_ = [
        ("count", c_size_t),
        ("ext", POINTER(_Extension)),
        ("opcode", ctypes.c_uint8),
        ("isvoid", ctypes.c_uint8),
    ]


class _Cookie(Structure):
    _fields_ = [("sequence", c_uint)]


# libxcb keeps a pointer to this for the life of the process, as it does for its own extensions.
_DAMAGE = _Extension(b"DAMAGE", 0)
_lib: tuple[Any, Any] | None = None


def libraries() -> tuple[Any, Any]:
    """libxcb and libc, with the signatures used here; loaded once, when first asked for.
    Raises DamageUnavailable when either does not load."""
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("xcb")
        if name is None:
            raise DamageUnavailable("libxcb is not installed")
        try:
            xcb = ctypes.CDLL(name)
            libc = ctypes.CDLL(None)
        except OSError as error:
            raise DamageUnavailable(f"cannot load libxcb and libc: {error}") from None
        libc.free.argtypes, libc.free.restype = [c_void_p], None
        for function, args, result in (
            ("xcb_connect", [c_char_p, POINTER(c_int)], c_void_p),
            ("xcb_disconnect", [c_void_p], None),
            ("xcb_connection_has_error", [c_void_p], c_int),
            ("xcb_get_setup", [c_void_p], c_void_p),
            ("xcb_setup_roots_iterator", [c_void_p], _ScreenIterator),
            ("xcb_screen_next", [POINTER(_ScreenIterator)], None),
            ("xcb_generate_id", [c_void_p], ctypes.c_uint32),
            ("xcb_get_extension_data", [c_void_p, POINTER(_Extension)], POINTER(_ExtensionReply)),
            ("xcb_send_request", [c_void_p, c_int, POINTER(_IoVec), POINTER(_Request)], c_uint),
            ("xcb_wait_for_reply", [c_void_p, c_uint, POINTER(c_void_p)], c_void_p),
            ("xcb_request_check", [c_void_p, _Cookie], c_void_p),
            ("xcb_poll_for_event", [c_void_p], POINTER(_Event)),
            ("xcb_poll_for_queued_event", [c_void_p], POINTER(_Event)),
            ("xcb_get_file_descriptor", [c_void_p], c_int),
        ):
            getattr(xcb, function).argtypes = args
            getattr(xcb, function).restype = result
        _lib = (xcb, libc)
    return _lib


class DamageWatch:
    """One X connection with a DAMAGE object on the root window of the default screen.

    Created, used and closed by one screen feed's thread only.
    """

    def __init__(self, display: str | None) -> None:
        self._xcb, self._libc = libraries()
        self._queued: Box | None = None
        screen = c_int(0)
        self._conn = self._xcb.xcb_connect(display.encode() if display else None, byref(screen))
        if self._xcb.xcb_connection_has_error(self._conn):
            self.close()
            raise DamageUnavailable(f"cannot connect to the display {display}")
        try:
            self._setup(screen.value)
        except DamageUnavailable:
            self.close()
            raise

    def _setup(self, screen_number: int) -> None:
        reply = self._xcb.xcb_get_extension_data(self._conn, byref(_DAMAGE))
        if not reply or not reply.contents.present:
            raise DamageUnavailable("the X server has no DAMAGE extension")
        self._notify = reply.contents.first_event
        version = self._send(OP_QUERY_VERSION, struct.pack("=II", 1, 1), void=False)
        answer = self._xcb.xcb_wait_for_reply(self._conn, version, None)
        if not answer:
            raise DamageUnavailable("the DAMAGE extension did not answer")
        self._libc.free(answer)
        roots = self._xcb.xcb_setup_roots_iterator(self._xcb.xcb_get_setup(self._conn))
        for _ in range(screen_number):
            self._xcb.xcb_screen_next(byref(roots))
        self._damage = self._xcb.xcb_generate_id(self._conn)
        root = roots.data.contents.root
        body = struct.pack("=IIB3x", self._damage, root, REPORT_BOUNDING_BOX)
        self._check(self._send(OP_CREATE, body, void=True))

    def drawn(self) -> Box | None:
        """The bounding box of what was drawn since the last call that returned one, or None.

        Resets the damage before returning a box, in one round trip, so a grab made after this
        call sees everything drawn before it, and anything drawn later is reported next time.
        A lost connection reads as drawing everywhere: the grab that follows finds out more.
        """
        box, self._queued = self._take(self._xcb.xcb_poll_for_event, self._queued), None
        if self._xcb.xcb_connection_has_error(self._conn):
            return EVERYWHERE
        if box is not None:
            # Repair region and parts region None: the whole damage is cleared.
            self._check(self._send(OP_SUBTRACT, struct.pack("=III", self._damage, 0, 0), True))
        return box

    def fileno(self) -> int:
        """The connection's socket: readable when the X server has news, such as drawing
        (for select; what libxcb already read is told by `queued`)."""
        descriptor: int = self._xcb.xcb_get_file_descriptor(self._conn)
        return descriptor

    def queued(self) -> bool:
        """Whether drawing is known that `drawn` has not returned yet, without reading the
        socket: libxcb may have read its events while waiting for a reply, and the socket then
        stays quiet about them. A lost connection (it has no socket then) is news too."""
        if self._xcb.xcb_connection_has_error(self._conn):
            return True
        self._queued = self._take(self._xcb.xcb_poll_for_queued_event, self._queued)
        return self._queued is not None

    def _take(self, poll: Any, box: Box | None) -> Box | None:
        """`box` grown by every event that `poll` hands out; any other event than DAMAGE's
        means drawing everywhere."""
        while event := poll(self._conn):
            notify = event.contents
            if (notify.response_type & 0x7F) == self._notify:
                area = (
                    notify.x,
                    notify.y,
                    notify.x + notify.width,
                    notify.y + notify.height,
                )
                box = area if box is None else _union(box, area)
            else:
                box = EVERYWHERE
            self._libc.free(event)
        return box

    def close(self) -> None:
        if self._conn:
            self._xcb.xcb_disconnect(self._conn)
            self._conn = None

    def _send(self, opcode: int, fields: bytes, void: bool) -> int:
        """Sends one DAMAGE request and returns its sequence number.

        `fields` follow the 4-byte request header, which libxcb fills in; X takes the client's
        own byte order, hence native packing.
        """
        body = ctypes.create_string_buffer(bytes(4) + fields, 4 + len(fields))
        parts = (_IoVec * 4)()
        parts[2] = _IoVec(ctypes.addressof(body), ctypes.sizeof(body))
        request = _Request(2, ctypes.pointer(_DAMAGE), opcode, int(void))
        vector = ctypes.cast(ctypes.byref(parts, 2 * ctypes.sizeof(_IoVec)), POINTER(_IoVec))
        sequence: int = self._xcb.xcb_send_request(self._conn, REQUEST_CHECKED, vector, request)
        return sequence

    def _check(self, sequence: int) -> None:
        """Waits for a void request to be done; an X error means DAMAGE cannot be used."""
        error = self._xcb.xcb_request_check(self._conn, _Cookie(sequence))
        if error:
            self._libc.free(error)
            raise DamageUnavailable("the X server refused a DAMAGE request")


def _union(a: Box, b: Box) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])
