"""A pipeline-mode file in slices gives exactly what one direct pipeline call gives (real model, real
audio): the chunks are the pipeline's own, chunk for chunk, and slices + join give the same text
and chunk timestamps as pipe(audio), through the message layer (blobs round-trip)."""

import numpy as np
import pytest
import torch

import files
import model
import protocol
import slices
from device import choose_device
from recordings import MODEL, RATE, pcm16, read


@pytest.fixture(scope="module")
def loaded():
    return model.load(str(MODEL), choose_device("cpu"), model.PipelineSettings(batch_size=1))


@pytest.mark.parametrize("seconds", [3.0, 30.0, 44.0, 50.0, 64.5, 95.3])
def test_chunks_are_the_pipelines_own(loaded, seconds):
    audio = np.random.default_rng(1).standard_normal(int(seconds * RATE)).astype(np.float32) * 0.1
    c = slices.chunking(loaded.pipe, 30.0, 1)
    theirs = list(loaded.pipe.preprocess({"raw": audio, "sampling_rate": RATE}, chunk_length_s=30.0))
    ours = slices.chunk_bounds(len(audio), c)
    assert [(o.stride, o.is_last) for o in ours] == [(t["stride"], t["is_last"]) for t in theirs]
    for o, t in zip(ours, theirs):
        mine = slices._features(loaded.pipe, audio[o.start:o.end], o)
        assert torch.equal(mine["input_features"], t["input_features"])
        assert torch.equal(mine["attention_mask"], t["attention_mask"])


def run_in_slices(loaded, audio: np.ndarray, batch: int, timestamps) -> dict:
    """What the server does: one file_slice per batch of chunks, then file_join (through the parsers)."""
    c = slices.chunking(loaded.pipe, loaded.settings.chunk_length_s, batch)
    plan = slices.chunk_bounds(len(audio), c)
    pcm = pcm16(audio)
    blobs, language = [], None
    for first in range(0, len(plan), batch):
        picked = plan[first:first + batch]
        span = pcm[picked[0].start * 2:picked[-1].end * 2]
        req = protocol.parse_file_slice({"id": 1, "type": "file_slice", "items": [{"audio": span}],
                                         "offset": picked[0].start, "total": len(audio), "first": first,
                                         "count": len(picked), "return_timestamps": timestamps})
        out = slices.decode_slice(loaded, c, req)
        blobs.append(out["outputs"])
        language = language or out["language"]
        assert len(out["texts"]) == len(picked)
    join = protocol.parse_file_join({"id": 2, "type": "file_join", "outputs": blobs, "return_timestamps": timestamps,
                                     "language": language})
    return slices.join(loaded, join)


@pytest.mark.parametrize("name,seconds,batch", [("jfk.wav", None, 1), ("longform-en.wav", 50.0, 1)])
def test_slices_then_join_equal_a_direct_pipeline_call(loaded, name, seconds, batch):
    audio = np.frombuffer(pcm16(read(name, seconds)), "<i2").astype(np.float32) / 32768.0
    with torch.inference_mode():
        direct = loaded.pipe({"raw": audio, "sampling_rate": RATE}, return_timestamps=True, batch_size=batch)
    ours = run_in_slices(loaded, audio, batch, True)
    assert ours["text"] == direct["text"]
    assert [c["timestamp"] for c in ours["chunks"]] == [list(c["timestamp"]) for c in direct["chunks"]]
    assert ours["language"] == "en"


def test_a_slice_that_does_not_fit_the_chunking_is_refused(loaded):
    c = slices.chunking(loaded.pipe, 30.0, 1)
    req = protocol.parse_file_slice({"id": 1, "type": "file_slice", "items": [{"audio": b"\x00\x00" * RATE}],
                                     "offset": 5, "total": 40 * RATE, "first": 0, "count": 1})
    with pytest.raises(slices.SliceError):
        slices.decode_slice(loaded, c, req)


def test_a_whole_pipeline_file_reports_progress_per_batch_of_one(loaded):
    """FILE_SLICES=false sends a file as one request: with batch_size 1 each chunk's forward is a
    batch of one, whose stride is one triple, not a list of them (its progress was lost)."""
    calls = []
    files.transcribe_file(loaded, None, model.TranscribeItem(read("longform-en.wav", 45.0)), True, "pipeline",
                          lambda done, total, text: calls.append((done, total, text)))
    assert len(calls) == 2  # two 30 s chunks (5 s strides)
    assert calls[0][0] == pytest.approx(25.0) and calls[-1][0] == pytest.approx(45.0, abs=0.01)
    assert calls[-1][2].startswith(calls[0][2])
