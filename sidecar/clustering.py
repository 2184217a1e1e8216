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


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)


def dendrogram(emb: np.ndarray) -> list[tuple[float, int, int]]:
    """Average-linkage merges (similarity, a, b) of unit embeddings, most similar first.

    Nearest-neighbour chain: O(n^2) time and memory (average linkage is reducible, so the chain
    finds the same merges as the naive O(n^3) loop), so an hour of speech (~6000 windows) clusters
    in seconds. Merged clusters keep the smaller index.
    """
    n = len(emb)
    sim = (emb @ emb.T).astype(np.float64)
    np.fill_diagonal(sim, -np.inf)
    size = np.ones(n)
    alive = np.ones(n, dtype=bool)
    merges: list[tuple[float, int, int]] = []
    chain: list[int] = []
    while len(merges) < n - 1:
        if not chain:
            chain.append(int(np.flatnonzero(alive)[0]))
        a = chain[-1]
        row = np.where(alive, sim[a], -np.inf)
        row[a] = -np.inf
        b = int(np.argmax(row))
        if len(chain) > 1 and row[chain[-2]] >= row[b]:
            b = chain[-2]
        if len(chain) > 1 and b == chain[-2]:
            chain.pop()
            chain.pop()
            keep, gone = min(a, b), max(a, b)
            merges.append((float(sim[a, b]), keep, gone))
            merged = (sim[keep] * size[keep] + sim[gone] * size[gone]) / (size[keep] + size[gone])
            sim[keep], sim[:, keep] = merged, merged
            sim[keep, keep] = -np.inf
            size[keep] += size[gone]
            alive[gone] = False
            sim[gone], sim[:, gone] = -np.inf, -np.inf
        else:
            chain.append(b)
    merges.sort(key=lambda m: -m[0])
    return merges


def agglomerate(emb: np.ndarray, threshold: float = THRESHOLD, num: Optional[int] = None,
                min_n: Optional[int] = None, max_n: Optional[int] = None) -> np.ndarray:
    """Cluster labels for unit embeddings (n, d): merges are applied most similar first while the
    similarity is at least `threshold`, or until num/min/max speakers says stop or go on."""
    n = len(emb)
    if n <= 1:
        return np.zeros(n, dtype=int)
    lower = num if num is not None else (min_n or 1)
    upper = num if num is not None else (max_n or n)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    count = n
    for similarity, a, b in dendrogram(emb):
        if count <= lower or (similarity < threshold and count <= upper):
            break
        parent[root(b)] = root(a)
        count -= 1
    return renumber(np.array([root(i) for i in range(n)]))


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
    labels = agglomerate(emb, threshold, num, min_n, max_n)
    if num is None:
        labels = fold_small(emb, labels, MIN_CLUSTER, keep=max(1, min_n or 1))
    return renumber(labels)
