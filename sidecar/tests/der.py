"""Diarization error rate as pyannote.metrics' DiarizationErrorRate(collar=0.25) defines it.

DER = (missed speech + false alarm + speaker confusion) / reference speech, with the reference and
hypothesis speakers matched one-to-one to maximise their overlap, and a collar of 0.25 s (0.125 s
either side of every reference turn boundary) left out of scoring. Counted on 1 ms frames.
pyannote.metrics itself pulls pandas, scipy and scikit-learn, so it is not a sidecar dependency;
bench/diarization checks this function against it where it is installed.
"""
from __future__ import annotations

import itertools

import numpy as np

STEP = 0.001


def _grid(turns, speakers, n):
    grid = np.zeros((len(speakers), n), dtype=bool)
    for s, e, who in turns:
        grid[speakers.index(who), int(round(s / STEP)):int(round(e / STEP))] = True
    return grid


def der(reference, hypothesis, collar: float = 0.25) -> dict:
    """reference/hypothesis: [(start_s, end_s, label)] → {der, miss, false_alarm, confusion, total} (seconds)."""
    end = max([e for _, e, _ in reference] + [e for _, e, _ in hypothesis] + [0.0]) + collar + 1
    n = int(np.ceil(end / STEP))
    ref_names = sorted({w for *_, w in reference})
    hyp_names = sorted({w for *_, w in hypothesis})
    ref = _grid(reference, ref_names, n)
    hyp = _grid(hypothesis, hyp_names, n)
    scored = np.ones(n, dtype=bool)
    half = int(round(collar / 2 / STEP))
    for s, e, _ in reference:
        for t in (s, e):
            c = int(round(t / STEP))
            scored[max(0, c - half):c + half] = False
    ref, hyp = ref[:, scored], hyp[:, scored]
    n_ref, n_hyp = ref.sum(0), hyp.sum(0)
    total = float(n_ref.sum()) * STEP
    miss = float(np.maximum(n_ref - n_hyp, 0).sum()) * STEP
    false_alarm = float(np.maximum(n_hyp - n_ref, 0).sum()) * STEP
    overlap = (ref.astype(np.int64) @ hyp.T.astype(np.int64)) if len(ref_names) and len(hyp_names) else np.zeros((0, 0))
    best = 0
    if overlap.size:
        small, large = sorted(overlap.shape)
        matrix = overlap if overlap.shape[0] <= overlap.shape[1] else overlap.T
        for perm in itertools.permutations(range(large), small):
            best = max(best, int(sum(matrix[i, j] for i, j in enumerate(perm))))
    confusion = float(np.minimum(n_ref, n_hyp).sum() - best) * STEP
    value = (miss + false_alarm + confusion) / total if total else float(false_alarm > 0)
    return {"der": round(value, 4), "miss": round(miss, 3), "false_alarm": round(false_alarm, 3),
            "confusion": round(confusion, 3), "total": round(total, 3)}
