"""TEST DOUBLE SUPPORT — not a sidecar. Frame I/O shared by the fault doubles in this folder."""
import os
import struct
import sys

import msgpack

OUT = sys.stdout.buffer
IN = sys.stdin.buffer

READY = {"id": 0, "type": "ready", "protocol": 1, "pid": os.getpid(), "model": "test-double", "revision": None,
         "device": "cpu", "dtype": "float32", "attn_implementation": "none", "device_reason": "test double",
         "languages": [], "sampling_rate": 16000, "load_seconds": 0.0,
         "settings": {"chunk_length_s": 30, "batch_size": 1, "return_timestamps": True, "max_new_tokens": 1},
         "versions": {}}


def send_raw(data: bytes) -> None:
    OUT.write(data)
    OUT.flush()


def send(message: dict) -> None:
    payload = msgpack.packb(message, use_bin_type=True)
    send_raw(struct.pack(">I", len(payload)) + payload)


def frames():
    while True:
        head = IN.read(4)
        if len(head) < 4:
            return
        (n,) = struct.unpack(">I", head)
        yield msgpack.unpackb(IN.read(n), raw=False)
