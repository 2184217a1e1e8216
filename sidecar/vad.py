"""Voice activity: silero-vad's speech probability for every 32 ms frame of audio.

Owns only the model call. The policy (thresholds, minimum speech and silence,
padding, where to cut) lives in the server (src/session/endpointing.ts), so the
sidecar stays stateless. The TorchScript model ships inside the silero-vad wheel
and is loaded from there with torch.jit; the package's own helpers are not
imported (their optional extras would pull in torchaudio).
"""
from __future__ import annotations

import importlib.resources
import threading
from typing import Callable, Optional

import numpy as np
import torch

FRAME_SAMPLES = 512  # 32 ms at 16 kHz, fixed by the model
SAMPLING_RATE = 16000
CHECKPOINT_FRAMES = 64  # ~2 s of audio, ~50 ms of silero on a CPU core


class Vad:
    def __init__(self) -> None:
        # Importing the silero_vad package (which files() does) sets torch to one intra-op thread
        # for the whole process (measured: 2 -> 1), which would halve Whisper's speed: restore it.
        threads = torch.get_num_threads()
        path = importlib.resources.files("silero_vad") / "data" / "silero_vad.jit"
        with importlib.resources.as_file(path) as file:
            self._model = torch.jit.load(str(file), map_location="cpu")
        torch.set_num_threads(threads)
        self._model.eval()
        # The model keeps recurrent state between calls: one caller at a time.
        self._lock = threading.Lock()

    def probabilities(self, items: list[np.ndarray], checkpoint: Optional[Callable[[], None]] = None) -> list[np.ndarray]:
        """Speech probability per whole 512-sample frame of each item, with fresh state per call.

        Items are run as one batch in lockstep (shorter ones zero-padded), then trimmed. A file's
        plan (an hour is ~90 s of frames on a CPU) calls `checkpoint` every CHECKPOINT_FRAMES frames:
        the sidecar decodes the stream windows waiting there (preempt.py); the state is untouched.
        """
        if not items:
            return []
        frames = [len(a) // FRAME_SAMPLES for a in items]
        longest = max(frames)
        if longest == 0:
            return [np.zeros(0, dtype=np.float32) for _ in items]
        batch = np.zeros((len(items), longest * FRAME_SAMPLES), dtype=np.float32)
        for row, audio in enumerate(items):
            n = frames[row] * FRAME_SAMPLES
            batch[row, :n] = audio[:n]
        tensor = torch.from_numpy(batch)
        out = np.zeros((len(items), longest), dtype=np.float32)
        with self._lock, torch.inference_mode():
            self._model.reset_states()
            for f in range(longest):
                chunk = tensor[:, f * FRAME_SAMPLES:(f + 1) * FRAME_SAMPLES]
                out[:, f] = self._model(chunk, SAMPLING_RATE).reshape(-1).numpy()
                if checkpoint is not None and f % CHECKPOINT_FRAMES == CHECKPOINT_FRAMES - 1:
                    checkpoint()
        return [out[row, :frames[row]].copy() for row in range(len(items))]
