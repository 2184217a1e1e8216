"""How long a stream window can wait inside file work (not a test): the gaps between the preemption
points (sidecar/preempt.py: each decoder and encoder layer's forward) of one pipeline-mode file
slice of English speech (longform-en + two FLEURS recordings, 4 chunks of 30 s), up to `batch`
chunks in the slice (default 16: all 4 in one generate() with 5 beams, 20 rows). The longest gap is the longest a window waits.

  cd sidecar && .venv/bin/python ../bench/contention/preempt_gaps.py [batch] > ../bench/results/preempt-gaps-cpu.json
"""
import json, os, sys, time
import numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from fixtures import read  # noqa: E402 (puts the sidecar on the path)
import model  # noqa: E402
import protocol  # noqa: E402
import slices  # noqa: E402
from device import choose_device  # noqa: E402

batch = int(sys.argv[1]) if len(sys.argv) > 1 else 16
loaded = model.load("models/whisper-base", choose_device("cpu"), model.PipelineSettings(batch_size=batch))
audio = np.concatenate([read("longform-en.wav"), read("fleurs-en-000.wav"), read("fleurs-en-001.wav")])[: 98 * 16000]
chunking = slices.chunking(loaded.pipe, 30.0, batch)
picked = slices.chunk_bounds(len(audio), chunking)[:batch]
pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
request = protocol.parse_file_slice({
    "id": 1, "type": "file_slice", "items": [{"audio": pcm[picked[0].start * 2:picked[-1].end * 2]}], "offset": 0,
    "total": len(audio), "first": 0, "count": len(picked), "return_timestamps": True})

inner = loaded.pipe.model.model
points: list = []
layers = [(f"decoder.{i}", m) for i, m in enumerate(inner.decoder.layers)] + \
         [(f"encoder.{i}", m) for i, m in enumerate(inner.encoder.layers)]
handles = [m.register_forward_pre_hook(lambda _m, _a, n=n: points.append((time.perf_counter(), n))) for n, m in layers]
started = time.perf_counter()
slices.decode_slice(loaded, chunking, request)
ended = time.perf_counter()
for h in handles:
    h.remove()
marks = [(started, "start")] + points + [(ended, "end")]
gaps = sorted(((b[0] - a[0], a[1], b[1], a[0] - started) for a, b in zip(marks, marks[1:])), reverse=True)
json.dump({
    "bench": "preempt-gaps", "batch_size": batch, "chunks": len(picked), "slice_s": round(ended - started, 2),
    "points": len(points), "max_gap_s": round(gaps[0][0], 3),
    "p99_gap_s": round(sorted(g[0] for g in gaps)[int(0.99 * (len(gaps) - 1))], 3),
    "longest": [{"gap_s": round(g, 3), "from": a, "to": b, "at_s": round(t, 2)} for g, a, b, t in gaps[:8]],
}, sys.stdout, indent=1)
print()
