"""Stream windows inside file jobs (preempt.py), on the real embedded model and real recordings: a
window that arrives while a file job runs is answered before the job ends, with what it gives alone,
and the file's result is byte for byte what it is without the window (pipeline-mode slices, with
segment and word timestamps, vad-mode files, and a vad-mode file's plan)."""
import threading
import time

import numpy as np
import pytest

import files
import model
import protocol
import slices
import vad_slices
from device import choose_device
from preempt import ModelQueue, Preemption
from service import Service
from vad import Vad
from recordings import MODEL, RATE, pcm16, read


@pytest.fixture(scope="module")
def loaded():
    return model.load(str(MODEL), choose_device("cpu"), model.PipelineSettings(batch_size=1))


def slice_message(loaded, audio: np.ndarray, rid: int, timestamps=True) -> dict:
    """The first file_slice of a pipeline-mode file (one 30 s chunk), as the server sends it."""
    c = slices.chunking(loaded.pipe, 30.0, 1)
    first = slices.chunk_bounds(len(audio), c)[0]
    return {"id": rid, "type": "file_slice", "items": [{"audio": pcm16(audio[first.start:first.end])}],
            "offset": 0, "total": len(audio), "first": 0, "count": 1, "return_timestamps": timestamps}


def window(rid: int) -> dict:
    return {"id": rid, "type": "transcribe", "return_timestamps": True,
            "items": [{"audio": pcm16(read("jfk.wav", 6.0)), "language": "en", "max_new_tokens": 40}]}


def test_the_model_queue_puts_windows_first_and_lets_only_admitted_ones_into_a_file_job():
    q: ModelQueue = ModelQueue()
    q.put("file-1", stream=False)
    q.put("win-1", stream=True)
    q.put("win-2", stream=True)
    assert q.take_stream(lambda r: r != "win-1") is None  # the oldest window is not admitted: none is
    assert q.take_stream(lambda r: True) == "win-1"
    assert q.get() == "win-2" and q.get() == "file-1"
    q.put("file-2", stream=False)
    q.close()
    assert q.get() == "file-2" and q.get() is None
    assert q.take_stream(lambda r: True) is None


def test_a_preempted_slice_gives_exactly_the_slice_alone(loaded):
    audio = read("longform-en.wav")
    c = slices.chunking(loaded.pipe, 30.0, 1)
    req = protocol.parse_file_slice(slice_message(loaded, audio, 1))
    alone = slices.decode_slice(loaded, c, req)
    win = protocol.parse_transcribe(window(2))
    expected, _ = model.transcribe(loaded, win.items, True)
    waiting = [win, win]
    served = []
    preemption = Preemption(loaded.pipe.model, lambda: waiting.pop() if waiting else None,
                            lambda r: served.append(model.transcribe(loaded, r.items, True)[0]))
    with preemption:
        preempted = slices.decode_slice(loaded, c, req)
    assert preemption.served == 2 and served == [expected, expected]
    assert preempted == alone
    assert "fellow americans ask not" in expected[0]["text"].lower()


def test_a_preempted_vad_file_gives_exactly_the_file_alone(loaded):
    item = model.TranscribeItem(np.concatenate([read("ls-6930-75918-0000.wav"), np.zeros(RATE, np.float32),
                                                read("ls-7902-96591-0000.wav")]), "en")
    vad = Vad()
    alone = files.transcribe_file(loaded, vad, item, True, "vad")
    win = protocol.parse_transcribe(window(3))
    waiting = [win]
    preemption = Preemption(loaded.pipe.model, lambda: waiting.pop() if waiting else None,
                            lambda r: model.transcribe(loaded, r.items, True))
    with preemption:
        preempted = files.transcribe_file(loaded, vad, item, True, "vad")
    assert preemption.served == 1 and preempted == alone


class Frames:
    """The service's writer: every frame it sends, in order; `done` once a `last` frame is sent."""

    def __init__(self, last: str = "slice_result") -> None:
        self.sent: list[dict] = []
        self.done = threading.Event()
        self._last = last

    def send(self, message: dict) -> None:
        self.sent.append(message)
        if message.get("type") == self._last:
            self.done.set()


@pytest.mark.parametrize("timestamps", [True, "word"])
def test_the_service_answers_a_window_sent_during_a_file_slice_before_the_slice(loaded, timestamps):
    """Word timestamps too: the slice runs on eager attention, the window inside it on sdpa (as
    alone), and the model is on sdpa again after both."""
    frames = Frames()
    service = Service(loaded, frames, Vad(), exit_process=lambda code: None)
    audio = read("longform-en.wav", 30.0)
    expected, _ = model.transcribe(loaded, protocol.parse_transcribe(window(0)).items, True)
    service.handle(slice_message(loaded, audio, 10, timestamps))
    deadline = time.monotonic() + 30
    while service._work.pending() and time.monotonic() < deadline:  # the worker has taken the slice
        time.sleep(0.01)
    service.handle(window(11))
    assert frames.done.wait(120)
    kinds = [(f["id"], f["type"]) for f in frames.sent]
    assert kinds == [(11, "result"), (10, "slice_result")]
    assert frames.sent[0]["items"] == expected
    assert service.handle({"id": 13, "type": "shutdown"}) is False
    assert loaded.pipe.model.config._attn_implementation == "sdpa"
    c = slices.chunking(loaded.pipe, 30.0, 1)
    with model.kept_attention(loaded.pipe.model):
        alone = slices.decode_slice(loaded, c, protocol.parse_file_slice(slice_message(loaded, audio, 12, timestamps)))
    assert frames.sent[1]["outputs"] == alone["outputs"] and frames.sent[1]["texts"] == alone["texts"]


def test_the_service_answers_a_window_sent_during_a_vad_file_plan_before_the_plan(loaded):
    """The plan runs silero, not Whisper: its own preemption points between frames (vad.py)."""
    frames = Frames("vad_plan")
    service = Service(loaded, frames, Vad(), exit_process=lambda code: None, file_vad=Vad())
    audio = np.concatenate([read("longform-en.wav")] * 3)  # 193 s: ~2 s of silero on a CPU
    plan = {"id": 20, "type": "file_vad_plan", "items": [{"audio": pcm16(audio)}], "return_timestamps": True}
    service.handle(plan)
    deadline = time.monotonic() + 30
    while service._work.pending() and time.monotonic() < deadline:
        time.sleep(0.01)
    service.handle(window(21))
    assert frames.done.wait(120)
    assert [(f["id"], f["type"]) for f in frames.sent] == [(21, "result"), (20, "vad_plan")]
    assert service.handle({"id": 22, "type": "shutdown"}) is False
    alone = vad_slices.plan(loaded, Vad(), protocol.parse_file_vad_plan(plan))
    assert {k: v for k, v in frames.sent[1].items() if k not in ("id", "type")} == alone
    assert len(alone["windows"]) >= 6
