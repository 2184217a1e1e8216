"""The stream-window engine (engine.py) on the real embedded model and real recordings:
a window's greedy result does not depend on its batch, silent windows drop out before decoding,
prompts and per-row caps reach the decoder, one encoder pass per window."""
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

import model
from device import choose_device
from engine import EngineSettings, WindowEngine, cpu_has_bf16

AUDIO = Path(__file__).resolve().parents[2].parent / "shared" / "audio"
MODEL = Path(__file__).resolve().parents[1] / "models" / "whisper-base"


def read(name: str, start: float = 0.0, end: float | None = None) -> np.ndarray:
    with wave.open(str(AUDIO / name)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0
    return pcm[int(start * 16000): None if end is None else int(end * 16000)]


@pytest.fixture(scope="module")
def loaded():
    return model.load(str(MODEL), choose_device("cpu"), model.PipelineSettings())


@pytest.fixture(scope="module")
def engine(loaded):
    """Encoder on the window's length; every window below fits one 500-position bucket, so each
    batch is one encoder pass and one generate()."""
    return WindowEngine(loaded.pipe, "cpu", torch.float32, EngineSettings(audio_ctx=True, audio_ctx_bucket=500))


def windows() -> list[model.TranscribeItem]:
    """Eight windows of real speech: different lengths, languages (given or not), prompts, caps."""
    return [
        model.TranscribeItem(read("jfk.wav", 0, 6), "en", max_new_tokens=40, no_speech_threshold=0.6),
        model.TranscribeItem(read("fleurs-de-000.wav", 0, 7), None, max_new_tokens=36, no_speech_threshold=0.6),
        model.TranscribeItem(read("ls-7902-96591-0000.wav", 0, 4), "en",
                             prompt="And so my fellow Americans, ask not.", max_new_tokens=32),
        model.TranscribeItem(read("fleurs-en-000.wav", 2, 7), "en", prompt="Hello there.", max_new_tokens=40),
        model.TranscribeItem(read("fleurs-en-001.wav", 0, 3), "en", max_new_tokens=28),
        model.TranscribeItem(read("fleurs-fr-000.wav", 0, 5), "fr", prompt="Bonjour à tous.", max_new_tokens=40),
        model.TranscribeItem(read("ls-6930-75918-0000.wav", 0, 6), "en", max_new_tokens=6),
        model.TranscribeItem(read("fleurs-es-000.wav", 1, 5), None, prompt="Hola.", max_new_tokens=36),
    ]


def same_results(a: list[dict], b: list[dict]) -> bool:
    """Equal texts, chunks and languages; word probabilities equal to 1e-3 (float sums in a batch
    may differ in the last bits from those of one row)."""
    def strip(rs):
        return [{**r, "chunks": [{k: v for k, v in c.items() if k != "confidence"} for c in r["chunks"]]} for r in rs]

    def probs(rs):
        return [p for r in rs for c in r["chunks"] for p in c.get("confidence", [])]
    pa, pb = probs(a), probs(b)
    return strip(a) == strip(b) and len(pa) == len(pb) and all(abs(x - y) <= 1e-3 for x, y in zip(pa, pb))


@pytest.fixture(scope="module")
def alone(engine):
    """Each window decoded on its own."""
    return [engine.decode([item], True)[0][0] for item in windows()]


@pytest.mark.parametrize("size", [2, 4, 8])
def test_a_batch_gives_each_window_what_it_gets_alone(engine, alone, size):
    items = windows()
    for start in range(0, len(items), size):
        batch = items[start:start + size]
        results, stats = engine.decode(batch, True)
        assert same_results(results, alone[start:start + size])
        # One encoder pass over the whole batch and one generate() over it: a real batch.
        assert stats.encoder_rows == [len(batch)] and stats.generate_rows == [len(batch)]


def test_windows_are_transcribed(alone):
    assert "ask not" in alone[0]["text"]
    # Each word carries the model's probability for it, one per word of its chunk's text.
    for r in alone:
        for c in r["chunks"]:
            if r["language"] in ("en", "de", "es"):  # space-separated scripts: token words line up
                assert len(c["confidence"]) == len(c["text"].split()) and all(0 < p <= 1 for p in c["confidence"])
    assert alone[1]["language"] == "de" and "Aussichten" in alone[1]["text"]
    assert alone[7]["language"] == "es"
    assert all(r["chunks"] and r["chunks"][0]["timestamp"][0] == 0.0 for r in alone)


def test_each_word_says_where_the_model_listened_while_writing_it(loaded):
    # jfk.wav's first 11 s: "And so my fellow Americans" in its first 2.2 s, "ask not" at 3.3-4.2 s,
    # "what your country can do for you" at 5.2-7.6 s, "ask what you can do for your country" after.
    result = loaded.engine.decode([model.TranscribeItem(read("jfk.wav", 0, 11), "en", max_new_tokens=60)], True)[0][0]
    words = [w.strip(",.").lower() for c in result["chunks"] for w in c["text"].split()]
    attended = [a for c in result["chunks"] for a in c["attended"]]
    assert len(attended) == len(words) and all(0 <= a <= 11 for a in attended)
    at = dict(zip(reversed(words), reversed(attended)))  # each word's first occurrence
    assert at["and"] < 1.0 and at["fellow"] <= 2.5 and 3.0 <= at["ask"] <= 4.3 and 5.6 <= at["country"] <= 7.0
    # In order, within the second of slack the session allows (agreement.ts heardPrefix).
    assert all(b >= a - 1.0 for a, b in zip(attended, attended[1:]))


def test_the_float_model_on_30_s_batches_the_same_way(loaded):
    items = windows()[2:4]
    alone = [loaded.engine.decode([item], True)[0][0] for item in items]
    results, stats = loaded.engine.decode(items, True)
    assert same_results(results, alone) and stats.encoder_rows == [2] and stats.encoder_positions == [1500]


def test_int8_decodes_rows_one_by_one_and_still_gives_each_window_its_own_result(loaded):
    # Dynamic int8 scales activations per tensor: batched rows would change each other's result.
    int8 = WindowEngine(loaded.pipe, "cpu", torch.float32, EngineSettings(audio_ctx=True, int8=True, audio_ctx_bucket=500))
    items = windows()[:3]
    alone = [int8.decode([item], True)[0][0] for item in items]
    results, stats = int8.decode(items, True)
    assert same_results(results, alone) and stats.encoder_rows == [3] and stats.generate_rows == [1, 1, 1]
    assert "ask not" in results[0]["text"] or "asked not" in results[0]["text"]
    assert int8.describe()["int8"] and int8._model is loaded.pipe.model


def test_a_row_stops_at_its_own_token_cap(engine, alone):
    # 6 new tokens (<|0.00|> and five text tokens) while its batch-mates run on to theirs.
    capped = alone[6]["text"].split()
    assert 1 <= len(capped) <= 5
    uncapped = windows()[6]
    uncapped.max_new_tokens = 40
    longer = engine.decode([uncapped], True)[0][0]["text"].split()
    assert len(longer) > len(capped) + 3 and longer[:len(capped) - 1] == capped[:-1]


def test_silent_windows_drop_out_before_decoding(loaded):
    items = [model.TranscribeItem(read("noise-30s.wav", 0, 5), "en", no_speech_threshold=0.6),
             model.TranscribeItem(read("jfk.wav", 0, 5), "en", max_new_tokens=30, no_speech_threshold=0.6),
             model.TranscribeItem(read("silence-60s.wav", 0, 8), None, no_speech_threshold=0.6),
             model.TranscribeItem(read("tones-20s.wav", 0, 6), "en", no_speech_threshold=0.6)]
    results, stats = loaded.engine.decode(items, True)
    noise, speech, silence, tones = results
    for dropped in (noise, silence, tones):
        assert dropped["text"] == "" and dropped["chunks"] == [] and dropped["no_speech_prob"] > 0.6
    assert "no_speech_prob" not in speech and "ask not" in speech["text"]
    assert stats.encoder_rows == [4] and stats.generate_rows == [1] and stats.dropped_no_speech == 3


def test_the_prompt_is_the_rows_previous_text_and_is_bounded(loaded):
    engine = loaded.engine
    tok = engine._tokenizer
    prefix = engine._prefix("Ask not what your country can do.", "en", "transcribe", True)
    prev, sot = tok.convert_tokens_to_ids("<|startofprev|>"), tok.convert_tokens_to_ids("<|startoftranscript|>")
    assert prefix[0] == prev and prefix[-3:] == [sot, tok.convert_tokens_to_ids("<|en|>"),
                                                  tok.convert_tokens_to_ids("<|transcribe|>")]
    assert tok.decode(prefix[1:-3]) == " Ask not what your country can do."
    assert engine._prefix(None, "de", "translate", False)[1:] == [
        tok.convert_tokens_to_ids(t) for t in ("<|de|>", "<|translate|>", "<|notimestamps|>")]
    long = engine._prefix("word " * 600, "en", "transcribe", True)
    assert long[0] == prev and len(long) - 3 == engine._max_target // 2 - 1
    with pytest.raises(ValueError):
        engine._prefix(None, "xx", "transcribe", True)


def test_each_rows_prompt_reaches_the_decoder_left_padded(engine, monkeypatch):
    seen = {}
    generate = engine._model.generate

    def spy(**kwargs):
        seen.update(kwargs)
        return generate(**kwargs)

    monkeypatch.setattr(engine._model, "generate", spy)
    short, long = "Hi.", "And so my fellow Americans, ask not what your country can do for you."
    items = [model.TranscribeItem(read("jfk.wav", 0, 3), "en", prompt=short, max_new_tokens=8),
             model.TranscribeItem(read("fleurs-en-001.wav", 0, 3), "en", prompt=long, max_new_tokens=8)]
    engine.decode(items, True)
    ids, mask = seen["decoder_input_ids"], seen["decoder_attention_mask"]
    rows = [engine._prefix(short, "en", "transcribe", True), engine._prefix(long, "en", "transcribe", True)]
    width = max(len(r) for r in rows)
    assert ids.shape == (2, width)
    for row, prefix in enumerate(rows):
        pad = width - len(prefix)
        assert ids[row, pad:].tolist() == prefix and mask[row].tolist() == [0] * pad + [1] * len(prefix)
    assert seen["language"] == ["en", "en"]


def test_audio_ctx_buckets_encoder_lengths_and_keeps_one_pass_per_window(loaded):
    engine = WindowEngine(loaded.pipe, "cpu", torch.float32, EngineSettings(audio_ctx=True, audio_ctx_pad_s=3.0, int8=True))
    assert engine.positions_for(2.0) == 250 and engine.positions_for(7.5) == 750 and engine.positions_for(29) == 1500
    items = [model.TranscribeItem(read("jfk.wav"), "en"), model.TranscribeItem(read("fleurs-en-001.wav", 0, 4), "en", max_new_tokens=24),
             model.TranscribeItem(read("fleurs-en-000.wav", 2, 14), "en", max_new_tokens=8)]
    results, stats = engine.decode(items, True)
    assert stats.encoder_positions == [500, 750] and stats.encoder_rows == [1, 2]
    assert sum(stats.encoder_rows) == len(items)  # each window through the encoder exactly once
    assert "ask what you can do for your country" in results[0]["text"]


def test_word_timestamps_leave_the_attention_implementation_as_loaded(loaded):
    before = loaded.pipe.model.config._attn_implementation
    results, stats = model.transcribe(loaded, [model.TranscribeItem(read("jfk.wav", 0, 4), "en")], "word")
    assert stats is None and len(results[0]["chunks"]) >= 4
    assert loaded.pipe.model.config._attn_implementation == before == "sdpa"


def test_vad_mode_through_the_engine_decodes_the_rest_of_a_window_after_an_early_end(loaded, monkeypatch):
    # Two recordings with a 1 s pause fall into one speech window. The int8 greedy decode ended
    # (<|endoftext|>) after the first one's segment; files.engine_call decodes the rest again.
    import files
    from vad import Vad
    monkeypatch.setenv("FILE_VAD_ENGINE", "true")
    monkeypatch.setattr(loaded, "engine", WindowEngine(loaded.pipe, "cpu", torch.float32, EngineSettings(int8=True)))
    pause = np.zeros(16000, np.float32)
    audio = np.concatenate([read("ls-6930-75918-0000.wav"), pause, read("ls-7902-96591-0000.wav"), pause])
    out = files.transcribe_file(loaded, Vad(), model.TranscribeItem(audio, "en"), True, "vad")
    text = out["text"].lower()
    assert "returned to its place" in text and "cutter lying off the coast" in text
    # The second recording's speech starts at 4.5 s. Where its chunk starts depends on the CPU's int8
    # kernels: at that speech (4.4 s on an AMD EPYC) or where the second pass resumed, the first
    # chunk's end (3.4 s on an Intel Xeon). Either way after the first recording's words, in the pause.
    chunks = out["chunks"]
    starts = [c["timestamp"][0] for c in chunks]
    assert len(starts) == 2 and starts == sorted(starts)
    assert chunks[0]["timestamp"][1] - 0.05 <= starts[1] <= 5.0 and starts[1] >= 3.0
    # A window whose text reaches its end (jfk.wav: one window) needs no second pass; file windows
    # are decoded as such (stream=False: the float32 encoder whatever STREAM_ENCODER_BF16 says).
    calls = []
    original = loaded.engine.decode
    monkeypatch.setattr(loaded.engine, "decode", lambda items, ts, **kw: calls.append((len(items), kw.get("stream"))) or original(items, ts, **kw))
    files.transcribe_file(loaded, Vad(), model.TranscribeItem(read("jfk.wav"), "en"), True, "vad")
    assert calls == [(1, False)]


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no native bf16 arithmetic")
def test_the_bf16_encoder_stays_close_to_float_and_batch_invariant(loaded):
    """STREAM_ENCODER_BF16: the encoder (and first step) on a bf16 copy; its output within a few
    per cent of float32, and a window's result still independent of its batch."""
    bf16 = WindowEngine(loaded.pipe, "cpu", torch.float32, EngineSettings(encoder_bf16=True))
    flt = WindowEngine(loaded.pipe, "cpu", torch.float32, EngineSettings(encoder_bf16=False))
    assert bf16.describe()["encoder_bf16"] and not flt.describe()["encoder_bf16"]
    items = windows()[:4]
    with torch.inference_mode():
        features = flt._features([items[0].audio])
        a, b = flt._encode(features, 1500), bf16._encode(features, 1500)
    assert b.dtype == torch.float32
    assert float((a - b).abs().mean() / a.abs().mean()) < 0.05
    alone = [bf16.decode([item], True)[0][0] for item in items]
    together, stats = bf16.decode(items, True)
    assert same_results(together, alone) and stats.encoder_rows == [4]
