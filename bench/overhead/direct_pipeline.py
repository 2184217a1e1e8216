"""A direct transformers pipeline call, as a user would write it: the reference for parity and overhead.

Nothing from sidecar/ is imported: the pipeline is built here from the same model directory and
settings (chunk_length_s 30, batch_size 16, max_new_tokens 128, float32 on CPU), so a test or the
benchmark can compare our HTTP API against what `pipeline(...)` itself returns.

Reads one JSON request per stdin line, answers one JSON line each on stdout:
  {"pcm": "/path/file.s16le", "language": null, "task": null, "return_timestamps": true,
   "chunk_length_s": 30,                    # 0 gives Whisper's sequential long-form decoding
   "batch_size": 16}                        # chunks per forward (the pipeline's own batch_size)
  -> {"text", "chunks": [{"text", "timestamp"}], "seconds"}
The first line written is {"ready": true} once the model is loaded.
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
import torch
from transformers import pipeline

MODEL = os.environ.get("MODEL_ID") or os.path.join(os.path.dirname(__file__), "..", "..", "sidecar", "models", "whisper-base")


def main() -> None:
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "0")) or torch.get_num_threads())
    pipe = pipeline("automatic-speech-recognition", model=MODEL, chunk_length_s=30, batch_size=16,
                    max_new_tokens=128, return_timestamps=True, dtype=torch.float32, device="cpu")
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        audio = np.fromfile(req["pcm"], dtype="<i2").astype(np.float32) / 32768.0
        generate_kwargs = {k: req[k] for k in ("language", "task") if req.get(k)}
        kwargs = {"return_timestamps": req.get("return_timestamps", True), "generate_kwargs": generate_kwargs}
        for key in ("chunk_length_s", "batch_size"):
            if key in req:
                kwargs[key] = req[key]
        started = time.perf_counter()
        with torch.inference_mode():
            result = pipe({"raw": audio, "sampling_rate": 16000}, **kwargs)
        seconds = time.perf_counter() - started
        chunks = [{"text": c["text"], "timestamp": list(c["timestamp"])} for c in result.get("chunks") or []]
        out.write(json.dumps({"text": result["text"], "chunks": chunks, "seconds": seconds}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
