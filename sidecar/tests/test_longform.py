"""Long-form helpers without the Whisper model: speech regions, windows, levelling, guards; and the
VAD mode end to end with the real silero model on the no-speech fixtures (nothing to decode)."""
import wave
from pathlib import Path

import numpy as np
import pytest

import longform as L

AUDIO = Path(__file__).resolve().parents[2] / ".." / "shared" / "audio"


def read(name: str) -> np.ndarray:
    with wave.open(str(AUDIO / name)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0


def probs(pattern: str) -> np.ndarray:
    """One character per 32 ms frame: '#' speech, '.' silence."""
    return np.array([0.9 if c == "#" else 0.0 for c in pattern], dtype=np.float32)


def test_regions_merge_short_pauses_and_drop_blips():
    # 10 frames speech, 5 frames (160 ms) pause, 10 speech, 40 silence, 2 frames blip (64 ms).
    p = probs("#" * 10 + "." * 5 + "#" * 10 + "." * 40 + "##" + "." * 10)
    regions = L.speech_regions(p, len(p) * L.FRAME)
    pad = int(L.PAD_S * L.RATE)
    assert regions == [(0, 25 * L.FRAME + pad)]


def test_windows_are_cut_between_regions_and_never_over_30_s():
    r = L.RATE
    regions = [(0, 10 * r), (11 * r, 25 * r), (26 * r, 40 * r), (41 * r, 110 * r)]
    windows = L.pack_windows(regions)
    assert windows[0] == L.Window(0, 25 * r)
    assert windows[1] == L.Window(26 * r, 40 * r)
    assert all(w.end - w.start <= 30 * r for w in windows)
    assert windows[-1].end == 110 * r


def test_levelled_raises_quiet_speech_but_not_digital_silence():
    quiet = (np.sin(np.arange(L.RATE) / 5) * 0.001).astype(np.float32)
    assert np.sqrt(np.mean(L.levelled(quiet) ** 2)) == pytest.approx(0.05, rel=0.05)
    dither = np.full(L.RATE, 1e-6, dtype=np.float32)
    assert np.abs(L.levelled(dither)).max() <= 1e-4


def test_guards_drop_repetitions_and_low_probability_windows():
    assert L.guarded("4-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0", 0.9)
    assert L.guarded("Thank you very much for watching.", 0.1)
    assert not L.guarded("Concord returned to its place amidst the tents.", 0.8)


@pytest.mark.parametrize("name", ["silence-60s.wav", "noise-30s.wav", "tones-20s.wav"])
def test_vad_mode_finds_nothing_to_decode_in_no_speech_fixtures(name):
    from vad import Vad

    calls = []
    audio = read(name)
    out = L.transcribe_vad(lambda inputs, **kw: calls.append(inputs) or [], Vad(), audio, {}, 16)
    assert calls == [] and out["text"] == "" and out["chunks"] == [] and out["first_window"] == (0, 0)
    assert L.plan_vad(Vad(), audio).windows == []
