"""Stream windows that Whisper itself rates as no speech are not decoded (real model, real audio)."""
import wave
from pathlib import Path

import numpy as np
import pytest

import model
import protocol
from device import choose_device

AUDIO = Path(__file__).resolve().parents[2].parent / "shared" / "audio"
MODEL = Path(__file__).resolve().parents[1] / "models" / "whisper-base"


def read(name: str, seconds: float = 5.0) -> np.ndarray:
    with wave.open(str(AUDIO / name)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0
    return pcm[: int(seconds * 16000)]


@pytest.fixture(scope="module")
def loaded():
    return model.load(str(MODEL), choose_device("cpu"), model.PipelineSettings(batch_size=4))


def test_no_speech_probability_separates_speech_from_silence_noise_and_tones(loaded):
    speech = [model.no_speech_probability(loaded, read(f)) for f in ("jfk.wav", "ls-7902-96591-0000.wav", "fleurs-de-000.wav")]
    other = [model.no_speech_probability(loaded, read(f)) for f in ("silence-60s.wav", "noise-30s.wav", "tones-20s.wav")]
    assert max(speech) < 0.6 < min(other), (speech, other)


def test_a_window_over_the_threshold_is_not_decoded_and_speech_still_is(loaded):
    (noise, speech), _ = model.transcribe(loaded, [
        model.TranscribeItem(read("noise-30s.wav"), "en", no_speech_threshold=0.6),
        model.TranscribeItem(read("jfk.wav", 11.0), "en", no_speech_threshold=0.6),
    ])
    assert noise["text"] == "" and noise["chunks"] == [] and noise["no_speech_prob"] > 0.6
    assert "ask not what your country can do for you" in speech["text"]


@pytest.mark.parametrize("bad", [0, -0.1, 1.5, "0.6", True])
def test_bad_thresholds_are_rejected_by_id(bad):
    message = {"id": 9, "type": "transcribe", "items": [{"audio": b"\0\0", "no_speech_threshold": bad}]}
    with pytest.raises(protocol.ProtocolError) as info:
        protocol.parse_transcribe(message)
    assert (info.value.code, info.value.request_id) == ("bad_request", 9)
