"""The indicators of DESIGN.md ("Indicators (as of a date t)") and the researchers'
further measures, for one date, from plain rows.

`prepare` turns the rows into numpy arrays once; `indicators_on` then computes every
indicator for one date from those arrays, so a backfill of many dates reads and
converts the data once. docs/indicators.md gives each formula with its reference."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import graph
from .brokerage import ROLES as BROKERAGE_ROLES
from .brokerage import brokerage
from .geo import spread_km
from .types import COORDINATOR, JOINT_PROJECT, MEMBER, ROLES, TIE_KINDS, NetworkData

# Above this many members, the shortest-path measures are estimated from a fixed
# number of sources chosen with a fixed seed (docs/indicators.md, "What is sampled").
SAMPLE_ABOVE = 500
SAMPLE_SOURCES = 100
SAMPLE_SEED = 20250419

_NEVER = dt.date.max.toordinal()
_ROLE_CODE = {role: code for code, role in enumerate(ROLES)}
_KIND_CODE = {kind: code for code, kind in enumerate(TIE_KINDS)}
_MEMBER = _ROLE_CODE[MEMBER]
_COORDINATOR = _ROLE_CODE[COORDINATOR]
_JOINT = _KIND_CODE[JOINT_PROJECT]

SAMPLED_MEASURES = ("coordinator_path_share", "coordinator_cross_region_path_share")

# DESIGN.md's table, in its order; every snapshot has these keys (and more).
INDICATORS = (
    "members",
    "organizations",
    "regions",
    "members_by_region",
    "recruited_by_members",
    "spread_km",
    "ties",
    "ties_by_kind",
    "cross_region_ties",
    "ei_index",
    "cross_region_joint_projects",
    "density",
    "degree_centralization",
    "lcc_share",
    "lcc_share_with_hub",
    "hub_dependence",
    "brokered_share",
    "fragmentation",
    "region_modularity",
    "events_held",
    "member_initiated_events",
    "rsvp_response_rate",
    "attendance_rate",
    "bulletins_sent",
    "bulletin_read_rate",
)


@dataclass
class Prepared:
    """The network's rows as arrays indexed by person (0..N-1) and by tie record."""

    data: NetworkData
    person_ids: np.ndarray
    role: np.ndarray
    region: np.ndarray  # index into region_names
    organization: np.ndarray
    joined: np.ndarray  # ordinals
    left: np.ndarray
    recruited_by_member: np.ndarray  # bool
    latitude: np.ndarray  # NaN: not located
    longitude: np.ndarray
    region_names: list[str]
    tie_source: np.ndarray  # person indices
    tie_target: np.ndarray
    tie_kind: np.ndarray
    tie_start: np.ndarray
    tie_end: np.ndarray
    tie_brokered: np.ndarray  # initiated by a participant with role coordinator


def _ordinal(day: dt.date | None) -> int:
    return _NEVER if day is None else day.toordinal()


def _ordinals(days) -> np.ndarray:
    return np.fromiter((_NEVER if day is None else day.toordinal() for day in days), dtype=np.int64)


def prepare(data: NetworkData) -> Prepared:
    """Columns of the rows as arrays, in a few passes over them (hundreds of thousands
    of ties on a large network)."""
    people = data.people
    roles_by_id = {p.id: p.role for p in people}
    region_ids = sorted(
        set(data.regions) | {p.region for p in people}, key=lambda r: (data.regions.get(r, ""), r)
    )
    region_index = {r: i for i, r in enumerate(region_ids)}
    (ids, roles, organizations, _kinds, regions, lats, lons, joined, left, recruiters) = (
        zip(*people, strict=True) if people else ((),) * 10
    )
    person_ids = np.array(ids, dtype=np.int64)
    order = np.argsort(person_ids, kind="stable")
    sorted_ids = person_ids[order]

    def index_of(values) -> tuple[np.ndarray, np.ndarray]:
        """Person index of each id, and whether the id is a person of the network."""
        wanted = np.array(values, dtype=np.int64)
        if not len(sorted_ids):
            return np.zeros(len(wanted), dtype=np.int64), np.zeros(len(wanted), dtype=bool)
        at = np.minimum(np.searchsorted(sorted_ids, wanted), len(sorted_ids) - 1)
        return order[at], sorted_ids[at] == wanted

    located = [lat is not None and lon is not None for lat, lon in zip(lats, lons, strict=True)]
    sources, targets, kinds, starts, ends, brokers = (
        zip(*data.ties, strict=True) if data.ties else ((),) * 6
    )
    source, known_source = index_of(sources)
    target, known_target = index_of(targets)
    known = known_source & known_target
    coordinators = {pk for pk, role in roles_by_id.items() if role == COORDINATOR}
    return Prepared(
        data=data,
        person_ids=person_ids,
        role=np.array([_ROLE_CODE.get(r, -1) for r in roles], dtype=np.int64),
        region=np.array([region_index[r] for r in regions], dtype=np.int64),
        organization=np.array(organizations, dtype=np.int64),
        joined=_ordinals(joined),
        left=_ordinals(left),
        recruited_by_member=np.array(
            [roles_by_id.get(r) == MEMBER for r in recruiters], dtype=bool
        ),
        latitude=np.array(
            [lat if ok else np.nan for lat, ok in zip(lats, located, strict=True)],
            dtype=np.float64,
        ),
        longitude=np.array(
            [lon if ok else np.nan for lon, ok in zip(lons, located, strict=True)],
            dtype=np.float64,
        ),
        region_names=[data.regions.get(r, str(r)) for r in region_ids],
        tie_source=source[known],
        tie_target=target[known],
        tie_kind=np.array([_KIND_CODE.get(k, -1) for k in kinds], dtype=np.int64)[known],
        tie_start=_ordinals(starts)[known],
        tie_end=_ordinals(ends)[known],
        tie_brokered=np.array([b in coordinators for b in brokers], dtype=bool)[known],
    )


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if not denominator else float(numerator) / float(denominator)


def _path_shares(
    *,
    n: int,
    member_csr: tuple[np.ndarray, np.ndarray],
    hub_csr: tuple[np.ndarray, np.ndarray],
    hub_labels: np.ndarray,
    region: np.ndarray,
    sources: np.ndarray,
) -> tuple[float | None, float | None]:
    """The share of shortest paths between members that runs through a coordinator,
    over all connected pairs and over connected pairs in different regions: the
    coordinators' betweenness (Freeman 1977) restricted to member pairs, divided by
    the number of those pairs, a path through two coordinators counted once. Averaged
    over the pairs (s, t) with s among `sources` (all members, or a sample).

    With one coordinator h, the shortest s–t paths through h number σ(s, h) · σ(h, t)
    when d(s, h) + d(h, t) = d(s, t): one search from each source and one from h. With
    several, they are the shortest paths of the graph with coordinators that are not
    shortest paths of the member graph (primes): σ(s, t) − [d'(s, t) = d(s, t)] · σ'(s, t),
    two searches per source."""
    labels = hub_labels[:n]
    coordinators = len(hub_labels) - n
    member_count = np.bincount(labels, minlength=len(hub_labels))
    regions = int(region.max()) + 1 if n else 1
    same_region = np.bincount(labels * regions + region, minlength=len(hub_labels) * regions)
    has_hub = np.zeros(len(hub_labels), dtype=bool)
    has_hub[hub_labels[n:]] = True
    if coordinators == 1:
        d_hub, sigma_hub = graph.shortest_paths(*hub_csr, n)
        d_hub, sigma_hub = d_hub[:n], sigma_hub[:n]
    through_all = through_cross = 0.0
    pairs_all = pairs_cross = 0
    for s in sources.tolist():
        label = labels[s]
        reachable = int(member_count[label]) - 1
        pairs_all += reachable
        pairs_cross += int(member_count[label] - same_region[label * regions + region[s]])
        if not has_hub[label] or reachable == 0:
            continue  # no coordinator in reach: no path runs through one
        d, sigma = graph.shortest_paths(*hub_csr, s)
        if coordinators == 1:
            via = (d[n] + d_hub == d[:n]) & (d_hub > 0)
            through = np.zeros(n)
            through[via] = sigma[n] * sigma_hub[via] / sigma[:n][via]
        else:
            d_m, sigma_m = graph.shortest_paths(*member_csr, s)
            d, sigma = d[:n], sigma[:n]
            reached = d > 0
            through = np.zeros(n)
            kept = np.where(d_m[reached] == d[reached], sigma_m[reached], 0.0)
            through[reached] = 1.0 - kept / sigma[reached]
        through[s] = 0.0
        through_all += float(through.sum())
        through_cross += float(through[region != region[s]].sum())
    return _ratio(through_all, pairs_all), _ratio(through_cross, pairs_cross)


def indicators_on(
    prepared: Prepared,
    as_of: dt.date,
    *,
    sample_above: int = SAMPLE_ABOVE,
    sample_sources: int = SAMPLE_SOURCES,
    seed: int = SAMPLE_SEED,
) -> dict[str, Any]:
    """Every indicator as of `as_of`: {"values": {name: value}, "notes": {...}}."""
    p = prepared
    t = as_of.toordinal()
    active = (p.joined <= t) & (p.left > t)
    is_member = active & (p.role == _MEMBER)
    is_coordinator = active & (p.role == _COORDINATOR)
    members = np.flatnonzero(is_member)
    coordinators = np.flatnonzero(is_coordinator)
    n, c = len(members), len(coordinators)
    position = np.full(len(p.role), -1, dtype=np.int64)
    position[members] = np.arange(n)
    position[coordinators] = n + np.arange(c)
    region = p.region[members]
    region_count = len(p.region_names)

    values: dict[str, Any] = {}
    values["members"] = n
    values["organizations"] = len(graph.unique(p.organization[members]))
    values["regions"] = len(graph.unique(region))
    by_region = np.bincount(region, minlength=region_count)
    values["members_by_region"] = {
        name: int(count) for name, count in zip(p.region_names, by_region, strict=True)
    }
    values["recruited_by_members"] = int(p.recruited_by_member[members].sum())
    spread = spread_km(p.latitude[members], p.longitude[members])
    values["spread_km"] = spread

    # Tie records active at t with both ends active; those between two members.
    src, dst = p.tie_source, p.tie_target
    live = (p.tie_start <= t) & (p.tie_end > t) & active[src] & active[dst]
    between = live & is_member[src] & is_member[dst]
    kinds = np.bincount(p.tie_kind[between & (p.tie_kind >= 0)], minlength=len(TIE_KINDS))
    records = int(between.sum())
    cross_records = between & (p.region[src] != p.region[dst])

    a, b = graph.unique_edges(position[src[between]], position[dst[between]], n)
    m = len(a)
    cross = int((region[a] != region[b]).sum()) if m else 0
    values["ties"] = m
    values["ties_by_kind"] = {
        kind: int(count) for kind, count in zip(TIE_KINDS, kinds, strict=True)
    }
    values["cross_region_ties"] = cross
    values["ei_index"] = _ratio(cross - (m - cross), m)
    values["cross_region_joint_projects"] = int((cross_records & (p.tie_kind == _JOINT)).sum())
    values["density"] = None if n < 2 else 2 * m / (n * (n - 1))
    degree = graph.degrees(n, a, b)
    values["degree_centralization"] = (
        None if n < 3 else float((degree.max() - degree).sum()) / ((n - 1) * (n - 2))
    )

    labels = graph.components(n, a, b)
    sizes = graph.component_sizes(labels)
    sizes = sizes[sizes > 0]
    values["components"] = len(sizes)
    values["isolates"] = int((degree == 0).sum())
    values["lcc_share"] = None if n == 0 else int(sizes.max()) / n

    with_hub = live & (is_member | is_coordinator)[src] & (is_member | is_coordinator)[dst]
    ha, hb = graph.unique_edges(position[src[with_hub]], position[dst[with_hub]], n + c)
    hub_labels = graph.components(n + c, ha, hb)
    members_per_component = np.bincount(hub_labels[:n], minlength=n + c)
    values["lcc_share_with_hub"] = None if n == 0 else int(members_per_component.max()) / n
    values["hub_dependence"] = (
        None if n == 0 else values["lcc_share_with_hub"] - values["lcc_share"]
    )
    values["coordinators"] = c
    values["brokered_share"] = _ratio(int(p.tie_brokered[between].sum()), records)
    values["fragmentation"] = (
        None if n < 2 else 1.0 - float((sizes * (sizes - 1)).sum()) / (n * (n - 1))
    )
    if m:
        inside = region[a] == region[b]
        within = np.bincount(region[a][inside], minlength=region_count)
        degree_sum = np.bincount(region, weights=degree, minlength=region_count)
        values["region_modularity"] = float((within / m - (degree_sum / (2 * m)) ** 2).sum())
    else:
        values["region_modularity"] = None

    # Shortest paths through the coordinator(s), exact or from sampled sources.
    notes: dict[str, Any] = {}
    if n > sample_above and sample_sources < n:
        rng = np.random.default_rng(seed)
        # Sources drawn from members in participant order, so the same data and seed
        # give the same estimate.
        sources = np.sort(rng.choice(n, size=sample_sources, replace=False))
        sample = {"sources": int(sample_sources), "of": n, "seed": seed}
        notes["sampled"] = dict.fromkeys(SAMPLED_MEASURES, sample)
    else:
        sources = np.arange(n)
    shares = _path_shares(
        n=n,
        member_csr=graph.csr(n, a, b),
        hub_csr=graph.csr(n + c, ha, hb),
        hub_labels=hub_labels,
        region=region,
        sources=sources,
    )
    values["coordinator_path_share"], values["coordinator_cross_region_path_share"] = shares

    roles = brokerage(n, a, b, region)
    totals = roles.sum(axis=0)
    values["brokerage_roles"] = {
        role: int(count) for role, count in zip(BROKERAGE_ROLES, totals, strict=True)
    }
    per_region = np.zeros((region_count, len(BROKERAGE_ROLES)), dtype=np.int64)
    np.add.at(per_region, region, roles)
    values["brokerage_by_region"] = {
        name: {role: int(x) for role, x in zip(BROKERAGE_ROLES, row, strict=True)}
        for name, row in zip(p.region_names, per_region, strict=True)
    }
    values["brokerage_role_order"] = list(BROKERAGE_ROLES)
    brokering = np.flatnonzero(roles.any(axis=1))
    values["brokerage_by_member"] = dict(
        zip(
            map(str, p.person_ids[members][brokering].tolist()),
            roles[brokering].tolist(),
            strict=True,
        )
    )

    values.update(
        _engagement(p.data, as_of, member_ids=set(p.person_ids[p.role == _MEMBER].tolist()))
    )
    # DESIGN.md's table first, in its order, then the further measures.
    ordered = {name: values.pop(name) for name in INDICATORS}
    return {"values": {**ordered, **values}, "notes": notes}


def _engagement(data: NetworkData, as_of: dt.date, *, member_ids: set) -> dict[str, Any]:
    held = [e for e in data.events if not e.cancelled and e.starts_on <= as_of]
    answerable = [e for e in data.events if e.answer_by <= as_of]
    recorded = [e for e in data.events if e.starts_on <= as_of and e.attendance_recorded]
    sent = [d for d in data.deliveries if d.sent_on <= as_of]
    delivered_by_bulletin: dict[int, int] = {}
    for d in sent:
        delivered_by_bulletin[d.bulletin] = delivered_by_bulletin.get(d.bulletin, 0) + d.count
    return {
        "events_held": len(held),
        "member_initiated_events": sum(1 for e in held if e.proposed_by in member_ids),
        "rsvp_response_rate": _ratio(
            sum(e.answered for e in answerable), sum(e.invitations for e in answerable)
        ),
        "attendance_rate": _ratio(
            sum(e.attended for e in recorded), sum(e.invitations for e in recorded)
        ),
        # A bulletin counts from the day its sending started; one cancelled before any
        # delivery went out was never sent.
        "bulletins_sent": sum(
            1
            for bulletin in data.bulletins
            if bulletin.started_on <= as_of
            and (not bulletin.cancelled or delivered_by_bulletin.get(bulletin.id))
        ),
        "bulletin_read_rate": _ratio(
            sum(d.count for d in sent if d.read_on is not None and d.read_on <= as_of),
            sum(d.count for d in sent),
        ),
    }
