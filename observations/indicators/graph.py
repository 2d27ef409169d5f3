"""Graph algorithms on integer-indexed undirected graphs held as numpy arrays.

Nodes are 0..n-1; edges are two arrays (a, b) of the same length. The algorithms work
on whole arrays at a time so that a 100,000-node network takes seconds, not minutes,
without a compiled graph library."""

from __future__ import annotations

import numpy as np

Int = np.int64


def unique(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values. (np.unique hashes in numpy 2 and is an order of
    magnitude slower than sorting on integer arrays this size.)"""
    ordered = np.sort(values)
    if ordered.size == 0:
        return ordered
    keep = np.empty(ordered.size, dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def unique_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct values and how often each occurs."""
    ordered = np.sort(values)
    if ordered.size == 0:
        return ordered, np.zeros(0, dtype=Int)
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    return ordered[starts], np.diff(np.append(starts, ordered.size))


def unique_edges(u: np.ndarray, v: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct unordered pairs among (u[i], v[i]), as (a, b) with a < b; pairs of
    a node with itself are dropped."""
    u = np.asarray(u, dtype=Int)
    v = np.asarray(v, dtype=Int)
    keep = u != v
    lo = np.minimum(u[keep], v[keep])
    hi = np.maximum(u[keep], v[keep])
    keys = unique(lo * max(n, 1) + hi)
    return keys // max(n, 1), keys % max(n, 1)


def degrees(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.bincount(a, minlength=n) + np.bincount(b, minlength=n)


def csr(n: int, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Compressed adjacency (indptr, indices): the neighbours of node i are
    indices[indptr[i]:indptr[i + 1]], in increasing order."""
    src = np.concatenate([a, b]).astype(Int, copy=False)
    dst = np.concatenate([b, a]).astype(Int, copy=False)
    order = np.lexsort((dst, src))
    indptr = np.zeros(n + 1, dtype=Int)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return indptr, dst[order]


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A component label per node: the smallest node of its component.

    Hook-and-shortcut union-find over all edges at once: each round every edge whose
    ends have different labels hooks the larger root under the smaller one, then
    pointer jumping flattens the trees. A few rounds suffice on real networks."""
    labels = np.arange(n, dtype=Int)
    if n == 0 or len(a) == 0:
        return labels
    while True:
        la, lb = labels[a], labels[b]
        differ = la != lb
        if not differ.any():
            return labels
        lo = np.minimum(la[differ], lb[differ])
        hi = np.maximum(la[differ], lb[differ])
        np.minimum.at(labels, hi, lo)
        while True:
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped


def component_sizes(labels: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Size of each component (indexed by label; labels that are no component are 0)."""
    return np.bincount(labels, weights=weights, minlength=len(labels))


def shortest_paths(
    indptr: np.ndarray, indices: np.ndarray, source: int
) -> tuple[np.ndarray, np.ndarray]:
    """Breadth-first search from `source`: the distance to every node (-1 when
    unreachable) and the number of shortest paths to it (float, as counts grow
    exponentially), level by level (Brandes 2001, first phase)."""
    n = len(indptr) - 1
    dist = np.full(n, -1, dtype=Int)
    sigma = np.zeros(n, dtype=np.float64)
    dist[source] = 0
    sigma[source] = 1.0
    frontier = np.array([source], dtype=Int)
    level = 0
    while frontier.size:
        starts = indptr[frontier]
        counts = indptr[frontier + 1] - starts
        total = int(counts.sum())
        if total == 0:
            break
        # Positions of every arc leaving the frontier, without a Python loop.
        offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)
        heads = indices[offsets]
        # A node first seen now is at level + 1, and every arc into it from this
        # level carries shortest paths.
        onward = dist[heads] == -1
        if not onward.any():
            break
        heads = heads[onward]
        weights = np.repeat(sigma[frontier], counts)[onward]
        level += 1
        dist[heads] = level
        if heads.size * 8 < n:
            frontier = unique(heads)
            np.add.at(sigma, heads, weights)
        else:
            sigma += np.bincount(heads, weights=weights, minlength=n)
            frontier = np.flatnonzero(dist == level)
    return dist, sigma


def triangles(n: int, a: np.ndarray, b: np.ndarray, *, chunk: int = 2_000_000) -> np.ndarray:
    """Every triangle once, as rows (x, y, z), for edges (a, b) with a < b and no
    repeats (as `unique_edges` gives them).

    Edges point from the lower- to the higher-ranked end (by degree, then index), so
    that a node's out-neighbours are at most √(2m) and each triangle has exactly one
    corner with both others among its out-neighbours: the triangles are the pairs of
    out-neighbours ("wedges") that are themselves tied."""
    if len(a) < 3:
        return np.zeros((0, 3), dtype=Int)
    deg = degrees(n, a, b)
    rank = np.empty(n, dtype=Int)
    rank[np.lexsort((np.arange(n), deg))] = np.arange(n)
    forward = rank[a] < rank[b]
    lo = np.where(forward, a, b)
    hi = np.where(forward, b, a)
    order = np.lexsort((hi, lo))
    lo, hi = lo[order], hi[order]
    indptr = np.zeros(n + 1, dtype=Int)
    np.cumsum(np.bincount(lo, minlength=n), out=indptr[1:])
    # For the arc at position p, the later arcs of the same node are its wedge partners.
    later = indptr[lo + 1] - np.arange(len(lo)) - 1
    keys = np.sort(np.minimum(a, b) * n + np.maximum(a, b))
    found = []
    cumulative = np.cumsum(later)
    # In pieces of about `chunk` wedges, so that memory stays bounded on dense graphs.
    p0, arcs = 0, len(lo)
    while p0 < arcs:
        base = int(cumulative[p0 - 1]) if p0 else 0
        p1 = max(p0 + 1, int(np.searchsorted(cumulative, base + chunk, side="right")))
        counts = later[p0:p1]
        total = int(counts.sum())
        if total:
            first = np.repeat(np.arange(p0, p1), counts)
            second = first + 1 + (np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts))
            v, w = hi[first], hi[second]
            wedge = np.minimum(v, w) * n + np.maximum(v, w)
            at = np.minimum(np.searchsorted(keys, wedge), len(keys) - 1)
            closed = keys[at] == wedge
            if closed.any():
                found.append(np.column_stack([lo[first[closed]], v[closed], w[closed]]))
        p0 = p1
    return np.concatenate(found) if found else np.zeros((0, 3), dtype=Int)
