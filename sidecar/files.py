"""A whole file in one of three long-form modes, with its language, and progress as it goes.

A transcribe request that names a `mode` is a file request (the HTTP file endpoints send one):

* "pipeline" (default): exactly `pipe(audio, return_timestamps=..., generate_kwargs=...)`, the
  pipeline's own chunking (chunk_length_s with its stride, batch_size). Nothing else is passed,
  so text and chunk timestamps are what a direct call gives (the parity test checks this).
* "sequential" and "vad": longform.py.

The pipeline's return_language=True is not used here: in transformers 5.24 it fails as soon as a
batch holds more than one chunk (its lang_id has one row for the whole batch), and it would change
the generate() call. The language generate() detects by itself (first 30 s, or first speech window) is recorded instead
(captured_language): no extra encoder pass. Only when generate() detected nothing (a language was
given, or vad mode found no speech) is model.detect_language used.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Optional

import numpy as np
import torch

import longform
import model as model_module

RATE = model_module.SAMPLING_RATE
MODES = ("pipeline", "sequential", "vad")


class captured_language:
    """Records the language generate() itself detects, so no second encoder pass is needed.

    Whisper's generate() calls model.detect_language() on each batch when no language is given;
    an instance attribute wraps it for one call (and is removed after) and keeps the first batch's
    first item: the start of the audio. The call and its result are unchanged.
    """

    def __init__(self, model: Any):
        self._model = model
        self.token_id: Optional[int] = None

    def __enter__(self) -> "captured_language":
        original = self._model.detect_language

        def detect_language(*args: Any, **kwargs: Any):
            ids = original(*args, **kwargs)
            if self.token_id is None and ids is not None and ids.numel() > 0:
                self.token_id = int(ids.reshape(-1)[0])
            return ids

        self._model.detect_language = detect_language
        return self

    def __exit__(self, *exc: Any) -> None:
        del self._model.detect_language


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
    timestamps = loaded.timestamps(timestamps)
    kwargs = _call_kwargs(loaded, item, timestamps, temperature)
    total_s = len(item.audio) / RATE
    capture = captured_language(loaded.pipe.model)
    with capture:
        out = _run_mode(loaded, vad, item, kwargs, mode, total_s, progress)
    first = out.pop("first_window", None)
    language_audio = item.audio if first is None else item.audio[first[0]:first[1]]
    return resolved(loaded, out, timestamps, item.language, capture.token_id,
                    lambda: model_module.detect_language(loaded, language_audio))


def resolved(loaded: model_module.LoadedModel, out: dict, timestamps: Any, given: Optional[str],
             captured: Optional[int], detect: Callable[[], Optional[str]]) -> dict:
    """A decoded file's {text, chunks, language}: the language the client gave, else the one
    generate() detected (captured token), else the first the engine heard, else `detect()` (one
    more encoder pass, only then)."""
    result = model_module._result(out, timestamps)
    heard = next((c["language"] for c in result["chunks"] if c.get("language")), None)
    for chunk in result["chunks"]:
        chunk.pop("language", None)
    if given:
        result["language"] = given
    elif captured is not None:
        result["language"] = loaded.pipe.tokenizer.convert_ids_to_tokens(captured).strip("<|>")
    elif heard is not None:  # the engine's first decoding step heard it (vad mode)
        result["language"] = heard
    else:
        result["language"] = detect()
    return result


def first_slice_language(loaded: model_module.LoadedModel, given: Optional[str], captured: Optional[int],
                         audio: np.ndarray) -> str:
    """A sliced file's language, from its first slice: the client's, else what generate() detected
    on the file's first window (captured token), else one detection on the slice's audio (its first
    30 s are the file's)."""
    if given:
        return given
    if captured is not None:
        return loaded.pipe.tokenizer.convert_ids_to_tokens(captured).strip("<|>")
    return model_module.detect_language(loaded, audio)


# A greedy decode may end (<|endoftext|>) after an early segment although speech follows in the
# window (seen on int8: the CLI test's two recordings in one window came back as the first one
# only). As openai-whisper's seek loop does, the rest of the window after the last timestamp is
# decoded again, with the text so far as the prompt; Whisper's own no-speech rating drops a tail
# that is only silence. At most CONTINUATIONS passes per window.
CONTINUATIONS = 2
MIN_TAIL_S = 1.0
TAIL_NO_SPEECH = 0.6


def engine_call(loaded: model_module.LoadedModel, item: model_module.TranscribeItem, timestamps: Any):
    """The `vad` mode's speech windows (each ≤ 30 s) through the stream-window engine (engine.py):
    one encoder pass and one batched greedy generate() per batch of windows, in the pipeline's
    call shape that longform.transcribe_vad expects."""
    cap = item.max_new_tokens or loaded.settings.max_new_tokens

    def decode(pieces: list[tuple[np.ndarray, Optional[str], Optional[float]]]) -> list[dict]:
        items = [model_module.TranscribeItem(audio, item.language, item.task, prompt, cap, threshold)
                 for audio, prompt, threshold in pieces]
        results, _ = loaded.engine.decode(items, True, stream=False)
        return results

    def call(inputs: list[dict], **_pipeline_kwargs: Any) -> list[dict]:
        audios = [i["raw"] for i in inputs]
        results = decode([(a, item.prompt, None) for a in audios])
        outs = [{"text": r["text"], "chunks": [{**c, "language": r["language"]} for c in r["chunks"]]} for r in results]
        offsets = [0.0] * len(outs)
        for _ in range(CONTINUATIONS):
            tails = []
            for row, out in enumerate(outs):
                end = _last_end(out["chunks"], offsets[row])
                if end is not None and len(audios[row]) / RATE - end >= MIN_TAIL_S:
                    tails.append(row)
                    offsets[row] = end
            if not tails:
                break
            more = decode([(audios[row][int(offsets[row] * RATE):], _prompt(item.prompt, outs[row]["text"]), TAIL_NO_SPEECH)
                           for row in tails])
            for row, r in zip(tails, more):
                if not r["chunks"] or not r["text"].strip():
                    offsets[row] = len(audios[row]) / RATE  # the tail is no speech: done
                    continue
                outs[row]["text"] += r["text"]
                outs[row]["chunks"] += [{**c, "language": r["language"],
                                         "timestamp": [None if t is None else round(t + offsets[row], 3) for t in c["timestamp"]]}
                                        for c in r["chunks"]]
        if not timestamps:
            for out in outs:
                out.pop("chunks")
        return outs

    return call


def _last_end(chunks: list[dict], floor: float) -> Optional[float]:
    """Where the decoded text of a window ends (s), if it ends on a timestamp after `floor`."""
    if not chunks:
        return None
    end = chunks[-1]["timestamp"][1]
    return end if end is not None and end > floor else None


def _prompt(prompt: Optional[str], text: str) -> str:
    return f"{prompt or ''} {text}".strip()


def vad_decoder(loaded: model_module.LoadedModel, item: model_module.TranscribeItem,
                kwargs: dict) -> tuple[Callable[..., Any], int]:
    """What decodes a `vad`-mode file's windows, and how many windows go per batch."""
    timestamps = kwargs["return_timestamps"]
    sampling = bool(kwargs["generate_kwargs"].get("do_sample"))
    # The engine path (engine_call): English fixtures' WER 0.074 vs the pipeline's 0.093 (all
    # languages 0.118 vs 0.117), RTF 0.198 vs 0.311 on the idle CPU
    # (bench/results/vad-engine-cpu-idle.json, vad-engine-cpu.json).
    # FILE_VAD_ENGINE=false keeps the pipeline (beam 5) for every window.
    use_engine = os.environ.get("FILE_VAD_ENGINE", "true").lower() not in ("0", "false")
    on_gpu = loaded.choice.device.startswith("cuda")
    if use_engine and loaded.engine is not None and timestamps != "word" and not sampling:
        # Greedy, batched: on CPU a batch of 4 windows costs about what they cost one by one,
        # on a GPU the brief's batch_size of them go together.
        return engine_call(loaded, item, timestamps), loaded.settings.batch_size if on_gpu else 4
    # Word timestamps and sampling keep the pipeline (its cross-attention alignment, its
    # sampler). On CPU a padded pipeline batch measured about 2x slower than the windows one by one.
    return loaded.pipe, loaded.settings.batch_size if on_gpu else 1


def _run_mode(loaded: model_module.LoadedModel, vad: Any, item: model_module.TranscribeItem, kwargs: dict,
              mode: str, total_s: float, progress: Optional[longform.ProgressFn]) -> dict:
    if mode == "vad":
        call, batch = vad_decoder(loaded, item, kwargs)
        return longform.transcribe_vad(call, vad, item.audio, kwargs, batch, progress)
    if mode == "sequential":
        out = longform.transcribe_sequential(loaded.pipe, item.audio, kwargs)
        if progress:
            progress(total_s, total_s, out.get("text", ""))
        return out
    with torch.inference_mode(), longform.forward_progress(loaded.pipe, total_s, progress):
        return loaded.pipe({"raw": item.audio, "sampling_rate": RATE}, **kwargs)
