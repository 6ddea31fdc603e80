"""RFC 6455 section 5.1 at the front door: every frame a client sends must be masked.

"The server MUST close the connection upon receiving a frame that is not masked" (section 5.1;
the close code is 1002, protocol error, section 7.4.1). aiohttp's reader unmasks a masked frame
and accepts an unmasked one, so the door follows the client's byte stream itself, before aiohttp
sees it, and reads only the frame headers (section 5.2): the mask bit and the payload length, to
skip to the next header. Nothing here buffers a payload.

Where the frames start: aiohttp parses HTTP/1.1 requests (CRLF only; a bare LF is a 400) and,
after a request head that upgrades, hands every later byte to its WebSocket reader, never to the
HTTP parser again. :class:`MaskCheck` splits the stream at each ``CRLF CRLF`` and takes the
first head that mentions ``upgrade`` at all as the switch. That is looser than aiohttp (which
also wants ``Connection: upgrade`` and a WebSocket key), never stricter: a head aiohttp upgrades
on always mentions it, and contains no ``CRLF CRLF`` of its own, so both switch at the same byte.
Switching early only makes the door read later request bytes as frames, and close the connection.
No route of the daemon takes a request body, so a head (or a body taken for one) over
:data:`MAX_HEAD_BYTES` closes the connection too.
"""

from __future__ import annotations

# Far above anything our client sends (~300 bytes) and than aiohttp's line limit (8190).
MAX_HEAD_BYTES = 64 * 1024
# A close frame (server frames are unmasked) with status 1002, protocol error.
CLOSE_PROTOCOL_ERROR = b"\x88\x02\x03\xea"


class MaskCheck:
    """Feed it every byte a client sends, in order; it says when to close the connection."""

    __slots__ = ("_frames", "_head", "_header", "_skip")

    def __init__(self) -> None:
        self._frames = False  # past the upgrade: reading WebSocket frames
        self._head = b""  # HTTP bytes since the last CRLF CRLF
        self._header = b""  # a frame header not yet complete
        self._skip = 0  # payload bytes of the current frame still to come

    @property
    def frames(self) -> bool:
        """Past the upgrade: the connection carries WebSocket frames."""
        return self._frames

    def feed(self, data: bytes) -> str | None:
        """None while the stream is sound; else why the connection must close."""
        if not self._frames:
            self._head += data
            while True:
                end = self._head.find(b"\r\n\r\n")
                if end < 0:
                    if len(self._head) > MAX_HEAD_BYTES:
                        return "an oversized request head"
                    return None
                head, self._head = self._head[:end], self._head[end + 4 :]
                if b"upgrade" in head.lower():
                    data, self._head, self._frames = self._head, b"", True
                    break
        return self._frames_feed(data)

    def _frames_feed(self, data: bytes) -> str | None:
        pos, n = 0, len(data)
        while pos < n:
            if self._skip:
                step = min(self._skip, n - pos)
                self._skip -= step
                pos += step
                continue
            # Collect a header: 2 bytes, then 0, 2 or 8 of extended length, then a 4-byte mask.
            need = 2 - len(self._header)
            if need > 0:
                self._header += data[pos : pos + need]
                pos += min(need, n - pos)
                if len(self._header) < 2:
                    return None
            second = self._header[1]
            if not second & 0x80:
                return "an unmasked frame"
            short = second & 0x7F
            extended = 2 if short == 126 else 8 if short == 127 else 0
            size = 2 + extended + 4
            need = size - len(self._header)
            if need > 0:
                self._header += data[pos : pos + need]
                pos += min(need, n - pos)
                if len(self._header) < size:
                    return None
            length = int.from_bytes(self._header[2 : 2 + extended], "big") if extended else short
            self._header, self._skip = b"", length
        return None
