"""Speaker diarization: who spoke when, behind one interface with two backends.

* "resemblyzer" (default, offline): the speaker encoder whose weights ship inside the Resemblyzer
  wheel (resemblyzer/pretrained.pt, Apache-2.0). Speech regions come from the silero VAD the
  sidecar already runs (vad.py), embeddings from 1.6 s windows every 0.6 s inside them, clustering
  in clustering.py with an automatic speaker count (or the count the request gives).
  The wheel is installed with --no-deps (sidecar/requirements-diarize.txt): importing the package
  pulls librosa, numba/llvmlite, scipy, webrtcvad and the old `typing` backport, none of which the
  encoder needs. So the encoder network (a 3-layer LSTM and a linear layer, resemblyzer's own
  VoiceEncoder architecture) is rebuilt here in torch and loads the wheel's state dict strictly,
  and its input (librosa's power mel spectrogram, 40 Slaney mels, 25 ms / 10 ms) is computed with
  torch.stft and transformers' Slaney filter bank, which matches librosa's.
* "pyannote": pyannote.audio's pipeline, used only when DIARIZATION_MODEL names one (a local
  directory, or a hub id with HF_TOKEN). pyannote.audio is not pinned here: it pulls a torchaudio
  built for another torch. Where it is missing the default backend runs and the reason says so.

A result is a list of turns (start_s, end_s, speaker index), speakers numbered by first appearance,
turns not overlapping; no speech gives no turns.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

import clustering
import longform


log = logging.getLogger("sidecar.diarize")
RATE = 16000
HOP = 160  # 10 ms mel frames
WINDOW_FRAMES = 160  # resemblyzer's partial utterance: 1.6 s
# Windows embedded between two checkpoints: a multiple of SpeakerEncoder.embed's own batch of 64,
# so the batches (and so the embeddings, to the bit) are the ones one call makes.
EMBED_BATCH = 512
STEP_FRAMES = 60  # a window every 0.6 s (resemblyzer's own rate is 1.3 windows a second)
MIN_REGION_S = 0.4  # speech shorter than this gets no window of its own
# Region policy for speakers: finer than long-form decoding's (a turn change may follow a short
# pause, so regions split at 0.3 s of silence, with 0.1 s of padding).
VAD_ON, VAD_OFF = 0.5, 0.35
MIN_SILENCE_S = 0.3
PAD_S = 0.1
FRAME = 512


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: int


@dataclass(frozen=True)
class Choice:
    backend: str  # "resemblyzer" | "pyannote" | "none"
    reason: str
    model: Optional[str] = None


def choose(env: Optional[dict] = None) -> Choice:
    """Which backend runs, and why (for the log and the ready frame); loads nothing."""
    env = os.environ if env is None else env
    wanted = env.get("DIARIZATION_MODEL") or ""
    if wanted:
        if importlib.util.find_spec("pyannote") is not None and importlib.util.find_spec("pyannote.audio") is not None:
            return Choice("pyannote", f"DIARIZATION_MODEL={wanted}", wanted)
        fallback = "pyannote.audio is not installed (it pulls a torchaudio built for another torch)"
        if _resemblyzer_weights() is None:
            return Choice("none", f"DIARIZATION_MODEL={wanted} but {fallback}, and Resemblyzer is not installed")
        return Choice("resemblyzer", f"DIARIZATION_MODEL={wanted} but {fallback}; using the offline default")
    if _resemblyzer_weights() is None:
        return Choice("none", "Resemblyzer is not installed (sidecar/requirements-diarize.txt)")
    return Choice("resemblyzer", "default: offline speaker encoder from the Resemblyzer wheel, no hub, no token",
                  "resemblyzer/pretrained.pt")


def _resemblyzer_weights() -> Optional[Path]:
    """The wheel's weights, found without importing the package (its __init__ imports librosa)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "pretrained.pt"
    return path if path.exists() else None


class _Encoder(torch.nn.Module):
    """resemblyzer.VoiceEncoder's network: LSTM(40→256, 3 layers) → Linear(256) → ReLU → L2 norm."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(40, 256, 3, batch_first=True)
        self.linear = torch.nn.Linear(256, 256)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        raw = torch.relu(self.linear(hidden[-1]))
        return raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-9)


class SpeakerEncoder:
    """Embeds audio windows with the Resemblyzer weights: one 256-d unit vector per window."""

    def __init__(self, weights: Path) -> None:
        from transformers.audio_utils import mel_filter_bank

        checkpoint = torch.load(str(weights), map_location="cpu", weights_only=True)
        self._net = _Encoder()
        # The checkpoint also holds the GE2E training loss's similarity scale and bias; nothing else
        # may be missing or extra.
        state = {k: v for k, v in checkpoint["model_state"].items() if not k.startswith("similarity_")}
        self._net.load_state_dict(state, strict=True)
        self._net.eval()
        # librosa.filters.mel(sr=16000, n_fft=400, n_mels=40), Slaney scale and norm: (201, 40).
        self._mel = torch.from_numpy(mel_filter_bank(num_frequency_bins=201, num_mel_filters=40, min_frequency=0.0,
                                                     max_frequency=8000.0, sampling_rate=RATE, norm="slaney",
                                                     mel_scale="slaney").astype(np.float32))
        self._window = torch.hann_window(400)

    def mel(self, audio: np.ndarray) -> torch.Tensor:
        """librosa.feature.melspectrogram(y, sr=16000, n_fft=400, hop_length=160, n_mels=40).T: (frames, 40)."""
        spec = torch.stft(torch.from_numpy(audio.astype(np.float32)), n_fft=400, hop_length=HOP, window=self._window,
                          center=True, pad_mode="constant", return_complex=True).abs() ** 2
        return (spec.T @ self._mel).float()

    def embed(self, mels: list[torch.Tensor]) -> np.ndarray:
        """Windows of (frames, 40), any lengths → (n, 256) unit vectors. Shorter windows are packed,
        so the LSTM's final state is the one at each window's own last frame, not after padding."""
        if not mels:
            return np.zeros((0, 256), dtype=np.float32)
        out = []
        with torch.inference_mode():
            for i in range(0, len(mels), 64):
                batch = mels[i:i + 64]
                lengths = torch.tensor([len(m) for m in batch])
                padded = torch.nn.utils.rnn.pad_sequence(batch, batch_first=True)
                packed = torch.nn.utils.rnn.pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
                out.append(self._net(packed))
        return torch.cat(out).numpy()


def _normalised(audio: np.ndarray, target_dbfs: float = -30.0) -> np.ndarray:
    """resemblyzer's normalize_volume(increase_only=True): quiet audio brought up to -30 dBFS."""
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if len(audio) else 0.0
    if rms <= 1e-6:
        return audio
    change = target_dbfs - 20 * np.log10(rms)
    return audio * (10 ** (change / 20)) if change > 0 else audio


def speech_regions(probs: np.ndarray, n_samples: int) -> list[tuple[int, int]]:
    """[start, end) samples of speech, split at pauses of 0.3 s, padded 0.1 s; under 0.25 s dropped."""
    return longform.speech_regions(probs, n_samples, on=VAD_ON, off=VAD_OFF, extend_at=VAD_OFF,
                                   min_silence_s=MIN_SILENCE_S, pad_s=PAD_S, min_speech_s=0.25)


def windows(regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Mel-frame ranges [start, end) of 1.6 s windows every 0.6 s inside each region; a region
    shorter than one window gets one window over all of it (if at least MIN_REGION_S)."""
    out: list[tuple[int, int]] = []
    for s, e in regions:
        fs, fe = s // HOP, e // HOP
        if fe - fs < MIN_REGION_S * 100:
            continue
        if fe - fs <= WINDOW_FRAMES:
            out.append((fs, fe))
            continue
        starts = list(range(fs, fe - WINDOW_FRAMES + 1, STEP_FRAMES))
        if starts[-1] + WINDOW_FRAMES < fe:
            starts.append(fe - WINDOW_FRAMES)
        out.extend((a, a + WINDOW_FRAMES) for a in starts)
    return out


class Diarizer:
    """The chosen backend, loaded on first use (requests that never diarize never pay for it)."""

    def __init__(self, vad: Any, choice: Optional[Choice] = None) -> None:
        self.choice = choice or choose()
        self._vad = vad
        self._encoder: Optional[SpeakerEncoder] = None
        self._pyannote: Any = None
        self._lock = threading.Lock()

    def describe(self) -> dict:
        return {"backend": self.choice.backend, "reason": self.choice.reason, "model": self.choice.model}

    def diarize(self, audio: np.ndarray, num: Optional[int] = None, min_n: Optional[int] = None,
                max_n: Optional[int] = None, checkpoint: Optional[Callable[[], None]] = None) -> list[Turn]:
        """Speaker turns; `checkpoint` is called between steps (the sidecar decodes waiting stream
        windows there: preempt.py). pyannote runs as one call, without checkpoints."""
        if self.choice.backend == "pyannote":
            with self._lock:
                return self._run_pyannote(audio, num, min_n, max_n)
        if self.choice.backend != "resemblyzer":
            raise RuntimeError(f"diarization is unavailable: {self.choice.reason}")
        return diarize_with_encoder(self._ready_encoder(), self._vad, audio, num, min_n, max_n, checkpoint)

    def _ready_encoder(self) -> SpeakerEncoder:
        # The lock only guards the first load: inference on the encoder is safe from two threads
        # (a file's diarization on the model worker, stream embeddings on the vad worker).
        with self._lock:
            if self._encoder is None:
                weights = _resemblyzer_weights()
                if weights is None:
                    raise RuntimeError(f"speaker embeddings are unavailable: {self.choice.reason}")
                self._encoder = SpeakerEncoder(weights)
            return self._encoder

    def embed(self, items: list[np.ndarray]) -> np.ndarray:
        """One unit embedding per piece of audio (the mean of its 1.6 s windows), for online labels.
        Always the Resemblyzer encoder: pyannote's pipeline has no such call here."""
        encoder = self._ready_encoder()
        rows = []
        for audio in items:
            mel = encoder.mel(_normalised(audio))
            spans = windows([(0, len(audio))]) or [(0, len(mel))]
            emb = encoder.embed([mel[a:b] for a, b in spans]).mean(0)
            rows.append(emb / max(float(np.linalg.norm(emb)), 1e-9))
        return np.stack(rows).astype(np.float32)

    def _run_pyannote(self, audio: np.ndarray, num: Optional[int], min_n: Optional[int], max_n: Optional[int]) -> list[Turn]:
        if self._pyannote is None:
            from pyannote.audio import Pipeline  # guarded: only installed by hand (see module doc)

            token = os.environ.get("HF_TOKEN") or None
            try:  # pyannote.audio 4 names it `token`, 3.x `use_auth_token`
                self._pyannote = Pipeline.from_pretrained(self.choice.model, token=token)
            except TypeError:
                self._pyannote = Pipeline.from_pretrained(self.choice.model, use_auth_token=token)
            if self._pyannote is None:
                raise RuntimeError(f"pyannote could not load {self.choice.model} (a gated hub model needs HF_TOKEN)")
        out = self._pyannote({"waveform": torch.from_numpy(audio)[None], "sample_rate": RATE},
                             num_speakers=num, min_speakers=min_n, max_speakers=max_n)
        annotation = getattr(out, "exclusive_speaker_diarization", None) or getattr(out, "speaker_diarization", out)
        names: dict[str, int] = {}
        turns = []
        for segment, _, label in annotation.itertracks(yield_label=True):
            turns.append(Turn(round(segment.start, 3), round(segment.end, 3), names.setdefault(label, len(names))))
        return turns


def diarize_with_encoder(encoder: SpeakerEncoder, vad: Any, audio: np.ndarray, num: Optional[int] = None,
                         min_n: Optional[int] = None, max_n: Optional[int] = None,
                         checkpoint: Optional[Callable[[], None]] = None) -> list[Turn]:
    """VAD regions → window embeddings → clusters → a speaker per 10 ms of speech → turns."""
    probs = vad.probabilities([longform.levelled(audio)], checkpoint=checkpoint)[0]
    regions = speech_regions(probs, len(audio))
    spans = windows(regions)
    if not spans:
        return []
    mel = encoder.mel(_normalised(audio))
    # An hour of speech is ~6000 windows: embedded in parts, with a checkpoint before each.
    parts = []
    for first in range(0, len(spans), EMBED_BATCH):
        if checkpoint:
            checkpoint()
        parts.append(encoder.embed([mel[a:b] for a, b in spans[first:first + EMBED_BATCH]]))
    emb = np.concatenate(parts)
    labels = clustering.cluster(emb, num, min_n, max_n)
    return turns_from_windows(emb, labels, spans, regions)


def turns_from_windows(emb: np.ndarray, labels: np.ndarray, spans: list[tuple[int, int]],
                       regions: list[tuple[int, int]]) -> list[Turn]:
    """Each 10 ms frame of speech goes to the speaker whose centroid the windows covering it are
    most similar to on average (a frame no window covers takes its nearest window's scores)."""
    k = int(labels.max()) + 1
    cents = np.stack([emb[labels == c].mean(0) for c in range(k)])
    cents /= np.maximum(np.linalg.norm(cents, axis=1, keepdims=True), 1e-9)
    scores = emb @ cents.T  # (windows, k)
    n_frames = max(b for _, b in spans) + 1
    n_frames = max(n_frames, max(e for _, e in regions) // HOP + 1)
    total = np.zeros((n_frames, k))
    hits = np.zeros(n_frames)
    for (a, b), row in zip(spans, scores):
        total[a:b] += row
        hits[a:b] += 1
    centres = np.array([(a + b) / 2 for a, b in spans])
    turns: list[Turn] = []
    for s, e in regions:
        fs, fe = s // HOP, max(s // HOP + 1, e // HOP)
        frame_labels = np.empty(fe - fs, dtype=int)
        for f in range(fs, fe):
            if hits[f]:
                frame_labels[f - fs] = int(np.argmax(total[f] / hits[f]))
            else:
                frame_labels[f - fs] = int(np.argmax(scores[int(np.argmin(np.abs(centres - f)))]))
        start = fs
        for f in range(fs + 1, fe + 1):
            if f == fe or frame_labels[f - fs] != frame_labels[start - fs]:
                turns.append(Turn(round(start * HOP / RATE, 3), round(min(f * HOP, e) / RATE, 3), int(frame_labels[start - fs])))
                start = f
    order = clustering.renumber(np.array([t.speaker for t in turns])) if turns else []
    return [Turn(t.start, t.end, int(o)) for t, o in zip(turns, order)]
