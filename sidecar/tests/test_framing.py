"""The Python codec against the same golden vectors as src/sidecar/frame.test.ts."""
import io
import json
from pathlib import Path

import pytest

import framing

GOLDEN = Path(__file__).resolve().parents[2] / "test" / "golden" / "frames"
VECTORS = json.loads((GOLDEN / "manifest.json").read_text())


def as_json(obj):
    if isinstance(obj, (bytes, bytearray)):
        return {"$bytes": bytes(obj).hex()}
    if isinstance(obj, dict):
        return {k: as_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [as_json(v) for v in obj]
    return obj


def read_all(data: bytes, limit: int) -> list:
    stream = io.BytesIO(data)
    out = []
    while True:
        try:
            message = framing.read_frame(stream, limit)
        except framing.FrameError as exc:
            kind = "too_large" if exc.code == "frame_too_large" else "undecodable"
            out.append({"fault": kind, **({"id": exc.request_id} if exc.request_id is not None else {})})
            continue
        except framing.StreamOutOfSync:
            out.append({"fault": "out_of_sync"})
            return out
        if message is None:
            return out
        out.append({"message": as_json(message)})


@pytest.mark.parametrize("vector", VECTORS, ids=[v["file"] for v in VECTORS])
def test_golden_vector(vector):
    data = (GOLDEN / vector["file"]).read_bytes()
    assert read_all(data, vector["max_frame_bytes"]) == vector["expect"]


def test_encode_round_trip_and_id_first():
    frame = framing.encode_frame({"id": 70000, "type": "pong"})
    assert framing.peek_id(frame[4:]) == 70000
    assert framing.read_frame(io.BytesIO(frame)) == {"id": 70000, "type": "pong"}


def test_encode_refuses_oversize():
    with pytest.raises(framing.FrameError) as err:
        framing.encode_frame({"id": 3, "blob": b"\0" * 4096}, max_bytes=1024)
    assert err.value.code == "frame_too_large" and err.value.request_id == 3


def test_truncated_frame_is_eof():
    frame = framing.encode_frame({"id": 1, "type": "ping"})
    with pytest.raises(EOFError):
        framing.read_frame(io.BytesIO(frame[:-2]))
