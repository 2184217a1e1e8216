"""A `sequential`-mode file in slices (plan, a few windows of Whisper's own seek loop per request,
join: seq_slices.py) gives exactly what the whole sequential call gives (files.transcribe_file):
text, chunk timestamps and language, through the message layer (the frames the server sends, blobs
round-tripped), on the real embedded model and real recordings."""
import numpy as np
import pytest

import files
import model
import protocol
import seq_slices
from device import choose_device
from recordings import MODEL, RATE, pcm16, read


@pytest.fixture(scope="module")
def loaded():
    return model.load(str(MODEL), choose_device("cpu"), model.PipelineSettings(batch_size=4))


@pytest.fixture(autouse=True)
def two_windows(monkeypatch):
    """Two windows per slice: a 101 s file is then two slices."""
    monkeypatch.setenv("FILE_SEQ_WINDOWS", "2")


def received(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, "<i2").astype(np.float32) / 32768.0


def long_file() -> bytes:
    """~101 s: the long-form recording, then FLEURS and LibriSpeech ones."""
    return pcm16(np.concatenate([read("longform-en.wav"), read("fleurs-en-000.wav"), read("ls-6930-75918-0000.wav"),
                                 read("fleurs-en-001.wav"), read("ls-7902-96591-0000.wav"), read("fleurs-en-002.wav")]))


def whole_call(loaded, pcm: bytes, timestamps, **options) -> dict:
    item = model.TranscribeItem(received(pcm), options.get("language"), None, options.get("prompt"))
    return files.transcribe_file(loaded, None, item, timestamps, "sequential")


def in_slices(loaded, pcm: bytes, timestamps, **options) -> tuple[dict, list[dict]]:
    """What the server does (src/files/job.ts): file_seq_plan, file_seq_slice until next_seek is
    null, file_join; each slice with the samples slice_span names, as s16le bytes."""
    total = len(pcm) // 2
    plan = seq_slices.plan(loaded, protocol.parse_file_seq_plan(
        {"id": 1, "type": "file_seq_plan", "items": [{"audio": pcm, **options}]}))
    assert plan["windows"] == 2
    seek, replies, language = 0, [], options.get("language")
    while seek is not None:
        start, stop = seq_slices.slice_span(seek, plan["frames"], total, plan["windows"])
        message = {"id": 2, "type": "file_seq_slice", "return_timestamps": timestamps, "total": total,
                   "first": seek == 0, "seek": seek, "frames": plan["frames"], "floor": plan["floor"],
                   "offset": start, "items": [{"audio": pcm[start * 2:stop * 2], **{**options, "language": language}}]}
        out = seq_slices.decode_slice(loaded, protocol.parse_file_seq_slice(message))
        language = language or out["language"]
        replies.append(out)
        assert out["next_seek"] is None or out["next_seek"] > seek
        seek = out["next_seek"]
    join = protocol.parse_file_join({"id": 3, "type": "file_join", "mode": "sequential", "return_timestamps": timestamps,
                                     "outputs": [r["outputs"] for r in replies], "language": language})
    return seq_slices.join(loaded, join), replies


def test_this_machine_computes_a_slices_features_exactly(loaded):
    assert seq_slices.self_check(loaded.pipe)


def test_a_slices_features_are_the_whole_files_frames(loaded):
    audio = received(long_file())
    whole = seq_slices._whole_features(loaded.pipe, audio)
    frames = whole.shape[-1]
    for seek in (0, 1, 2999, 4321):
        end = seq_slices.slice_end(seek, frames, 2)
        start, stop = seq_slices.slice_span(seek, frames, len(audio), 2)
        part = seq_slices._span_features(loaded.pipe, audio[start:stop], start, seek, end, float(whole.min()))
        assert np.array_equal(part, whole[:, seek:end])


# Segment timestamps without a prompt, through the HTTP API against the direct pipeline call:
# test/integration/files-parity.test.ts (mode=sequential); here the harder case, words and a prompt.
def test_a_sequential_file_in_slices_equals_the_whole_call_with_word_timestamps_and_a_prompt(loaded):
    pcm = long_file()
    options = {"language": "en", "prompt": "Ask not what your country can do for you."}
    whole = whole_call(loaded, pcm, "word", **options)
    sliced, replies = in_slices(loaded, pcm, "word", **options)
    assert len(replies) >= 2
    assert sliced == whole
    assert len(whole["chunks"]) > 100 and whole["chunks"][-1]["timestamp"][1] > 90
    assert replies[-1]["done_s"] == pytest.approx(len(pcm) / 2 / RATE, abs=0.01)
    assert " ".join(t for r in replies for t in r["texts"]).split() == whole["text"].split()


@pytest.mark.parametrize("fields", [{"floor": "x"}, {"floor": float("nan")}, {"seek": -1}, {"frames": 0}])
def test_bad_sequential_slices_are_bad_requests_by_id(fields):
    message = {"id": 9, "type": "file_seq_slice", "return_timestamps": True, "total": 100, "first": True,
               "seek": 0, "frames": 10, "floor": -0.5, "offset": 0, "items": [{"audio": b"\x00\x00" * 100}], **fields}
    with pytest.raises(protocol.ProtocolError) as err:
        protocol.parse_file_seq_slice(message)
    assert err.value.request_id == 9 and err.value.code == "bad_request"


def test_a_slice_whose_audio_does_not_match_its_seek_is_refused(loaded):
    message = {"id": 9, "type": "file_seq_slice", "return_timestamps": True, "total": 40 * RATE, "first": True,
               "seek": 0, "frames": 4000, "floor": -0.5, "offset": 160, "items": [{"audio": b"\x00\x00" * 1000}]}
    with pytest.raises(seq_slices.SeqSliceError):
        seq_slices.decode_slice(loaded, protocol.parse_file_seq_slice(message))
