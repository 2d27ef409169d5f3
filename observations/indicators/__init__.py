"""Pure indicator functions over plain data (no ORM import).

    data = observations.indicator_data.indicator_data_load(network=network)
    result = compute(data, date(2026, 3, 31))
    result["values"]["ei_index"], result["notes"]   # notes say what was sampled

`compute_many` computes several dates from one preparation of the data (backfills).
The definitions are DESIGN.md's table "Indicators (as of a date t)"; docs/indicators.md
explains each with its formula and reference."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from .brokerage import ROLES as BROKERAGE_ROLES
from .continuity import CONTINUITY_INDICATORS, ContinuityData, continuity_values
from .core import (
    INDICATORS,
    SAMPLE_ABOVE,
    SAMPLE_SEED,
    SAMPLE_SOURCES,
    SAMPLED_MEASURES,
    prepare,
)
from .core import indicators_on as _indicators_on
from .types import (
    BulletinRow,
    DeliveryCount,
    EventRow,
    NetworkData,
    PersonRow,
    TieRow,
)

__all__ = [
    "BROKERAGE_ROLES",
    "CONTINUITY_INDICATORS",
    "INDICATORS",
    "SAMPLED_MEASURES",
    "SAMPLE_ABOVE",
    "SAMPLE_SEED",
    "SAMPLE_SOURCES",
    "BulletinRow",
    "ContinuityData",
    "DeliveryCount",
    "EventRow",
    "NetworkData",
    "PersonRow",
    "TieRow",
    "compute",
    "compute_many",
    "monthly_dates",
]


def compute(
    data: NetworkData,
    as_of: dt.date,
    *,
    sample_above: int = SAMPLE_ABOVE,
    sample_sources: int = SAMPLE_SOURCES,
    seed: int = SAMPLE_SEED,
) -> dict[str, Any]:
    """Every indicator as of `as_of`: {"values": {name: value}, "notes": {...}}; notes
    has "sampled" when the shortest-path measures were estimated (more than
    `sample_above` members). The continuity indicators come last."""
    return with_continuity(
        data,
        as_of,
        _indicators_on(
            prepare(data),
            as_of,
            sample_above=sample_above,
            sample_sources=sample_sources,
            seed=seed,
        ),
    )


def with_continuity(data: NetworkData, as_of: dt.date, result: dict[str, Any]) -> dict[str, Any]:
    # `continuity` is set by indicator_data_load; rows built by hand may lack it.
    continuity: ContinuityData | None = getattr(data, "continuity", None)
    if continuity is not None and not continuity.regions:
        continuity.regions = data.regions
    result["values"].update(continuity_values(continuity or ContinuityData(data.regions), as_of))
    return result


def compute_many(
    data: NetworkData,
    dates: Iterable[dt.date],
    *,
    sample_above: int = SAMPLE_ABOVE,
    sample_sources: int = SAMPLE_SOURCES,
    seed: int = SAMPLE_SEED,
) -> list[tuple[dt.date, dict[str, Any]]]:
    """`compute` for each date, preparing the data once."""
    prepared = prepare(data)
    return [
        (
            day,
            with_continuity(
                data,
                day,
                _indicators_on(
                    prepared,
                    day,
                    sample_above=sample_above,
                    sample_sources=sample_sources,
                    seed=seed,
                ),
            ),
        )
        for day in dates
    ]


def monthly_dates(start: dt.date | None, until: dt.date) -> list[dt.date]:
    """The dates of a backfill: the network's start, the first of every later month,
    and `until` itself (nothing when the network starts after `until`)."""
    if start is None or start > until:
        return []
    dates = [start]
    year, month = start.year, start.month
    while True:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        first = dt.date(year, month, 1)
        if first > until:
            break
        dates.append(first)
    if dates[-1] != until:
        dates.append(until)
    return dates
