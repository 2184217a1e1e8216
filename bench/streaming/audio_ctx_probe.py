"""How much does the encoder on a window's real length (audio_ctx) change what a stream window
hears? Offline and load-independent: growing prefixes of each English fixture (every 1 s from
2 s, at most 20 s, as a stream's window grows) decoded by the stream-window engine with the full
30 s encoder and with audio_ctx at several paddings; each prefix's words are compared with the full
encoder's decode of the same prefix (word disagreement, as WER), and the whole clip with its
reference. Encoder positions per window say what the setting saves.

  cd sidecar && .venv/bin/python ../bench/streaming/audio_ctx_probe.py > ../bench/results/audio-ctx-probe-cpu.json
  cd sidecar && PROBE_VARIANTS=full-30s,full-30s-bf16-encoder .venv/bin/python ../bench/streaming/audio_ctx_probe.py > ../bench/results/encoder-bf16-probe-cpu.json
"""
import os, sys, time, json
import numpy as np, torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from fixtures import manifest, norm, read, wer  # noqa: E402 (puts the sidecar on the path)
import model  # noqa: E402
from device import choose_device  # noqa: E402
from engine import EngineSettings, WindowEngine  # noqa: E402
man = manifest()

L = model.load("models/whisper-base", choose_device("cpu"), model.PipelineSettings())
clips = [m for m in man if m.get('language') == 'en' and m.get('transcript') and m['seconds'] <= 30 and m['file'] != 'two-speakers-stereo.wav']
int8 = os.environ.get("PROBE_INT8", "true") == "true"
# The float32 30 s encoder is the reference; `full-30s-bf16-encoder`: the same in bf16 (engine.py).
variants = {"full-30s": EngineSettings(int8=int8, encoder_bf16=False),
            "full-30s-bf16-encoder": EngineSettings(int8=int8, encoder_bf16=True)}
for pad in (3.0, 6.0, 10.0):
    variants[f"audio_ctx-pad{pad:g}"] = EngineSettings(int8=int8, audio_ctx=True, audio_ctx_pad_s=pad, encoder_bf16=False)
# PROBE_VARIANTS=full-30s,full-30s-bf16-encoder: only these (the first is the reference).
if os.environ.get("PROBE_VARIANTS"):
    variants = {k: variants[k] for k in os.environ["PROBE_VARIANTS"].split(",")}
prefixes = {}
for m in clips:
    a = read(m['file'])
    ends = [e for e in range(2, int(min(20, len(a) / 16000)) + 1)]
    prefixes[m['file']] = [a[:e * 16000] for e in ends] + ([a] if len(a) / 16000 <= 30 else [])
texts = {}
runs = []
for name, st in variants.items():
    eng = WindowEngine(L.pipe, "cpu", torch.float32, st)
    t = time.perf_counter(); out = {}; positions = []
    for f, pieces in prefixes.items():
        out[f] = []
        for p in pieces:
            r, stats = eng.decode([model.TranscribeItem(p, "en", None, None, 128)], True)
            out[f].append(r[0]["text"]); positions += stats.encoder_positions
    texts[name] = out
    runs.append({"variant": name, "seconds": round(time.perf_counter() - t, 1), "windows": len(positions),
                 "encoder_positions_mean": round(sum(positions) / len(positions)),
                 "clip_wer_mean": round(float(np.mean([wer(m['transcript'], out[m['file']][-1]) for m in clips])), 4)})
base = texts[next(iter(variants))]
for r in runs:
    dis = [wer(b, o) for f in base for b, o in zip(base[f][:-1], texts[r["variant"]][f][:-1]) if norm(b)]
    r["prefix_disagreement_vs_full"] = round(float(np.mean(dis)), 4)
print(json.dumps({"bench": "audio_ctx_probe", "int8": int8, "host_load_avg": os.getloadavg(), "clips": [m['file'] for m in clips], "runs": runs,
                  "examples": {f: {v: texts[v][f][min(3, len(texts[v][f]) - 1)] for v in texts} for f in list(base)[:3]}}, indent=1))
