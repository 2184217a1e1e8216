"""The model: one transformers ASR pipeline, loaded once, called exactly as a user would call it.

Owns pipeline construction and the per-request call. It knows nothing about
frames or processes (service.py does). Defaults are the design brief's:
chunk_length_s 30, batch_size 16, return_timestamps True, max_new_tokens 128.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import torch
import transformers
from transformers import AutoModelForSpeechSeq2Seq, AutoProcessor, pipeline
from transformers.models.whisper.tokenization_whisper import TO_LANGUAGE_CODE

from device import DeviceChoice
from protocol import TranscribeItem  # the message layer owns the item; the model reads it
from engine import EngineSettings, WindowEngine

SAMPLING_RATE = 16000


@dataclass(frozen=True)
class PipelineSettings:
    chunk_length_s: float = 30.0
    batch_size: int = 16
    return_timestamps: Any = True
    max_new_tokens: int = 128


@dataclass
class LoadedModel:
    pipe: Any
    model_id: str
    revision: Optional[str]
    choice: DeviceChoice
    settings: PipelineSettings
    load_seconds: float
    languages: list[str] = field(default_factory=list)
    # Stream windows (engine.py): one batched decode on the same model.
    engine: Optional[WindowEngine] = None

    def timestamps(self, requested: Any) -> Any:
        """A request's return_timestamps, or the loaded default (RETURN_TIMESTAMPS) when it names none."""
        return self.settings.return_timestamps if requested is None else requested

    def describe(self) -> dict:
        """What was really loaded: the first frame reports this."""
        return {
            "model": self.model_id,
            "revision": self.revision,
            "device": self.choice.device,
            "dtype": self.choice.dtype_name,
            "attn_implementation": self.choice.attn_implementation,
            "device_reason": self.choice.reason,
            "languages": self.languages,
            "sampling_rate": SAMPLING_RATE,
            "load_seconds": round(self.load_seconds, 3),
            "settings": {
                "chunk_length_s": self.settings.chunk_length_s,
                "batch_size": self.settings.batch_size,
                "return_timestamps": self.settings.return_timestamps,
                "max_new_tokens": self.settings.max_new_tokens,
            },
            "stream_engine": self.engine.describe() if self.engine else None,
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        }


def load(model_id: str, choice: DeviceChoice, settings: PipelineSettings, revision: Optional[str] = None,
         engine_settings: Optional[EngineSettings] = None) -> LoadedModel:
    """Build the pipeline the way the design brief does, with the chosen device settings."""
    started = time.perf_counter()
    model = AutoModelForSpeechSeq2Seq.from_pretrained(
        model_id, revision=revision, dtype=choice.dtype,
        attn_implementation=choice.attn_implementation, low_cpu_mem_usage=True, use_safetensors=True,
    )
    model.to(choice.device)
    model.eval()
    processor = AutoProcessor.from_pretrained(model_id, revision=revision)
    pipe = pipeline(
        "automatic-speech-recognition",
        model=model,
        tokenizer=processor.tokenizer,
        feature_extractor=processor.feature_extractor,
        max_new_tokens=settings.max_new_tokens,
        chunk_length_s=settings.chunk_length_s,
        batch_size=settings.batch_size,
        ignore_warning=True,
        return_timestamps=settings.return_timestamps,
        dtype=choice.dtype,
        device=choice.device,
    )
    lang_to_id = getattr(model.generation_config, "lang_to_id", None) or {}
    languages = sorted(tok.strip("<|>") for tok in lang_to_id)
    commit = getattr(model.config, "_commit_hash", None)
    engine = WindowEngine(pipe, choice.device, choice.dtype, engine_settings or EngineSettings(), settings.max_new_tokens)
    return LoadedModel(pipe, model_id, revision or commit, choice, settings,
                       time.perf_counter() - started, languages, engine)


def _generate_kwargs(item: TranscribeItem, loaded: LoadedModel) -> dict:
    kwargs: dict = {}
    if item.language:
        kwargs["language"] = item.language
    if item.task:
        kwargs["task"] = item.task
    if item.prompt:
        ids = loaded.pipe.tokenizer.get_prompt_ids(item.prompt, return_tensors="pt")
        kwargs["prompt_ids"] = ids.to(loaded.choice.device)
    if item.max_new_tokens:
        kwargs["max_new_tokens"] = item.max_new_tokens
    return kwargs


def language_code(name: Optional[str]) -> Optional[str]:
    """The pipeline reports languages by name ("german"); clients of the brief expect codes ("de")."""
    if name is None:
        return None
    return TO_LANGUAGE_CODE.get(name.lower(), name)


def start_of_transcript(loaded: LoadedModel, audio: np.ndarray) -> tuple[float, Optional[str]]:
    """Whisper's first decoding step on the first 30 s of `audio` (one encoder pass, one decoder
    step after <|startoftranscript|>), as openai-whisper reads it: the no-speech probability
    P(<|nospeech|>) and the most likely language (ISO code).

    The pipeline exposes neither: its return_language=True fails in transformers 5.24 as soon as a
    batch holds more than one chunk, and short-form generate() ignores no_speech_threshold.
    """
    pipe = loaded.pipe
    config = pipe.model.generation_config
    features = pipe.feature_extractor(audio[:30 * SAMPLING_RATE], sampling_rate=SAMPLING_RATE,
                                      return_tensors="pt").input_features
    features = features.to(loaded.choice.device, dtype=loaded.choice.dtype)
    start = torch.tensor([[config.decoder_start_token_id]], device=loaded.choice.device)
    with torch.inference_mode():
        logits = pipe.model(input_features=features, decoder_input_ids=start).logits[0, -1].float()
    no_speech = float(logits.softmax(-1)[config.no_timestamps_token_id - 1])
    lang_ids = list((getattr(config, "lang_to_id", None) or {}).values())
    if not lang_ids:
        return no_speech, None
    best = lang_ids[int(torch.argmax(logits[lang_ids]))]
    return no_speech, pipe.tokenizer.convert_ids_to_tokens(best).strip("<|>")


def detect_language(loaded: LoadedModel, audio: np.ndarray) -> Optional[str]:
    """ISO code of the language Whisper hears in the first 30 s of `audio`."""
    return start_of_transcript(loaded, audio)[1] if len(audio) else None


def no_speech_probability(loaded: LoadedModel, audio: np.ndarray) -> float:
    """Whisper's own no-speech probability for a window (see start_of_transcript)."""
    return start_of_transcript(loaded, audio)[0]


def _result(out: dict, timestamps: Any) -> dict:
    chunks = []
    for chunk in out.get("chunks") or []:
        start, end = chunk.get("timestamp", (None, None))
        entry = {"text": chunk["text"], "timestamp": [start, end]}
        if chunk.get("language") is not None:
            entry["language"] = language_code(chunk["language"])
        chunks.append(entry)
    languages = [c["language"] for c in chunks if c.get("language")]
    return {"text": out.get("text", ""), "chunks": chunks, "language": languages[0] if languages else None}


class kept_attention:
    """A return_timestamps="word" call makes generate() switch the shared model to eager attention
    for good (transformers' generation_whisper.py sets config._attn_implementation = "eager" for
    its cross-attention weights); put the loaded implementation back after the call, so one word-
    timestamp request does not slow every later request. With `during`, the model runs on that
    implementation inside the block (a stream window decoded inside a word-timestamp file job, as
    it would be decoded alone), and goes back to what it was on after it."""

    def __init__(self, model: Any, during: Optional[str] = None):
        self._config = model.config
        self._during = during
        self._saved: dict = {}

    def __enter__(self) -> "kept_attention":
        self._saved = {id(c): (c, c._attn_implementation) for c in self._configs()}
        if self._during is not None:
            for config, _ in self._saved.values():
                config._attn_implementation = self._during
        return self

    def _configs(self):
        yield self._config
        for name in ("encoder", "decoder", "text_config"):
            sub = getattr(self._config, name, None)
            if sub is not None and hasattr(sub, "_attn_implementation"):
                yield sub

    def __exit__(self, *exc: Any) -> None:
        for config, implementation in self._saved.values():
            if config._attn_implementation != implementation:
                config._attn_implementation = implementation


def uses_engine(loaded: LoadedModel, items: list[TranscribeItem], return_timestamps: Any = None) -> bool:
    """Whether these stream windows take the batched engine (else the pipeline, item by item)."""
    timestamps = loaded.timestamps(return_timestamps)
    fits = all(len(item.audio) <= 30 * SAMPLING_RATE for item in items)
    return loaded.engine is not None and timestamps != "word" and fits


def transcribe(loaded: LoadedModel, items: list[TranscribeItem], return_timestamps: Any = None) -> tuple[list[dict], Optional[dict]]:
    """Stream windows: one result per item, and what the batch cost (engine.BatchStats) or None.

    Windows of up to 30 s go through the batched engine (engine.py). Word timestamps need the
    pipeline's cross-attention alignment, and longer items its chunking: those take the pipeline
    path, item by item.
    """
    timestamps = loaded.timestamps(return_timestamps)
    if uses_engine(loaded, items, return_timestamps):
        results, stats = loaded.engine.decode(items, bool(timestamps))
        return results, stats.as_dict()
    with kept_attention(loaded.pipe.model):
        return _transcribe_pipeline(loaded, items, timestamps), None


def _transcribe_pipeline(loaded: LoadedModel, items: list[TranscribeItem], timestamps: Any) -> list[dict]:
    """Run the pipeline on each item, exactly as pipe(audio, generate_kwargs=...) would.

    Items that share decoding options go through the pipeline as one list, so the
    pipeline's own batching (batch_size) spans them; their chunk order is kept.
    """
    results: list[Optional[dict]] = [None] * len(items)
    groups: dict[tuple, list[int]] = {}
    heard: dict[int, Optional[str]] = {}  # language from the no-speech probe: no second detection pass
    for index, item in enumerate(items):
        if item.no_speech_threshold is not None:
            no_speech, heard[index] = start_of_transcript(loaded, item.audio)
            if no_speech > item.no_speech_threshold:
                results[index] = {"text": "", "chunks": [], "language": item.language, "no_speech_prob": no_speech}
                continue
        groups.setdefault((item.language, item.task, item.prompt, item.max_new_tokens), []).append(index)
    for indexes in groups.values():
        first = items[indexes[0]]
        inputs = [{"raw": items[i].audio, "sampling_rate": SAMPLING_RATE} for i in indexes]
        call_kwargs: dict = {"return_timestamps": timestamps, "generate_kwargs": _generate_kwargs(first, loaded)}
        with torch.inference_mode():
            outs = loaded.pipe(inputs if len(inputs) > 1 else inputs[0], **call_kwargs)
        if len(inputs) == 1:
            outs = [outs]
        for i, out in zip(indexes, outs):
            results[i] = _result(out, timestamps)
            results[i]["language"] = first.language or heard.get(i) or detect_language(loaded, items[i].audio)
    return [r for r in results if r is not None]
