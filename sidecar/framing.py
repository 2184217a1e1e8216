"""Length-prefixed msgpack frames: the byte layer of the sidecar protocol.

Mirror of src/sidecar/frame.ts (see docs/sidecar-protocol.md). A frame is a
4-byte big-endian payload length followed by one msgpack map. This module owns
only bytes <-> dicts; it never interprets a message.

Faults are classified so the stream stays in sync: an oversized frame is
skipped by counting bytes (never buffered) and reported with the request id
when the first bytes reveal it; a payload that does not decode is skipped; a
length no honest peer would send means the stream is out of sync.
"""
from __future__ import annotations

import struct
from typing import BinaryIO, Optional

import msgpack

HEADER = struct.Struct(">I")
DEFAULT_MAX_FRAME_BYTES = 256 * 1024 * 1024
# Past this a length is not an honest oversize frame: the stream is out of sync.
SYNC_LOST_BYTES = 1024 * 1024 * 1024
_PEEK_BYTES = 64
_SKIP_CHUNK = 1024 * 1024


class FrameError(Exception):
    """A frame that could not be turned into a message; the stream is still in sync."""

    def __init__(self, code: str, message: str, request_id: Optional[int] = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


class StreamOutOfSync(Exception):
    """The length prefix cannot be honest: no later byte can be trusted."""


def encode_frame(message: dict, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> bytes:
    """Encode one message; raises FrameError(frame_too_large) past max_bytes."""
    payload = msgpack.packb(message, use_bin_type=True)
    if len(payload) > max_bytes:
        raise FrameError("frame_too_large", f"frame of {len(payload)} bytes exceeds the limit of {max_bytes}",
                         message.get("id"))
    return HEADER.pack(len(payload)) + payload


def peek_id(prefix: bytes) -> Optional[int]:
    """Read the request id from the start of a map whose first key is "id"."""
    try:
        unpacker = msgpack.Unpacker(raw=False)
        unpacker.feed(prefix)
        if unpacker.read_map_header() < 1:
            return None
        if unpacker.unpack() != "id":
            return None
        value = unpacker.unpack()
        return value if isinstance(value, int) else None
    except Exception:  # noqa: BLE001 - a prefix that does not parse has no id
        return None


def _read_exact(stream: BinaryIO, n: int) -> Optional[bytes]:
    chunks = []
    remaining = n
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(stream: BinaryIO, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> Optional[dict]:
    """Read one message; None at a clean end of stream.

    Raises FrameError for a frame that was skipped, StreamOutOfSync when the
    stream cannot be trusted any more, EOFError when it ends inside a frame.
    """
    header = _read_exact(stream, HEADER.size)
    if header is None:
        return None
    (length,) = HEADER.unpack(header)
    if length > SYNC_LOST_BYTES:
        raise StreamOutOfSync(f"frame length {length} is not plausible")
    if length > max_bytes:
        request_id = _skip(stream, length)
        raise FrameError("frame_too_large", f"frame of {length} bytes exceeds the limit of {max_bytes}",
                         request_id)
    payload = _read_exact(stream, length)
    if payload is None:
        raise EOFError("stream ended inside a frame")
    try:
        message = msgpack.unpackb(payload, raw=False)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is the same fault
        raise FrameError("bad_frame", f"frame payload does not decode: {exc}", peek_id(payload[:_PEEK_BYTES]))
    if not isinstance(message, dict):
        raise FrameError("bad_frame", "frame payload is not a map")
    return message


def _skip(stream: BinaryIO, length: int) -> Optional[int]:
    """Discard length bytes without buffering them; return the id if the prefix shows one."""
    prefix = _read_exact(stream, min(_PEEK_BYTES, length))
    if prefix is None:
        raise EOFError("stream ended inside a frame")
    remaining = length - len(prefix)
    while remaining:
        chunk = stream.read(min(_SKIP_CHUNK, remaining))
        if not chunk:
            raise EOFError("stream ended inside a frame")
        remaining -= len(chunk)
    return peek_id(prefix)
