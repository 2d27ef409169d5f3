"""The pure indicator functions (observations.indicators) on small graphs computed by
hand, their edge cases, cross-checks against networkx, and invariants (hypothesis).

No database: the rows are built here."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from observations.indicators import (
    INDICATORS,
    BulletinRow,
    DeliveryCount,
    EventRow,
    NetworkData,
    PersonRow,
    TieRow,
    compute,
    compute_many,
    graph,
    monthly_dates,
)
from observations.indicators.brokerage import brokerage, classify
from observations.indicators.geo import haversine_km, spread_km

START = dt.date(2025, 4, 19)
T = dt.date(2025, 10, 1)
REGIONS = {1: "燕市", 2: "魚沼市", 3: "長岡市"}
TSUBAME = (37.673149, 138.882249)
UONUMA = (37.236431, 138.963775)


def person(
    pk: int,
    region: int = 1,
    *,
    role: str = "member",
    joined: dt.date = START,
    left: dt.date | None = None,
    org: int | None = None,
    at: tuple[float, float] | None = None,
    recruited_by: int | None = None,
) -> PersonRow:
    lat, lon = at if at else (None, None)
    return PersonRow(
        pk, role, org or 100 + pk, "firm", region, lat, lon, joined, left, recruited_by
    )


def tie(
    a: int,
    b: int,
    kind: str = "acquaintance",
    *,
    start: dt.date = START,
    end: dt.date | None = None,
    by: int | None = None,
) -> TieRow:
    return TieRow(a, b, kind, start, end, by)


def network(people, ties=(), **rest) -> NetworkData:
    return NetworkData(regions=dict(REGIONS), people=list(people), ties=list(ties), **rest)


def values(data: NetworkData, day: dt.date = T, **options) -> dict:
    return compute(data, day, **options)["values"]


def test_the_indicators_import_nothing_of_django():
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, observations.indicators; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "[]"


# --- edge cases --------------------------------------------------------------------------


def test_a_network_without_anyone_has_zero_counts_and_no_ratios():
    v = values(network([]))
    assert list(v)[: len(INDICATORS)] == list(INDICATORS)  # DESIGN's table, in order
    assert (v["members"], v["ties"], v["organizations"], v["regions"]) == (0, 0, 0, 0)
    assert v["members_by_region"] == {"燕市": 0, "長岡市": 0, "魚沼市": 0}
    for name in (
        "ei_index",
        "density",
        "degree_centralization",
        "lcc_share",
        "lcc_share_with_hub",
        "hub_dependence",
        "brokered_share",
        "fragmentation",
        "region_modularity",
        "spread_km",
        "rsvp_response_rate",
        "attendance_rate",
        "bulletin_read_rate",
        "coordinator_path_share",
        "coordinator_cross_region_path_share",
    ):
        assert v[name] is None, name


def test_members_without_ties_are_all_isolates():
    data = network([person(1, 1), person(2, 1), person(3, 2)])
    v = values(data)
    assert v["members"] == 3
    assert v["ties"] == v["cross_region_ties"] == 0
    assert v["ei_index"] is None and v["region_modularity"] is None
    assert v["density"] == 0.0
    assert v["degree_centralization"] == 0.0
    assert v["lcc_share"] == pytest.approx(1 / 3)
    assert v["fragmentation"] == 1.0
    assert (v["components"], v["isolates"]) == (3, 3)
    assert v["brokered_share"] is None
    assert v["brokerage_roles"] == dict.fromkeys(v["brokerage_role_order"], 0)


def test_members_tied_only_through_the_coordinator_depend_on_the_hub_entirely():
    # Four isolates in the member graph; the coordinator ties to each of them.
    people = [person(9, 1, role="coordinator")] + [person(i, 1 + i % 2) for i in range(1, 5)]
    data = network(people, [tie(9, i, by=None) for i in range(1, 5)])
    v = values(data)
    assert v["ties"] == 0 and v["isolates"] == 4
    assert v["lcc_share"] == 0.25
    assert v["lcc_share_with_hub"] == 1.0
    assert v["hub_dependence"] == 0.75
    # Every shortest path between two members runs through the coordinator.
    assert v["coordinator_path_share"] == 1.0
    assert v["coordinator_cross_region_path_share"] == 1.0
    assert v["brokered_share"] is None  # no tie between members


def test_a_network_of_only_the_coordinator_has_no_members():
    data = network([person(1, 1, role="coordinator", at=TSUBAME)])
    v = values(data)
    assert (v["members"], v["coordinators"], v["organizations"]) == (0, 1, 0)
    assert v["lcc_share"] is None and v["lcc_share_with_hub"] is None
    assert v["hub_dependence"] is None
    assert v["spread_km"] is None
    assert v["coordinator_path_share"] is None


def test_without_a_coordinator_no_path_runs_through_one():
    v = values(network([person(1, 1), person(2, 2), person(3, 2)], [tie(1, 2)]))
    assert v["coordinators"] == 0
    assert v["coordinator_path_share"] == 0.0
    assert v["coordinator_cross_region_path_share"] == 0.0
    assert v["hub_dependence"] == 0.0


def test_one_region_has_no_cross_region_ties_and_zero_modularity():
    data = network([person(1), person(2), person(3)], [tie(1, 2), tie(2, 3)])
    v = values(data)
    assert v["regions"] == 1
    assert v["cross_region_ties"] == 0
    assert v["ei_index"] == -1.0
    # One community holding every edge: L/m − (D/2m)² = 1 − 1 = 0.
    assert v["region_modularity"] == 0.0
    assert v["coordinator_cross_region_path_share"] is None  # no cross-region pair
    # The middle member brokers inside the region in both directions.
    assert v["brokerage_roles"]["coordinator"] == 2
    assert v["brokerage_by_member"] == {"2": [2, 0, 0, 0, 0]}


def test_people_who_left_are_not_members_and_their_ties_end_with_them():
    left = dt.date(2025, 9, 1)
    people = [person(1, 1), person(2, 2), person(3, 2, left=left), person(4, 1, left=T)]
    data = network(people, [tie(1, 2), tie(1, 3), tie(2, 4)])
    v = values(data)
    # Leaving on t itself is gone at t: active means left_on empty or after t.
    assert v["members"] == 2
    assert v["ties"] == 1 and v["cross_region_ties"] == 1
    before = values(data, dt.date(2025, 8, 31))
    assert before["members"] == 4 and before["ties"] == 3


def test_ties_that_ended_do_not_count_from_their_end_date():
    data = network(
        [person(1, 1), person(2, 2), person(3, 2)],
        [tie(1, 2, end=T), tie(1, 3, end=T + dt.timedelta(days=1))],
    )
    v = values(data)
    assert v["ties"] == 1
    assert values(data, T - dt.timedelta(days=1))["ties"] == 2


def test_ties_to_people_not_yet_joined_start_when_they_join():
    newcomer = dt.date(2025, 11, 8)
    data = network(
        [person(1, 1), person(2, 2, joined=newcomer)],
        [tie(1, 2, start=START)],  # recorded as older than the newcomer's membership
    )
    assert values(data)["ties"] == 0
    assert values(data)["members"] == 1
    assert values(data, newcomer)["ties"] == 1


def test_ties_that_start_after_the_date_do_not_count_yet():
    data = network([person(1), person(2, 2)], [tie(1, 2, start=T + dt.timedelta(days=1))])
    assert values(data)["ties"] == 0
    assert values(data, T + dt.timedelta(days=1))["ties"] == 1


# --- counts and shares ------------------------------------------------------------------------


def test_organizations_regions_and_members_by_region_count_members_only():
    people = [
        person(1, 1, org=10),
        person(2, 1, org=10),  # a colleague: one organization
        person(3, 2, org=20),
        person(4, 3, org=30, role="observer"),
        person(5, 3, org=40, role="coordinator"),
    ]
    v = values(network(people))
    assert (v["members"], v["organizations"], v["regions"]) == (3, 2, 2)
    assert v["members_by_region"] == {"燕市": 2, "長岡市": 0, "魚沼市": 1}


def test_recruited_by_members_counts_recruits_of_members_even_those_who_left():
    people = [
        person(1, 1, left=dt.date(2025, 5, 1)),  # a member who has left since
        person(2, 1, role="coordinator"),
        person(3, 1, role="observer"),
        person(4, 2, recruited_by=1),
        person(5, 2, recruited_by=2),
        person(6, 2, recruited_by=3),
        person(7, 2, recruited_by=4),
        person(8, 2, recruited_by=4, joined=T + dt.timedelta(days=1)),  # not yet a member
    ]
    assert values(network(people))["recruited_by_members"] == 2  # 4 (by 1) and 7 (by 4)


def test_ties_count_pairs_while_tie_records_count_records():
    people = [person(1, 1), person(2, 2), person(3, 1), person(9, 1, role="coordinator")]
    ties = [
        tie(1, 2, "acquaintance", by=9),
        tie(2, 1, "joint_project", start=dt.date(2025, 6, 1)),  # same pair, other way round
        tie(1, 2, "joint_project", start=dt.date(2025, 7, 1), by=9),
        tie(1, 3, "transaction", by=1),  # brokered by a member: not the hub's doing
        tie(1, 9, "acquaintance"),  # with the coordinator: not between members
    ]
    v = values(network(people, ties))
    assert v["ties"] == 2
    assert v["cross_region_ties"] == 1
    assert v["ei_index"] == 0.0  # E = 1, I = 1
    assert v["ties_by_kind"] == {
        "acquaintance": 1,
        "information_exchange": 0,
        "transaction": 1,
        "joint_project": 2,
        "shared_customer": 0,
        "mutual_support_agreement": 0,
    }
    assert v["cross_region_joint_projects"] == 2
    assert v["brokered_share"] == 0.5  # 2 of 4 records between members


def test_brokered_share_counts_a_coordinator_who_has_left_as_the_coordinator():
    people = [person(1), person(2, 2), person(9, role="coordinator", left=dt.date(2025, 5, 1))]
    v = values(network(people, [tie(1, 2, by=9)]))
    assert v["brokered_share"] == 1.0


def test_observers_and_their_ties_stay_out_of_every_graph():
    people = [person(1, 1), person(2, 2), person(5, 1, role="observer")]
    v = values(network(people, [tie(1, 5), tie(5, 2)]))
    assert v["ties"] == 0
    assert v["lcc_share_with_hub"] == 0.5  # observers are not the hub


def test_density_and_degree_centralization_of_a_star():
    people = [person(i, 1 + i % 2) for i in range(1, 6)]
    v = values(network(people, [tie(1, i) for i in range(2, 6)]))
    assert v["density"] == pytest.approx(4 / 10)
    assert v["degree_centralization"] == 1.0  # Σ(4 − d) = 12 over (n−1)(n−2) = 12
    assert v["lcc_share"] == 1.0 and v["fragmentation"] == 0.0


def test_degree_centralization_needs_three_members_and_density_two():
    two = values(network([person(1), person(2, 2)], [tie(1, 2)]))
    assert two["density"] == 1.0 and two["degree_centralization"] is None
    one = values(network([person(1)]))
    assert one["density"] is None and one["fragmentation"] is None and one["lcc_share"] == 1.0


def test_fragmentation_and_lcc_share_of_two_components():
    people = [person(i, 1) for i in range(1, 5)]
    v = values(network(people, [tie(1, 2), tie(2, 3)]))
    assert v["lcc_share"] == 0.75
    assert v["fragmentation"] == pytest.approx(1 - (3 * 2) / (4 * 3))  # 0.5
    assert v["components"] == 2 and v["isolates"] == 1


def test_region_modularity_by_hand():
    # Regions 1: {1, 2, 3}, 2: {4, 5}; edges 1-2, 2-3 inside 1, 4-5 inside 2, 3-4 across.
    people = [person(1, 1), person(2, 1), person(3, 1), person(4, 2), person(5, 2)]
    v = values(network(people, [tie(1, 2), tie(2, 3), tie(4, 5), tie(3, 4)]))
    m = 4
    expected = (2 / m - (5 / (2 * m)) ** 2) + (1 / m - (3 / (2 * m)) ** 2)
    assert v["region_modularity"] == pytest.approx(expected)
    assert v["ei_index"] == pytest.approx((1 - 3) / 4)


def test_the_hub_connects_what_the_members_do_not():
    # Two pairs, one in each region, joined only through the coordinator.
    people = [person(1, 1), person(2, 1), person(3, 2), person(4, 2)]
    people.append(person(9, 1, role="coordinator"))
    v = values(network(people, [tie(1, 2), tie(3, 4), tie(9, 2), tie(9, 3)]))
    assert v["lcc_share"] == 0.5
    assert v["lcc_share_with_hub"] == 1.0
    assert v["hub_dependence"] == 0.5
    # Pairs: 1-2, 3-4 direct; the four cross-region pairs all through the hub.
    assert v["coordinator_path_share"] == pytest.approx(4 / 6)
    assert v["coordinator_cross_region_path_share"] == 1.0


def test_a_shortcut_between_regions_halves_the_hubs_share_of_that_pair():
    # 1 (region 1) reaches 3 (region 2) in two steps two ways: through the coordinator
    # 9 and through the member 2. Shortest paths of equal length share the pair.
    people = [person(1, 1), person(2, 2), person(3, 2), person(9, 1, role="coordinator")]
    ties = [tie(1, 9), tie(9, 3), tie(1, 2), tie(2, 3)]
    v = values(network(people, ties))
    # Pair 1-3: two shortest paths (via 9 and via 2): half through the hub. Pair 1-2 and
    # pair 2-3 are direct ties.
    assert v["coordinator_path_share"] == pytest.approx(0.5 / 3)
    assert v["coordinator_cross_region_path_share"] == pytest.approx(0.5 / 2)


# --- spread ---------------------------------------------------------------------------------------


def test_spread_is_the_haversine_distance_between_the_two_towns():
    people = [person(1, 1, at=TSUBAME), person(2, 2, at=UONUMA), person(3, 2, at=UONUMA)]
    v = values(network(people))
    # R = 6371.0088 km: 49.09 km between the city offices of Tsubame and Uonuma.
    assert v["spread_km"] == pytest.approx(49.0912, abs=1e-4)
    assert v["spread_km"] == pytest.approx(haversine_km(*TSUBAME, *UONUMA))


def test_spread_needs_two_located_members():
    assert values(network([person(1, at=TSUBAME), person(2, 2)]))["spread_km"] is None
    same = network([person(1, at=TSUBAME), person(2, 2, at=TSUBAME)])
    assert values(same)["spread_km"] == 0.0
    unlocated_coordinator = network(
        [person(1, at=TSUBAME), person(2, 2, role="coordinator", at=UONUMA)]
    )
    assert values(unlocated_coordinator)["spread_km"] is None


def test_haversine_against_a_known_distance():
    # A quarter of the equator.
    assert haversine_km(0, 0, 0, 90) == pytest.approx(math.pi * 6371.0088 / 2)
    assert haversine_km(10, 20, 10, 20) == 0.0


def test_the_spread_of_many_points_matches_comparing_every_pair():
    rng = np.random.default_rng(7)
    # Two clusters like two towns, more points than are compared pairwise.
    lat = np.concatenate([rng.normal(37.67, 0.05, 2000), rng.normal(37.24, 0.08, 2000)])
    lon = np.concatenate([rng.normal(138.88, 0.05, 2000), rng.normal(138.96, 0.08, 2000)])
    phi, lam = np.radians(lat), np.radians(lon)
    best = 0.0
    for start in range(0, len(lat), 500):
        p, q = phi[start : start + 500, None], lam[start : start + 500, None]
        h = np.sin((phi - p) / 2) ** 2 + np.cos(p) * np.cos(phi) * np.sin((lam - q) / 2) ** 2
        best = max(best, float((2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))).max()))
    assert spread_km(lat, lon) == pytest.approx(best, rel=1e-9)


# --- brokerage ------------------------------------------------------------------------------------


def test_brokerage_roles_of_each_kind_by_hand():
    # j = 0 in region 0; its neighbours: 1 (region 0), 2 (region 1), 3 (region 1), 4 (2).
    a = np.array([0, 0, 0, 0])
    b = np.array([1, 2, 3, 4])
    region = np.array([0, 0, 1, 1, 2])
    roles = dict(zip(("co", "it", "gk", "rep", "li"), brokerage(5, a, b, region)[0], strict=True))
    # Ordered pairs (i, k) of neighbours: 4 · 3 = 12.
    assert roles == {"co": 0, "it": 2, "gk": 3, "rep": 3, "li": 4}


def test_a_closed_triangle_is_no_brokerage():
    a, b = np.array([0, 0, 1]), np.array([1, 2, 2])
    assert brokerage(3, a, b, np.array([0, 1, 2])).sum() == 0


def test_classify_reads_i_j_k_in_path_order():
    r = np.array
    assert classify(r([0]), r([0]), r([0]))[0] == 0  # coordinator
    assert classify(r([1]), r([0]), r([1]))[0] == 1  # itinerant
    assert classify(r([1]), r([0]), r([0]))[0] == 2  # gatekeeper: j with k
    assert classify(r([0]), r([0]), r([1]))[0] == 3  # representative: j with i
    assert classify(r([0]), r([1]), r([2]))[0] == 4  # liaison


def _brokerage_by_enumeration(G: nx.Graph, region: dict) -> dict:
    names = ("coordinator", "itinerant", "gatekeeper", "representative", "liaison")
    counts = {j: dict.fromkeys(names, 0) for j in G}
    for j in G:
        for i, k in itertools.permutations(G[j], 2):
            if G.has_edge(i, k):
                continue
            ri, rj, rk = region[i], region[j], region[k]
            if ri == rj == rk:
                role = "coordinator"
            elif ri == rk:
                role = "itinerant"
            elif rj == rk:
                role = "gatekeeper"
            elif ri == rj:
                role = "representative"
            else:
                role = "liaison"
            counts[j][role] += 1
    return counts


@pytest.mark.parametrize("seed", range(5))
def test_brokerage_matches_enumerating_every_two_path(seed):
    G = nx.gnm_random_graph(40, 120, seed=seed)
    rand = random.Random(seed)
    region = {v: rand.randrange(3) for v in G}
    edges = np.array(list(G.edges()))
    counts = brokerage(40, edges[:, 0], edges[:, 1], np.array([region[v] for v in range(40)]))
    expected = _brokerage_by_enumeration(G, region)
    for j in G:
        assert list(counts[j]) == list(expected[j].values()), j


def test_brokerage_per_member_and_by_region_in_the_snapshot():
    # 1 (region 1) – 2 (region 2) – 3 (region 3): 2 is a liaison both ways.
    people = [person(1, 1), person(2, 2), person(3, 3)]
    v = values(network(people, [tie(1, 2), tie(2, 3)]))
    assert v["brokerage_by_member"] == {"2": [0, 0, 0, 0, 2]}
    assert v["brokerage_by_region"]["魚沼市"]["liaison"] == 2
    assert v["brokerage_roles"]["liaison"] == 2


# --- cross-checks against networkx -------------------------------------------------------------


def _random_network(seed: int, members: int = 30, edges: int = 50, coordinators: int = 1):
    rand = random.Random(seed)
    people = [person(i, rand.choice([1, 2, 3])) for i in range(1, members + 1)]
    hubs = [person(1000 + c, 1, role="coordinator") for c in range(coordinators)]
    pairs = set()
    while len(pairs) < edges:
        a, b = rand.sample(range(1, members + 1), 2)
        pairs.add((min(a, b), max(a, b)))
    ties = [tie(a, b) for a, b in sorted(pairs)]
    for hub in hubs:
        ties += [tie(hub.id, m) for m in rand.sample(range(1, members + 1), 6)]
    return network(people + hubs, ties)


def _graphs(data: NetworkData):
    members = [p for p in data.people if p.role == "member"]
    hubs = [p.id for p in data.people if p.role == "coordinator"]
    member_ids = {p.id for p in members}
    M = nx.Graph()
    M.add_nodes_from(member_ids)
    M.add_edges_from((t.source, t.target) for t in data.ties if {t.source, t.target} <= member_ids)
    H = nx.Graph()
    H.add_nodes_from(member_ids | set(hubs))
    H.add_edges_from((t.source, t.target) for t in data.ties)
    return M, H, {p.id: p.region for p in members}, hubs


@pytest.mark.parametrize("seed", range(6))
def test_graph_measures_agree_with_networkx(seed):
    data = _random_network(seed)
    v = values(data)
    M, H, region, _hubs = _graphs(data)
    n = M.number_of_nodes()
    assert v["ties"] == M.number_of_edges()
    assert v["density"] == pytest.approx(nx.density(M))
    degree = dict(M.degree())
    top = max(degree.values())
    freeman = sum(top - d for d in degree.values()) / ((n - 1) * (n - 2))
    assert v["degree_centralization"] == pytest.approx(freeman)
    parts = [{m for m in M if region[m] == r} for r in set(region.values())]
    assert v["region_modularity"] == pytest.approx(nx.community.modularity(M, parts))
    sizes = [len(c) for c in nx.connected_components(M)]
    assert v["lcc_share"] == pytest.approx(max(sizes) / n)
    assert v["fragmentation"] == pytest.approx(1 - sum(s * (s - 1) for s in sizes) / (n * (n - 1)))
    with_hub = max(len(c & set(M)) for c in nx.connected_components(H))
    assert v["lcc_share_with_hub"] == pytest.approx(with_hub / n)


def _connected_pairs(H: nx.Graph, nodes: list, cross: dict | None = None) -> int:
    reach = {u: nx.node_connected_component(H, u) for u in nodes}
    return sum(
        1
        for u, w in itertools.combinations(nodes, 2)
        if w in reach[u] and (cross is None or cross[u] != cross[w])
    )


@pytest.mark.parametrize("seed", range(6))
def test_the_coordinators_path_share_is_its_betweenness_over_member_pairs(seed):
    data = _random_network(seed)
    v = values(data)
    M, H, _region, (hub,) = _graphs(data)
    members = list(M)
    betweenness = nx.betweenness_centrality(H, normalized=False)[hub]
    assert v["coordinator_path_share"] == pytest.approx(betweenness / _connected_pairs(H, members))


@pytest.mark.parametrize("seed", range(4))
def test_the_cross_region_share_matches_counting_every_shortest_path(seed):
    data = _random_network(seed, members=20, edges=25, coordinators=2)
    v = values(data)
    M, H, region, hubs = _graphs(data)
    through = pairs = 0
    for s, t in itertools.combinations(list(M), 2):
        if region[s] == region[t] or not nx.has_path(H, s, t):
            continue
        paths = list(nx.all_shortest_paths(H, s, t))
        # Through two coordinators at once counts once.
        through += sum(1 for path in paths if set(path[1:-1]) & set(hubs)) / len(paths)
        pairs += 1
    assert v["coordinator_cross_region_path_share"] == pytest.approx(through / pairs)


def test_two_regions_cross_share_equals_networkx_subset_betweenness():
    data = _random_network(11, members=30, edges=40)
    data.people[:] = [
        p._replace(region=1 + p.id % 2) if p.role == "member" else p for p in data.people
    ]
    v = values(data)
    M, H, region, (hub,) = _graphs(data)
    one = [m for m in M if region[m] == 1]
    two = [m for m in M if region[m] == 2]
    # networkx halves subset betweenness on undirected graphs.
    subset = 2 * nx.betweenness_centrality_subset(H, one, two, normalized=False)[hub]
    assert v["coordinator_cross_region_path_share"] == pytest.approx(
        subset / _connected_pairs(H, list(M), region)
    )


def test_components_agree_with_networkx_on_a_long_path_and_random_graphs():
    path = nx.path_graph(3000)
    order = list(range(3000))
    random.Random(1).shuffle(order)
    relabel = nx.relabel_nodes(path, dict(enumerate(order)))
    edges = np.array(list(relabel.edges()))
    labels = graph.components(3000, edges[:, 0], edges[:, 1])
    assert len(set(labels.tolist())) == 1
    for seed in range(5):
        G = nx.gnm_random_graph(500, 300, seed=seed)
        e = np.array(list(G.edges()))
        labels = graph.components(500, e[:, 0], e[:, 1])
        ours = {frozenset(np.flatnonzero(labels == label).tolist()) for label in set(labels)}
        assert ours == {frozenset(c) for c in nx.connected_components(G)}


def test_shortest_path_counts_agree_with_networkx():
    G = nx.grid_2d_graph(6, 7)
    G = nx.convert_node_labels_to_integers(G)
    e = np.array(list(G.edges()))
    indptr, indices = graph.csr(G.number_of_nodes(), e[:, 0], e[:, 1])
    dist, sigma = graph.shortest_paths(indptr, indices, 0)
    lengths = nx.single_source_shortest_path_length(G, 0)
    for node in G:
        assert dist[node] == lengths[node]
        assert sigma[node] == len(list(nx.all_shortest_paths(G, 0, node)))


def test_triangles_are_each_found_once():
    G = nx.gnm_random_graph(60, 400, seed=3)
    e = np.array(list(G.edges()))
    found = graph.triangles(60, e[:, 0], e[:, 1])
    assert len(found) == sum(nx.triangles(G).values()) // 3
    assert len({frozenset(row) for row in found.tolist()}) == len(found)


# --- sampling -------------------------------------------------------------------------------------


def test_above_the_threshold_path_shares_are_estimated_and_say_so():
    data = _random_network(5, members=200, edges=400)
    exact = compute(data, T)
    sampled = compute(data, T, sample_above=100, sample_sources=60)
    assert exact["notes"] == {}
    note = sampled["notes"]["sampled"]
    assert set(note) == {"coordinator_path_share", "coordinator_cross_region_path_share"}
    assert note["coordinator_path_share"]["sources"] == 60
    assert note["coordinator_path_share"]["of"] == 200
    for name in note:
        assert sampled["values"][name] == pytest.approx(exact["values"][name], abs=0.05)
    # Everything else is exact either way.
    others = {k: v for k, v in exact["values"].items() if k not in note}
    assert {k: sampled["values"][k] for k in others} == others
    # A fixed seed: the same estimate every time.
    again = compute(data, T, sample_above=100, sample_sources=60)
    assert again == sampled


# --- events and bulletins ----------------------------------------------------------------------


def _event(pk, starts_on, *, cancelled=False, answer_by=None, recorded=False, by=None, **n):
    return EventRow(pk, cancelled, starts_on, answer_by or starts_on, recorded, by, **n)


def test_events_attendance_and_answers_as_of_the_date():
    people = [person(1), person(2, 2), person(9, role="coordinator")]
    events = [
        _event(1, dt.date(2025, 5, 1), recorded=True, invitations=10, answered=8, attended=6),
        _event(2, dt.date(2025, 6, 1), cancelled=True, invitations=4, answered=1),
        _event(3, T, answer_by=dt.date(2025, 9, 24), by=1, invitations=5, answered=5),
        _event(4, dt.date(2025, 10, 20), answer_by=T, by=9, invitations=6, answered=3),
        _event(5, dt.date(2025, 11, 1), by=1, invitations=5, answered=0),
    ]
    v = values(network(people, events=events))
    assert v["events_held"] == 2  # 1 and 3 (on t itself); 2 was cancelled
    assert v["member_initiated_events"] == 1  # 3, proposed by a member
    # Deadlines by t: events 1, 2, 3, 4 → (8 + 1 + 5 + 3) / (10 + 4 + 5 + 6).
    assert v["rsvp_response_rate"] == pytest.approx(17 / 25)
    # Only event 1 has attendance recorded.
    assert v["attendance_rate"] == pytest.approx(0.6)


def test_bulletins_and_read_rate_as_of_the_date():
    bulletins = [
        BulletinRow(1, dt.date(2025, 5, 1)),
        BulletinRow(2, dt.date(2025, 9, 30)),
        BulletinRow(3, dt.date(2025, 9, 1), cancelled=True),  # stopped before any went out
        BulletinRow(4, dt.date(2025, 8, 1), cancelled=True),  # stopped half-way
        BulletinRow(5, dt.date(2025, 10, 2)),
    ]
    deliveries = [
        DeliveryCount(1, dt.date(2025, 5, 1), dt.date(2025, 5, 1), 6),
        DeliveryCount(1, dt.date(2025, 5, 1), None, 4),
        DeliveryCount(2, dt.date(2025, 9, 30), T + dt.timedelta(days=1), 3),  # read later
        DeliveryCount(2, dt.date(2025, 10, 1), T, 2),  # sent on t, read on t
        DeliveryCount(4, dt.date(2025, 8, 1), None, 5),
        DeliveryCount(5, dt.date(2025, 10, 2), dt.date(2025, 10, 2), 9),
    ]
    v = values(network([person(1)], bulletins=bulletins, deliveries=deliveries))
    assert v["bulletins_sent"] == 3  # 1, 2 and the half-sent 4
    assert v["bulletin_read_rate"] == pytest.approx((6 + 2) / (10 + 3 + 2 + 5))


# --- dates --------------------------------------------------------------------------------------


def test_monthly_dates_run_from_the_start_to_the_date():
    assert monthly_dates(dt.date(2025, 4, 19), dt.date(2025, 7, 10)) == [
        dt.date(2025, 4, 19),
        dt.date(2025, 5, 1),
        dt.date(2025, 6, 1),
        dt.date(2025, 7, 1),
        dt.date(2025, 7, 10),
    ]
    assert monthly_dates(dt.date(2025, 12, 1), dt.date(2026, 1, 1)) == [
        dt.date(2025, 12, 1),
        dt.date(2026, 1, 1),
    ]
    assert monthly_dates(None, T) == []
    assert monthly_dates(T, T - dt.timedelta(days=1)) == []


def test_compute_many_equals_compute_for_each_date():
    data = _random_network(2)
    dates = [START, T, dt.date(2026, 1, 1)]
    assert compute_many(data, dates) == [(day, compute(data, day)) for day in dates]


# --- invariants -------------------------------------------------------------------------------------

_day = st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2025, 12, 31))


@st.composite
def random_networks(draw):
    n = draw(st.integers(min_value=0, max_value=14))
    people = []
    for pk in range(1, n + 1):
        joined = draw(_day)
        left = draw(st.none() | st.dates(min_value=joined, max_value=dt.date(2026, 6, 30)))
        role = draw(st.sampled_from(["member", "member", "member", "coordinator", "observer"]))
        region = draw(st.sampled_from([1, 2, 3]))
        people.append(person(pk, region, role=role, joined=joined, left=left))
    ties = []
    if n >= 2:
        for _ in range(draw(st.integers(min_value=0, max_value=30))):
            a, b = draw(st.lists(st.integers(1, n), min_size=2, max_size=2, unique=True))
            start = draw(_day)
            end = draw(st.none() | st.dates(min_value=start, max_value=dt.date(2026, 6, 30)))
            by = draw(st.none() | st.integers(1, n))
            ties.append(
                tie(
                    a,
                    b,
                    draw(st.sampled_from(["acquaintance", "joint_project"])),
                    start=start,
                    end=end,
                    by=by,
                )
            )
    return network(people, ties), draw(_day)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_networks())
def test_invariants_hold_on_any_network(case):
    data, day = case
    v = values(data, day)
    for name in (
        "density",
        "degree_centralization",
        "lcc_share",
        "lcc_share_with_hub",
        "brokered_share",
        "fragmentation",
        "coordinator_path_share",
        "coordinator_cross_region_path_share",
    ):
        assert v[name] is None or -1e-12 <= v[name] <= 1 + 1e-12, name
    assert v["ei_index"] is None or -1 <= v["ei_index"] <= 1
    assert v["region_modularity"] is None or -0.5 - 1e-12 <= v["region_modularity"] <= 1
    if v["members"]:
        assert v["hub_dependence"] >= -1e-12
        assert sum(v["members_by_region"].values()) == v["members"]
    assert v["cross_region_ties"] <= v["ties"] <= sum(v["ties_by_kind"].values())
    for counts in v["brokerage_by_member"].values():
        coordinator, itinerant, gatekeeper, representative, liaison = counts
        assert gatekeeper == representative
        assert coordinator % 2 == itinerant % 2 == liaison % 2 == 0
