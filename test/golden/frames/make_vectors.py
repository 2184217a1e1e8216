"""Writes the golden frame vectors read by src/sidecar/frame.test.ts and sidecar/tests/test_framing.py.

Run once when the frame layout changes: sidecar/.venv/bin/python test/golden/frames/make_vectors.py
The .bin files are committed; both codecs must decode them to manifest.json's expectations.
"""
import json
import struct
from pathlib import Path

import msgpack

HERE = Path(__file__).parent


def frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def pack(obj) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def as_json(obj):
    if isinstance(obj, bytes):
        return {"$bytes": obj.hex()}
    if isinstance(obj, dict):
        return {k: as_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [as_json(v) for v in obj]
    return obj


ping = {"id": 7, "type": "ping"}
transcribe = {"id": 300, "type": "transcribe",
              "items": [{"audio": bytes([1, 0, 255, 127]), "language": "en", "task": "transcribe", "prompt": None}],
              "return_timestamps": "word"}
result = {"id": 70000, "type": "result",
          "items": [{"text": " Hi.", "chunks": [{"text": " Hi.", "timestamp": [0.0, 1.5]}], "language": "english"}],
          "seconds": 0.25}
error = {"id": None, "type": "error", "code": "model_load_failed", "message": "no weights"}
oversize = {"id": 42, "type": "transcribe", "items": [{"audio": b"\0" * 150}]}

vectors = [
    ("messages.bin", frame(pack(ping)) + frame(pack(transcribe)) + frame(pack(result)) + frame(pack(error)),
     1 << 20, [{"message": as_json(m)} for m in (ping, transcribe, result, error)]),
    ("undecodable-then-ping.bin", frame(b"\xc1\xc1\xc1") + frame(pack(ping)),
     1 << 20, [{"fault": "undecodable"}, {"message": as_json(ping)}]),
    ("oversize-then-ping.bin", frame(pack(oversize)) + frame(pack(ping)),
     100, [{"fault": "too_large", "id": 42}, {"message": as_json(ping)}]),
    ("out-of-sync.bin", b"\xff\xff\xff\xff" + b"\x00" * 8, 1 << 20, [{"fault": "out_of_sync"}]),
]

manifest = []
for name, data, limit, expect in vectors:
    (HERE / name).write_bytes(data)
    manifest.append({"file": name, "max_frame_bytes": limit, "expect": expect})
(HERE / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
print(f"wrote {len(vectors)} vectors")
