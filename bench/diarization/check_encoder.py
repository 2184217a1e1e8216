"""Checks sidecar/diarize.py's encoder against Resemblyzer's own code: same mel spectrogram (librosa)
and same partial-utterance embeddings (VoiceEncoder) on real recordings.

Resemblyzer's own code needs librosa (and imports webrtcvad and scipy.ndimage.morphology, which
its trim_long_silences uses and this check does not), so they are not sidecar dependencies. Run by
hand with them on PYTHONPATH, e.g.:

  pip install --target /tmp/lr --no-deps librosa==0.11.0 numba==0.68.1 llvmlite==0.50.0 lazy-loader==0.6 \
      decorator==5.3.1 audioread==3.1.0 soxr==1.1.0 soundfile==0.14.0 cffi==2.1.1 pycparser==3.12 \
      pooch==1.9.0 platformdirs==4.14.8 scipy==1.17.1 scikit-learn==1.9.1 joblib==1.6.0 \
      threadpoolctl==3.8.0 cloudpickle==3.1.3 requests==2.34.2
  PYTHONPATH=/tmp/lr sidecar/.venv/bin/python bench/diarization/check_encoder.py

Measured 2026-11-26: mel max relative error 3e-7, partial embeddings cosine >= 0.9999998.
"""
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "sidecar"), str(ROOT / "sidecar" / "tests")]
sys.modules["webrtcvad"] = types.ModuleType("webrtcvad")  # only trim_long_silences uses it
import scipy.ndimage  # noqa: E402

sys.modules.setdefault("scipy.ndimage.morphology", scipy.ndimage)  # removed in recent scipy

import numpy as np  # noqa: E402
from resemblyzer import VoiceEncoder, audio as reference_audio  # noqa: E402

import conversations  # noqa: E402
import diarize  # noqa: E402

encoder = diarize.SpeakerEncoder(diarize._resemblyzer_weights())
voice_encoder = VoiceEncoder("cpu", verbose=False)
worst_mel, worst_cos = 0.0, 1.0
for name in ["jfk.wav", "fleurs-de-000.wav", "ls-6930-75918-0000.wav", "fleurs-fr-001.wav"]:
    audio = conversations.load(name)
    theirs, ours = reference_audio.wav_to_mel_spectrogram(audio), encoder.mel(audio).numpy()
    worst_mel = max(worst_mel, float(np.abs(theirs - ours).max() / np.abs(theirs).max()))
    wav = reference_audio.normalize_volume(audio, -30, increase_only=True)
    _, partials, slices = voice_encoder.embed_utterance(wav, return_partials=True)
    mel = encoder.mel(diarize._normalised(audio))
    mine = encoder.embed([mel[s.start // 160:s.stop // 160] for s in slices if s.stop <= len(wav)])
    worst_cos = min(worst_cos, float((mine * partials[:len(mine)]).sum(1).min()))
print(f"mel max relative error {worst_mel:.2e}; partial embeddings min cosine {worst_cos:.7f}")
sys.exit(0 if worst_mel < 1e-4 and worst_cos > 0.9999 else 1)
