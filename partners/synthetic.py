"""The project's own synthetic municipal statistics, for the default tests, the demo and
the benchmark (the real SSDSE-A data is never part of the repository).

`synthetic_table()` draws municipalities whose indicators are driven by a few latent
factors (industry, ageing, urbanity, ...) with noise, in a handful of fictional
prefectures of central Japan, each indicator on its own arbitrary scale. It plants:

- TWIN_CODE, a near copy of the target TARGET_CODE about 170 km away (≈ 3.7 h by the
  default estimate) with a similar population: it must rank first;
- DECOY_CODE, another near copy only about 10 km away: a search with the default
  minimum distance (30 km) must not list it.

`synthetic_ssdse()` writes a small file in the SSDSE-A layout (CP932, three header rows,
R-prefixed codes) with a coordinates table in the localgovjp layout, for the importer.
Everything is deterministic for a given seed.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from .stats import SSDSE_DERIVED, StatsTable

TARGET_CODE = "01001"
TWIN_CODE = "03001"
DECOY_CODE = "01002"
TARGET_LOCATION = (36.50, 136.60)
TWIN_LOCATION = (36.50, 138.50)  # 170 km east of the target
DECOY_LOCATION = (36.56, 136.68)  # 9 km away

PREFECTURES = [
    "北山県",
    "南川県",
    "東野県",
    "西浜県",
    "中原県",
    "青海県",
    "白石県",
    "緑丘県",
]
# Blocks of 1° latitude × 1.2° longitude, two rows of four: prefecture i has its
# south-west corner at BLOCKS[i].
BLOCKS = [(36.0 + (i // 4), 136.0 + 1.2 * (i % 4)) for i in range(len(PREFECTURES))]
_FIRST = "桜松竹梅川山野原浜森沢岡田島谷橋"
_SECOND = "本宮崎江口井瀬丘城里浦台尾石根木"
_SUFFIX = "市町村"
FACTORS = [
    "manufacturing",
    "ageing",
    "urbanity",
    "tourism",
    "agriculture",
    "commerce",
    "commuting",
    "finance",
]


def _names(count: int) -> list[str]:
    names = []
    for i in range(count):
        a = _FIRST[i % len(_FIRST)]
        b = _SECOND[(i // len(_FIRST)) % len(_SECOND)]
        suffix = _SUFFIX[(i // (len(_FIRST) * len(_SECOND))) % len(_SUFFIX)]
        lap = i // (len(_FIRST) * len(_SECOND) * len(_SUFFIX))
        names.append(f"{a}{b}{suffix}" if not lap else f"{a}{b}第{lap + 1}{suffix}")
    return names


def _prefecture_of(latitude: float, longitude: float) -> int:
    row = 0 if latitude < 37.0 else 1
    column = min(3, max(0, int((longitude - 136.0) // 1.2)))
    return row * 4 + column


def synthetic_table(
    *,
    municipalities: int = 400,
    indicators: int = 70,
    factors: int = 6,
    noise: float = 0.5,
    seed: int = 2026,
) -> StatsTable:
    """`municipalities` × `indicators` with `factors` latent factors and a planted twin
    (and decoy) of the target; see the module's docstring."""
    if municipalities < 10 or indicators < factors or not 1 <= factors <= len(FACTORS):
        raise ValueError("need at least 10 municipalities and more indicators than factors")
    rng = np.random.default_rng(seed)
    n, p, f = municipalities, indicators, factors

    # Each indicator belongs to one factor (strong loading) with weak cross-loadings.
    owner = np.arange(p) % f
    loadings = rng.normal(0.0, 0.08, size=(f, p))
    loadings[owner, np.arange(p)] = rng.uniform(0.6, 0.95, size=p) * rng.choice([-1, 1], size=p)
    latent = rng.normal(size=(n, f))
    x = latent @ loadings + rng.normal(0.0, noise, size=(n, p))

    # Places: spread over the prefectures' blocks; the three planted ones set by hand.
    prefecture = rng.integers(0, len(PREFECTURES), size=n)
    latitude = np.array([BLOCKS[k][0] for k in prefecture]) + rng.uniform(0.05, 0.95, size=n)
    longitude = np.array([BLOCKS[k][1] for k in prefecture]) + rng.uniform(0.05, 1.15, size=n)
    population = np.round(np.exp(rng.normal(10.3, 0.9, size=n) + 0.35 * latent[:, 2]))

    target, twin, decoy = 0, 1, 2
    for row, (lat, lon) in (
        (target, TARGET_LOCATION),
        (twin, TWIN_LOCATION),
        (decoy, DECOY_LOCATION),
    ):
        latitude[row], longitude[row] = lat, lon
        prefecture[row] = _prefecture_of(lat, lon)
    x[twin] = x[target] + rng.normal(0.0, 0.05, size=p)
    x[decoy] = x[target] + rng.normal(0.0, 0.05, size=p)
    population[target] = 78000
    population[twin] = 86000
    population[decoy] = 74000

    # Each indicator on its own scale and offset, like shares, rates and yen amounts.
    offset = rng.uniform(5, 60, size=p)
    scale = rng.uniform(0.5, 12, size=p)
    values = np.round(offset + scale * x, 6)

    # Municipal codes: the prefecture's number, then the municipality's within it.
    counters = [0] * len(PREFECTURES)
    codes = [""] * n
    order = [target, twin, decoy, *range(3, n)]
    for row in order:
        counters[prefecture[row]] += 1
        codes[row] = f"{prefecture[row] + 1:02d}{counters[prefecture[row]]:03d}"
    assert (codes[target], codes[twin], codes[decoy]) == (TARGET_CODE, TWIN_CODE, DECOY_CODE)
    names = _names(n)
    names[target], names[twin], names[decoy] = "燕谷市", "双葉市", "隣町"
    width = max(2, len(str(p)))
    return StatsTable(
        codes=codes,
        names=names,
        prefectures=[PREFECTURES[k] for k in prefecture],
        latitude=np.round(latitude, 6),
        longitude=np.round(longitude, 6),
        population=population,
        indicators=[f"{FACTORS[owner[j]]}_{j + 1:0{width}d}" for j in range(p)],
        values=values,
    )


def synthetic_csv(**options) -> bytes:
    """`synthetic_table(**options)` as a statistics table file (generic format)."""
    return synthetic_table(**options).to_csv()


# --- the SSDSE-A layout -------------------------------------------------------------------


def _ssdse_items() -> list[str]:
    items: list[str] = []
    for derived in SSDSE_DERIVED:
        for item in derived.numerator + derived.denominator:
            item = item.split("|")[0]
            if item not in items:
                items.append(item)
    return items


def synthetic_ssdse(*, municipalities: int = 60, seed: int = 7) -> tuple[bytes, bytes]:
    """(an SSDSE-A-like file in CP932, a localgovjp-like coordinates table in UTF-8
    with BOM) for `municipalities` municipalities. Counts are drawn as plausible shares
    of the population, so every derived indicator has a non-zero divisor."""
    rng = np.random.default_rng(seed)
    n = municipalities
    items = _ssdse_items()
    table = synthetic_table(municipalities=max(n, 10), indicators=12, seed=seed)
    population = np.round(np.exp(rng.normal(10.0, 1.0, size=n))).astype(int) + 500
    columns: dict[str, np.ndarray] = {}

    def share(low: float, high: float, of: np.ndarray) -> np.ndarray:
        return np.maximum(1, np.round(of * rng.uniform(low, high, size=n))).astype(int)

    columns["A1101"] = population
    columns["A110101"] = share(0.47, 0.5, population)
    columns["A110102"] = population - columns["A110101"]
    columns["A1301"] = share(0.08, 0.14, population)
    columns["A1302"] = share(0.5, 0.62, population)
    columns["A1303"] = population - columns["A1301"] - columns["A1302"]
    columns["A1419"] = share(0.45, 0.6, columns["A1303"])
    columns["A1700"] = share(0.002, 0.03, population)
    households = share(0.35, 0.45, population)
    columns["A710101"] = households
    columns["A710201"] = share(0.95, 0.99, population)
    for item in ("A810102", "A810105", "A811102", "A8201", "A8301"):
        columns[item] = share(0.05, 0.5, households)
    columns["B1101"] = np.round(rng.uniform(2000, 60000, size=n)).astype(int)
    columns["B1103"] = share(0.1, 0.9, columns["B1101"])
    establishments = share(0.03, 0.06, population)
    employees = share(0.3, 0.5, population)
    columns["C2108"] = establishments
    columns["C2208"] = employees
    for item in items:
        if item.startswith("C2108") and item != "C2108":
            columns[item] = share(0.0, 0.15, establishments)
        elif item.startswith("C2208") and item != "C2208":
            columns[item] = share(0.0, 0.2, employees)
    employed = share(0.45, 0.55, population)
    columns["F1102"] = employed
    columns["F110202"] = share(0.4, 0.47, employed)
    columns["F1107"] = share(0.02, 0.05, employed)
    columns["F1108"] = share(0.3, 0.45, population)
    for item in ("F2201", "F2211", "F2221"):
        columns[item] = share(0.05, 0.6, employed)
    revenue = np.round(population * rng.uniform(300, 900, size=n)).astype(int)
    spending = np.round(revenue * rng.uniform(0.9, 0.99, size=n)).astype(int)
    columns["D3201"], columns["D3203"] = revenue, spending
    columns["D320101"] = share(0.1, 0.4, revenue)
    for item in ("D320303", "D320308", "D320310", "D320311"):
        columns[item] = share(0.0, 0.3, spending)
    columns["H5507"] = population
    for item in items:
        if item not in columns:
            columns[item] = share(0.0001, 0.01, population)
    columns["D2203"] = np.round(rng.uniform(80, 99, size=n), 1)
    columns["D2211"] = np.round(rng.uniform(2, 15, size=n), 1)

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["SSDSE-A-2026", "Prefecture", "Municipality", *items])
    writer.writerow(["", "", "年度", *["2020"] * len(items)])
    writer.writerow(["地域コード", "都道府県", "市区町村", *items])
    coordinates = io.StringIO()
    places = csv.writer(coordinates, lineterminator="\r\n")
    places.writerow(
        ["pid", "pref", "cid", "city", "citykana", "lat", "lng", "url", "phrase", "lgcode"]
    )
    for i in range(n):
        code = table.codes[i]
        values = [columns[item][i] for item in items]
        writer.writerow([f"R{code}", table.prefectures[i], table.names[i], *values])
        places.writerow(
            [
                int(code[:2]),
                table.prefectures[i],
                int(code),
                table.names[i],
                "",
                table.latitude[i],
                table.longitude[i],
                "",
                "",
                f"{code}0",
            ]
        )
    return buffer.getvalue().encode("cp932"), b"\xef\xbb\xbf" + coordinates.getvalue().encode(
        "utf-8"
    )
