"""Long-form modes beyond the pipeline's own chunking: sequential long-form and VAD chunking.

The default mode ("pipeline") stays in model.py and is exactly a direct pipeline call. This file
adds the two alternatives a file request may ask for:

* "sequential": the same pipeline called with chunk_length_s=0, so transformers feeds the whole
  file to Whisper's sequential long-form generate() (30 s windows, each starting where the last
  decoded segment ended) instead of strided chunks merged afterwards.
* "vad": speech regions from silero-vad (the same model streaming uses) packed into windows of at
  most 30 s cut at pauses and decoded in batches, as WhisperX does. Silence between
  windows is never decoded, so noise, tones and silence give no text. Two guards drop what is left
  of a hallucination: a window whose decoded text repeats itself (gzip compression ratio over 2.4,
  Whisper's own threshold) and a window whose speech probability is low on average.

Pure helpers (regions, windows, compression ratio) take arrays and return values, so they are
tested without a model.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import torch

FRAME = 512  # silero-vad frame: 32 ms at 16 kHz
RATE = 16000
MAX_WINDOW_S = 30.0
# Region policy, WhisperX/silero defaults: onset 0.5, minimum speech 250 ms, a pause of 500 ms
# splits regions, 200 ms of padding keeps word onsets and tails.
THRESHOLD = 0.5
MIN_SPEECH_S = 0.25
MIN_SILENCE_S = 0.5
PAD_S = 0.2
# Guards: Whisper's compression-ratio threshold, and the mean probability below which a window
# is noise that merely crossed the threshold in a few frames.
MAX_COMPRESSION_RATIO = 2.4
MIN_WINDOW_SPEECH_PROB = 0.3

ProgressFn = Callable[[float, float, str], None]


@dataclass(frozen=True)
class Window:
    start: int  # samples
    end: int


def levelled(audio: np.ndarray, block: int = RATE // 2, target_rms: float = 0.05, floor_rms: float = 1e-4,
             max_gain: float = 100.0) -> np.ndarray:
    """The audio with each half second brought to a speech level, for the VAD only.

    silero-vad misses quiet speech that Whisper hears fine (Whisper normalises its log-mel input):
    a real recording in longform-en.wav sits at -63 dBFS and got no region at all. The gain is capped
    (40 dB) and digital silence stays below the floor, so silence, noise and tones still score low.
    """
    out = np.empty_like(audio)
    for start in range(0, len(audio), block):
        piece = audio[start:start + block]
        rms = float(np.sqrt(np.mean(piece ** 2))) if len(piece) else 0.0
        out[start:start + block] = piece * min(max_gain, target_rms / max(rms, floor_rms))
    return np.clip(out, -1.0, 1.0)


def speech_regions(probs: np.ndarray, n_samples: int, *, on: float = THRESHOLD, off: float = THRESHOLD - 0.15,
                   extend_at: float = THRESHOLD, min_silence_s: float = MIN_SILENCE_S, pad_s: float = PAD_S,
                   min_speech_s: float = MIN_SPEECH_S) -> list[tuple[int, int]]:
    """[start, end) sample ranges where speech is, from per-frame probabilities.

    A region opens at `on`, grows while the probability stays at or above `extend_at` and closes
    below `off`; regions closer than min_silence_s merge, shorter than min_speech_s are dropped,
    the rest padded by pad_s. Defaults are the long-form mode's; diarize.py passes its own.
    """
    regions: list[list[int]] = []
    speaking = False
    for i, p in enumerate(probs):
        if p >= on and not speaking:
            speaking = True
            regions.append([i * FRAME, (i + 1) * FRAME])
        elif speaking and p >= extend_at:
            regions[-1][1] = (i + 1) * FRAME
        elif speaking and p < off:
            speaking = False
    merged: list[list[int]] = []
    for r in regions:
        if merged and r[0] - merged[-1][1] < min_silence_s * RATE:
            merged[-1][1] = r[1]
        else:
            merged.append(r)
    pad = int(pad_s * RATE)
    out = [(max(0, s - pad), min(n_samples, e + pad)) for s, e in merged if e - s >= min_speech_s * RATE]
    return [(s, e) for s, e in out if e > s]


def pack_windows(regions: list[tuple[int, int]], max_s: float = MAX_WINDOW_S) -> list[Window]:
    """Consecutive regions joined into windows of at most max_s, cut only between regions (at pauses).

    A single region longer than max_s is cut into max_s pieces (no pause to cut at).
    """
    limit = int(max_s * RATE)
    windows: list[Window] = []
    for s, e in regions:
        while e - s > limit:
            windows.append(Window(s, s + limit))
            s += limit
        if windows and e - windows[-1].start <= limit and s >= windows[-1].end:
            windows[-1] = Window(windows[-1].start, e)
        else:
            windows.append(Window(s, e))
    return windows


def window_audio(audio: np.ndarray, window: Window, regions: list[tuple[int, int]],
                 target_rms: float = 0.05, max_gain: float = 100.0) -> np.ndarray:
    """The window's audio with each speech region at the same level.

    Whisper normalises each 30 s input as a whole, so a quiet speaker right after a loud one in the
    same window is skipped (longform-en.wav lost a whole -63 dBFS sentence that way). A constant gain
    per region (an utterance) evens them out without pumping inside a sentence.
    """
    out = audio[window.start:window.end].copy()
    for s, e in regions:
        if e <= window.start or s >= window.end:
            continue
        s, e = max(s, window.start), min(e, window.end)
        piece = out[s - window.start:e - window.start]
        rms = float(np.sqrt(np.mean(piece ** 2))) if len(piece) else 0.0
        piece *= min(max_gain, target_rms / max(rms, 1e-4))
    return np.clip(out, -1.0, 1.0)


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / max(1, len(zlib.compress(data)))


def guarded(text: str, mean_prob: float) -> bool:
    """True when a window's text must be dropped as a hallucination."""
    return mean_prob < MIN_WINDOW_SPEECH_PROB or (len(text) > 20 and compression_ratio(text) > MAX_COMPRESSION_RATIO)


def _shift(chunks: list[dict], offset: float) -> list[dict]:
    out = []
    for c in chunks:
        start, end = c["timestamp"]
        out.append({**c, "timestamp": [None if start is None else round(start + offset, 3),
                                       None if end is None else round(end + offset, 3)]})
    return out


def transcribe_sequential(pipe_call: Callable[..., dict], audio: np.ndarray, call_kwargs: dict) -> dict:
    """Whisper's sequential long-form decoding through the same pipeline (no chunk merging)."""
    with torch.inference_mode():
        return pipe_call({"raw": audio, "sampling_rate": RATE}, chunk_length_s=0, **call_kwargs)


@dataclass(frozen=True)
class VadPlan:
    """Where a file's speech windows are: what the `vad` mode decodes, decided before any decoding."""
    windows: list[Window]
    regions: list[tuple[int, int]]  # samples, the file's speech regions (for window_audio's levels)
    speech: list[float]  # each window's mean speech probability (the guard's second test)


def plan_vad(vad, audio: np.ndarray, checkpoint: Optional[Callable[[], None]] = None) -> VadPlan:
    """The speech windows of a file: silero on the levelled audio, regions, windows of ≤ 30 s."""
    probs = vad.probabilities([levelled(audio)], checkpoint=checkpoint)[0]
    regions = speech_regions(probs, len(audio))
    windows = pack_windows(regions)
    speech = []
    for w in windows:
        frames = probs[w.start // FRAME:max(w.start // FRAME + 1, w.end // FRAME)]
        speech.append(float(frames.mean()) if len(frames) else 0.0)
    return VadPlan(windows, regions, speech)


def decode_windows(pipe_call: Callable[..., Any], audios: list[np.ndarray], speech: list[float],
                   offsets_s: list[float], call_kwargs: dict) -> list[Optional[dict]]:
    """One batch of windows (already through window_audio): each one's {text, chunks on the file's
    clock}, or None where the guard drops it as a hallucination."""
    inputs = [{"raw": a, "sampling_rate": RATE} for a in audios]
    # chunk_length_s=0: each window (at most 30 s) is one Whisper pass; the pipeline's own
    # chunking would split a 25 s window into strided pieces again.
    with torch.inference_mode():
        outs = pipe_call(inputs, chunk_length_s=0, **call_kwargs)
    decoded: list[Optional[dict]] = []
    for out, prob, offset in zip(outs, speech, offsets_s):
        text = out.get("text", "")
        decoded.append(None if guarded(text, prob) else
                       {"text": text.strip(), "chunks": _shift(out.get("chunks") or [], offset)})
    return decoded


def joined_text(decoded: list[Optional[dict]]) -> str:
    """The kept windows' texts, one space apart (the progress text; the result's without its lead space)."""
    return " ".join(d["text"] for d in decoded if d is not None)


def assemble(decoded: list[Optional[dict]]) -> dict:
    """The file's {text, chunks} from its windows' decodes, in order."""
    text = " ".join(d["text"] for d in decoded if d is not None and d["text"])
    chunks = [c for d in decoded if d is not None for c in d["chunks"]]
    return {"text": (" " + text) if text else "", "chunks": chunks}


def transcribe_vad(pipe_call: Callable[..., Any], vad, audio: np.ndarray, call_kwargs: dict,
                   batch_size: int, progress: Optional[ProgressFn] = None) -> dict:
    """Speech windows decoded as pipeline batches; timestamps shifted back onto the file's clock.

    The whole file in one call; a server file request goes as the same steps in slices instead
    (vad_slices.py: plan_vad, then decode_windows per batch, then assemble)."""
    plan = plan_vad(vad, audio)
    total_s = len(audio) / RATE
    batch = max(1, batch_size)
    decoded: list[Optional[dict]] = []
    for first in range(0, len(plan.windows), batch):
        windows = plan.windows[first:first + batch]
        decoded += decode_windows(pipe_call, [window_audio(audio, w, plan.regions) for w in windows],
                                  plan.speech[first:first + batch], [w.start / RATE for w in windows], call_kwargs)
        if progress:
            progress(min(total_s, windows[-1].end / RATE), total_s, joined_text(decoded))
    out = assemble(decoded)
    # The first window's samples: where the language is detected when no decode heard one.
    out["first_window"] = (plan.windows[0].start, plan.windows[0].end) if plan.windows else (0, 0)
    return out


class forward_progress:
    """Reports each pipeline batch as it is decoded, for stream=true, without touching the result.

    The pipeline calls `self.forward` once per batch of chunks; an instance attribute wraps it for
    the duration of one call and is removed afterwards. Partial text is each chunk's own text,
    before the pipeline merges the overlaps between neighbours (the final text does that).
    """

    def __init__(self, pipe: Any, total_s: float, progress: Optional[ProgressFn]):
        self._pipe, self._total_s, self._progress = pipe, total_s, progress
        self._done_s, self._texts = 0.0, []

    def __enter__(self) -> "forward_progress":
        if self._progress is None:
            return self
        original = self._pipe.forward

        def forward(model_inputs, **kwargs):
            strides = model_inputs.get("stride") if isinstance(model_inputs, dict) else None
            out = original(model_inputs, **kwargs)
            try:
                # A batch of one (batch_size=1: no collation) carries one (length, left, right) triple.
                if strides and isinstance(strides[0], int):
                    strides = [strides]
                for chunk_len, left, right in strides or []:
                    self._done_s += (chunk_len - left - right) / RATE
                tokens = out.get("tokens") if isinstance(out, dict) else None
                if tokens is not None and hasattr(tokens, "ndim") and tokens.ndim == 2:
                    self._texts.extend(t.strip() for t in self._pipe.tokenizer.batch_decode(tokens, skip_special_tokens=True))
                self._progress(min(self._total_s, self._done_s), self._total_s, " ".join(self._texts))
            except Exception:  # noqa: BLE001 - progress is best effort; never fail the request for it
                pass
            return out

        self._pipe.forward = forward
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            del self._pipe.forward
