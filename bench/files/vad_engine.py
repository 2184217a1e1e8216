"""File `vad` mode, three ways on the same speech windows: the pipeline (beam 5, one window at a
time on CPU, the old path), and the stream-window engine (greedy, batched) in float and int8.
English fixtures with transcripts; WER (lower case, punctuation dropped), wall time, RTF.

  cd sidecar && [BENCH_LANGUAGES=all] .venv/bin/python ../bench/files/vad_engine.py [variant ...] > ../bench/results/vad-engine-cpu.json
"""
import os, sys, time, json, wave, re, numpy as np, torch
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'sidecar'))
os.chdir(os.path.join(HERE, '..', '..', 'sidecar'))
os.environ["FILE_VAD_ENGINE"] = "true"  # the variants below choose the path via L.engine
import model, files
from device import choose_device
from engine import EngineSettings, WindowEngine
from vad import Vad
A=os.path.join(HERE, '..', '..', '..', 'shared', 'audio') + '/'
man = json.load(open(A+'manifest.json'))
man = man if isinstance(man, list) else man.get('files', man)
def read(name):
    with wave.open(A+name) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0
def norm(t): return re.sub(r"[^a-z0-9' ]", " ", t.lower().replace("-", " ")).split()
def wer(ref, hyp):
    r, h = norm(ref), norm(hyp); d = list(range(len(h)+1))
    for i in range(1, len(r)+1):
        prev, d[0] = d[0], i
        for j in range(1, len(h)+1):
            cur = min(d[j]+1, d[j-1]+1, prev + (r[i-1]!=h[j-1])); prev, d[j] = d[j], cur
    return d[len(h)]/max(1,len(r))
L = model.load("models/whisper-base", choose_device("cpu"), model.PipelineSettings())
vad = Vad()
# BENCH_LANGUAGES=all: every fixture with a transcript (the language given, as a client would).
langs = os.environ.get("BENCH_LANGUAGES", "en")
en = [m for m in man if (langs == "all" or m.get('language') == 'en') and m.get('transcript') and m.get('language') in ('en', 'de', 'fr', 'es', 'pt') and m['file'] not in ('two-speakers-stereo.wav',)]
variants = {"pipeline-beam5": None, "engine-float": EngineSettings(), "engine-int8": EngineSettings(int8=True), "engine-int8-ctx": EngineSettings(int8=True, audio_ctx=True)}
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
