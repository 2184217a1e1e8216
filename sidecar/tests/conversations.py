"""Test conversations with known speaker turns, built from the real recordings in /work/shared/audio.

Each conversation places pieces of single-speaker recordings one after another (a negative gap is
an overlap: the two pieces are summed). The reference for a piece is where its own recording has
speech (silero VAD on the clean source), shifted to where the piece sits, so pauses inside a
recording are not counted as anyone's speech. two-speakers-stereo.wav is mixed to mono; its
reference is each channel's own speech.

Speakers are chosen from recordings whose embeddings are clearly apart (fleurs-en-002/003/004 sound
like one reader, so at most one of them is used). Used by tests/test_diarize.py and bench/diarization.
"""
from __future__ import annotations

import os
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

AUDIO = Path(os.environ.get("SHARED_AUDIO", "/work/shared/audio"))
RATE = 16000


def load(name: str, channel: int | None = None) -> np.ndarray:
    with wave.open(str(AUDIO / name)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0
        channels = w.getnchannels()
    if channels > 1:
        data = data.reshape(-1, channels)
        data = data[:, channel] if channel is not None else data.mean(axis=1)
    return data


@dataclass
class Conversation:
    name: str
    audio: np.ndarray
    reference: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, speaker)

    @property
    def speakers(self) -> set[str]:
        return {s for _, _, s in self.reference}


def _speech(vad, audio: np.ndarray) -> list[tuple[float, float]]:
    import longform

    probs = vad.probabilities([longform.levelled(audio)])[0]
    return [(s / RATE, e / RATE) for s, e in longform.speech_regions(probs, len(audio))]


def build(vad, name: str, pieces: list[tuple[str, str, float, float, float]]) -> Conversation:
    """pieces: (speaker, file, from_s, to_s, gap_before_s); a negative gap overlaps the previous piece."""
    out = np.zeros(0, dtype=np.float32)
    reference: list[tuple[float, float, str]] = []
    cursor = 0.0
    cache: dict[str, tuple[np.ndarray, list[tuple[float, float]]]] = {}
    for speaker, file, a, b, gap in pieces:
        if file not in cache:
            audio = load(file)
            cache[file] = (audio, _speech(vad, audio))
        audio, speech = cache[file]
        piece = audio[int(a * RATE):int(b * RATE)]
        start = max(0.0, cursor + gap)
        at = int(round(start * RATE))
        if at + len(piece) > len(out):
            out = np.concatenate([out, np.zeros(at + len(piece) - len(out), dtype=np.float32)])
        out[at:at + len(piece)] += piece
        for s, e in speech:
            s, e = max(s, a), min(e, b)
            if e - s > 0.05:
                reference.append((round(start + s - a, 3), round(start + e - a, 3), speaker))
        cursor = start + len(piece) / RATE
    return Conversation(name, np.clip(out, -1, 1), sorted(reference))


def stereo_mix(vad) -> Conversation:
    left, right = load("two-speakers-stereo.wav", 0), load("two-speakers-stereo.wav", 1)
    reference = [(s, e, "L") for s, e in _speech(vad, left)] + [(s, e, "R") for s, e in _speech(vad, right)]
    return Conversation("stereo-mix-overlap", load("two-speakers-stereo.wav"), sorted(reference))


def multi_speaker(vad) -> list[Conversation]:
    """The conversations with two or three speakers."""
    return [
        build(vad, "two-speakers", [
            ("A", "jfk.wav", 0.0, 4.3, 0.0), ("B", "fleurs-en-001.wav", 0.0, 4.6, 0.5),
            ("A", "jfk.wav", 4.3, 11.0, 0.6), ("B", "fleurs-en-001.wav", 4.6, 8.76, 0.4)]),
        build(vad, "two-speakers-short-turns", [
            ("A", "fleurs-de-000.wav", 0.0, 9.0, 0.0), ("B", "ls-6930-75918-0000.wav", 0.0, 1.75, 0.5),
            ("A", "fleurs-de-000.wav", 9.0, 17.94, 0.5), ("B", "ls-6930-75918-0000.wav", 1.75, 3.505, 0.3)]),
        build(vad, "three-speakers-librispeech-pair", [
            ("A", "jfk.wav", 0.0, 6.0, 0.0), ("B", "ls-7902-96591-0000.wav", 0.0, 2.095, 0.5),
            ("A", "jfk.wav", 6.0, 11.0, 0.5), ("C", "ls-6930-75918-0000.wav", 0.0, 3.505, 0.5)]),
        build(vad, "three-speakers", [
            ("A", "jfk.wav", 0.0, 5.5, 0.0), ("B", "fleurs-es-001.wav", 0.0, 7.0, 0.5),
            ("C", "fleurs-fr-000.wav", 0.0, 5.0, 0.5), ("A", "jfk.wav", 5.5, 11.0, 0.5),
            ("B", "fleurs-es-001.wav", 7.0, 14.0, 0.4), ("C", "fleurs-fr-000.wav", 5.0, 10.2, 0.6),
            ("B", "fleurs-es-001.wav", 14.0, 21.36, 0.5)]),
        build(vad, "three-speakers-overlap", [
            ("A", "fleurs-pt-001.wav", 0.0, 13.62, 0.0), ("B", "jfk.wav", 0.0, 11.0, -1.5),
            ("C", "fleurs-en-000.wav", 0.0, 10.56, 0.5)]),
        stereo_mix(vad),
    ]


SINGLE = ["jfk.wav", "fleurs-fr-001.wav", "fleurs-es-001.wav", "fleurs-de-000.wav", "multilingual-en-de.wav"]
NO_SPEECH = ["silence-60s.wav", "noise-30s.wav", "tones-20s.wav"]


def single_speaker(vad) -> list[Conversation]:
    out = []
    for file in SINGLE:
        audio = load(file)
        out.append(Conversation(f"one-speaker:{file}", audio, [(s, e, "A") for s, e in _speech(vad, audio)]))
    return out
