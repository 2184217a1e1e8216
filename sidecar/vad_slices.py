"""A `vad`-mode file in bounded slices: its plan, then one batch of speech windows per request, then
a join, so the server can let two files take turns, report progress per batch and replay one batch
after a crash (src/files/job.ts sends them).

The steps are longform.transcribe_vad's own, with the same functions: `plan` is plan_vad (silero
on the levelled file → regions → windows, and each window's mean speech probability); `decode_slice`
is one batch through decode_windows, on the same decoder (files.vad_decoder: the engine, or the
pipeline for word timestamps and sampling) with the same batch size; `join` is assemble, and the
language is resolved as files.transcribe_file resolves it. The windows do not depend on each other
(no prompt chain), so a file in slices gives what the whole call gives (tests/test_vad_slices.py).

The sidecar keeps nothing between requests: the server holds the plan, sends each window's raw
audio with the regions inside it, and gets back an opaque blob per slice that the join takes back.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import msgpack
import numpy as np

import files
import longform
import model as model_module
from protocol import FileJoinRequest, FileVadPlanRequest, FileVadSliceRequest

RATE = model_module.SAMPLING_RATE


def _kwargs(loaded: model_module.LoadedModel, item: model_module.TranscribeItem, timestamps: Any,
            temperature: float) -> dict:
    return files._call_kwargs(loaded, item, loaded.timestamps(timestamps), temperature)


def plan(loaded: model_module.LoadedModel, vad: Any, req: FileVadPlanRequest,
         checkpoint: Optional[Callable[[], None]] = None) -> dict:
    """{windows, regions: [[start, end]] samples, speech: per window, batch_size: windows per slice}."""
    kwargs = _kwargs(loaded, req.item, req.return_timestamps, req.temperature)
    _, batch = files.vad_decoder(loaded, req.item, kwargs)
    found = longform.plan_vad(vad, req.item.audio, checkpoint)
    return {"windows": [[w.start, w.end] for w in found.windows],
            "regions": [[s, e] for s, e in found.regions],
            "speech": found.speech, "batch_size": max(1, batch)}


def decode_slice(loaded: model_module.LoadedModel, req: FileVadSliceRequest) -> dict:
    """One batch of windows: {outputs: blob, texts: per window ('' where dropped), done_s, language: None}."""
    item = req.items[0]  # every window carries the file's decoding options
    kwargs = _kwargs(loaded, item, req.return_timestamps, req.temperature)
    call, _ = files.vad_decoder(loaded, item, kwargs)
    audios = [longform.window_audio(w.audio, longform.Window(0, len(w.audio)), regions)
              for w, regions in zip(req.items, req.regions)]
    capture = files.captured_language(loaded.pipe.model)
    with capture:
        decoded = longform.decode_windows(call, audios, req.speech, [o / RATE for o in req.offsets], kwargs)
    fallback = None
    if req.first and not item.language and capture.token_id is None and not _heard(decoded, kwargs):
        # What transcribe_file detects when no decode heard a language: the first window, raw.
        fallback = model_module.detect_language(loaded, req.items[0].audio)
    blob = msgpack.packb({"windows": decoded, "captured": capture.token_id, "fallback": fallback}, use_bin_type=True)
    end = req.offsets[-1] + len(req.items[-1].audio)
    return {"outputs": blob, "texts": [d["text"] if d else "" for d in decoded],
            "done_s": round(min(end, req.total) / RATE, 3), "language": None}


def _heard(decoded: list[Optional[dict]], kwargs: dict) -> bool:
    """Whether a language is on any kept chunk (what files.resolved takes as heard)."""
    out = model_module._result(longform.assemble(decoded), kwargs["return_timestamps"])
    return any(c.get("language") for c in out["chunks"])


def join(loaded: model_module.LoadedModel, req: FileJoinRequest) -> dict:
    """Every slice's windows, in order, as the file's {text, chunks, language}."""
    parts = [msgpack.unpackb(blob, raw=False) for blob in req.outputs]
    decoded = [w for part in parts for w in part["windows"]]
    captured = next((p["captured"] for p in parts if p["captured"] is not None), None)
    fallback = parts[0]["fallback"] if parts else None
    timestamps = loaded.timestamps(req.return_timestamps)
    # No slices (no speech): transcribe_file detects on no audio, which gives no language.
    return files.resolved(loaded, longform.assemble(decoded), timestamps, req.language, captured,
                          lambda: fallback if parts else model_module.detect_language(loaded, np.zeros(0, np.float32)))
