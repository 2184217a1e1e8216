"""File `vad` mode, three ways on the same speech windows: the pipeline (beam 5, one window at a
time on CPU, the old path), and the stream-window engine (greedy, batched) in float and int8.
English fixtures with transcripts; WER (lower case, punctuation dropped), wall time, RTF.

  cd sidecar && [BENCH_LANGUAGES=all] .venv/bin/python ../bench/files/vad_engine.py [variant ...] > ../bench/results/vad-engine-cpu.json

engine-int8-f32-encoder: the engine with STREAM_ENCODER_BF16 off; file windows keep float32 anyway
(engine.decode(stream=False)), so since then engine-int8 and it are the same.
"""
import os, sys, time, json
import numpy as np, torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
os.environ["FILE_VAD_ENGINE"] = "true"  # the variants below choose the path via L.engine
from fixtures import manifest, read, wer  # noqa: E402 (puts the sidecar on the path)
import model, files  # noqa: E402
from device import choose_device  # noqa: E402
from engine import EngineSettings, WindowEngine  # noqa: E402
from vad import Vad  # noqa: E402
man = manifest()
L = model.load("models/whisper-base", choose_device("cpu"), model.PipelineSettings())
vad = Vad()
# BENCH_LANGUAGES=all: every fixture with a transcript (the language given, as a client would).
langs = os.environ.get("BENCH_LANGUAGES", "en")
en = [m for m in man if (langs == "all" or m.get('language') == 'en') and m.get('transcript') and m.get('language') in ('en', 'de', 'fr', 'es', 'pt') and m['file'] not in ('two-speakers-stereo.wav',)]
variants = {"pipeline-beam5": None, "engine-float": EngineSettings(), "engine-int8": EngineSettings(int8=True), "engine-int8-f32-encoder": EngineSettings(int8=True, encoder_bf16=False), "engine-int8-ctx": EngineSettings(int8=True, audio_ctx=True)}
which = sys.argv[1:] or list(variants)
for name in which:
    st = variants[name]
    L.engine = None if st is None else WindowEngine(L.pipe, "cpu", torch.float32, st)
    tot_audio = tot_t = 0; ws=[]
    for m in en:
        a = read(m['file'])
        t=time.perf_counter(); r = files.transcribe_file(L, vad, model.TranscribeItem(a, m["language"]), True, "vad"); dt=time.perf_counter()-t
        tot_audio += len(a)/16000; tot_t += dt; ws.append(round(wer(m['transcript'], r['text']),3))
    print(json.dumps({"host_load_avg": os.getloadavg(), "variant": name, "wer_mean": round(sum(ws)/len(ws),4), "wer": ws, "files": [m['file'] for m in en], "audio_s": round(tot_audio,1), "seconds": round(tot_t,1), "rtf": round(tot_t/tot_audio,3)}), flush=True)
