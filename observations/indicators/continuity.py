"""Business-continuity indicators: pure functions over plain rows (no ORM).

`observations.indicator_data.continuity_data_load` loads the rows; tests build them by
hand. Definitions (as of a date t) are in docs/indicators.md, "Business continuity".

A need and a capability match on their key: the category, and for processes and
machines the process as well ("process:plating"), the same key the continuity app's
matching uses."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from typing import Any, NamedTuple

CONTINUITY_INDICATORS = (
    "capability_coverage",
    "capability_coverage_overall",
    "agreements_in_force",
    "drill_response_time",
    "drill_coverage",
)


class CapabilityRow(NamedTuple):
    """What an organization (of a region) could provide, between two local dates."""

    organization: int
    region: int
    key: str
    added_on: dt.date
    removed_on: dt.date | None = None


class NeedRow(NamedTuple):
    organization: int
    region: int
    key: str
    critical: bool
    added_on: dt.date
    removed_on: dt.date | None = None


class AgreementRow(NamedTuple):
    """An agreement that was signed (drafts are not loaded)."""

    id: int
    signed_on: dt.date
    ended_on: dt.date | None = None


class DrillRow(NamedTuple):
    """A finished drill: its day (the drill event's start, else its activation), and
    the results kept when it was closed."""

    id: int
    held_on: dt.date
    median_response_minutes: float | None
    coverage: float | None


@dataclass
class ContinuityData:
    regions: dict[int, str] = field(default_factory=dict)
    capabilities: list[CapabilityRow] = field(default_factory=list)
    needs: list[NeedRow] = field(default_factory=list)
    agreements: list[AgreementRow] = field(default_factory=list)
    drills: list[DrillRow] = field(default_factory=list)


def _live(row, t: dt.date) -> bool:
    return row.added_on <= t and (row.removed_on is None or row.removed_on > t)


def capability_coverage(data: ContinuityData, t: dt.date) -> dict[str, Any]:
    """{"by_region": {region name: share or None}, "overall": share or None}: of each
    region's critical needs at t, the share with a provider (a live capability of the
    same key) in another region. None where a region has no critical need."""
    providers: dict[str, set[int]] = {}
    for capability in data.capabilities:
        if _live(capability, t):
            providers.setdefault(capability.key, set()).add(capability.region)
    counts: dict[int, list[int]] = {}
    for need in data.needs:
        if not need.critical or not _live(need, t):
            continue
        regions = providers.get(need.key, set())
        covered = bool(regions - {need.region})
        total, hits = counts.setdefault(need.region, [0, 0])
        counts[need.region] = [total + 1, hits + int(covered)]
    by_region: dict[str, float | None] = {}
    for pk, name in sorted(data.regions.items(), key=lambda item: (item[1], item[0])):
        total, hits = counts.get(pk, [0, 0])
        by_region[name] = hits / total if total else None
    total = sum(c[0] for c in counts.values())
    hits = sum(c[1] for c in counts.values())
    return {"by_region": by_region, "overall": hits / total if total else None}


def agreements_in_force(data: ContinuityData, t: dt.date) -> int:
    return sum(
        1 for a in data.agreements if a.signed_on <= t and (a.ended_on is None or a.ended_on > t)
    )


def latest_drill(data: ContinuityData, t: dt.date) -> DrillRow | None:
    held = [d for d in data.drills if d.held_on <= t]
    return max(held, key=lambda d: (d.held_on, d.id), default=None)


def median(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(statistics.median(values)) if values else None


def continuity_values(data: ContinuityData | None, t: dt.date) -> dict[str, Any]:
    data = data or ContinuityData()
    coverage = capability_coverage(data, t)
    drill = latest_drill(data, t)
    return {
        "capability_coverage": coverage["by_region"],
        "capability_coverage_overall": coverage["overall"],
        "agreements_in_force": agreements_in_force(data, t),
        "drill_response_time": drill.median_response_minutes if drill else None,
        "drill_coverage": drill.coverage if drill else None,
    }
