"""Gould–Fernandez brokerage roles by region (Gould & Fernandez 1989).

A member j brokers between i and k when i – j – k are tied and i and k are not. With
the regions of the three, the five roles are (i → j → k read as "from i through j
to k"):

    coordinator      i, j, k all in one region          (local broker)
    itinerant        i and k in one region, j elsewhere (consultant)
    gatekeeper       j in k's region, i elsewhere       (lets outsiders in)
    representative   j in i's region, k elsewhere       (speaks for its region outside)
    liaison          i, j, k in three regions

Ties are undirected, so each one counts as two arcs, as statnet's `brokerage` and
UCINET do for symmetric data: every open pair {i, k} of j's neighbours is counted in
both orders. Coordinator, itinerant and liaison counts are therefore even, and a
member's gatekeeper and representative counts are equal.

(The "coordinator" role is Gould and Fernandez's name for a broker inside one group;
it has nothing to do with the network's coordinator.)"""

from __future__ import annotations

import numpy as np

from .graph import triangles, unique_counts

ROLES = ("coordinator", "itinerant", "gatekeeper", "representative", "liaison")
COORDINATOR, ITINERANT, GATEKEEPER, REPRESENTATIVE, LIAISON = range(5)


def classify(ri: np.ndarray, rj: np.ndarray, rk: np.ndarray) -> np.ndarray:
    """The role of j on the path i → j → k, from the three regions."""
    return np.select(
        [
            (ri == rj) & (rj == rk),
            (ri == rk) & (ri != rj),
            (rj == rk) & (ri != rj),
            (ri == rj) & (rj != rk),
        ],
        [COORDINATOR, ITINERANT, GATEKEEPER, REPRESENTATIVE],
        default=LIAISON,
    )


def brokerage(n: int, a: np.ndarray, b: np.ndarray, region: np.ndarray) -> np.ndarray:
    """An (n, 5) array: how often each node brokers in each role (columns as ROLES).

    Counted without listing every pair of neighbours: the pairs of j's neighbours
    follow from how many of them are in each region, and the closed pairs (a triangle
    through j, which is no brokerage) are subtracted."""
    counts = np.zeros((n, 5), dtype=np.int64)
    if n == 0 or len(a) == 0:
        return counts
    heads = np.concatenate([a, b])
    tails = np.concatenate([b, a])  # the arc tails -> heads: j = tails
    region = np.asarray(region, dtype=np.int64)
    regions = int(region.max()) + 1
    degree = np.bincount(tails, minlength=n)
    own = np.bincount(tails[region[heads] == region[tails]], minlength=n)
    outside = degree - own
    # Σ over other regions r of c_r², c_r = j's neighbours in region r.
    keys, per_region = unique_counts(tails * regions + region[heads])
    key_node, key_region = keys // regions, keys % regions
    elsewhere = key_region != region[key_node]
    squares = np.bincount(
        key_node[elsewhere], weights=per_region[elsewhere].astype(np.float64) ** 2, minlength=n
    ).astype(np.int64)
    counts[:, COORDINATOR] = own * (own - 1)
    counts[:, ITINERANT] = squares - outside
    counts[:, GATEKEEPER] = outside * own
    counts[:, REPRESENTATIVE] = own * outside
    counts[:, LIAISON] = outside * outside - squares
    # Each triangle closes two ordered pairs at each of its three corners.
    found = triangles(n, a, b)
    if len(found):
        x, y, z = found[:, 0], found[:, 1], found[:, 2]
        for j, i, k in ((x, y, z), (y, x, z), (z, x, y)):
            for first, last in ((i, k), (k, i)):
                roles = classify(region[first], region[j], region[last])
                np.subtract.at(counts, (j, roles), 1)
    return counts
