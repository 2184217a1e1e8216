"""A `pipeline`-mode file in bounded slices: the pipeline's own preprocess → forward → postprocess,
cut between forward batches so the server can serve stream windows between two slices.

A direct `pipe(audio)` call on a long file is, in transformers 5.24 (ChunkPipeline.get_iterator):
`preprocess` cuts the audio into strided chunks (chunk_iter), a DataLoader collates them in
batches of `batch_size` (pad_collate_fn), `forward` runs generate() on each batch, the outputs are
unbatched (PipelineIterator) and `postprocess` merges all of them at once (_decode_asr). This
module runs exactly those steps, with the same functions and parameters, but one forward batch per
request (`file_slice`), and the merge in a last request (`file_join`). The sidecar keeps nothing
between requests: a slice's outputs go back to the server as an opaque blob, and the join gets them
all back, so a crash replays one slice, never the file.

Stateless and exact: a slice's chunks are computed from the file's length alone (chunk_bounds
mirrors chunk_iter), their features from their own samples (the same feature-extractor call),
and the forward batches are the direct call's batches (slices start at multiples of batch_size).
tests/test_slices.py checks chunk for chunk against pipe.preprocess and end to end against pipe().
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import msgpack
import numpy as np
import torch
from torch.utils.data import DataLoader
from transformers.pipelines.base import no_collate_fn, pad_collate_fn
from transformers.pipelines.pt_utils import PipelineIterator

import files
import model as model_module
from protocol import FileJoinRequest as JoinRequest, FileSliceRequest as SliceRequest

RATE = model_module.SAMPLING_RATE


@dataclass(frozen=True)
class Chunking:
    """The pipeline's chunk geometry in samples, as its preprocess computes it, and its batch size."""
    chunk_samples: int
    stride_left: int
    stride_right: int
    batch_size: int

    def describe(self) -> dict:
        return {"chunk_samples": self.chunk_samples, "stride_left": self.stride_left,
                "stride_right": self.stride_right, "batch_size": self.batch_size}


def chunking(pipe: Any, chunk_length_s: float, batch_size: int) -> Chunking:
    """AutomaticSpeechRecognitionPipeline.preprocess's arithmetic (stride_length_s = chunk_length_s / 6)."""
    stride_s = chunk_length_s / 6
    align_to = pipe._align_to
    rate = pipe.feature_extractor.sampling_rate
    chunk = int(round(chunk_length_s * rate / align_to) * align_to)
    stride = int(round(stride_s * rate / align_to) * align_to)
    return Chunking(chunk, stride, stride, max(1, batch_size))


@dataclass(frozen=True)
class Chunk:
    start: int  # samples, on the file's clock
    end: int
    stride: tuple[int, int, int]  # (chunk length, left, right) as chunk_iter yields it
    is_last: bool


def chunk_bounds(total: int, c: Chunking) -> list[Chunk]:
    """The chunks chunk_iter yields for `total` samples, without computing any features."""
    out: list[Chunk] = []
    step = c.chunk_samples - c.stride_left - c.stride_right
    for start in range(0, total, step):
        end = start + c.chunk_samples
        left = 0 if start == 0 else c.stride_left
        is_last = end >= total
        length = min(end, total) - start
        if length > left:
            out.append(Chunk(start, start + length, (length, left, 0 if is_last else c.stride_right), is_last))
        if is_last:
            break
    return out


def _features(pipe: Any, audio: np.ndarray, chunk: Chunk) -> dict:
    """What chunk_iter yields for this chunk: the same feature-extractor call on the same samples."""
    fe = pipe.feature_extractor
    processed = fe(audio, sampling_rate=fe.sampling_rate, return_tensors="pt", return_attention_mask=True)
    if pipe.dtype is not None:
        processed = processed.to(dtype=pipe.dtype)
    return {"is_last": chunk.is_last, "stride": chunk.stride, **processed}


def _params(pipe: Any, call_kwargs: dict) -> tuple[dict, dict]:
    """Forward and postprocess parameters exactly as Pipeline.__call__ fuses them."""
    _, forward, post = pipe._sanitize_parameters(**call_kwargs)
    return {**pipe._forward_params, **forward}, {**pipe._postprocess_params, **post}


def _pack(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        array = value.detach().cpu().numpy()
        return {"__tensor__": array.dtype.str, "shape": list(array.shape), "data": array.tobytes()}
    if isinstance(value, tuple):
        return {"__tuple__": [_pack(v) for v in value]}
    if isinstance(value, list):
        return [_pack(v) for v in value]
    if isinstance(value, (np.bool_, np.integer, np.floating)):
        return value.item()
    return value


def _unpack(value: Any) -> Any:
    if isinstance(value, dict) and "__tensor__" in value:
        array = np.frombuffer(value["data"], dtype=np.dtype(value["__tensor__"])).reshape(value["shape"])
        return torch.from_numpy(array.copy())
    if isinstance(value, dict) and "__tuple__" in value:
        return tuple(_unpack(v) for v in value["__tuple__"])
    if isinstance(value, list):
        return [_unpack(v) for v in value]
    return value


class SliceError(ValueError):
    """A slice that does not fit the pipeline's chunking (bad_request)."""


def decode_slice(loaded: model_module.LoadedModel, chunks_of: Chunking, req: SliceRequest) -> dict:
    """Forward one slice: {outputs: blob, texts: per chunk, done_s, language (first slice only)}."""
    pipe = loaded.pipe
    plan = chunk_bounds(req.total, chunks_of)
    picked = plan[req.first:req.first + req.count]
    if not picked or len(picked) != req.count:
        raise SliceError(f"chunks {req.first}..{req.first + req.count} of a {len(plan)}-chunk file")
    audio = req.item.audio
    if req.offset != picked[0].start or req.offset + len(audio) != picked[-1].end:
        raise SliceError(f"audio covers {req.offset}..{req.offset + len(audio)}, the chunks "
                         f"{picked[0].start}..{picked[-1].end}")
    timestamps = loaded.timestamps(req.return_timestamps)
    forward, _ = _params(pipe, files._call_kwargs(loaded, req.item, timestamps, req.temperature))
    items = [_features(pipe, audio[c.start - req.offset:c.end - req.offset], c) for c in picked]
    batch = chunks_of.batch_size
    collate = no_collate_fn if batch == 1 else pad_collate_fn(pipe.tokenizer, pipe.feature_extractor)
    loader = DataLoader(items, num_workers=0, batch_size=batch, collate_fn=collate)
    capture = files.captured_language(pipe.model)
    with capture:
        outputs = list(PipelineIterator(loader, pipe.forward, forward, loader_batch_size=batch))
    texts = [pipe.tokenizer.decode(o["tokens"].reshape(-1).tolist(), skip_special_tokens=True).strip() for o in outputs]
    language = files.first_slice_language(loaded, req.item.language, capture.token_id, audio) if req.first == 0 else None
    blob = msgpack.packb([{k: _pack(v) for k, v in o.items()} for o in outputs], use_bin_type=True)
    done = sum(c.stride[0] - c.stride[1] - c.stride[2] for c in plan[:req.first + req.count])
    return {"outputs": blob, "texts": texts, "done_s": round(done / RATE, 3), "language": language}


def join(loaded: model_module.LoadedModel, req: JoinRequest) -> dict:
    """postprocess over every slice's outputs at once: the file's {text, chunks, language}."""
    pipe = loaded.pipe
    outputs = [{k: _unpack(v) for k, v in o.items()}
               for blob in req.outputs for o in msgpack.unpackb(blob, raw=False)]
    timestamps = loaded.timestamps(req.return_timestamps)
    _, post = _params(pipe, {"return_timestamps": timestamps})
    result = model_module._result(pipe.postprocess(outputs, **post), timestamps)
    for chunk in result["chunks"]:
        chunk.pop("language", None)
    result["language"] = req.language
    return result
