"""Who could help whom: pure functions over plain rows (no ORM), so that the rules can
be tested on hand-made cases and reused by the services, the pages and the drills.

A need and a capability match when their keys are equal (`models.match_key`: the
category, and the process for processes). Help counts only from another region than
the one hit: two places far apart are rarely hit by the same disaster."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple


class Offer(NamedTuple):
    """A capability: who (organization, region) can provide what (key)."""

    organization: int
    region: int
    key: str


class Wanted(NamedTuple):
    """A request (a need, or a capability lost in a drill) of an affected organization."""

    id: int
    organization: int
    key: str


@dataclass
class Partners:
    """The organizations to ask, and why: by agreement, by matching capability."""

    by_agreement: set[int] = field(default_factory=set)
    by_capability: set[int] = field(default_factory=set)
    # For each request, the organizations that could provide it.
    providers: dict[int, set[int]] = field(default_factory=dict)

    @property
    def organizations(self) -> set[int]:
        return self.by_agreement | self.by_capability


def find_partners(
    *,
    hit_region: int,
    affected: Iterable[int],
    wanted: Iterable[Wanted],
    offers: Iterable[Offer],
    agreements: Iterable[tuple[int, int]],
    region_of: dict[int, int],
) -> Partners:
    """Every organization outside the hit region that has an agreement in force with
    an affected organization, or a capability matching a request."""
    affected = set(affected)
    result = Partners()

    def outside(org: int) -> bool:
        return org not in affected and region_of.get(org) != hit_region

    for a, b in agreements:
        if a in affected and outside(b):
            result.by_agreement.add(b)
        if b in affected and outside(a):
            result.by_agreement.add(a)
    by_key: dict[str, set[int]] = {}
    for offer in offers:
        if outside(offer.organization):
            by_key.setdefault(offer.key, set()).add(offer.organization)
    for request in wanted:
        providers = by_key.get(request.key, set())
        result.providers[request.id] = set(providers)
        result.by_capability |= providers
    return result


def providers_elsewhere(*, key: str, region: int, offers: Iterable[Offer]) -> set[int]:
    """Organizations of other regions than `region` offering `key`."""
    return {o.organization for o in offers if o.key == key and o.region != region}


def coverage(*, requests: Iterable[int], offered: dict[int, set[int]]) -> float | None:
    """Share of the requests that found at least one offer (`offered`: request → the
    organizations that offered it, already limited to other regions); None if none."""
    requests = list(requests)
    if not requests:
        return None
    return sum(1 for r in requests if offered.get(r)) / len(requests)


def median_minutes(minutes: Iterable[float | None]) -> float | None:
    values = [m for m in minutes if m is not None]
    return float(statistics.median(values)) if values else None
