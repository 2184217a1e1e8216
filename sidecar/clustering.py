"""Speaker clustering of window embeddings: pure numpy, values in, labels out.

Agglomerative clustering with average linkage on cosine similarity (what pyannote's and most
x-vector pipelines use), stopped where the two closest clusters are less similar than THRESHOLD,
so the speaker count is found, not given. A request may fix the count (num_speakers) or bound it
(min_speakers/max_speakers): the merging then goes on, or stops, at that count instead.
Clusters too small to be a speaker (fewer than MIN_CLUSTER windows: a cough, a laugh, one odd
window of a speaker already found) are folded into the nearest large one, so a single speaker is
not split in two by a stray window; a request's num_speakers/min_speakers overrides this.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

# Average cosine similarity of two clusters' windows below which they are different speakers.
# Measured on the conversations of sidecar/tests/conversations.py (bench/diarization): the last
# merge of one speaker's windows happens at 0.53-0.75 (0.53: multilingual-en-de.wav, one reader
# switching from English to German), the merge of two different speakers at 0.43-0.48. The margin
# is thin: a speaker whose voice changes more (language, channel) may be split.
THRESHOLD = 0.5
MIN_CLUSTER = 2
# Above this many windows, consecutive windows are averaged in groups first: average linkage here
# is O(n^3), and an hour of speech is ~6000 windows.
MAX_POINTS = 1200


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)


def agglomerate(emb: np.ndarray, threshold: float = THRESHOLD, num: Optional[int] = None,
                min_n: Optional[int] = None, max_n: Optional[int] = None) -> np.ndarray:
    """Cluster labels 0..k-1 (numbered by first appearance) for unit embeddings (n, d)."""
    n = len(emb)
    if n == 0:
        return np.zeros(0, dtype=int)
    if n == 1:
        return np.zeros(1, dtype=int)
    sim = emb @ emb.T
    size = np.ones(n)
    members = [[i] for i in range(n)]
    alive = np.ones(n, dtype=bool)
    np.fill_diagonal(sim, -np.inf)
    lower = num if num is not None else (min_n or 1)
    upper = num if num is not None else (max_n or n)
    while alive.sum() > 1:
        count = int(alive.sum())
        flat = int(np.argmax(sim))
        i, j = divmod(flat, n)
        best = sim[i, j]
        if count <= lower:
            break
        if best < threshold and count <= upper:
            break
        # Lance-Williams update for average linkage: merge j into i.
        merged = (sim[i] * size[i] + sim[j] * size[j]) / (size[i] + size[j])
        sim[i], sim[:, i] = merged, merged
        sim[i, i] = -np.inf
        sim[j], sim[:, j] = -np.inf, -np.inf
        size[i] += size[j]
        members[i].extend(members[j])
        members[j] = []
        alive[j] = False
    labels = np.zeros(n, dtype=int)
    for k, idx in enumerate(i for i in range(n) if alive[i]):
        labels[members[idx]] = k
    return labels


def fold_small(emb: np.ndarray, labels: np.ndarray, min_size: int = MIN_CLUSTER, keep: int = 1) -> np.ndarray:
    """Move the windows of clusters smaller than min_size to the nearest cluster that is not,
    keeping at least `keep` clusters."""
    labels = labels.copy()
    while True:
        ids, counts = np.unique(labels, return_counts=True)
        small = [c for c, m in zip(ids, counts) if m < min_size]
        if not small or len(ids) <= keep or len(small) == len(ids):
            return labels
        big = [c for c in ids if c not in small]
        cents = _unit(np.stack([emb[labels == c].mean(0) for c in big]))
        victim = min(small, key=lambda c: (labels == c).sum())
        rows = labels == victim
        labels[rows] = np.array(big)[np.argmax(emb[rows] @ cents.T, axis=1)]


def renumber(labels: np.ndarray) -> np.ndarray:
    """Labels numbered 0, 1, ... in order of first appearance."""
    order: dict[int, int] = {}
    for v in labels:
        order.setdefault(int(v), len(order))
    return np.array([order[int(v)] for v in labels], dtype=int)


def cluster(emb: np.ndarray, num: Optional[int] = None, min_n: Optional[int] = None,
            max_n: Optional[int] = None, threshold: float = THRESHOLD) -> np.ndarray:
    """Speaker label per window, numbered by first appearance."""
    n = len(emb)
    if n == 0:
        return np.zeros(0, dtype=int)
    group = int(np.ceil(n / MAX_POINTS))
    points = _unit(np.stack([emb[i:i + group].mean(0) for i in range(0, n, group)])) if group > 1 else emb
    labels = agglomerate(points, threshold, num, min_n, max_n)
    if num is None:
        labels = fold_small(points, labels, MIN_CLUSTER, keep=max(1, min_n or 1))
    labels = np.repeat(labels, group)[:n] if group > 1 else labels
    return renumber(labels)
