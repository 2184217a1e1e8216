"""LABELLED TEST DOUBLE: a sidecar that answers pings but replies to every transcribe request with a
broken frame, chosen by GARBAGE_MODE: `undecodable` (a map whose id is readable and whose tail is
not msgpack), `oversize` (a frame past the server's limit, id first), or `out_of_sync` (a length no
honest peer sends). Used only by test/integration/supervision-faults.test.ts."""
import os
import struct

import msgpack

from _frames import READY, frames, send, send_raw

MODE = os.environ.get("GARBAGE_MODE", "undecodable")
send(READY)
for message in frames():
    rid = message.get("id")
    if message.get("type") == "ping":
        send({"id": rid, "type": "pong"})
    elif message.get("type") == "shutdown":
        send({"id": rid, "type": "bye"})
        break
    elif message.get("type") == "transcribe":
        if MODE == "undecodable":
            payload = b"\x82\xa2id" + msgpack.packb(rid) + b"\xc1\xc1"
            send_raw(struct.pack(">I", len(payload)) + payload)
        elif MODE == "oversize":
            send({"id": rid, "type": "result", "items": [], "seconds": 0, "blob": b"\0" * (2 << 20)})
        else:
            send_raw(b"\xff\xff\xff\xff" + b"\0" * 16)
