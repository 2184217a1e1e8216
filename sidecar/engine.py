"""Stream windows as one batched decode on the pipeline's own WhisperForConditionalGeneration.

The pipeline cannot batch stream windows: it takes one prompt, one language and one token cap per
call, and runs its own encoder pass (plus a language-detection pass while the language is
unknown). Here a request of K windows costs:

  1. one batched log-mel (the pipeline's feature extractor, each window padded to 30 s as it does);
  2. one encoder pass over the K windows (per encoder-length bucket, see EngineSettings.audio_ctx);
  3. one decoder step at <|startoftranscript|> for all K: Whisper's no-speech probability
     P(<|nospeech|>) and, where the window's language is not given, its language (as
     openai-whisper reads them); windows over their no-speech threshold drop out here;
  4. one generate() over the kept windows with the encoder output precomputed, each row's
     [<|startofprev|> prompt <|startoftranscript|> <|lang|> <|task|>] left-padded, its own token cap
     (a per-row stopping criterion), and the pipeline's logits processors (timestamp rules,
     suppressed tokens) as generate() builds them from the model's generation config;
  5. the pipeline's own postprocess (the tokenizer's ASR decoding) per row, so a window's text and
     chunks have exactly the pipeline's shape; each word also gets its probability (`confidence`)
     and, where the model names alignment heads, where in the window the model was listening when
     it wrote the word (`attended`, AttentionProbe): the session's AlignAtt policy commits on that.

A window's result does not depend on what else is in its batch (pytest: tests/test_engine.py
compares batches of 1, 2, 4 and 8 with each window decoded alone).

File requests never come here: they keep the exact pipeline(...) call (model.py, files.py), except
the `vad` long-form mode, whose ≤ 30 s speech windows are decoded by this engine (files.py).
"""
from __future__ import annotations

import contextlib
import copy
import math
import threading
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
from transformers import StoppingCriteria, StoppingCriteriaList
from transformers.modeling_outputs import BaseModelOutput

SAMPLING_RATE = 16000
# Whisper's encoder: 2 mel frames (10 ms each) per position, 1500 positions = 30 s.
MEL_PER_POSITION = 2
POSITIONS_PER_SECOND = 50
WINDOW_LIMIT_S = 30.0


@dataclass(frozen=True)
class EngineSettings:
    """How stream windows are decoded; each lever is a setting (env, see main.py)."""
    # Encoder on the window's real length plus padding instead of 30 s (whisper.cpp's audio_ctx).
    audio_ctx: bool = False
    # Real padding kept after the audio when audio_ctx is on: less makes Whisper loop.
    audio_ctx_pad_s: float = 3.0
    # Encoder lengths are rounded up to this many positions, so batches share few shapes.
    audio_ctx_bucket: int = 250
    # int8 dynamic quantization of the decoder's linear layers (CPU only), in a copy of the model
    # that only generate() uses: the encoder and the first step (no-speech, language) stay float.
    # torch's dynamic quantization scales activations per tensor, so a row's result would depend
    # on its batch-mates: with int8 the rows are decoded one by one (on 2 CPU cores a batch of K
    # costs what K single rows cost anyway, and the int8 step is ~3x faster).
    int8: bool = False
    # The encoder and the first decoder step in bfloat16 (CPU only, and only where the CPU has
    # native bf16 arithmetic, e.g. AVX512_BF16): on this repo's 2-core Zen 4 the 30 s encoder pass
    # goes from 0.53 s to 0.36 s (a window's decode 0.80 -> 0.61 s), its output within 2 % of
    # float32 (int8 there is 0.32 s but 30 % off: Whisper's encoder activations have outliers that
    # one per-tensor scale cannot hold). Off by default (STREAM_ENCODER_BF16): greedy whisper-base
    # flips some words on it (bench/results/encoder-bf16-probe-cpu.json: 2.4 % of a growing
    # window's words change, clip WER 0.141 vs 0.121; file vad mode English WER 0.116 vs 0.074;
    # the 8-session streaming test's fleurs-en-004 WER 0.333 over its 0.25 bound, 0.200 in float32), and
    # file windows keep float32 even with it on (decode(stream=False)).
    encoder_bf16: bool = False


def attach_per_word(chunks: list[dict], key: str, values: list[float]) -> None:
    """Give each chunk `key`: one number per whitespace-separated word of its text, when the token
    words line up with the text's words (they do for space-separated scripts); else nothing."""
    counts = [len(c["text"].split()) for c in chunks]
    if sum(counts) != len(values):
        return
    at = 0
    for chunk, n in zip(chunks, counts):
        chunk[key] = values[at:at + n]
        at += n


def cpu_has_bf16() -> bool:
    """Whether this CPU has native bf16 arithmetic (oneDNN's check): elsewhere bf16 is emulated and
    slower than float32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


class AttentionProbe:
    """Where each decoder step of generate() listened: the cross-attention of the model's alignment
    heads (generation_config.alignment_heads, the heads openai-whisper reads word times from) for the
    step's last query position, averaged over the heads, arg-maxed over the row's real audio frames.

    It is a forward hook on those layers' cross-attention modules that recomputes the few heads'
    weights from the query and the cached keys, so the model keeps its own attention implementation
    (sdpa returns no weights) and the cost is a (heads x 1500) product per step. The hooks live only
    while one generate() runs, on the thread that runs it (SimulStreaming's AlignAtt reads the same
    signal: a token whose attention sits in the last frames of the audio is not yet heard whole)."""

    def __init__(self, decoder_model, heads: list, frames: list[int]):
        self._by_layer: dict[int, list[int]] = {}
        for layer, head in heads:
            self._by_layer.setdefault(int(layer), []).append(int(head))
        self._layers = decoder_model.model.decoder.layers
        self._frames = torch.tensor(frames)
        self._thread = threading.get_ident()
        self._step: dict[int, torch.Tensor] = {}
        self._padding: Optional[torch.Tensor] = None  # rows x positions: past each row's real audio
        self._positions: list[torch.Tensor] = []  # one per step: each row's attended position
        self._handles: list = []

    def __enter__(self) -> "AttentionProbe":
        for layer in self._by_layer:
            self._handles.append(self._layers[layer].encoder_attn.register_forward_hook(self._hook(layer), with_kwargs=True))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def positions(self) -> Optional[torch.Tensor]:
        """rows x steps: the encoder position each row attended at each step (on the CPU; one copy
        for the whole generate(), no device sync per step); None if no step ran."""
        return torch.stack(self._positions, dim=1).cpu() if self._positions else None

    def _hook(self, layer: int):
        heads = self._by_layer[layer]

        def hook(module, args, kwargs, output):
            if threading.get_ident() != self._thread:
                return
            hidden = args[0] if args else kwargs["hidden_states"]
            cache = kwargs.get("cache", kwargs.get("past_key_values"))
            cross = getattr(cache, "cross_attention_cache", None)
            if cross is not None and len(cross.layers) > module.layer_idx and cross.layers[module.layer_idx].keys is not None:
                keys = cross.layers[module.layer_idx].keys  # batch x heads x positions x head_dim
            else:
                states = kwargs["key_value_states"]
                keys = module.k_proj(states).view(states.shape[0], -1, module.num_heads, module.head_dim).transpose(1, 2)
            query = (module.q_proj(hidden[:, -1:]) * module.scaling).view(hidden.shape[0], module.num_heads, module.head_dim)
            weights = torch.einsum("bhd,bhtd->bht", query[:, heads].float(), keys[:, heads].float()).softmax(-1)
            self._step[layer] = weights.sum(1)
            if len(self._step) == len(self._by_layer):
                total = sum(self._step.values())
                self._step = {}
                # Only the row's real audio counts (the rest of the 30 s is padding); the mask is
                # built on the first step, not on every one.
                if self._padding is None:
                    frames = self._frames.to(total.device).clamp(min=1)
                    self._padding = torch.arange(total.shape[1], device=total.device)[None, :] >= frames[:, None]
                self._positions.append(total.masked_fill(self._padding, float("-inf")).argmax(-1))

        return hook


class RowTokenCap(StoppingCriteria):
    """Stop each row at its own cap of new tokens (generate() itself takes one cap for the batch)."""

    def __init__(self, prefix_len: int, caps: list[int], device):
        self.prefix_len = prefix_len
        self.caps = torch.tensor(caps, device=device)

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.Tensor:
        return (input_ids.shape[1] - self.prefix_len) >= self.caps


@dataclass
class BatchStats:
    """What one request really cost: rows per model forward, not requests."""
    windows: int = 0
    # Encoder forwards and the rows in each (one entry per encoder-length bucket).
    encoder_rows: list[int] = field(default_factory=list)
    # generate() calls and the rows in each.
    generate_rows: list[int] = field(default_factory=list)
    dropped_no_speech: int = 0
    encoder_positions: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"windows": self.windows, "encoder_rows": self.encoder_rows, "generate_rows": self.generate_rows,
                "dropped_no_speech": self.dropped_no_speech, "encoder_positions": self.encoder_positions}


class WindowEngine:
    def __init__(self, pipe, device: str, dtype, settings: EngineSettings, max_new_tokens: int = 128):
        self._pipe = pipe
        # A row without its own cap gets the pipeline's (MAX_NEW_TOKENS).
        self._max_new_tokens = max_new_tokens
        self._device = device
        self._dtype = dtype
        self.settings = settings
        self._model = pipe.model
        self._int8 = None
        if settings.int8 and str(device) == "cpu":
            self._int8 = torch.ao.quantization.quantize_dynamic(pipe.model, {torch.nn.Linear}, dtype=torch.qint8)
        # The encoder and the first step (no-speech, language) in a bf16 copy where the CPU runs bf16.
        self._bf16 = None
        if settings.encoder_bf16 and str(device) == "cpu" and cpu_has_bf16():
            self._bf16 = copy.deepcopy(pipe.model).to(torch.bfloat16)
        config = self._model.generation_config
        self._gen_config = config
        self._tokenizer = pipe.tokenizer
        self._sot = config.decoder_start_token_id
        self._no_timestamps = config.no_timestamps_token_id
        self._no_speech = config.no_timestamps_token_id - 1  # <|nospeech|> sits just before <|notimestamps|>
        self._pad = config.pad_token_id if config.pad_token_id is not None else self._tokenizer.eos_token_id
        self._lang_to_id: dict = getattr(config, "lang_to_id", None) or {}
        self._task_to_id: dict = getattr(config, "task_to_id", None) or {}
        self._lang_ids = torch.tensor(list(self._lang_to_id.values()), device=device) if self._lang_to_id else None
        self._max_target = self._model.config.max_target_positions
        self._alignment_heads = getattr(config, "alignment_heads", None) or []
        # Re-entrant: a stream window can be decoded inside a file's engine call (preempt.py).
        self._lock = threading.RLock()

    def describe(self) -> dict:
        return {"audio_ctx": self.settings.audio_ctx, "audio_ctx_pad_s": self.settings.audio_ctx_pad_s,
                "int8": self._int8 is not None, "encoder_bf16": self._bf16 is not None}

    # ---- steps -----------------------------------------------------------------------------

    def positions_for(self, seconds: float) -> int:
        """Encoder positions a window of `seconds` is run on (1500 = the full 30 s)."""
        full = self._model.config.max_source_positions
        if not self.settings.audio_ctx:
            return full
        need = math.ceil((seconds + self.settings.audio_ctx_pad_s) * POSITIONS_PER_SECOND)
        bucket = self.settings.audio_ctx_bucket
        return min(full, math.ceil(need / bucket) * bucket)

    def _features(self, audios: list[np.ndarray]) -> torch.Tensor:
        features = self._pipe.feature_extractor(audios, sampling_rate=SAMPLING_RATE, return_tensors="pt").input_features
        return features.to(self._device, dtype=self._dtype)

    def _encode(self, features: torch.Tensor, positions: int, bf16: bool = True) -> torch.Tensor:
        """Encoder output in the model's dtype (a bf16 encoder's output is cast back)."""
        if self._bf16 is None or not bf16:
            return self._encode_with(self._model.model.encoder, features, positions)
        return self._encode_with(self._bf16.model.encoder, features.to(torch.bfloat16), positions).to(self._dtype)

    def _encode_with(self, encoder, features: torch.Tensor, positions: int) -> torch.Tensor:
        if positions >= self._model.config.max_source_positions:
            return encoder(features).last_hidden_state
        # The encoder's own modules on the first `positions` positions: WhisperEncoder.forward
        # insists on 30 s of input, but nothing after its convolutions depends on the length.
        x = F.gelu(encoder.conv1(features[..., : positions * MEL_PER_POSITION]))
        x = F.gelu(encoder.conv2(x)).permute(0, 2, 1)
        x = x + encoder.embed_positions.weight[:positions]
        for layer in encoder.layers:
            out = layer(x, None)
            x = out[0] if isinstance(out, tuple) else out
        return encoder.layer_norm(x)

    def _first_step(self, hidden: torch.Tensor, bf16: bool = True) -> tuple[list[float], list[Optional[str]]]:
        """One decoder step at <|startoftranscript|>: P(no speech) and the language of each row."""
        start = torch.full((hidden.shape[0], 1), self._sot, device=hidden.device, dtype=torch.long)
        first = self._model if self._bf16 is None or not bf16 else self._bf16
        states = hidden if first is self._model else hidden.to(torch.bfloat16)
        logits = first(encoder_outputs=BaseModelOutput(last_hidden_state=states), decoder_input_ids=start,
                       use_cache=False).logits[:, -1].float()
        no_speech = logits.softmax(-1)[:, self._no_speech].tolist()
        if self._lang_ids is None:
            return no_speech, [None] * len(no_speech)
        best = self._lang_ids[logits[:, self._lang_ids].argmax(-1)].tolist()
        return no_speech, [self._tokenizer.convert_ids_to_tokens(t).strip("<|>") for t in best]

    def _prefix(self, prompt: Optional[str], language: Optional[str], task: Optional[str], timestamps: bool) -> list[int]:
        """Decoder prefix of one row, as generate(prompt_ids=..., language=..., task=...) builds it."""
        tokens = [self._sot]
        if self._lang_to_id:
            lang_token = f"<|{language or 'en'}|>"
            if lang_token not in self._lang_to_id:
                raise ValueError(f"language {language!r} is not one the model knows")
            tokens.append(self._lang_to_id[lang_token])
            tokens.append(self._task_to_id.get(task or "transcribe", self._task_to_id.get("transcribe")))
        if not timestamps:
            tokens.append(self._no_timestamps)
        if prompt:
            ids = [int(t) for t in self._tokenizer.get_prompt_ids(prompt)]
            # Whisper's context is 448 tokens, of which at most half may be prompt (openai-whisper
            # keeps the last n_text_ctx // 2 - 1); the oldest prompt text goes first.
            keep = self._max_target // 2 - 1
            if len(ids) > keep:
                ids = ids[:1] + ids[len(ids) - keep + 1:]
            tokens = ids + tokens
        return tokens

    def _generate(self, hidden: torch.Tensor, prefixes: list[list[int]], caps: list[int], languages: list[str],
                  timestamps: bool, frames: Optional[list[int]], stats: BatchStats) -> list[tuple]:
        """`frames`: each row's real encoder positions, for the attention probe; None: no probe."""
        if self._int8 is None:
            stats.generate_rows.append(len(prefixes))
            return self._generate_batch(self._model, hidden, prefixes, caps, languages, timestamps, frames)
        out = []
        for row in range(len(prefixes)):
            stats.generate_rows.append(1)
            out += self._generate_batch(self._int8, hidden[row:row + 1], prefixes[row:row + 1], caps[row:row + 1],
                                        languages[row:row + 1], timestamps,
                                        frames[row:row + 1] if frames is not None else None)
        return out

    def _generate_batch(self, decoder_model, hidden: torch.Tensor, prefixes: list[list[int]], caps: list[int],
                        languages: list[str], timestamps: bool, frames: Optional[list[int]]) -> list[tuple]:
        """Each row's (tokens, token probabilities, attended encoder position per token or None)."""
        width = max(len(p) for p in prefixes)
        ids = torch.full((len(prefixes), width), self._pad, dtype=torch.long)
        mask = torch.zeros((len(prefixes), width), dtype=torch.long)
        for row, prefix in enumerate(prefixes):
            ids[row, width - len(prefix):] = torch.tensor(prefix)
            mask[row, width - len(prefix):] = 1
        ids, mask = ids.to(hidden.device), mask.to(hidden.device)
        cap = min(max(caps), self._max_target - width)
        caps = [min(c, cap) for c in caps]
        kwargs: dict[str, Any] = {}
        if self._lang_to_id:
            # Our prefixes already hold each row's language and task; naming the languages keeps
            # generate() from running language detection to build init tokens it then ignores.
            kwargs["language"] = languages
        probe = AttentionProbe(decoder_model, self._alignment_heads, frames) if self._alignment_heads and frames else None
        # One decoding pass (force_unique_generate_call): Whisper's generate() otherwise treats a
        # window whose last segment is unfinished like long-form audio, drops that segment and
        # decodes again from its start (which needs input_features). The unfinished tail is kept
        # here: the session's agreement decides what of it to trust.
        with probe if probe is not None else contextlib.nullcontext():
            output = decoder_model.generate(
                encoder_outputs=BaseModelOutput(last_hidden_state=hidden), decoder_input_ids=ids,
                decoder_attention_mask=mask, return_timestamps=timestamps, max_new_tokens=cap,
                force_unique_generate_call=True, return_dict_in_generate=True, output_scores=True,
                stopping_criteria=StoppingCriteriaList([RowTokenCap(width, caps, hidden.device)]), **kwargs)
        sequences = output["sequences"]  # a ModelOutput with return_dict_in_generate
        if sequences.shape[1] >= width and torch.equal(sequences[:, :width].cpu(), ids.cpu()):
            sequences = sequences[:, width:]  # the prefix comes back first
        probs = self._token_probs(sequences, output.get("scores"))
        # Step j of generate() wrote token j (the first step is the prefix's forward).
        attended = probe.positions() if probe is not None else None
        if attended is not None and attended.shape[1] != sequences.shape[1]:
            attended = None
        out = []
        for row in range(len(prefixes)):
            seq = sequences[row]
            # Rows that stopped early are padded (the pad token is Whisper's end of text).
            keep = (seq != self._pad).cpu()
            out.append((seq[keep].cpu(), probs[row][keep] if probs is not None else None,
                        attended[row][keep] if attended is not None else None))
        return out

    @staticmethod
    def _token_probs(sequences: torch.Tensor, scores) -> Optional[torch.Tensor]:
        """The probability greedy decoding gave each generated token (softmax of the step's scores,
        after Whisper's logits processors), one row per sequence; None when generate() gave none."""
        if not scores or len(scores) != sequences.shape[1]:
            return None
        steps = torch.stack([step.float() for step in scores], dim=1)  # rows × steps × vocab
        return steps.softmax(-1).gather(-1, sequences[:, :, None].to(steps.device))[:, :, 0].cpu()

    def _postprocess(self, tokens: torch.Tensor, timestamps: bool, probs: Optional[torch.Tensor] = None,
                     attended: Optional[torch.Tensor] = None) -> dict:
        out = self._pipe.postprocess([{"tokens": tokens[None]}], return_timestamps=timestamps or None)
        chunks = []
        for chunk in out.get("chunks") or []:
            start, end = chunk.get("timestamp", (None, None))
            chunks.append({"text": chunk["text"], "timestamp": [start, end]})
        words = self._word_tokens(tokens)
        if probs is not None:
            attach_per_word(chunks, "confidence", [
                round(math.exp(sum(math.log(max(float(probs[i]), 1e-9)) for i in w) / len(w)), 4) for w in words])
        if attended is not None:
            # A word is heard once all its tokens are: the latest position any of them attended.
            attach_per_word(chunks, "attended", [round(max(int(attended[i]) for i in w) / POSITIONS_PER_SECOND, 2)
                                                 for w in words])
        return {"text": out.get("text", ""), "chunks": chunks}

    def _word_tokens(self, tokens: torch.Tensor) -> list[list[int]]:
        """The token indexes of each word of the decoded text, in order. A word starts at a token
        with a leading space (Whisper's byte-level BPE writes it as 'Ġ') or at the first text token
        after a special or timestamp token."""
        words: list[list[int]] = []
        boundary = True
        eot = self._tokenizer.eos_token_id
        for index, token in enumerate(tokens.tolist()):
            if token >= eot:  # <|endoftext|>, the special tokens and the timestamps come after it
                boundary = True
                continue
            piece = self._tokenizer.convert_ids_to_tokens(token)
            if boundary or piece.startswith("Ġ") or not words:
                words.append([])
            boundary = False
            words[-1].append(index)
        return words

    # ---- the request -------------------------------------------------------------------------

    def decode(self, items: list, return_timestamps: bool, stream: bool = True) -> tuple[list[dict], BatchStats]:
        """Decode stream windows (model.TranscribeItem, ≤ 30 s each); one result per item, in order.
        `stream`: False for a file's speech windows, which keep the float32 encoder whatever
        encoder_bf16 says (on the fixtures bf16 costs file vad mode WER, see EngineSettings)."""
        stats = BatchStats(windows=len(items))
        timestamps = bool(return_timestamps)
        results: list[Optional[dict]] = [None] * len(items)
        groups: dict[int, list[int]] = {}
        for index, item in enumerate(items):
            if len(item.audio) > WINDOW_LIMIT_S * SAMPLING_RATE:
                raise ValueError(f"item {index}: a stream window is at most {WINDOW_LIMIT_S:.0f} s")
            groups.setdefault(self.positions_for(len(item.audio) / SAMPLING_RATE), []).append(index)
        with self._lock, torch.inference_mode():
            for positions, indexes in sorted(groups.items()):
                hidden = self._encode(self._features([items[i].audio for i in indexes]), positions, stream)
                stats.encoder_rows.append(len(indexes))
                stats.encoder_positions.append(positions)
                no_speech, heard = self._first_step(hidden, stream)
                keep: list[int] = []
                for row, i in enumerate(indexes):
                    item = items[i]
                    language = item.language or heard[row]
                    if item.no_speech_threshold is not None and no_speech[row] > item.no_speech_threshold:
                        results[i] = {"text": "", "chunks": [], "language": language,
                                      "no_speech_prob": round(no_speech[row], 4)}
                        stats.dropped_no_speech += 1
                        continue
                    keep.append(row)
                if not keep:
                    continue
                rows = [indexes[r] for r in keep]
                languages = [items[i].language or heard[r] or "en" for i, r in zip(rows, keep)]
                prefixes = [self._prefix(items[i].prompt, lang, items[i].task, timestamps)
                            for i, lang in zip(rows, languages)]
                caps = [items[i].max_new_tokens or self._max_new_tokens for i in rows]
                kept_hidden = hidden if len(keep) == len(indexes) else hidden[torch.tensor(keep, device=hidden.device)]
                # Where the model listened (for AlignAtt commits): stream windows only, a file's
                # windows have no use for it.
                frames = [min(positions, math.ceil(len(items[i].audio) / SAMPLING_RATE * POSITIONS_PER_SECOND))
                          for i in rows] if stream else None
                sequences = self._generate(kept_hidden, prefixes, caps, languages, timestamps, frames, stats)
                for i, lang, (tokens, probs, attended) in zip(rows, languages, sequences):
                    results[i] = {**self._postprocess(tokens, timestamps, probs, attended), "language": lang}
        return [r for r in results if r is not None], stats
