"""What the Python benches share: the public fixtures (../shared/audio) and the WER they score with
(lower case, punctuation and hyphens dropped), and the sidecar's modules on the import path with
the sidecar folder as the working directory (its model paths are relative to it)."""
import json, os, re, sys, wave
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SIDECAR = os.path.join(HERE, '..', 'sidecar')
AUDIO = os.path.join(HERE, '..', '..', 'shared', 'audio')
sys.path.insert(0, SIDECAR)
os.chdir(SIDECAR)


def manifest() -> list:
    man = json.load(open(os.path.join(AUDIO, 'manifest.json')))
    return man if isinstance(man, list) else man.get('files', man)


def read(name: str) -> np.ndarray:
    """A fixture as 16 kHz mono float32."""
    with wave.open(os.path.join(AUDIO, name)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0


def norm(text: str) -> list:
    return re.sub(r"[^a-z0-9' ]", " ", text.lower().replace("-", " ")).split()


def wer(ref: str, hyp: str) -> float:
    r, h = norm(ref), norm(hyp)
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(h)] / max(1, len(r))
