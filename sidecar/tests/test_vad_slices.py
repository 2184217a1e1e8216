"""A `vad`-mode file in slices (plan, one batch of windows per request, join: vad_slices.py) gives
exactly what the whole vad-mode call gives (files.transcribe_file): text, chunk timestamps and
language, through the message layer (the frames the server sends, blobs round-tripped), on the real
embedded model and real recordings; with the engine (segment timestamps, batches of 4) and with the
pipeline (word timestamps, one window per slice)."""
import numpy as np
import pytest

import files
import model
import protocol
import vad_slices
from device import choose_device
from recordings import MODEL, RATE, pcm16, read
from vad import Vad


@pytest.fixture(scope="module")
def loaded():
    return model.load(str(MODEL), choose_device("cpu"), model.PipelineSettings(batch_size=1))


@pytest.fixture(scope="module")
def vad():
    return Vad()


def received(pcm: bytes) -> np.ndarray:
    """s16le bytes as the sidecar reads them (protocol._item)."""
    return np.frombuffer(pcm, "<i2").astype(np.float32) / 32768.0


def whole_call(loaded, vad, pcm: bytes, timestamps) -> dict:
    """The file as one vad-mode request."""
    return files.transcribe_file(loaded, vad, model.TranscribeItem(received(pcm)), timestamps, "vad")


def in_slices(loaded, vad, pcm: bytes, timestamps, language=None) -> tuple[dict, list[dict], int]:
    """What the server does (src/files/job.ts): file_vad_plan, a file_vad_slice per batch, file_join,
    each with its part of the same s16le bytes."""
    total = len(pcm) // 2
    options = {"language": language} if language else {}
    points: list[int] = []
    plan = vad_slices.plan(loaded, vad, protocol.parse_file_vad_plan(
        {"id": 1, "type": "file_vad_plan", "items": [{"audio": pcm, **options}], "return_timestamps": timestamps}),
        checkpoint=lambda: points.append(1))
    windows, batch = plan["windows"], plan["batch_size"]
    blobs, replies = [], []
    for first in range(0, len(windows), batch):
        picked = windows[first:first + batch]
        message = {"id": 2, "type": "file_vad_slice", "return_timestamps": timestamps, "total": total,
                   "first": first == 0, "offsets": [s for s, _ in picked], "speech": plan["speech"][first:first + batch],
                   "items": [{"audio": pcm[s * 2:e * 2], **options} for s, e in picked],
                   "regions": [[[rs - s, re - s] for rs, re in plan["regions"] if re > s and rs < e] for s, e in picked]}
        out = vad_slices.decode_slice(loaded, protocol.parse_file_vad_slice(message))
        assert len(out["texts"]) == len(picked)
        blobs.append(out["outputs"])
        replies.append(out)
    join = protocol.parse_file_join({"id": 3, "type": "file_join", "mode": "vad", "outputs": blobs,
                                     "return_timestamps": timestamps, "language": language})
    return vad_slices.join(loaded, join), replies, len(points)


def test_a_vad_file_in_slices_equals_the_whole_call_with_the_engine(loaded, vad):
    pcm = pcm16(read("longform-en.wav"))
    whole = whole_call(loaded, vad, pcm, True)
    sliced, replies, points = in_slices(loaded, vad, pcm, True)
    assert sliced == whole
    assert whole["language"] == "en" and len(whole["chunks"]) > 5
    assert points >= 30  # the plan let windows in every 64 frames (~2 s) of a 64 s file
    assert 60 < replies[-1]["done_s"] <= len(pcm) / 2 / RATE  # the last window's end


def test_a_vad_file_in_slices_equals_the_whole_call_with_word_timestamps(loaded, vad):
    """Two windows: one slice each (the pipeline path, batch 1 on a CPU)."""
    pcm = pcm16(read("longform-en.wav", 40.0))
    whole = whole_call(loaded, vad, pcm, "word")
    sliced, replies, _ = in_slices(loaded, vad, pcm, "word")
    assert len(replies) >= 2
    assert sliced == whole
    assert len(whole["chunks"]) > 40 and whole["chunks"][0]["timestamp"][0] is not None  # words


@pytest.mark.parametrize("name", ["silence-60s.wav", "tones-20s.wav"])
def test_a_file_without_speech_has_no_slices_and_joins_to_what_the_whole_call_gives(loaded, vad, name):
    pcm = pcm16(read(name))
    sliced, replies, _ = in_slices(loaded, vad, pcm, True)
    assert replies == []
    assert sliced == whole_call(loaded, vad, pcm, True)
    assert sliced["text"] == "" and sliced["chunks"] == []


def test_when_every_window_is_dropped_the_language_is_detected_on_the_first_window(loaded):
    """As transcribe_file does; the first slice detects it (only then), the join uses it."""
    speech = read("fleurs-de-000.wav", 8.0)
    message = {"id": 4, "type": "file_vad_slice", "return_timestamps": True, "total": len(speech), "first": True,
               "offsets": [0], "speech": [0.1],  # below the guard's mean probability: dropped
               "items": [{"audio": pcm16(speech)}], "regions": [[[0, len(speech)]]]}
    out = vad_slices.decode_slice(loaded, protocol.parse_file_vad_slice(message))
    assert out["texts"] == [""]
    joined = vad_slices.join(loaded, protocol.parse_file_join(
        {"id": 5, "type": "file_join", "mode": "vad", "outputs": [out["outputs"]], "return_timestamps": True}))
    assert joined == {"text": "", "chunks": [], "language": model.detect_language(loaded, received(pcm16(speech)))}
    assert joined["language"] == "de"


@pytest.mark.parametrize("fields", [
    {"offsets": [0, 1]},
    {"speech": [1.5]},
    {"regions": [[[0]]]},
    {"offsets": [-1]},
])
def test_bad_vad_slices_are_bad_requests_by_id(fields):
    message = {"id": 9, "type": "file_vad_slice", "return_timestamps": True, "total": 100, "first": True,
               "offsets": [0], "speech": [0.9], "items": [{"audio": b"\x00\x00" * 100}], "regions": [[[0, 100]]], **fields}
    with pytest.raises(protocol.ProtocolError) as err:
        protocol.parse_file_vad_slice(message)
    assert err.value.request_id == 9 and err.value.code == "bad_request"


def test_a_pipeline_join_still_needs_outputs_and_modes_are_checked():
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_file_join({"id": 1, "type": "file_join", "outputs": [], "return_timestamps": True})
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_file_join({"id": 1, "type": "file_join", "mode": "chunked", "outputs": [b"x"]})
    assert protocol.parse_file_join({"id": 1, "type": "file_join", "mode": "vad", "outputs": []}).mode == "vad"

