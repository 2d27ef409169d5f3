"""A search's results as CSV (the ranked candidates, UTF-8 with BOM for Excel) or XLSX
(candidates, components and the parameters with the dataset's version)."""

from __future__ import annotations

import csv
import io

from django.utils.translation import gettext as _

from .models import PartnerSearch
from .stats import indicator_label

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_filename(search: PartnerSearch, fmt: str) -> str:
    return f"partners-{search.target_code}-{search.pk}.{fmt}"


def _candidate_rows(search: PartnerSearch) -> tuple[list[str], list[list]]:
    header = [
        "rank",
        "code",
        "name",
        "prefecture",
        "similarity",
        "distance_km",
        "hours",
        "population",
        "population_ratio",
        "main_components",
    ]
    rows = []
    for rank, c in enumerate(search.result["candidates"], start=1):
        drivers = "; ".join(f"C{d['component']} {d['contribution']:+.3f}" for d in c["drivers"])
        rows.append(
            [
                rank,
                c["code"],
                c["name"],
                c["prefecture"],
                c["similarity"],
                c["distance_km"],
                c["hours"],
                c["population"],
                c["population_ratio"],
                drivers,
            ]
        )
    return header, rows


def _parameter_rows(search: PartnerSearch) -> list[list]:
    dataset = search.dataset
    rows = [
        [_("Target"), f"{search.target_code} {search.target_name}"],
        [_("Dataset"), dataset.name],
        [_("Dataset version (SHA-256)"), search.dataset_version],
        [_("Source"), dataset.source_note],
        [_("Year"), dataset.year or ""],
        [_("Requested at"), search.created_at.isoformat()],
        [_("Travel times"), search.travel_times_filename or _("estimated")],
    ]
    for key, value in search.parameters.items():
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        rows.append([key, "" if value is None else value])
    return rows


def search_csv(search: PartnerSearch) -> bytes:
    header, rows = _candidate_rows(search)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


def search_xlsx(search: PartnerSearch) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Candidates")[:31])
    header, rows = _candidate_rows(search)
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    components = book.create_sheet(_("Components")[:31])
    components.append(["component", "eigenvalue", "explained_variance", "kept", "top_loadings"])
    result = search.result
    details = {c["number"]: c for c in result.get("component_details", [])}
    for i, (value, share) in enumerate(
        zip(result["eigenvalues"], result["explained_variance"], strict=True), start=1
    ):
        loadings = details.get(i, {}).get("top_loadings", [])
        components.append(
            [
                i,
                value,
                share,
                i <= result["components"],
                "; ".join(
                    f"{indicator_label(x['indicator'])} {x['loading']:+.2f}" for x in loadings
                ),
            ]
        )
    parameters = book.create_sheet(_("Parameters")[:31])
    for row in _parameter_rows(search):
        parameters.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _num(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def dataset_filename(dataset) -> str:
    return f"dataset-{dataset.pk}-{dataset.version[:12]}.csv"


def cli_command(search: PartnerSearch) -> str:
    """The find_partners command that reproduces the search on the dataset's download."""
    import shlex

    p = search.parameters
    parts = [
        "manage.py",
        "find_partners",
        "--stats",
        dataset_filename(search.dataset),
        "--target",
        search.target_code,
    ]
    if p.get("prefectures"):
        parts += ["--prefectures", ",".join(p["prefectures"])]
    parts += ["--min-km", _num(p.get("min_km", 30))]
    if p.get("min_hours") is not None:
        parts += ["--min-hours", _num(p["min_hours"])]
    if p.get("max_hours") is not None:
        parts += ["--max-hours", _num(p["max_hours"])]
    if p.get("population_ratio"):
        low, high = p["population_ratio"]
        parts += ["--population-ratio", _num(low), _num(high)]
    if p.get("components"):
        parts += ["--components", str(p["components"])]
    parts += ["--similarity", p.get("similarity", "pearson")]
    parts += ["--circuity", _num(p.get("circuity", 1.3)), "--speed", _num(p.get("speed", 60))]
    if search.travel_times_filename:
        parts += ["--travel-times", search.travel_times_filename]
    if p.get("top"):
        parts += ["--top", str(p["top"])]
    parts.append("--json")
    return " ".join(shlex.quote(part) for part in parts)
