"""The matching rules on hand-made cases (no database)."""

from __future__ import annotations

from continuity import matching
from continuity.models import match_key

A, B, C = 1, 2, 3  # regions
REGION_OF = {10: A, 11: A, 20: B, 21: B, 30: C}


def _partners(**overrides):
    arguments = {
        "hit_region": A,
        "affected": {10},
        "wanted": [matching.Wanted(1, 10, "process:plating")],
        "offers": [],
        "agreements": [],
        "region_of": REGION_OF,
    }
    return matching.find_partners(**{**arguments, **overrides})


def test_a_process_matches_only_the_same_process():
    assert match_key("process", "plating") == "process:plating"
    assert match_key("process", "press") != match_key("process", "plating")
    assert match_key("transport", "") == "transport"


def test_a_matching_capability_in_another_region_is_a_partner():
    found = _partners(offers=[matching.Offer(20, B, "process:plating")])
    assert found.by_capability == {20}
    assert found.providers == {1: {20}}


def test_a_capability_of_another_process_is_no_partner():
    found = _partners(offers=[matching.Offer(20, B, "process:press")])
    assert found.organizations == set()
    assert found.providers == {1: set()}


def test_providers_in_the_region_hit_are_not_asked():
    found = _partners(offers=[matching.Offer(11, A, "process:plating")])
    assert found.organizations == set()


def test_an_affected_organization_never_helps_itself():
    found = _partners(
        affected={10, 20},
        offers=[matching.Offer(20, B, "process:plating"), matching.Offer(21, B, "process:plating")],
    )
    assert found.by_capability == {21}


def test_agreements_count_either_way_round_and_only_with_an_affected_organization():
    found = _partners(agreements=[(30, 10), (20, 21)])
    assert found.by_agreement == {30}
    found = _partners(agreements=[(10, 30)])
    assert found.by_agreement == {30}


def test_an_agreement_partner_in_the_region_hit_is_not_asked():
    assert _partners(agreements=[(10, 11)]).organizations == set()


def test_a_partner_by_agreement_and_capability_is_one_organization():
    found = _partners(agreements=[(10, 30)], offers=[matching.Offer(30, C, "process:plating")])
    assert found.organizations == {30}
    assert found.by_agreement == found.by_capability == {30}


def test_providers_elsewhere_skips_the_own_region():
    offers = [matching.Offer(11, A, "space"), matching.Offer(20, B, "space")]
    assert matching.providers_elsewhere(key="space", region=A, offers=offers) == {20}


def test_coverage_is_the_share_of_requests_with_an_offer():
    assert matching.coverage(requests=[1, 2, 3, 4], offered={1: {20}, 2: set(), 3: {30}}) == 0.5
    assert matching.coverage(requests=[], offered={}) is None


def test_median_minutes_ignores_those_who_did_not_answer():
    assert matching.median_minutes([10, None, 30, 20]) == 20
    assert matching.median_minutes([10, 20]) == 15
    assert matching.median_minutes([None]) is None
