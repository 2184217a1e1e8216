"""Messages of the sidecar protocol: validation of requests and constructors of replies.

Mirror of src/sidecar/protocol.ts; the contract is docs/sidecar-protocol.md.
Every reply puts "id" first so a peer can read it from a frame's first bytes.
"""
from __future__ import annotations

import math

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np


PROTOCOL_VERSION = 1
TASKS = ("transcribe", "translate")
# Whisper decodes at most 448 tokens, 4 of which start every sequence.
MAX_NEW_TOKENS_LIMIT = 444


@dataclass
class TranscribeItem:
    """One piece of audio (16 kHz mono float32) and how to decode it."""
    audio: np.ndarray
    language: Optional[str] = None
    task: Optional[str] = None
    prompt: Optional[str] = None
    # Stream windows: a cap proportional to the window, so a decode that starts looping stops early.
    max_new_tokens: Optional[int] = None
    # Stream windows: skip the decode when Whisper itself rates the window as no speech above this.
    no_speech_threshold: Optional[float] = None


class ProtocolError(Exception):
    """A request that is well framed but not a valid message."""

    def __init__(self, code: str, message: str, request_id: Optional[int] = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


@dataclass
class TranscribeRequest:
    id: int
    items: list[TranscribeItem]
    return_timestamps: Any
    # File requests only (sidecar/files.py): a long-form mode, progress frames, sampling temperature.
    mode: Optional[str] = None
    progress: bool = False
    temperature: float = 0.0
    # File requests only: {num_speakers?, min_speakers?, max_speakers?} asks for speaker turns (diarize.py).
    diarize: Optional[dict] = None


def request_id(message: dict) -> Optional[int]:
    value = message.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _optional_str(raw: dict, key: str, rid: int) -> Optional[str]:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ProtocolError("bad_request", f"item field {key!r} must be a string", rid)
    return value


def _item(raw: Any, rid: int, index: int) -> TranscribeItem:
    if not isinstance(raw, dict):
        raise ProtocolError("bad_request", f"item {index} is not a map", rid)
    audio = raw.get("audio")
    if not isinstance(audio, (bytes, bytearray)):
        raise ProtocolError("bad_request", f"item {index}: audio must be raw bytes (s16le, 16 kHz mono)", rid)
    if len(audio) == 0 or len(audio) % 2:
        raise ProtocolError("bad_request", f"item {index}: audio has {len(audio)} bytes; need a positive even count", rid)
    task = _optional_str(raw, "task", rid)
    if task is not None and task not in TASKS:
        raise ProtocolError("bad_request", f"item {index}: task must be one of {TASKS}", rid)
    cap = raw.get("max_new_tokens")
    if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= MAX_NEW_TOKENS_LIMIT):
        raise ProtocolError("bad_request", f"item {index}: max_new_tokens must be an integer 1..{MAX_NEW_TOKENS_LIMIT}", rid)
    no_speech = raw.get("no_speech_threshold")
    if no_speech is not None and (not isinstance(no_speech, (int, float)) or isinstance(no_speech, bool)
                                  or not 0 < no_speech <= 1):
        raise ProtocolError("bad_request", f"item {index}: no_speech_threshold must be a number in (0, 1]", rid)
    pcm = np.frombuffer(bytes(audio), dtype="<i2").astype(np.float32) / 32768.0
    return TranscribeItem(pcm, _optional_str(raw, "language", rid), task, _optional_str(raw, "prompt", rid), cap,
                          None if no_speech is None else float(no_speech))


def parse_transcribe(message: dict) -> TranscribeRequest:
    rid = request_id(message)
    if rid is None:
        raise ProtocolError("bad_request", "transcribe needs an integer id")
    items = message.get("items")
    if not isinstance(items, list) or not items:
        raise ProtocolError("bad_request", "transcribe needs a non-empty list of items", rid)
    timestamps = message.get("return_timestamps")
    if timestamps not in (None, True, False, "word"):
        raise ProtocolError("bad_request", "return_timestamps must be true, false or \"word\"", rid)
    mode = message.get("mode")
    if mode not in (None, "pipeline", "sequential", "vad"):
        raise ProtocolError("bad_request", "mode must be \"pipeline\", \"sequential\" or \"vad\"", rid)
    temperature = message.get("temperature") or 0.0
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not 0 <= temperature <= 1:
        raise ProtocolError("bad_request", "temperature must be a number from 0 to 1", rid)
    return TranscribeRequest(rid, [_item(raw, rid, i) for i, raw in enumerate(items)], timestamps,
                             mode, bool(message.get("progress")), float(temperature),
                             parse_diarize(message.get("diarize"), rid, mode))


SPEAKER_FIELDS = ("num_speakers", "min_speakers", "max_speakers")


def parse_diarize(raw: Any, rid: int, mode: Optional[str]) -> Optional[dict]:
    """A file request's `diarize`: absent/false, true, or a map of speaker-count hints (1..32)."""
    if raw is None or raw is False:
        return None
    if mode is None:
        raise ProtocolError("bad_request", "diarize is for file requests (with a mode)", rid)
    raw = {} if raw is True else raw
    if not isinstance(raw, dict) or set(raw) - set(SPEAKER_FIELDS):
        raise ProtocolError("bad_request", f"diarize must be true or a map of {SPEAKER_FIELDS}", rid)
    out = {}
    for key in SPEAKER_FIELDS:
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 32:
            raise ProtocolError("bad_request", f"diarize.{key} must be an integer 1..32", rid)
        out[key] = value
    if out.get("min_speakers", 1) > out.get("max_speakers", 32):
        raise ProtocolError("bad_request", "diarize.min_speakers is over max_speakers", rid)
    return out


def speaker_turns(turns: list) -> list[dict]:
    """Turns (diarize.Turn) as result fields: [{start, end, speaker}], speaker an index from 0."""
    return [{"start": t.start, "end": t.end, "speaker": t.speaker} for t in turns]


@dataclass
class AudioRequest:
    """A request over pieces of audio alone: `vad` (speech probabilities per frame) or `embed`
    (speaker embeddings of stream segments, for online speaker labels)."""
    id: int
    kind: str
    items: list[np.ndarray]


def parse_audio_request(message: dict) -> AudioRequest:
    kind = message.get("type")
    rid = request_id(message)
    if rid is None:
        raise ProtocolError("bad_request", f"{kind} needs an integer id")
    items = message.get("items")
    if not isinstance(items, list) or not items:
        raise ProtocolError("bad_request", f"{kind} needs a non-empty list of items", rid)
    return AudioRequest(rid, str(kind), [_item(raw, rid, i).audio for i, raw in enumerate(items)])


def embed_result(rid: int, embeddings: np.ndarray) -> dict:
    """One unit vector per item, float32 LE bytes (256 values for the Resemblyzer encoder)."""
    return {"id": rid, "type": "embed_result", "items": [{"embedding": e.astype("<f4").tobytes()} for e in embeddings]}


def vad_result(rid: int, probabilities: list) -> dict:
    return {"id": rid, "type": "vad_result", "items": [{"probs": p.astype("<f4").tobytes()} for p in probabilities]}


def ready(info: dict, pid: int) -> dict:
    return {"id": 0, "type": "ready", "protocol": PROTOCOL_VERSION, "pid": pid, **info}


def progress(rid: int, done_s: float, total_s: float, text: str) -> dict:
    """A file request's progress: seconds of audio decoded so far, and the partial text."""
    return {"id": rid, "type": "progress", "done_s": round(done_s, 3), "total_s": round(total_s, 3), "text": text}


def result(rid: int, items: list[dict], seconds: float, batch: Optional[dict] = None) -> dict:
    """`batch`: what a stream-window request cost inside the model (engine.BatchStats), when known."""
    reply = {"id": rid, "type": "result", "items": items, "seconds": round(seconds, 4)}
    if batch is not None:
        reply["batch"] = batch
    return reply


def error(rid: Optional[int], code: str, message: str) -> dict:
    return {"id": rid, "type": "error", "code": code, "message": message}


def pong(rid: int) -> dict:
    return {"id": rid, "type": "pong"}


def bye(rid: int) -> dict:
    return {"id": rid, "type": "bye"}


@dataclass
class FileSliceRequest:
    """`file_slice`: one forward batch of a pipeline-mode file (sidecar/slices.py)."""
    id: int
    item: TranscribeItem  # the slice's audio span only, with the file's decoding options
    offset: int  # sample index of the span's first sample in the file
    total: int  # samples in the whole file
    first: int  # index of the slice's first chunk
    count: int  # chunks in the slice
    return_timestamps: Any
    temperature: float = 0.0


@dataclass
class FileJoinRequest:
    """`file_join`: the pipeline's postprocess over every slice's outputs, in order (mode
    "pipeline"), or a `vad`-mode file's windows put together (mode "vad", vad_slices.py)."""
    id: int
    outputs: list[bytes]
    return_timestamps: Any
    language: Optional[str]
    mode: str = "pipeline"


@dataclass
class FileVadPlanRequest:
    """`file_vad_plan`: where a `vad`-mode file's speech windows are (vad_slices.py)."""
    id: int
    item: TranscribeItem  # the whole file, with its decoding options
    return_timestamps: Any
    temperature: float = 0.0


@dataclass
class FileVadSliceRequest:
    """`file_vad_slice`: one batch of a `vad`-mode file's windows, each as its raw audio."""
    id: int
    items: list[TranscribeItem]  # one per window, each with the file's decoding options
    offsets: list[int]  # samples: each window's start in the file
    regions: list[list[tuple[int, int]]]  # samples, relative to each window's start
    speech: list[float]  # each window's mean speech probability (from the plan)
    total: int  # samples in the whole file
    first: bool  # the file's first slice (it also captures the file's language)
    return_timestamps: Any
    temperature: float = 0.0


def _natural(message: dict, key: str, rid: int, minimum: int = 0) -> int:
    value = message.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ProtocolError("bad_request", f"{key} must be an integer >= {minimum}", rid)
    return value


def _file_part(message: dict, kind: str, single: Optional[str] = None) -> TranscribeRequest:
    """The fields a file-part request shares with transcribe (id, items, timestamps, temperature);
    `single` names its one item when it takes exactly one."""
    base = parse_transcribe({**message, "type": "transcribe", "mode": None, "diarize": None})
    if single is not None and len(base.items) != 1:
        raise ProtocolError("bad_request", f"{kind} takes one item ({single})", base.id)
    return base


def parse_file_slice(message: dict) -> FileSliceRequest:
    base = _file_part(message, "file_slice", "the slice's audio")
    return FileSliceRequest(base.id, base.items[0], _natural(message, "offset", base.id),
                            _natural(message, "total", base.id, 1), _natural(message, "first", base.id),
                            _natural(message, "count", base.id, 1), base.return_timestamps, base.temperature)


def parse_file_join(message: dict) -> FileJoinRequest:
    rid = request_id(message)
    if rid is None:
        raise ProtocolError("bad_request", "file_join needs an integer id")
    mode = message.get("mode", "pipeline")
    if mode not in ("pipeline", "vad", "sequential"):
        raise ProtocolError("bad_request", "file_join's mode must be \"pipeline\", \"vad\" or \"sequential\"", rid)
    outputs = message.get("outputs")
    # A vad-mode file with no speech has no slices: its join puts nothing together.
    if (not isinstance(outputs, list) or (not outputs and mode != "vad")
            or not all(isinstance(o, (bytes, bytearray)) for o in outputs)):
        raise ProtocolError("bad_request", "file_join needs a non-empty list of slice outputs (bytes)", rid)
    timestamps = message.get("return_timestamps")
    if timestamps not in (None, True, False, "word"):
        raise ProtocolError("bad_request", "return_timestamps must be true, false or \"word\"", rid)
    return FileJoinRequest(rid, [bytes(o) for o in outputs], timestamps, _optional_str(message, "language", rid), mode)


def parse_file_vad_plan(message: dict) -> FileVadPlanRequest:
    base = _file_part(message, "file_vad_plan", "the whole file")
    return FileVadPlanRequest(base.id, base.items[0], base.return_timestamps, base.temperature)


def _sample_pair(raw: Any) -> tuple[int, int]:
    if (not isinstance(raw, (list, tuple)) or len(raw) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in raw)):
        raise ValueError
    return int(raw[0]), int(raw[1])


def parse_file_vad_slice(message: dict) -> FileVadSliceRequest:
    base = _file_part(message, "file_vad_slice")
    rid, count = base.id, len(base.items)
    offsets, regions, speech = message.get("offsets"), message.get("regions"), message.get("speech")
    if not (isinstance(offsets, list) and isinstance(regions, list) and isinstance(speech, list)
            and len(offsets) == len(regions) == len(speech) == count):
        raise ProtocolError("bad_request", f"file_vad_slice needs offsets, regions and speech for each of its {count} windows", rid)
    if not all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets):
        raise ProtocolError("bad_request", "offsets must be sample indices >= 0", rid)
    if not all(isinstance(p, (int, float)) and not isinstance(p, bool) and 0 <= p <= 1 for p in speech):
        raise ProtocolError("bad_request", "speech must be probabilities from 0 to 1", rid)
    try:
        pairs = [[_sample_pair(r) for r in window] for window in regions]
    except (TypeError, ValueError):
        raise ProtocolError("bad_request", "regions must be lists of [start, end] sample pairs", rid) from None
    return FileVadSliceRequest(rid, base.items, offsets, pairs, [float(p) for p in speech],
                               _natural(message, "total", rid, 1), bool(message.get("first")),
                               base.return_timestamps, base.temperature)


@dataclass
class FileSeqPlanRequest:
    """`file_seq_plan`: a `sequential`-mode file's frame count and feature floor (seq_slices.py)."""
    id: int
    item: TranscribeItem  # the whole file


@dataclass
class FileSeqSliceRequest:
    """`file_seq_slice`: a `sequential`-mode file's windows from one window start on."""
    id: int
    item: TranscribeItem  # the samples the slice needs (seq_slices.slice_span), with the file's options
    offset: int  # sample index of the span's first sample in the file
    total: int  # samples in the whole file
    seek: int  # log-mel frame where the slice's first window starts
    frames: int  # the file's frames (from the plan)
    floor: float  # the file's feature minimum (from the plan)
    first: bool  # the file's first slice (it also resolves the language)
    return_timestamps: Any
    temperature: float = 0.0


def parse_file_seq_plan(message: dict) -> FileSeqPlanRequest:
    base = _file_part(message, "file_seq_plan", "the whole file")
    return FileSeqPlanRequest(base.id, base.items[0])


def parse_file_seq_slice(message: dict) -> FileSeqSliceRequest:
    base = _file_part(message, "file_seq_slice", "the slice's audio")
    rid = base.id
    floor = message.get("floor")
    if not isinstance(floor, (int, float)) or isinstance(floor, bool) or not math.isfinite(floor):
        raise ProtocolError("bad_request", "floor must be a finite number (from file_seq_plan)", rid)
    return FileSeqSliceRequest(rid, base.items[0], _natural(message, "offset", rid), _natural(message, "total", rid, 1),
                               _natural(message, "seek", rid), _natural(message, "frames", rid, 1), float(floor),
                               bool(message.get("first")), base.return_timestamps, base.temperature)


def seq_plan(rid: int, plan: dict) -> dict:
    """A sequential-mode file's frame count, feature floor and windows per slice."""
    return {"id": rid, "type": "seq_plan", **plan}


@dataclass
class FileDiarizeRequest:
    """`file_diarize`: a file's speaker turns alone (its words come from slices)."""
    id: int
    audio: np.ndarray
    hints: dict


def parse_file_diarize(message: dict) -> FileDiarizeRequest:
    base = _file_part(message, "file_diarize", "the whole file")
    return FileDiarizeRequest(base.id, base.items[0].audio, parse_diarize(message.get("diarize", True), base.id, "file"))


def speakers(rid: int, turns: list) -> dict:
    """A file_diarize reply: the file's speaker turns."""
    return {"id": rid, "type": "speakers", "speakers": speaker_turns(turns)}


def vad_plan(rid: int, plan: dict) -> dict:
    """A vad-mode file's windows, regions (samples), window speech probabilities and batch size."""
    return {"id": rid, "type": "vad_plan", **plan}


def slice_result(rid: int, out: dict, seconds: float) -> dict:
    """A slice's outputs (opaque to the server, sent back in file_join), chunk texts and progress."""
    return {"id": rid, "type": "slice_result", **out, "seconds": round(seconds, 4)}
