"""What the real-model tests share: the public recordings (../shared/audio, never copied into the
repo), the embedded model's folder, and the s16le bytes the server sends."""
import wave
from pathlib import Path

import numpy as np

AUDIO = Path(__file__).resolve().parents[2].parent / "shared" / "audio"
MODEL = Path(__file__).resolve().parents[1] / "models" / "whisper-base"
RATE = 16000


def read(name: str, seconds: float | None = None) -> np.ndarray:
    """A recording as 16 kHz mono float32, whole or its first `seconds`."""
    with wave.open(str(AUDIO / name)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0
    return pcm if seconds is None else pcm[: int(seconds * RATE)]


def pcm16(audio: np.ndarray) -> bytes:
    """float32 audio as the s16le bytes of a frame's `audio` field."""
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
