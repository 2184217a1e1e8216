"""Where one stream window's decode spends its time (not a test): log-mel, the 30 s encoder pass in
float32 and (where the CPU has native bf16) in bf16, the first decoder step, and generate() on the
int8 decoder and on the float32 one, for an 8 s window of jfk.wav; median of 5 after a warm-up.

  cd sidecar && .venv/bin/python ../bench/streaming/window_profile.py > ../bench/results/window-profile-cpu.json
"""
import json, os, statistics, sys, time
import torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from fixtures import read  # noqa: E402 (puts the sidecar on the path)
import model  # noqa: E402
from device import choose_device  # noqa: E402
from engine import BatchStats, EngineSettings, WindowEngine, cpu_has_bf16  # noqa: E402

L = model.load("models/whisper-base", choose_device("cpu"), model.PipelineSettings())
eng = WindowEngine(L.pipe, "cpu", torch.float32, EngineSettings(int8=True, encoder_bf16=cpu_has_bf16()))
audio = read("jfk.wav")[: 8 * 16000]
item = model.TranscribeItem(audio, "en", max_new_tokens=80, no_speech_threshold=0.6)


def timed(fn, runs=5):
    fn()
    out, times = None, []
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return round(statistics.median(times), 4), out


prefix = [eng._prefix(None, "en", "transcribe", True)]
steps = {}
with torch.inference_mode():
    steps["log_mel_s"], feats = timed(lambda: eng._features([audio]))
    steps["encoder_f32_s"], hidden = timed(lambda: eng._encode(feats, 1500, bf16=False))
    if eng.describe()["encoder_bf16"]:
        steps["encoder_bf16_s"], _ = timed(lambda: eng._encode(feats, 1500, bf16=True))
        steps["first_step_bf16_s"], _ = timed(lambda: eng._first_step(hidden, bf16=True))
    steps["first_step_f32_s"], _ = timed(lambda: eng._first_step(hidden, bf16=False))
    steps["generate_int8_s"], seq = timed(lambda: eng._generate(hidden, prefix, [80], ["en"], True, [400], BatchStats(1)))
    int8, eng._int8 = eng._int8, None
    steps["generate_f32_s"], _ = timed(lambda: eng._generate(hidden, prefix, [80], ["en"], True, [400], BatchStats(1)))
    eng._int8 = int8
    steps["encoder_audio_ctx_10s_s"], _ = timed(lambda: eng._encode(feats, 500, bf16=False))
steps["window_decode_default_s"], result = timed(lambda: eng.decode([item], True, stream=False))
print(json.dumps({"bench": "window_profile", "host_load_avg": os.getloadavg(), "threads": torch.get_num_threads(),
                  "cpu_has_bf16": cpu_has_bf16(), "window_s": 8, "generated_tokens": len(seq[0][0]), "steps": steps,
                  "text": result[0][0]["text"]}, indent=1))
