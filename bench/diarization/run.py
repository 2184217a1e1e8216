"""Diarization benchmark: DER per test conversation, speaker-count accuracy, and the time
diarization adds per minute of audio. Writes bench/results/diarization-<device>.json.

Run: npm run bench:diarization   (or sidecar/.venv/bin/python bench/diarization/run.py)

* Conversations: sidecar/tests/conversations.py (real recordings with known turns, including short
  turns and overlaps), single-speaker files and the no-speech files.
* DER: sidecar/tests/der.py, pyannote.metrics' definition with collar=0.25. Where pyannote.metrics
  can be imported (it is not a sidecar dependency: it pulls pandas, scipy and scikit-learn; put it on
  PYTHONPATH, e.g. `pip install --target /tmp/pmetrics --no-deps pyannote.metrics==4.2.0 ...`), its
  DiarizationErrorRate(collar=0.25) is computed too and both are written.
* Added time: (1) the diarization call itself, per minute of audio; (2) what asking for speakers
  costs the transcription: word timestamps (needed to give each word a speaker) instead of segment
  timestamps, on the same files with the embedded Whisper model.
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "sidecar"), str(ROOT / "sidecar" / "tests")]

import numpy as np  # noqa: E402
import torch  # noqa: E402

import conversations  # noqa: E402
import diarize  # noqa: E402
from der import der  # noqa: E402
from vad import Vad  # noqa: E402


def pyannote_der(reference, hypothesis):
    try:
        from pyannote.core import Annotation, Segment
        from pyannote.metrics.diarization import DiarizationErrorRate
    except ImportError:
        return None

    def annotation(turns):
        a = Annotation()
        for i, (s, e, who) in enumerate(turns):
            a[Segment(s, e), i] = str(who)
        return a

    return round(float(DiarizationErrorRate(collar=0.25)(annotation(reference), annotation(hypothesis))), 4)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    vad = Vad()
    diarizer = diarize.Diarizer(vad)
    diarizer.diarize(conversations.load("jfk.wav"))  # load the encoder outside the timings
    rows, total_audio, total_time = [], 0.0, 0.0
    for conv in conversations.multi_speaker(vad) + conversations.single_speaker(vad) + [
            conversations.Conversation(f"no-speech:{f}", conversations.load(f)) for f in conversations.NO_SPEECH]:
        turns, seconds = timed(lambda: diarizer.diarize(conv.audio))
        hypothesis = [(t.start, t.end, t.speaker) for t in turns]
        duration = len(conv.audio) / conversations.RATE
        total_audio += duration
        total_time += seconds
        score = der(conv.reference, hypothesis) if conv.reference else None
        rows.append({
            "conversation": conv.name, "duration_s": round(duration, 2),
            "speakers_reference": len(conv.speakers), "speakers_found": len({t.speaker for t in turns}),
            "count_correct": len(conv.speakers) == len({t.speaker for t in turns}),
            "der": score["der"] if score else None, "der_pyannote_metrics": pyannote_der(conv.reference, hypothesis) if score else None,
            "miss_s": score["miss"] if score else None, "false_alarm_s": score["false_alarm"] if score else None,
            "confusion_s": score["confusion"] if score else None, "seconds": round(seconds, 3),
            "turns": [[t.start, t.end, t.speaker] for t in turns],
        })
        print(f"{conv.name:40s} speakers {rows[-1]['speakers_found']}/{rows[-1]['speakers_reference']} "
              f"DER {rows[-1]['der']} (pyannote.metrics {rows[-1]['der_pyannote_metrics']}) {seconds:.2f}s", flush=True)
    counted = [r for r in rows]
    word_cost = word_timestamp_cost()
    result = {
        "device": "cpu", "torch_threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
        "backend": diarizer.describe(), "collar_s": 0.25,
        "speaker_count_accuracy": round(sum(r["count_correct"] for r in counted) / len(counted), 3),
        "speaker_count_accuracy_multi_speaker": round(
            np.mean([r["count_correct"] for r in rows if r["speakers_reference"] > 1]), 3),
        "diarization_seconds_per_audio_minute": round(60 * total_time / total_audio, 3),
        "word_timestamps_cost": word_cost,
        "conversations": rows,
    }
    out = ROOT / "bench" / "results" / "diarization-cpu.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "conversations"}, indent=2))
    print(f"wrote {out}")


def word_timestamp_cost() -> dict:
    """Transcription with segment vs word timestamps (diarize=true always asks for words)."""
    import model as model_module
    from device import choose_device

    settings = model_module.PipelineSettings()
    loaded = model_module.load(str(ROOT / "sidecar" / "models" / "whisper-base"), choose_device("cpu"), settings, None)
    files = ["longform-en.wav", "multilingual-en-de.wav"]
    audio_s, seconds = 0.0, {True: 0.0, "word": 0.0}
    for f in files:
        audio = conversations.load(f)
        audio_s += len(audio) / conversations.RATE
        for ts in (True, "word"):
            with torch.inference_mode():
                _, s = timed(lambda: loaded.pipe({"raw": audio, "sampling_rate": conversations.RATE}, return_timestamps=ts,
                                                 generate_kwargs={"language": "en" if f.startswith("longform") else None}))
            seconds[ts] += s
    return {"files": files, "audio_s": round(audio_s, 2),
            "segment_timestamps_s_per_min": round(60 * seconds[True] / audio_s, 3),
            "word_timestamps_s_per_min": round(60 * seconds["word"] / audio_s, 3),
            "added_s_per_min": round(60 * (seconds["word"] - seconds[True]) / audio_s, 3)}


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
