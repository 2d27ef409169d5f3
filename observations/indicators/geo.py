"""Great-circle distances: the haversine formula, and the largest distance within a
set of points (the network's spread) found exactly without comparing every pair."""

from __future__ import annotations

import math

import numpy as np

EARTH_RADIUS_KM = 6371.0088  # the IUGG mean radius

# Up to this many distinct points every pair is compared (a few million products).
_BRUTE_FORCE = 2500
_CHUNK = 2048


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _unit_vectors(points: np.ndarray) -> np.ndarray:
    lat = np.radians(points[:, 0])
    lon = np.radians(points[:, 1])
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _farthest_between(
    xa: np.ndarray, xb: np.ndarray, best: tuple[float, int, int]
) -> tuple[float, int, int]:
    """(smallest dot product, i, j) over xa × xb: on the unit sphere the chord, and so
    the great-circle distance, grows as the dot product falls."""
    low, bi, bj = best
    for start in range(0, len(xa), _CHUNK):
        dots = xa[start : start + _CHUNK] @ xb.T
        flat = int(np.argmin(dots))
        i, j = divmod(flat, dots.shape[1])
        if dots[i, j] < low:
            low, bi, bj = float(dots[i, j]), start + i, j
    return low, bi, bj


def _farthest_pair(xyz: np.ndarray, latlon: np.ndarray) -> tuple[int, int]:
    if len(xyz) <= _BRUTE_FORCE:
        _low, i, j = _farthest_between(xyz, xyz, (2.0, 0, 0))
        return i, j
    # A good pair first: the extreme points along many directions.
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(64, 3))
    projections = xyz @ directions.T
    candidates = np.unique(np.concatenate([projections.argmin(axis=0), projections.argmax(axis=0)]))
    low, ci, cj = _farthest_between(xyz[candidates], xyz[candidates], (2.0, 0, 0))
    best = (low, int(candidates[ci]), int(candidates[cj]))
    # Then only the pairs of grid cells that could still hold a farther pair: a cell's
    # points lie within its radius of its centre, so two cells whose centres and radii
    # cannot beat the best distance are skipped whole. Exact, and fast on clustered data.
    lat, lon = latlon[:, 0], latlon[:, 1]
    cells_per_axis = 32
    span_lat = max(float(lat.max() - lat.min()), 1e-9)
    span_lon = max(float(lon.max() - lon.min()), 1e-9)
    gy = np.minimum(((lat - lat.min()) / span_lat * cells_per_axis).astype(np.int64), 31)
    gx = np.minimum(((lon - lon.min()) / span_lon * cells_per_axis).astype(np.int64), 31)
    cell_of = gy * cells_per_axis + gx
    by_cell = np.argsort(cell_of, kind="stable")
    _cells, first = np.unique(cell_of[by_cell], return_index=True)
    members = np.split(by_cell, first[1:])
    sizes = np.diff(np.append(first, len(by_cell)))
    centres = np.add.reduceat(xyz[by_cell], first, axis=0) / sizes[:, None]
    cell_index = np.repeat(np.arange(len(first)), sizes)
    spread = np.linalg.norm(xyz[by_cell] - centres[cell_index], axis=1)
    radii = np.maximum.reduceat(spread, first)
    best_chord = math.sqrt(max(0.0, 2 - 2 * best[0]))
    gaps = np.linalg.norm(centres[:, None, :] - centres[None, :, :], axis=2)
    bound = gaps + radii[:, None] + radii[None, :]
    near, far = np.nonzero(np.triu(bound > best_chord))
    # The most promising pairs first; stop once no pair left can beat the best.
    order = np.argsort(-bound[near, far], kind="stable")
    for c1, c2, limit in zip(
        near[order].tolist(), far[order].tolist(), bound[near, far][order].tolist(), strict=True
    ):
        if limit <= math.sqrt(max(0.0, 2 - 2 * best[0])):
            break
        m1, m2 = members[c1], members[c2]
        low, i, j = _farthest_between(xyz[m1], xyz[m2], (best[0], -1, -1))
        if i >= 0:
            best = (low, int(m1[i]), int(m2[j]))
    return best[1], best[2]


def spread_km(latitudes: np.ndarray, longitudes: np.ndarray) -> float | None:
    """The largest great-circle distance between two of the points (NaN = no point);
    None with fewer than two points."""
    located = ~(np.isnan(latitudes) | np.isnan(longitudes))
    if int(located.sum()) < 2:
        return None
    points = np.unique(np.column_stack([latitudes[located], longitudes[located]]), axis=0)
    if len(points) == 1:
        return 0.0
    i, j = _farthest_pair(_unit_vectors(points), points)
    return haversine_km(points[i, 0], points[i, 1], points[j, 0], points[j, 1])
