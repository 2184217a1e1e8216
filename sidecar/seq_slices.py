"""A `sequential`-mode file in bounded slices: Whisper's own long-form seek loop, a few 30 s windows
per request, so the server can let two files take turns, report progress per slice and replay one
slice after a crash (src/files/job.ts sends them).

A direct sequential call (longform.transcribe_sequential: the pipeline with chunk_length_s=0) is,
in transformers 5.24: the feature extractor over the whole file (truncation=False), then one
generate() whose loop decodes a 30 s window at `seek`, keeps its complete segments and moves `seek`
to where the last complete segment ended, until the end; then the pipeline decodes the
concatenated tokens (_decode_asr finds each window's offset from the tokens themselves).

A slice runs that same generate() (through pipe.forward, with the pipeline's own parameters) on the
file's features from a window start `seek` on, and stops before the first window that would reach
past the features it was given; the join decodes every slice's tokens at once. Exact, because:

* **The features are the file's own.** Each log-mel frame depends only on the 400 samples around it,
  except the extractor's clamp at (the file's maximum - 8): the plan (`file_seq_plan`) computes the
  whole file's features once and returns their minimum, and a slice's features, computed from its
  own samples (two frames of margin each side), are raised to it. As max commutes with the
  extractor's monotonic (x + 4) / 4, that is exactly the clamp at the file's maximum. `self_check`
  proves it on this machine's kernels at start-up (a frame must not depend on the frames computed
  beside it); where it does not hold, the ready frame says so and sequential files go whole.
* **Every window inside a slice sees what it sees in the whole call**: its 30 s of features, the same
  `seek_num_frames` (a slice ends at least 30 s after its last window's start, or at the file's end),
  the attention mask's frame count left in the file (word timestamps read it), and the language
  (detected on the file's first window by the first slice, then named).
* **A window depends on nothing before it but its start** (no condition_on_prev_tokens; the prompt,
  if any, is the same for every window).

generate() has no hook after a window; its `monitor_progress` runs before each one, in the loop,
and there the loop's own segment list is read (the caller's frame) and the slice stopped. The
sidecar keeps nothing between requests. tests/test_seq_slices.py checks sliced == whole.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Optional

import msgpack
import numpy as np
import torch

import files
import model as model_module
import slices
from protocol import FileJoinRequest, FileSeqPlanRequest, FileSeqSliceRequest

RATE = model_module.SAMPLING_RATE
HOP = 160  # samples per log-mel frame (WhisperFeatureExtractor.hop_length)
WINDOW = 3000  # frames per 30 s window (generate's num_segment_frames)
MARGIN = 2  # frames of audio each side of a slice (a frame reads 200 samples each side)


class SeqSliceError(slices.SliceError):
    """A slice whose audio does not cover what its seek needs (bad_request, as any bad slice)."""


def windows_per_slice() -> int:
    """FILE_SEQ_WINDOWS (default 4, at least 2: a slice of one window would be short-form)."""
    return max(2, int(os.environ.get("FILE_SEQ_WINDOWS", "4")))


def slice_end(seek: int, frames: int, windows: int) -> int:
    """The last frame (exclusive) a slice from `seek` decodes: `windows` windows on, or the file's
    end when less than one more window would be left after them (so every slice is long-form)."""
    return frames if frames - seek <= (windows + 1) * WINDOW else seek + windows * WINDOW


def slice_span(seek: int, frames: int, total: int, windows: int) -> tuple[int, int]:
    """The samples a slice from `seek` needs: its frames with MARGIN frames each side."""
    end = slice_end(seek, frames, windows)
    return max(0, HOP * (seek - MARGIN)), min(total, HOP * (end + MARGIN))


def _whole_features(pipe: Any, audio: np.ndarray) -> np.ndarray:
    """The pipeline's preprocess for a file longer than 30 s (float32, before its dtype cast)."""
    fe = pipe.feature_extractor
    out = fe(audio, sampling_rate=fe.sampling_rate, truncation=False, padding="longest",
             return_tensors="np", return_attention_mask=True)
    return out["input_features"][0]


def _span_features(pipe: Any, audio: np.ndarray, offset: int, seek: int, end: int, floor: float) -> np.ndarray:
    """Frames [seek, end) of the file's features, from the samples at `offset` on."""
    fe = pipe.feature_extractor
    feats = fe(audio, sampling_rate=fe.sampling_rate, truncation=False, padding="longest", return_tensors="np")
    first = seek - offset // HOP
    return np.maximum(feats["input_features"][0][:, first:first + end - seek], np.float32(floor))


def self_check(pipe: Any) -> bool:
    """Whether a slice's features equal the whole file's here, bit for bit (see the module doc), with
    the frame geometry the server's span arithmetic assumes (src/files/slices.ts seqSliceSpan)."""
    fe = pipe.feature_extractor
    if fe.hop_length != HOP or fe.nb_max_frames != WINDOW or fe.sampling_rate != RATE:
        return False
    rng = np.random.default_rng(7)
    total = 70 * RATE + 123
    audio = (rng.standard_normal(total) * np.repeat(rng.uniform(0, 0.3, total // 4000 + 1), 4000)[:total]).astype(np.float32)
    audio[20 * RATE:30 * RATE] *= 1e-4  # a quiet stretch, so the file's clamp matters
    whole = _whole_features(pipe, audio)
    frames = whole.shape[-1]
    for seek in (0, 1234, 2 * WINDOW + 7):
        end = slice_end(seek, frames, 2)
        start, stop = slice_span(seek, frames, total, 2)
        part = _span_features(pipe, audio[start:stop], start, seek, end, float(whole.min()))
        if not np.array_equal(part, whole[:, seek:end]):
            return False
    return True


def plan(loaded: model_module.LoadedModel, req: FileSeqPlanRequest) -> dict:
    """{frames, floor, windows}: the file's frame count, its features' minimum, windows per slice."""
    whole = _whole_features(loaded.pipe, req.item.audio)
    return {"frames": int(whole.shape[-1]), "floor": float(whole.min()), "windows": windows_per_slice()}


class _Stop(Exception):
    """Raised from monitor_progress to end a slice before a window it cannot decode exactly."""


class _Watch:
    """generate()'s monitor_progress: each window's start (frames from the slice's seek) and how
    many segments the loop held then; stops before a window that would pass `limit`."""

    def __init__(self, limit: Optional[int]):
        self.limit = limit
        self.starts: list[int] = []
        self.counts: list[int] = []
        self.segments: Optional[list] = None
        self.stopped_at: Optional[int] = None

    def __call__(self, progress: torch.Tensor) -> None:
        seek = int(progress[0, 0])
        # The loop's own list (the caller is WhisperGenerationMixin.generate); it grows in place.
        self.segments = sys._getframe(1).f_locals["current_segments"][0]
        if self.limit is not None and seek + WINDOW > self.limit:
            self.stopped_at = seek
            raise _Stop
        self.starts.append(seek)
        self.counts.append(len(self.segments))


def _word_times(segment: dict, seek: int, stride: int) -> torch.Tensor:
    """A segment's token timestamps on the file's clock, as generate's _retrieve_segment adds
    them: its window's raw times plus seek * time_precision / input_stride (float64)."""
    offset = (torch.tensor([seek], dtype=torch.long).to(torch.float64) * 0.02 / stride)[0]
    start, stop = segment["idxs"]
    return segment["result"]["token_timestamps"][start:stop].cpu() + offset


def decode_slice(loaded: model_module.LoadedModel, req: FileSeqSliceRequest) -> dict:
    """Windows from `seek` on: {outputs: blob, texts, done_s, language (first slice), next_seek}."""
    pipe = loaded.pipe
    windows = windows_per_slice()
    end = slice_end(req.seek, req.frames, windows)
    start, stop = slice_span(req.seek, req.frames, req.total, windows)
    audio = req.item.audio
    if req.offset != start or req.offset + len(audio) != stop or req.seek >= req.frames:
        raise SeqSliceError(f"a slice from frame {req.seek} of {req.frames} needs samples {start}..{stop}, "
                            f"got {req.offset}..{req.offset + len(audio)}")
    feats = torch.from_numpy(_span_features(pipe, audio, req.offset, req.seek, end, req.floor))[None]
    inputs = {"input_features": feats if pipe.dtype is None else feats.to(dtype=pipe.dtype),
              # The frames left in the file: word timestamps crop each window's attention to it.
              "attention_mask": torch.ones((1, req.frames - req.seek), dtype=torch.int32), "is_last": True}
    timestamps = loaded.timestamps(req.return_timestamps)
    forward, _ = slices._params(pipe, files._call_kwargs(loaded, req.item, timestamps, req.temperature))
    watch = _Watch(None if end == req.frames else end - req.seek)
    capture = files.captured_language(pipe.model)
    with capture:
        try:
            pipe.forward(inputs, **forward, monitor_progress=watch)
        except _Stop:
            pass
    segs = watch.segments or []
    stride = pipe.model.model.encoder.conv1.stride[0] * pipe.model.model.encoder.conv2.stride[0]
    # Each window's segments run from the count the loop held at its start to the next window's (the
    # last one's to the end); a prompt's placeholder segment comes before the first window's.
    kept, tokens = [], []
    for seek, first, upto in zip(watch.starts, watch.counts, watch.counts[1:] + [len(segs)]):
        for seg in segs[first:upto]:
            ids = seg["tokens"].cpu().numpy().astype(np.int64)
            tokens += ids.tolist()
            times = _word_times(seg, req.seek + seek, stride).numpy() if timestamps == "word" else None
            kept.append({"tokens": ids.tobytes(), "times": None if times is None else times.astype(np.float32).tobytes()})
    next_seek = None if watch.stopped_at is None else req.seek + watch.stopped_at
    language = files.first_slice_language(loaded, req.item.language, capture.token_id, audio) if req.first else None
    done = req.frames if next_seek is None else next_seek
    return {"outputs": msgpack.packb(kept, use_bin_type=True),
            "texts": [pipe.tokenizer.decode(tokens, skip_special_tokens=True).strip()],
            "done_s": round(done * HOP / RATE, 3), "language": language, "next_seek": next_seek}


def join(loaded: model_module.LoadedModel, req: FileJoinRequest) -> dict:
    """Every slice's segments in order, decoded as the pipeline decodes generate()'s output."""
    from transformers.models.whisper.generation_whisper import _pad_to_max_length

    pipe = loaded.pipe
    segments = [s for blob in req.outputs for s in msgpack.unpackb(blob, raw=False)]
    timestamps = loaded.timestamps(req.return_timestamps)
    current = [{"tokens": torch.from_numpy(np.frombuffer(s["tokens"], np.int64).copy())} for s in segments]
    # generate()'s step 7, for one item: the segments' tokens end to end (an empty file: no tokens).
    sequences = _pad_to_max_length([current], pipe.model.generation_config.pad_token_id, torch.device("cpu"),
                                   padding_side="right")
    out: dict = {"tokens": sequences, "is_last": True}
    if timestamps == "word":
        times = [torch.from_numpy(np.frombuffer(s["times"], np.float32).copy()) for s in segments]
        out["token_timestamps"] = [torch.cat(times) if times else torch.tensor([])]
    _, post = slices._params(pipe, {"return_timestamps": timestamps})
    result = model_module._result(pipe.postprocess([out], **post), timestamps)
    for chunk in result["chunks"]:
        chunk.pop("language", None)
    result["language"] = req.language
    return result
