"""A whole file in one of three long-form modes, with its language, and progress as it goes.

A transcribe request that names a `mode` is a file request (the HTTP file endpoints send one):

* "pipeline" (default): exactly `pipe(audio, return_timestamps=..., generate_kwargs=...)`, the
  pipeline's own chunking (chunk_length_s with its stride, batch_size). Nothing else is passed,
  so text and chunk timestamps are what a direct call gives (the parity test checks this).
* "sequential" and "vad": longform.py.

The pipeline's return_language=True is not used here: in transformers 5.24 it fails as soon as a
batch holds more than one chunk (its lang_id has one row for the whole batch), and it would change
the generate() call. The language is detected on its own instead, only when the client gave none:
one encoder pass over the first 30 s of speech, as Whisper's generate() does itself.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch

import longform
import model as model_module

RATE = model_module.SAMPLING_RATE
MODES = ("pipeline", "sequential", "vad")


def _call_kwargs(loaded: model_module.LoadedModel, item: model_module.TranscribeItem, timestamps: Any,
                 temperature: float) -> dict:
    generate_kwargs = model_module._generate_kwargs(item, loaded)
    if temperature:
        generate_kwargs.update(temperature=float(temperature), do_sample=True)
    return {"return_timestamps": timestamps, "generate_kwargs": generate_kwargs}


def transcribe_file(loaded: model_module.LoadedModel, vad: Any, item: model_module.TranscribeItem,
                    timestamps: Any, mode: str, progress: Optional[longform.ProgressFn] = None,
                    temperature: float = 0.0) -> dict:
    """One file → {text, chunks, language}; progress(done_s, total_s, partial_text) per decoded batch."""
    if timestamps is None:
        timestamps = loaded.settings.return_timestamps
    kwargs = _call_kwargs(loaded, item, timestamps, temperature)
    total_s = len(item.audio) / RATE
    language_audio = item.audio
    if mode == "vad":
        out = longform.transcribe_vad(loaded.pipe, vad, item.audio, kwargs, loaded.settings.batch_size, progress)
        windows = out.pop("windows")
        language_audio = item.audio[int(windows[0][0] * RATE):int(windows[0][1] * RATE)] if windows else item.audio[:0]
    elif mode == "sequential":
        out = longform.transcribe_sequential(loaded.pipe, item.audio, kwargs)
        if progress:
            progress(total_s, total_s, out.get("text", ""))
    else:
        with torch.inference_mode(), longform.forward_progress(loaded.pipe, total_s, progress):
            out = loaded.pipe({"raw": item.audio, "sampling_rate": RATE}, **kwargs)
    result = model_module._result(out, timestamps)
    for chunk in result["chunks"]:
        chunk.pop("language", None)
    result["language"] = item.language or model_module.detect_language(loaded, language_audio)
    return result
