"""Municipal statistics for the partner-region finder: the generic table of DESIGN.md
(`code, name, prefecture, latitude, longitude, population`, then indicator columns),
the SSDSE-A layout joined with a coordinates table (ratio indicators derived from its
counts), the problems found in a file and their resolution. No database access here.

Reading never stops at a bad cell: it records a `Problem` (row and column) and keeps
going, so that the coordinator sees every problem at once and chooses to drop either
the indicators or the municipalities concerned (`ParsedTable.resolve`). Only a file
that cannot be read as a table at all (no header, missing columns, ...) raises
`TableError`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from coordination.tables import RowError, TableError, iter_rows

BASE_COLUMNS = ("code", "name", "prefecture", "latitude", "longitude", "population")
DROP_INDICATORS = "indicators"
DROP_MUNICIPALITIES = "municipalities"
MIN_INDICATORS = 2
MIN_MUNICIPALITIES = 3

_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_SSDSE_CODE = re.compile(r"^R?(\d{5})$")


# --- the tables --------------------------------------------------------------------------


@dataclass
class StatsTable:
    """A clean table: one row per municipality, every indicator value finite."""

    codes: list[str]
    names: list[str]
    prefectures: list[str]
    latitude: np.ndarray
    longitude: np.ndarray
    population: np.ndarray
    indicators: list[str]
    values: np.ndarray  # len(codes) × len(indicators), float64

    def __len__(self) -> int:
        return len(self.codes)

    def index_of(self, code: str) -> int | None:
        """The row of a municipal code, forgiving the usual ways of writing it: without
        its leading zero (1100), with the SSDSE `R` prefix, or with the check digit."""
        lookup = self.__dict__.get("_index")
        if lookup is None:
            lookup = self.__dict__["_index"] = {c: i for i, c in enumerate(self.codes)}
        code = str(code).strip()
        for candidate in code_spellings(code):
            if candidate in lookup:
                return lookup[candidate]
        return None

    def take(self, rows: Sequence[int] | np.ndarray) -> StatsTable:
        rows = np.asarray(rows, dtype=int)
        return StatsTable(
            codes=[self.codes[i] for i in rows],
            names=[self.names[i] for i in rows],
            prefectures=[self.prefectures[i] for i in rows],
            latitude=self.latitude[rows],
            longitude=self.longitude[rows],
            population=self.population[rows],
            indicators=list(self.indicators),
            values=self.values[rows],
        )

    def to_csv(self) -> bytes:
        """The table in the generic format (UTF-8 with BOM for Excel); floats are written
        exactly (repr), so reading the file back gives the same numbers."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow([*BASE_COLUMNS, *self.indicators])
        for i, code in enumerate(self.codes):
            writer.writerow(
                [
                    code,
                    self.names[i],
                    self.prefectures[i],
                    _number_text(self.latitude[i]),
                    _number_text(self.longitude[i]),
                    _number_text(self.population[i]),
                    *(_number_text(v) for v in self.values[i]),
                ]
            )
        return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")

    def version(self) -> str:
        """A fingerprint of the data: the SHA-256 of `to_csv()`, so that anyone can check a
        downloaded copy with `sha256sum`."""
        return hashlib.sha256(self.to_csv()).hexdigest()


def _number_text(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def code_spellings(code: str) -> Iterable[str]:
    yield code
    match = _SSDSE_CODE.match(code)
    if match:
        yield match.group(1)
    if code.isdigit():
        if len(code) < 5:
            yield code.zfill(5)
        if len(code) == 6:
            yield code[:5]


@dataclass(frozen=True)
class Problem:
    """One problem of a file. `indicators` are the indicator columns a bad cell makes
    unusable; when empty, the row itself is unusable (code, coordinates, population)
    and only dropping the municipality helps."""

    row: int | None
    column: str | None
    message: str
    code: str = ""
    name: str = ""
    indicators: tuple[str, ...] = ()

    @property
    def row_level(self) -> bool:
        return not self.indicators

    def as_dict(self) -> dict:
        return {
            "row": self.row,
            "column": self.column,
            "message": self.message,
            "code": self.code,
            "name": self.name,
            "indicators": list(self.indicators),
        }


@dataclass
class Resolution:
    """What a resolution dropped, for the dataset's record."""

    indicators: list[str] = field(default_factory=list)
    municipalities: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"indicators": self.indicators, "municipalities": self.municipalities}


@dataclass
class ParsedTable:
    """A table as read, with NaN in every unusable cell and the problems found."""

    rows: list[int]
    codes: list[str]
    names: list[str]
    prefectures: list[str]
    latitude: np.ndarray
    longitude: np.ndarray
    population: np.ndarray
    indicators: list[str]
    values: np.ndarray
    problems: list[Problem] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """Counts for the preview page: how many indicators and municipalities each
        choice would drop."""
        plan_i = self._plan(DROP_INDICATORS)
        plan_m = self._plan(DROP_MUNICIPALITIES)
        by_column = Counter(p.column or "" for p in self.problems)
        return {
            "problems": len(self.problems),
            "rows": len(self.rows),
            "indicators": len(self.indicators),
            "by_column": [{"column": c, "count": n} for c, n in by_column.most_common()],
            "row_level": sorted({p.row for p in self.problems if p.row_level and p.row}),
            DROP_INDICATORS: {
                "indicators": len(plan_i[1]),
                "municipalities": len(plan_i[0]),
                "names": [name for name in self.indicators if name in plan_i[1]],
            },
            DROP_MUNICIPALITIES: {
                "indicators": len(plan_m[1]),
                "municipalities": len(plan_m[0]),
            },
        }

    def _plan(self, drop: str | None) -> tuple[set[int], set[str]]:
        """(row positions to drop, indicators to drop) for a choice."""
        positions = {r: i for i, r in enumerate(self.rows)}
        # A row that goes anyway (its code, place or population is unusable) never
        # costs an indicator.
        doomed = {p.row for p in self.problems if p.row_level}
        drop_rows: set[int] = set()
        drop_indicators: set[str] = set()
        for problem in self.problems:
            position = positions.get(problem.row)
            if problem.row in doomed or drop == DROP_MUNICIPALITIES:
                if position is not None:
                    drop_rows.add(position)
            else:
                drop_indicators.update(problem.indicators)
        return drop_rows, drop_indicators

    def resolve(self, drop: str | None = None) -> tuple[StatsTable, Resolution]:
        """The clean table after dropping, for each problem, the indicator or the
        municipality (`drop`); rows that are unusable themselves go either way.
        Raises TableError when there are problems and no choice, or too little is left."""
        if self.problems and drop not in (DROP_INDICATORS, DROP_MUNICIPALITIES):
            raise TableError([RowError(p.row, p.column, p.message) for p in self.problems[:50]])
        drop_rows, drop_indicators = self._plan(drop)
        keep_rows = [i for i in range(len(self.rows)) if i not in drop_rows]
        keep_columns = [j for j, name in enumerate(self.indicators) if name not in drop_indicators]
        if len(keep_columns) < MIN_INDICATORS:
            raise TableError(
                [
                    RowError(
                        None,
                        None,
                        _(
                            "Only %(n)s indicator column(s) would be left; at least %(min)s are needed."
                        )
                        % {"n": len(keep_columns), "min": MIN_INDICATORS},
                    )
                ]
            )
        if len(keep_rows) < MIN_MUNICIPALITIES:
            raise TableError(
                [
                    RowError(
                        None,
                        None,
                        _("Only %(n)s municipalities would be left; at least %(min)s are needed.")
                        % {"n": len(keep_rows), "min": MIN_MUNICIPALITIES},
                    )
                ]
            )
        rows = np.asarray(keep_rows, dtype=int)
        values = self.values[np.ix_(rows, np.asarray(keep_columns, dtype=int))]
        if not np.isfinite(values).all():  # pragma: no cover - every NaN has a problem
            raise AssertionError("a value without a problem is not finite")
        table = StatsTable(
            codes=[self.codes[i] for i in rows],
            names=[self.names[i] for i in rows],
            prefectures=[self.prefectures[i] for i in rows],
            latitude=self.latitude[rows].copy(),
            longitude=self.longitude[rows].copy(),
            population=self.population[rows].copy(),
            indicators=[self.indicators[j] for j in keep_columns],
            values=np.ascontiguousarray(values),
        )
        resolution = Resolution(
            indicators=[name for name in self.indicators if name in drop_indicators],
            municipalities=[
                {"row": self.rows[i], "code": self.codes[i], "name": self.names[i]}
                for i in sorted(drop_rows)
            ],
        )
        return table, resolution


# --- cells ---------------------------------------------------------------------------------


class _Bad(ValueError):
    pass


def parse_number(value: object) -> float | None:
    """A cell as a number; None when empty; _Bad when it is not a finite number.
    Accepts thousands separators (1,234,567) and full-width digits (Excel in Japanese)."""
    if isinstance(value, bool):
        raise _Bad(_("%(value)r is not a number.") % {"value": value})
    if isinstance(value, int | float):
        result = float(value)
    else:
        text = "" if value is None else str(value).strip()
        if not text:
            return None
        try:
            result = float(text)
        except ValueError:
            normal = unicodedata.normalize("NFKC", text).replace(" ", "")
            if _THOUSANDS.match(normal):
                normal = normal.replace(",", "")
            try:
                result = float(normal)
            except ValueError:
                raise _Bad(_("%(value)r is not a number.") % {"value": text}) from None
    if not math.isfinite(result):
        raise _Bad(_("%(value)r is not a number.") % {"value": value})
    return result


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def normalise_code(value: object) -> str:
    """Municipal codes are text; a code Excel turned into a number (1100) gets its
    leading zero back: all-digit codes shorter than 5 are padded to 5."""
    code = _text(value)
    if code.isdigit() and len(code) < 5:
        code = code.zfill(5)
    return code


def _rows(data: bytes, filename: str) -> list[tuple[int, list[object]]]:
    rows = []
    for number, values in iter_rows(data, filename):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        rows.append((number, values))
    return rows


def _location(lat: object, lon: object) -> tuple[float, float, str | None]:
    """(latitude, longitude, problem or None)."""
    try:
        latitude = parse_number(lat)
        longitude = parse_number(lon)
    except _Bad as exc:
        return math.nan, math.nan, str(exc)
    if latitude is None or longitude is None:
        return math.nan, math.nan, _("The coordinates are missing.")
    if not (-90 <= latitude <= 90) or not (-180 <= longitude <= 180):
        return math.nan, math.nan, _("The coordinates are outside the globe.")
    return latitude, longitude, None


def _population(value: object) -> tuple[float, str | None]:
    try:
        population = parse_number(value)
    except _Bad as exc:
        return math.nan, str(exc)
    if population is None:
        return math.nan, _("The population is missing.")
    if population <= 0:
        return math.nan, _("The population must be more than zero.")
    return population, None


def _duplicate_problems(
    rows: list[int], codes: list[str], names: list[str], column: str
) -> list[Problem]:
    where: dict[str, list[int]] = defaultdict(list)
    for row, code in zip(rows, codes, strict=True):
        if code:
            where[code].append(row)
    problems = []
    for position, (row, code) in enumerate(zip(rows, codes, strict=True)):
        if code and len(where[code]) > 1:
            problems.append(
                Problem(
                    row,
                    column,
                    _("The code %(code)s appears on rows %(rows)s; each municipality once.")
                    % {"code": code, "rows": ", ".join(str(r) for r in where[code])},
                    code,
                    names[position],
                )
            )
    return problems


# --- the generic table ---------------------------------------------------------------------


def read_stats(data: bytes, filename: str = "stats.csv") -> ParsedTable:
    """Reads the generic table of DESIGN.md (CSV in UTF-8, UTF-8 with BOM or CP932; XLSX)."""
    rows = _rows(data, filename)
    if not rows:
        raise TableError([RowError(None, None, _("The file has no header row."))])
    header_row, header_values = rows[0]
    header = [_text(v) for v in header_values]
    while header and not header[-1]:
        header.pop()
    errors: list[RowError] = []
    base: dict[str, int] = {}
    indicators: list[tuple[int, str]] = []
    seen: set[str] = set()
    for position, name in enumerate(header):
        key = name.lower()
        if not name:
            errors.append(
                RowError(header_row, None, _("Column %(n)s has no name.") % {"n": position + 1})
            )
        elif key in seen or (key in BASE_COLUMNS and key in base):
            errors.append(RowError(header_row, name, _("This column appears twice.")))
        elif key in BASE_COLUMNS:
            base[key] = position
        else:
            indicators.append((position, name))
        seen.add(key)
    for name in BASE_COLUMNS:
        if name not in base:
            errors.append(RowError(header_row, name, _("Required column is missing.")))
    if not errors and len(indicators) < MIN_INDICATORS:
        errors.append(
            RowError(
                header_row,
                None,
                _("At least %(min)s indicator columns are needed after the six base columns.")
                % {"min": MIN_INDICATORS},
            )
        )
    if errors:
        raise TableError(errors)
    body = rows[1:]
    if not body:
        raise TableError([RowError(None, None, _("The file has a header but no data rows."))])

    n, p = len(body), len(indicators)
    width = len(header)
    numbers: list[int] = []
    codes: list[str] = []
    names: list[str] = []
    prefectures: list[str] = []
    latitude = np.full(n, math.nan)
    longitude = np.full(n, math.nan)
    population = np.full(n, math.nan)
    values = np.full((n, p), math.nan)
    problems: list[Problem] = []
    indicator_names = [name for _position, name in indicators]
    for i, (number, raw) in enumerate(body):
        cells = list(raw) + [None] * (width - len(raw))
        code = normalise_code(cells[base["code"]])
        name = _text(cells[base["name"]])
        numbers.append(number)
        codes.append(code)
        names.append(name)
        prefectures.append(_text(cells[base["prefecture"]]))
        if any(_text(v) for v in cells[width:]):
            problems.append(
                Problem(
                    number,
                    None,
                    _("This row has more cells than the header has columns."),
                    code,
                    name,
                )
            )
        if not code:
            problems.append(Problem(number, "code", _("The code is missing."), code, name))
        if not name:
            problems.append(Problem(number, "name", _("The name is missing."), code, name))
        lat, lon, trouble = _location(cells[base["latitude"]], cells[base["longitude"]])
        if trouble:
            problems.append(Problem(number, "latitude, longitude", trouble, code, name))
        latitude[i], longitude[i] = lat, lon
        population[i], trouble = _population(cells[base["population"]])
        if trouble:
            problems.append(Problem(number, "population", trouble, code, name))
        row_values = values[i]
        for j, (position, indicator) in enumerate(indicators):
            value = cells[position]
            # The common case first: a plain number (CSV text or an XLSX number).
            try:
                number_value = float(value) if value is not None and value != "" else None
                if number_value is not None and not math.isfinite(number_value):
                    raise ValueError
            except (TypeError, ValueError):
                try:
                    number_value = parse_number(value)
                except _Bad as exc:
                    problems.append(Problem(number, indicator, str(exc), code, name, (indicator,)))
                    continue
            if number_value is None:
                problems.append(
                    Problem(number, indicator, _("The value is missing."), code, name, (indicator,))
                )
                continue
            row_values[j] = number_value
    problems.extend(_duplicate_problems(numbers, codes, names, "code"))
    problems.sort(key=lambda p: (p.row or 0, p.column or ""))
    return ParsedTable(
        rows=numbers,
        codes=codes,
        names=names,
        prefectures=prefectures,
        latitude=latitude,
        longitude=longitude,
        population=population,
        indicators=indicator_names,
        values=values,
        problems=problems,
        meta={"layout": "generic"},
    )


# --- SSDSE-A and a coordinates table -------------------------------------------------------


@dataclass(frozen=True)
class Derived:
    """A ratio indicator: sum(numerator items) / sum(denominator items) × scale. An item
    written "J250302|J2503" is whichever of the two the edition has."""

    key: str
    label: object  # a lazy translation
    numerator: tuple[str, ...]
    denominator: tuple[str, ...] = ()
    scale: float = 1.0


def _shares(prefix: str, total: str, what: str) -> list[Derived]:
    divisions = [
        ("32", "agriculture", gettext_lazy("agriculture, forestry")),
        ("33", "fishery", gettext_lazy("fisheries")),
        ("35", "mining", gettext_lazy("mining, quarrying")),
        ("36", "construction", gettext_lazy("construction")),
        ("37", "manufacturing", gettext_lazy("manufacturing")),
        ("38", "utilities", gettext_lazy("electricity, gas, heat, water")),
        ("39", "information", gettext_lazy("information and communications")),
        ("40", "transport", gettext_lazy("transport, postal")),
        ("41", "trade", gettext_lazy("wholesale and retail trade")),
        ("44", "finance", gettext_lazy("finance, insurance")),
        ("45", "real_estate", gettext_lazy("real estate, goods rental")),
        ("46", "professional", gettext_lazy("scientific research, professional services")),
        ("47", "accommodation", gettext_lazy("accommodation, eating and drinking")),
        ("48", "living", gettext_lazy("living-related services, amusement")),
        ("49", "education", gettext_lazy("education, learning support")),
        ("50", "medical", gettext_lazy("medical, health care, welfare")),
        ("51", "compound", gettext_lazy("compound services")),
        ("52", "other_services", gettext_lazy("services not elsewhere classified")),
    ]
    return [
        Derived(
            f"{what}_share_{key}",
            _ShareLabel(what, label),
            (f"{prefix}{division}",),
            (total,),
            100.0,
        )
        for division, key, label in divisions
    ]


class _ShareLabel:
    """'Employees: manufacturing (%)', translated when shown."""

    def __init__(self, what: str, division) -> None:
        self.what = what
        self.division = division

    def __str__(self) -> str:
        if self.what == "employees":
            return _("Employees: %(division)s (%%)") % {"division": self.division}
        return _("Establishments: %(division)s (%%)") % {"division": self.division}


_POP = ("A1101",)
SSDSE_DERIVED: list[Derived] = [
    # population structure
    Derived("age_under15_share", gettext_lazy("Population under 15 (%)"), ("A1301",), _POP, 100),
    Derived("age_15_64_share", gettext_lazy("Population 15–64 (%)"), ("A1302",), _POP, 100),
    Derived("age_65plus_share", gettext_lazy("Population 65 and over (%)"), ("A1303",), _POP, 100),
    Derived("age_75plus_share", gettext_lazy("Population 75 and over (%)"), ("A1419",), _POP, 100),
    Derived("foreign_share", gettext_lazy("Foreign residents (%)"), ("A1700",), _POP, 100),
    Derived("sex_ratio", gettext_lazy("Men per 100 women"), ("A110101",), ("A110102",), 100),
    # vital statistics and migration, per 1,000 inhabitants
    Derived("births_rate", gettext_lazy("Births per 1,000"), ("A4101",), _POP, 1000),
    Derived("deaths_rate", gettext_lazy("Deaths per 1,000"), ("A4200",), _POP, 1000),
    Derived("in_migration_rate", gettext_lazy("In-migrants per 1,000"), ("A5101",), _POP, 1000),
    Derived("out_migration_rate", gettext_lazy("Out-migrants per 1,000"), ("A5102",), _POP, 1000),
    Derived("marriages_rate", gettext_lazy("Marriages per 1,000"), ("A9101",), _POP, 1000),
    Derived("divorces_rate", gettext_lazy("Divorces per 1,000"), ("A9201",), _POP, 1000),
    # households
    Derived(
        "household_size",
        gettext_lazy("Persons per private household"),
        ("A710201",),
        ("A710101",),
    ),
    Derived(
        "nuclear_households_share",
        gettext_lazy("Nuclear-family households (%)"),
        ("A810102",),
        ("A710101",),
        100,
    ),
    Derived(
        "single_households_share",
        gettext_lazy("One-person households (%)"),
        ("A810105",),
        ("A710101",),
        100,
    ),
    Derived(
        "elderly_nuclear_share",
        gettext_lazy("Nuclear households with a member 65+ (%)"),
        ("A811102",),
        ("A710101",),
        100,
    ),
    Derived(
        "elderly_couple_share",
        gettext_lazy("Elderly-couple households (%)"),
        ("A8201",),
        ("A710101",),
        100,
    ),
    Derived(
        "elderly_single_share",
        # xgettext:no-python-format
        gettext_lazy("Elderly living alone (% of households)"),
        ("A8301",),
        ("A710101",),
        100,
    ),
    # land
    Derived(
        "density_habitable",
        gettext_lazy("Inhabitants per km² of habitable land"),
        _POP,
        ("B1103",),
        100,
    ),
    Derived("habitable_share", gettext_lazy("Habitable land (%)"), ("B1103",), ("B1101",), 100),
    # the economy: size of businesses, jobs, industry mix
    Derived(
        "establishments_rate",
        gettext_lazy("Private establishments per 1,000"),
        ("C2108",),
        _POP,
        1000,
    ),
    Derived(
        "employees_rate", gettext_lazy("Private-sector employees per 1,000"), ("C2208",), _POP, 1000
    ),
    Derived(
        "establishment_size",
        gettext_lazy("Employees per establishment"),
        ("C2208",),
        ("C2108",),
    ),
    *_shares("C2108", "C2108", "establishments"),
    *_shares("C2208", "C2208", "employees"),
    Derived(
        "farm_households_rate",
        gettext_lazy("Farm households per 1,000"),
        ("C310201", "C310202"),
        _POP,
        1000,
    ),
    # labour force
    Derived(
        "labour_participation",
        gettext_lazy("Labour-force participation (%)"),
        ("F1102", "F1107"),
        ("F1102", "F1107", "F1108"),
        100,
    ),
    Derived(
        "unemployment_rate",
        gettext_lazy("Unemployment rate (%)"),
        ("F1107",),
        ("F1102", "F1107"),
        100,
    ),
    Derived(
        "women_in_work_share",
        gettext_lazy("Women among the employed (%)"),
        ("F110202",),
        ("F1102",),
        100,
    ),
    Derived(
        "primary_sector_share",
        gettext_lazy("Employed in the primary sector (%)"),
        ("F2201",),
        ("F1102",),
        100,
    ),
    Derived(
        "secondary_sector_share",
        gettext_lazy("Employed in the secondary sector (%)"),
        ("F2211",),
        ("F1102",),
        100,
    ),
    Derived(
        "tertiary_sector_share",
        gettext_lazy("Employed in the tertiary sector (%)"),
        ("F2221",),
        ("F1102",),
        100,
    ),
    # municipal finance
    Derived("current_balance_ratio", gettext_lazy("Current balance ratio (%)"), ("D2203",)),
    Derived("debt_service_ratio", gettext_lazy("Real debt service ratio (%)"), ("D2211",)),
    Derived(
        "revenue_per_capita",
        gettext_lazy("Revenue per inhabitant (thousand yen)"),
        ("D3201",),
        _POP,
    ),
    Derived(
        "local_tax_per_capita",
        gettext_lazy("Local tax per inhabitant (thousand yen)"),
        ("D320101",),
        _POP,
    ),
    Derived(
        "local_tax_share", gettext_lazy("Local tax in revenue (%)"), ("D320101",), ("D3201",), 100
    ),
    Derived(
        "welfare_spending_share",
        gettext_lazy("Welfare in expenditure (%)"),
        ("D320303",),
        ("D3203",),
        100,
    ),
    Derived(
        "public_works_share",
        gettext_lazy("Public works in expenditure (%)"),
        ("D320308",),
        ("D3203",),
        100,
    ),
    Derived(
        "education_spending_share",
        gettext_lazy("Education in expenditure (%)"),
        ("D320310",),
        ("D3203",),
        100,
    ),
    Derived(
        "disaster_recovery_share",
        gettext_lazy("Disaster recovery in expenditure (%)"),
        ("D320311",),
        ("D3203",),
        100,
    ),
    Derived(
        "municipal_staff_rate",
        gettext_lazy("Municipal administrative staff per 1,000"),
        ("D1202",),
        _POP,
        1000,
    ),
    # schools, community, shops, health care, childcare
    Derived("high_schools_rate", gettext_lazy("High schools per 10,000"), ("E4101",), _POP, 10000),
    Derived(
        "high_school_students_rate",
        gettext_lazy("High-school students per 1,000"),
        ("E4501",),
        _POP,
        1000,
    ),
    Derived(
        "community_halls_rate",
        gettext_lazy("Community halls per 10,000"),
        ("G1201",),
        _POP,
        10000,
    ),
    Derived("libraries_rate", gettext_lazy("Libraries per 10,000"), ("G1401",), _POP, 10000),
    Derived("retail_shops_rate", gettext_lazy("Retail shops per 1,000"), ("H6130",), _POP, 1000),
    Derived("restaurants_rate", gettext_lazy("Restaurants per 1,000"), ("H6131",), _POP, 1000),
    Derived(
        "large_retail_rate", gettext_lazy("Large retail stores per 10,000"), ("H6132",), _POP, 10000
    ),
    Derived(
        "unsewered_share",
        gettext_lazy("Population without flush toilets (%)"),
        ("H550701",),
        ("H5507",),
        100,
    ),
    Derived("hospitals_rate", gettext_lazy("Hospitals per 10,000"), ("I510120",), _POP, 10000),
    Derived("clinics_rate", gettext_lazy("Clinics per 10,000"), ("I5102",), _POP, 10000),
    Derived(
        "dental_clinics_rate", gettext_lazy("Dental clinics per 10,000"), ("I5103",), _POP, 10000
    ),
    Derived("doctors_rate", gettext_lazy("Physicians per 10,000"), ("I6100",), _POP, 10000),
    Derived("dentists_rate", gettext_lazy("Dentists per 10,000"), ("I6200",), _POP, 10000),
    Derived("pharmacists_rate", gettext_lazy("Pharmacists per 10,000"), ("I6300",), _POP, 10000),
    Derived(
        "nurseries_rate",
        gettext_lazy("Nurseries per 10,000"),
        ("J250302|J2503",),
        _POP,
        10000,
    ),
]
_LABELS = {d.key: d.label for d in SSDSE_DERIVED}


def indicator_label(name: str) -> str:
    """The translated label of a derived SSDSE-A indicator, else the column name itself."""
    label = _LABELS.get(name)
    return str(label) if label is not None else name


def _resolve_item(item: str, present: dict[str, int]) -> int | None:
    for alternative in item.split("|"):
        if alternative in present:
            return present[alternative]
    return None


def read_coordinates(data: bytes, filename: str = "coordinates.csv") -> dict[str, tuple]:
    """Code → (latitude, longitude, None) or (nan, nan, reason) from either the
    localgovjp table (`lgcode, lat, lng`: lgcode[:5] is the municipal code; the rows of
    wards have codes of their own, so joining on the code keeps the city rows) or a
    table with `code, latitude, longitude`."""
    rows = _rows(data, filename)
    if not rows:
        raise TableError([RowError(None, None, _("The coordinates file has no header row."))])
    header_row, header_values = rows[0]
    header = [_text(v).lower() for v in header_values]
    for code_column, lat_column, lon_column in (
        ("lgcode", "lat", "lng"),
        ("code", "latitude", "longitude"),
    ):
        if {code_column, lat_column, lon_column} <= set(header):
            break
    else:
        raise TableError(
            [
                RowError(
                    header_row,
                    None,
                    _(
                        "The coordinates file needs the columns lgcode, lat, lng "
                        "(localgovjp) or code, latitude, longitude."
                    ),
                )
            ]
        )
    at = {name: header.index(name) for name in (code_column, lat_column, lon_column)}
    result: dict[str, tuple] = {}
    for _number, raw in rows[1:]:
        cells = list(raw) + [None] * (len(header) - len(raw))
        code = normalise_code(cells[at[code_column]])
        if code_column == "lgcode" and code.isdigit() and len(code) == 6:
            code = code[:5]
        if not code or code in result:
            continue
        result[code] = _location(cells[at[lat_column]], cells[at[lon_column]])
    return result


def read_ssdse(
    data: bytes,
    filename: str,
    coordinates: bytes,
    coordinates_filename: str = "coordinates.csv",
) -> ParsedTable:
    """Reads SSDSE-A (row 1 item codes, row 2 years, row 3 labels, data from row 4; area
    codes like R15208), joins the coordinates, and derives the ratio indicators of
    SSDSE_DERIVED that the edition's items allow. Problems name the file's row and the
    item (code and label); a bad item spoils the indicators derived from it."""
    rows = _rows(data, filename)
    if len(rows) < 4 or not _text(rows[0][1][0] if rows[0][1] else "").upper().startswith("SSDSE"):
        raise TableError(
            [
                RowError(
                    1,
                    None,
                    _(
                        "This is not an SSDSE-A file: its first cell should read SSDSE-A-… "
                        "with item codes on row 1, years on row 2, labels on row 3 and data "
                        "from row 4."
                    ),
                )
            ]
        )
    items = [_text(v) for v in rows[0][1]]
    years = [_text(v) for v in rows[1][1]] + [""] * len(items)
    labels = [_text(v) for v in rows[2][1]] + [""] * len(items)
    present = {item: position for position, item in enumerate(items) if position >= 3 and item}
    if "A1101" not in present:
        raise TableError([RowError(1, "A1101", _("The total population (item A1101) is missing."))])
    places = read_coordinates(coordinates, coordinates_filename)

    derived = [
        d
        for d in SSDSE_DERIVED
        if all(_resolve_item(item, present) is not None for item in d.numerator + d.denominator)
    ]
    uses: dict[int, list[str]] = defaultdict(list)
    for d in derived:
        for item in d.numerator + d.denominator:
            uses[_resolve_item(item, present)].append(d.key)
    needed = sorted(set(uses) | {present["A1101"]})

    body = rows[3:]
    n = len(body)
    raw = np.full((n, len(items)), math.nan)
    numbers: list[int] = []
    codes: list[str] = []
    names: list[str] = []
    prefectures: list[str] = []
    latitude = np.full(n, math.nan)
    longitude = np.full(n, math.nan)
    problems: list[Problem] = []
    for i, (number, cells) in enumerate(body):
        cells = list(cells) + [None] * (len(items) - len(cells))
        match = _SSDSE_CODE.match(_text(cells[0]))
        code = match.group(1) if match else _text(cells[0])
        name = _text(cells[2])
        numbers.append(number)
        codes.append(code)
        names.append(name)
        prefectures.append(_text(cells[1]))
        if not match:
            problems.append(
                Problem(
                    number,
                    items[0] or None,
                    _("%(value)r is not an area code like R15208.") % {"value": _text(cells[0])},
                    code,
                    name,
                )
            )
        place = places.get(code)
        if place is None:
            problems.append(
                Problem(
                    number,
                    None,
                    _("The code %(code)s is not in the coordinates table.") % {"code": code},
                    code,
                    name,
                )
            )
        elif place[2]:
            problems.append(
                Problem(
                    number,
                    None,
                    _("The coordinates table has no usable location for %(code)s: %(reason)s")
                    % {"code": code, "reason": place[2]},
                    code,
                    name,
                )
            )
        else:
            latitude[i], longitude[i] = place[0], place[1]
        for position in needed:
            value = cells[position]
            column = f"{items[position]} {labels[position]}".strip()
            affected = tuple(uses.get(position, ()))
            try:
                number_value = parse_number(value)
            except _Bad as exc:
                problems.append(Problem(number, column, str(exc), code, name, affected))
                continue
            if number_value is None:
                problems.append(
                    Problem(number, column, _("The value is missing."), code, name, affected)
                )
                continue
            raw[i, position] = number_value

    population = raw[:, present["A1101"]].copy()
    for i in range(n):
        if population[i] <= 0:
            problems.append(
                Problem(
                    numbers[i],
                    "A1101",
                    _("The population must be more than zero."),
                    codes[i],
                    names[i],
                )
            )
            population[i] = math.nan
        elif math.isnan(population[i]):
            # The missing or bad cell is reported above; without a population the row
            # cannot be used at all.
            problems.append(
                Problem(numbers[i], "A1101", _("The population is missing."), codes[i], names[i])
            )

    # Rows that cannot be used at all: their derived values need no problems of their
    # own (a town without inhabitants has every per-capita divisor zero).
    unusable = np.zeros(n, dtype=bool)
    row_of = {number: i for i, number in enumerate(numbers)}
    for problem in problems:
        if problem.row_level:
            unusable[row_of[problem.row]] = True
    values = np.full((n, len(derived)), math.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        for j, d in enumerate(derived):
            numerator = raw[:, [_resolve_item(x, present) for x in d.numerator]].sum(axis=1)
            if d.denominator:
                denominator = raw[:, [_resolve_item(x, present) for x in d.denominator]].sum(axis=1)
            else:
                denominator = np.ones(n)
            column = numerator / denominator * d.scale
            for i in np.flatnonzero((denominator == 0) & ~unusable):
                problems.append(
                    Problem(
                        numbers[i],
                        d.key,
                        _("Cannot be derived: its divisor is zero."),
                        codes[i],
                        names[i],
                        (d.key,),
                    )
                )
            column[~np.isfinite(column)] = math.nan
            values[:, j] = column

    problems.extend(_duplicate_problems(numbers, codes, names, items[0] or None))
    problems.sort(key=lambda p: (p.row or 0, p.column or ""))
    edition = items[0]
    year_counts = Counter(y for y in years[3 : len(items)] if y.isdigit())
    return ParsedTable(
        rows=numbers,
        codes=codes,
        names=names,
        prefectures=prefectures,
        latitude=latitude,
        longitude=longitude,
        population=population,
        indicators=[d.key for d in derived],
        values=values,
        problems=problems,
        meta={
            "layout": "ssdse_a",
            "edition": edition,
            "edition_year": int(edition[-4:]) if edition[-4:].isdigit() else None,
            "data_years": sorted(year_counts),
            "items": len(present),
        },
    )


def looks_like_ssdse(data: bytes) -> bool:
    """Whether a CSV starts like SSDSE (its first cell reads SSDSE-…), in any encoding."""
    head = data[:64].lstrip(b"\xef\xbb\xbf")
    return head[:5].upper() == b"SSDSE"


# --- a measured travel-time matrix ----------------------------------------------------------


def read_travel_times(data: bytes, filename: str = "times.csv") -> list[tuple[str, str, float]]:
    """(origin, destination, hours) rows of an origin–destination table with the columns
    `origin, destination` and `hours` or `minutes` (codes as in the statistics table).
    All or nothing: any bad row is a TableError naming its row and column."""
    rows = _rows(data, filename)
    if not rows:
        raise TableError([RowError(None, None, _("The file has no header row."))])
    header_row, header_values = rows[0]
    header = [_text(v).lower() for v in header_values]
    unit = "hours" if "hours" in header else "minutes" if "minutes" in header else None
    errors = [
        RowError(header_row, name, _("Required column is missing."))
        for name in ("origin", "destination")
        if name not in header
    ]
    if unit is None:
        errors.append(RowError(header_row, "hours", _("A column hours or minutes is needed.")))
    if errors:
        raise TableError(errors)
    at = {name: header.index(name) for name in ("origin", "destination", unit)}
    result: list[tuple[str, str, float]] = []
    for number, raw in rows[1:]:
        cells = list(raw) + [None] * (len(header) - len(raw))
        origin = normalise_code(cells[at["origin"]])
        destination = normalise_code(cells[at["destination"]])
        for column, value in (("origin", origin), ("destination", destination)):
            if not value:
                errors.append(RowError(number, column, _("The code is missing.")))
        try:
            value = parse_number(cells[at[unit]])
        except _Bad as exc:
            errors.append(RowError(number, unit, str(exc)))
            continue
        if value is None:
            errors.append(RowError(number, unit, _("The value is missing.")))
            continue
        if value < 0:
            errors.append(RowError(number, unit, _("Must not be negative.")))
            continue
        if origin and destination:
            result.append((origin, destination, value if unit == "hours" else value / 60))
    if errors:
        raise TableError(errors)
    if not result:
        raise TableError([RowError(None, None, _("The file has a header but no data rows."))])
    return result
