"""The partner-region search of DESIGN.md ("Partner regions"), exactly, in numpy.

1. rows: the table's rows, restricted to the study area (prefectures) when given; PCA
   is fitted on these rows, the other filters only decide which candidates are listed;
2. indicator columns with zero variance are dropped; each column is standardised
   (mean 0, population standard deviation 1);
3. the correlation matrix is eigen-decomposed; components ordered by eigenvalue; kept
   with eigenvalue ≥ 1 (Kaiser) or the first N; each eigenvector oriented so that its
   largest-magnitude loading is positive;
4. scores standardised per component: z · v / √λ;
5. similarity of each score vector to the target's: Pearson r (default) or cosine;
6. listed: not the target, distance ≥ min_km, hours within the band, population ratio
   within the band; ranked by similarity, highest first (ties by code).

Pure functions over a `StatsTable`; nothing here touches the database.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from django.utils.translation import gettext as _

from .stats import StatsTable

EARTH_RADIUS_KM = 6371.0088
ALGORITHM = "hubless-partners/1"
SIMILARITIES = ("pearson", "cosine")
# Eigenvalues of a correlation matrix are computed with rounding error; one that is 1
# in exact arithmetic must not fall just below the Kaiser line.
KAISER_TOLERANCE = 1e-9
# Eigenvalues below this (relative to the number of indicators) are rounding noise of
# a singular correlation matrix: such components cannot be standardised (÷ √λ).
RANK_TOLERANCE = 1e-10
DRIVERS = 3
TOP_LOADINGS = 5


class SearchError(ValueError):
    """The search cannot run with these parameters on this table; the message says why."""


@dataclass(frozen=True)
class SearchParameters:
    target: str
    prefectures: tuple[str, ...] = ()
    min_km: float = 30.0
    min_hours: float | None = None
    max_hours: float | None = None
    population_ratio: tuple[float, float] | None = None
    components: int | None = None  # None: the Kaiser criterion
    similarity: str = "pearson"
    circuity: float = 1.3
    speed: float = 60.0
    top: int | None = None  # None: every listed candidate

    def as_dict(self) -> dict:
        data = asdict(self)
        data["prefectures"] = list(self.prefectures)
        data["population_ratio"] = (
            list(self.population_ratio) if self.population_ratio is not None else None
        )
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> SearchParameters:
        names = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in names}
        values["prefectures"] = tuple(values.get("prefectures") or ())
        ratio = values.get("population_ratio")
        values["population_ratio"] = tuple(ratio) if ratio else None
        return cls(**values)

    def check(self) -> None:
        if self.similarity not in SIMILARITIES:
            raise SearchError(
                _("Unknown similarity %(name)r: use pearson or cosine.") % {"name": self.similarity}
            )
        if self.circuity < 1:
            raise SearchError(_("The circuity factor must be at least 1."))
        if self.speed <= 0:
            raise SearchError(_("The average speed must be more than 0 km/h."))
        if self.min_km < 0:
            raise SearchError(_("The minimum distance must not be negative."))
        for value in (self.min_hours, self.max_hours):
            if value is not None and value < 0:
                raise SearchError(_("Travel times must not be negative."))
        if (
            self.min_hours is not None
            and self.max_hours is not None
            and self.min_hours > self.max_hours
        ):
            raise SearchError(_("The minimum travel time is above the maximum."))
        if self.population_ratio is not None:
            low, high = self.population_ratio
            if low < 0 or high < low:
                raise SearchError(_("The population ratio needs 0 ≤ LOW ≤ HIGH, e.g. 0.5 2."))
        if self.components is not None and self.components < 1:
            raise SearchError(_("The number of components must be at least 1."))
        if self.top is not None and self.top < 0:
            raise SearchError(_("--top must not be negative."))


# --- the steps -----------------------------------------------------------------------------


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km (R = 6371.0088 km, the mean Earth radius)."""
    lat1, lon1, lat2, lon2 = (
        np.radians(np.asarray(x, dtype=float)) for x in (lat1, lon1, lat2, lon2)
    )
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def estimated_hours(km, *, circuity: float, speed: float) -> np.ndarray:
    """Car travel time estimated as great-circle km × road circuity ÷ average speed."""
    return np.asarray(km, dtype=float) * circuity / speed


def study_area(table: StatsTable, prefectures: Sequence[str]) -> np.ndarray:
    """Row positions of the study area. A prefecture is given by its name as in the
    table, or by its 2-digit code (the first two digits of the municipal code)."""
    if not prefectures:
        return np.arange(len(table))
    wanted_names = {p.strip() for p in prefectures if p.strip()}
    wanted_codes = {p.zfill(2) for p in wanted_names if p.isdigit() and len(p) <= 2}
    known = set(table.prefectures)
    known_codes = {c[:2] for c in table.codes}
    unknown = [
        p
        for p in sorted(wanted_names)
        if p not in known and not (p.isdigit() and len(p) <= 2 and p.zfill(2) in known_codes)
    ]
    if unknown:
        raise SearchError(
            _("No municipality of the table is in %(names)s.") % {"names": ", ".join(unknown)}
        )
    rows = [
        i
        for i, (prefecture, code) in enumerate(zip(table.prefectures, table.codes, strict=True))
        if prefecture in wanted_names or code[:2] in wanted_codes
    ]
    return np.asarray(rows, dtype=int)


@dataclass
class PCA:
    indicators: list[str]  # the indicators used (zero-variance ones dropped)
    dropped: list[str]  # the zero-variance indicators
    eigenvalues: np.ndarray  # all, descending
    vectors: np.ndarray  # p × p, column j is the eigenvector of eigenvalues[j], oriented
    k: int  # components kept
    scores: np.ndarray  # n × k, standardised

    @property
    def explained(self) -> np.ndarray:
        return self.eigenvalues / self.eigenvalues.sum()

    @property
    def loadings(self) -> np.ndarray:
        """Correlation of each indicator with each kept component: v·√λ (p × k)."""
        return self.vectors[:, : self.k] * np.sqrt(self.eigenvalues[: self.k])


def standardise(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(z, kept column mask): zero-variance columns dropped, the others with mean 0 and
    population standard deviation 1."""
    constant = np.all(values == values[:1], axis=0)
    kept = values[:, ~constant]
    mean = kept.mean(axis=0)
    centred = kept - mean
    std = np.sqrt((centred**2).mean(axis=0))
    return centred / std, ~constant


def orient(vectors: np.ndarray) -> np.ndarray:
    """Each column flipped so that its largest-magnitude loading is positive (the first
    such loading when two have the same magnitude)."""
    largest = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[largest, np.arange(vectors.shape[1])])
    signs[signs == 0] = 1.0
    return vectors * signs


def pca(values: np.ndarray, indicators: Sequence[str], *, components: int | None) -> PCA:
    if values.shape[0] < 3:
        raise SearchError(_("The study area has fewer than 3 municipalities."))
    z, kept = standardise(values)
    used = [name for name, keep in zip(indicators, kept, strict=True) if keep]
    dropped = [name for name, keep in zip(indicators, kept, strict=True) if not keep]
    if len(used) < 2:
        raise SearchError(
            _("Fewer than 2 indicators vary across the study area; PCA needs at least 2.")
        )
    n = z.shape[0]
    correlation = (z.T @ z) / n
    eigenvalues, vectors = np.linalg.eigh(correlation)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues = np.clip(eigenvalues[order], 0.0, None)
    vectors = orient(vectors[:, order])
    rank = int(np.sum(eigenvalues > RANK_TOLERANCE * len(used)))
    if components is None:
        k = int(np.sum(eigenvalues >= 1 - KAISER_TOLERANCE))
    else:
        if components > rank:
            raise SearchError(
                _(
                    "%(n)s components asked for, but the correlation matrix has only "
                    "%(rank)s with a positive eigenvalue."
                )
                % {"n": components, "rank": rank}
            )
        k = components
    scores = (z @ vectors[:, :k]) / np.sqrt(eigenvalues[:k])
    return PCA(used, dropped, eigenvalues, vectors, k, scores)


def similarity(scores: np.ndarray, target: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """(similarity of every row to the target row, n × k contributions of each component
    to it: they sum to the similarity). NaN when a vector has no variance (Pearson) or
    no length (cosine)."""
    vectors = scores - scores.mean(axis=1, keepdims=True) if method == "pearson" else scores
    norms = np.linalg.norm(vectors, axis=1)
    t = vectors[target]
    with np.errstate(divide="ignore", invalid="ignore"):
        contributions = vectors * t / (norms[:, None] * norms[target])
    return contributions.sum(axis=1), contributions


# --- the search ----------------------------------------------------------------------------


@dataclass
class SearchResult:
    parameters: SearchParameters
    target: dict
    pca: PCA
    candidates: list[dict]  # every listed candidate, ranked
    rows: int  # municipalities in the study area
    excluded: dict[str, int] = field(default_factory=dict)
    travel_times: str = "estimated"  # or "matrix"
    points: list[list[float]] = field(default_factory=list)  # the study area, for the map

    def to_json(self) -> dict:
        """The `find_partners --json` object of DESIGN.md (eigenvalues: all of them;
        candidates: the top ones when `top` is set)."""
        top = self.parameters.top
        shown = self.candidates if top is None else self.candidates[:top]
        keys = ("code", "name", "prefecture", "similarity", "distance_km", "hours")
        return {
            "components": self.pca.k,
            "eigenvalues": [float(v) for v in self.pca.eigenvalues],
            "explained_variance": [float(v) for v in self.pca.explained],
            "candidates": [
                {**{key: c[key] for key in keys}, "population_ratio": c["population_ratio"]}
                for c in shown
            ],
        }

    def to_record(self) -> dict:
        """Everything the results page and the exports show, as JSON-ready data."""
        loadings = self.pca.loadings
        components = []
        for j in range(self.pca.k):
            order = np.argsort(-np.abs(loadings[:, j]), kind="stable")[:TOP_LOADINGS]
            components.append(
                {
                    "number": j + 1,
                    "eigenvalue": float(self.pca.eigenvalues[j]),
                    "explained": float(self.pca.explained[j]),
                    "top_loadings": [
                        {"indicator": self.pca.indicators[i], "loading": float(loadings[i, j])}
                        for i in order
                    ],
                }
            )
        return {
            "algorithm": ALGORITHM,
            **self.to_json(),
            "candidates": self.candidates,
            "target": self.target,
            "indicators": self.pca.indicators,
            "dropped_constant": self.pca.dropped,
            "component_details": components,
            "rows": self.rows,
            "listed": len(self.candidates),
            "excluded": self.excluded,
            "travel_times": self.travel_times,
            "points": self.points,
        }


def _none_if_nan(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def find_partners(
    table: StatsTable,
    parameters: SearchParameters,
    *,
    travel_times: Mapping[str, float] | None = None,
    progress: Callable[[int, str], None] | None = None,
) -> SearchResult:
    """Runs the search. `travel_times` (code → hours from the target, from a measured
    origin–destination matrix) replaces the estimate; a municipality missing from it
    has no time and is not listed when a time band is set."""
    report = progress or (lambda percent, stage: None)
    parameters.check()
    target_row = table.index_of(parameters.target)
    if target_row is None:
        raise SearchError(
            _("The target %(code)s is not in the table.") % {"code": parameters.target}
        )
    area = study_area(table, parameters.prefectures)
    positions = np.flatnonzero(area == target_row)
    if not positions.size:
        raise SearchError(
            _("The target %(code)s (%(prefecture)s) is outside the study area; add its prefecture.")
            % {"code": table.codes[target_row], "prefecture": table.prefectures[target_row]}
        )
    t = int(positions[0])
    report(20, "pca")
    fitted = pca(table.values[area], table.indicators, components=parameters.components)
    if parameters.similarity == "pearson" and fitted.k < 2:
        raise SearchError(
            _(
                "Pearson similarity needs at least 2 components and only 1 is kept; choose "
                "2 or more components, or cosine similarity."
            )
        )
    report(60, "similarity")
    sims, contributions = similarity(fitted.scores, t, parameters.similarity)
    if not np.isfinite(sims[t]):
        raise SearchError(
            _("The target's component scores are all equal, so no similarity can be computed.")
        )

    lat, lon = table.latitude[area], table.longitude[area]
    km = haversine_km(lat[t], lon[t], lat, lon)
    codes = [table.codes[i] for i in area]
    if travel_times is None:
        hours = estimated_hours(km, circuity=parameters.circuity, speed=parameters.speed)
    else:
        hours = np.array([travel_times.get(code, math.nan) for code in codes], dtype=float)
        hours[t] = 0.0
    population = table.population[area]
    ratio = population / population[t]

    report(80, "ranking")
    listed = np.ones(len(area), dtype=bool)
    listed[t] = False
    excluded: dict[str, int] = {}

    def exclude(mask: np.ndarray, reason: str) -> None:
        hit = listed & mask
        if hit.any():
            excluded[reason] = int(hit.sum())
        listed[hit] = False

    exclude(~np.isfinite(sims), "no_similarity")
    exclude(km < parameters.min_km, "too_close")
    if parameters.min_hours is not None or parameters.max_hours is not None:
        exclude(~np.isfinite(hours), "no_travel_time")
        with np.errstate(invalid="ignore"):
            if parameters.min_hours is not None:
                exclude(hours < parameters.min_hours, "too_near_in_time")
            if parameters.max_hours is not None:
                exclude(hours > parameters.max_hours, "too_far_in_time")
    if parameters.population_ratio is not None:
        low, high = parameters.population_ratio
        exclude((ratio < low) | (ratio > high), "population")

    chosen = np.flatnonzero(listed)
    # Highest similarity first; equal similarities by code, so the order never depends
    # on the order of the file's rows.
    order = sorted(chosen, key=lambda i: (-sims[i], codes[i]))
    candidates = []
    for i in order:
        row = int(area[i])
        drivers = np.argsort(-contributions[i], kind="stable")[:DRIVERS]
        candidates.append(
            {
                "code": table.codes[row],
                "name": table.names[row],
                "prefecture": table.prefectures[row],
                "similarity": float(sims[i]),
                "distance_km": float(km[i]),
                "hours": _none_if_nan(hours[i]),
                "population_ratio": float(ratio[i]),
                "population": float(population[i]),
                "latitude": float(lat[i]),
                "longitude": float(lon[i]),
                "drivers": [
                    {"component": int(j) + 1, "contribution": float(contributions[i, j])}
                    for j in drivers
                    if contributions[i, j] > 0
                ],
            }
        )
    report(95, "done")
    return SearchResult(
        parameters=parameters,
        target={
            "code": table.codes[target_row],
            "name": table.names[target_row],
            "prefecture": table.prefectures[target_row],
            "population": float(table.population[target_row]),
            "latitude": float(table.latitude[target_row]),
            "longitude": float(table.longitude[target_row]),
        },
        pca=fitted,
        candidates=candidates,
        rows=len(area),
        excluded=excluded,
        travel_times="estimated" if travel_times is None else "matrix",
        points=[[round(float(a), 4), round(float(b), 4)] for a, b in zip(lat, lon, strict=True)],
    )


# --- a measured travel-time matrix ----------------------------------------------------------


def travel_times_from_matrix(
    rows: Sequence[tuple[str, str, float]], target: str
) -> dict[str, float]:
    """Hours from the target to each destination, from (origin, destination, hours)
    rows; a pair given only the other way round (destination → target) is used too."""
    forward: dict[str, float] = {}
    backward: dict[str, float] = {}
    for origin, destination, hours in rows:
        if origin == target:
            forward.setdefault(destination, hours)
        elif destination == target:
            backward.setdefault(origin, hours)
    return {**backward, **forward}
