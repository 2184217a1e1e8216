"""Real (unmocked) tests of sidecar/convert.py: CTranslate2 -> transformers Whisper conversion.

Converts once per module (or reuses sidecar/models/whisper-base if it is already a current
conversion), then checks the header, the tokenizer, the weights and real transcriptions on CPU.
"""
import json
import re
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

import convert

AUDIO = Path(__file__).resolve().parents[2].parent / "shared" / "audio"
JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


def load_wav(path: Path) -> dict:
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2, "fixtures are 16-bit PCM"
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0
        if w.getnchannels() > 1:
            audio = audio.reshape(-1, w.getnchannels()).mean(axis=1)
        return {"raw": audio, "sampling_rate": w.getframerate()}


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower()).replace("'", "").split()


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))  # word-level Levenshtein, one row at a time
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(len(ref), 1)


def test_wer_helper():
    assert wer("Hello, World!", "hello world") == 0.0
    assert wer("a b c d", "a x c") == 0.5


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    default = convert.DEFAULT_OUT
    if convert._is_current(default, convert.find_sources().fingerprint()):
        return default
    return convert.convert(tmp_path_factory.mktemp("conv") / "whisper-base")


@pytest.fixture(scope="module")
def asr(model_dir):
    import torch
    from transformers import pipeline

    return pipeline("automatic-speech-recognition", model=str(model_dir), dtype=torch.float32, device="cpu")


def test_find_sources_uses_installed_wheels():
    src = convert.find_sources()
    assert [p.name for p in src.parts] == ["model.bin.part1", "model.bin.part2"]
    assert all(p.is_file() for p in [*src.parts, src.config, src.tokenizer])


def test_ct2_header_and_variables():
    header, variables, aliases = convert.read_ct2(convert.find_sources().parts)
    assert header == {"binary_version": 6, "spec": "WhisperSpec", "revision": 3, "num_variables": 212}
    assert len(variables) == 212
    assert aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert variables["decoder/embeddings/weight"].shape == (51865, 512)
    assert variables["encoder/layer_0/self_attention/linear_0/weight"].shape == (1536, 512)  # fused QKV
    assert variables["encoder/position_encodings/encodings"].shape == (1500, 512)
    assert variables["decoder/position_encodings/encodings"].shape == (448, 512)
    assert int(variables["encoder/num_heads"]) == 8


def test_output_files_and_marker(model_dir):
    names = {p.name for p in model_dir.iterdir()}
    assert {"config.json", "generation_config.json", "preprocessor_config.json", "model.safetensors",
            "tokenizer.json", "tokenizer_config.json", "conversion.json"} <= names
    marker = json.loads((model_dir / "conversion.json").read_text())
    assert marker["fingerprint"]["converter_version"] == convert.CONVERTER_VERSION
    gen = json.loads((model_dir / "generation_config.json").read_text())
    assert gen["forced_decoder_ids"] == [[1, None], [2, 50359]]
    assert gen["no_timestamps_token_id"] == 50363 and gen["lang_to_id"]["<|de|>"] == 50261
    assert len(gen["alignment_heads"]) == 8 and gen["is_multilingual"] is True


def test_idempotent_cli(model_dir):
    before = (model_dir / "model.safetensors").stat().st_mtime_ns
    run = subprocess.run([sys.executable, str(Path(convert.__file__)), "--out", str(model_dir)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"embedded model up to date: {model_dir}"
    assert (model_dir / "model.safetensors").stat().st_mtime_ns == before


def test_refuses_to_replace_foreign_directory(tmp_path):
    (tmp_path / "keep.txt").write_text("not a model")
    with pytest.raises(SystemExit, match="refusing"):
        convert.convert(tmp_path)
    assert (tmp_path / "keep.txt").exists()


def test_weights_load_cleanly_and_are_tied(model_dir):
    from transformers import WhisperForConditionalGeneration

    model, info = WhisperForConditionalGeneration.from_pretrained(model_dir, output_loading_info=True)
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    assert model.dtype.is_floating_point and str(model.dtype) == "torch.float32"
    assert model.proj_out.weight.data_ptr() == model.model.decoder.embed_tokens.weight.data_ptr()
    assert model.model.encoder.layers[0].self_attn.k_proj.bias is None


def test_tokenizer_timestamps_and_specials(asr):
    tok = asr.tokenizer
    assert tok.convert_tokens_to_ids("<|0.00|>") == 50364
    assert tok.convert_tokens_to_ids("<|30.00|>") == 51864
    assert tok.decode([50258, 50259], skip_special_tokens=True) == ""
    assert tok.decode([50258, 50259, 50359, 50363, 50364, 50364 + 50], skip_special_tokens=True) == ""
    assert tok.all_special_ids[-1] == 50363  # transformers: first timestamp = last special id + 1


def test_jfk_transcription_with_timestamps(asr):
    out = asr(load_wav(AUDIO / "jfk.wav"), chunk_length_s=30, batch_size=4, return_timestamps=True)
    assert wer(JFK, out["text"]) <= 0.05, out["text"]
    assert "<|" not in out["text"]
    assert out["chunks"] and out["chunks"][0]["timestamp"][0] == 0.0


def test_jfk_word_timestamps_increase(asr):
    out = asr(load_wav(AUDIO / "jfk.wav"), return_timestamps="word")
    assert wer(JFK, out["text"]) <= 0.05, out["text"]
    starts = [c["timestamp"][0] for c in out["chunks"]]
    assert len(starts) >= 20 and starts == sorted(starts) and starts[-1] > 8.0, out["chunks"]
    assert all(c["timestamp"][1] >= c["timestamp"][0] for c in out["chunks"])


def test_german_language_detection_and_translation(asr):
    audio = load_wav(AUDIO / "fleurs-de-000.wav")
    out = asr(dict(audio), return_language=True, return_timestamps=True)
    assert {c["language"] for c in out["chunks"]} == {"german"}, out
    english = asr(dict(audio), generate_kwargs={"task": "translate"})["text"]
    assert {"hong", "kong", "island"} <= set(words(english)), english
