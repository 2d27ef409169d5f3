"""The continuity indicators: pure functions on hand-made rows, the loader, and compute()."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from continuity import services
from continuity.models import Capability, Incident
from observations import indicators
from observations.indicator_data import indicator_data_load
from observations.indicators.continuity import (
    AgreementRow,
    CapabilityRow,
    ContinuityData,
    DrillRow,
    NeedRow,
    agreements_in_force,
    capability_coverage,
    continuity_values,
)

from .helpers import build_world, capability

D = dt.date
A, B, C = 1, 2, 3
REGIONS = {A: "Tsubame", B: "Uonuma", C: "Kashiwazaki"}


def _data(**rows) -> ContinuityData:
    return ContinuityData(regions=REGIONS, **rows)


def test_a_critical_need_is_covered_by_the_same_key_in_another_region():
    data = _data(
        capabilities=[
            CapabilityRow(20, B, "process:plating", D(2025, 1, 1)),
            CapabilityRow(11, A, "process:press", D(2025, 1, 1)),  # own region: no help
            CapabilityRow(21, B, "process:press", D(2025, 1, 1)),
        ],
        needs=[
            NeedRow(10, A, "process:plating", True, D(2025, 1, 1)),
            NeedRow(10, A, "transport", True, D(2025, 1, 1)),  # nobody has transport
            NeedRow(10, A, "space", False, D(2025, 1, 1)),  # not critical: not counted
            NeedRow(22, B, "process:press", True, D(2025, 1, 1)),  # only B itself has a press
            NeedRow(21, B, "process:press", True, D(2025, 1, 1)),  # ... but A has one too
        ],
    )
    result = capability_coverage(data, D(2025, 6, 1))
    assert result["by_region"] == {"Kashiwazaki": None, "Tsubame": 0.5, "Uonuma": 1.0}
    assert result["overall"] == 3 / 4


def test_coverage_counts_what_existed_at_t():
    data = _data(
        capabilities=[CapabilityRow(20, B, "space", D(2025, 3, 1), D(2025, 9, 1))],
        needs=[NeedRow(10, A, "space", True, D(2025, 2, 1))],
    )
    assert capability_coverage(data, D(2025, 2, 15))["overall"] == 0.0
    assert capability_coverage(data, D(2025, 5, 1))["overall"] == 1.0
    assert capability_coverage(data, D(2025, 9, 1))["overall"] == 0.0  # removed that day
    assert capability_coverage(data, D(2025, 1, 1))["overall"] is None


def test_agreements_in_force_as_of_t():
    data = _data(
        agreements=[
            AgreementRow(1, D(2025, 1, 1)),
            AgreementRow(2, D(2025, 3, 1), D(2025, 6, 1)),
            AgreementRow(3, D(2026, 1, 1)),
        ]
    )
    assert [
        agreements_in_force(data, D(y, m, 1))
        for y, m in [(2024, 12), (2025, 4), (2025, 6), (2026, 1)]
    ] == [0, 2, 1, 2]


def test_the_latest_drill_as_of_t_gives_response_time_and_coverage():
    data = _data(
        drills=[
            DrillRow(1, D(2025, 5, 1), 42.0, 0.5),
            DrillRow(2, D(2025, 11, 1), 18.0, 0.75),
        ]
    )
    assert continuity_values(data, D(2025, 4, 1))["drill_response_time"] is None
    values = continuity_values(data, D(2025, 6, 1))
    assert (values["drill_response_time"], values["drill_coverage"]) == (42.0, 0.5)
    values = continuity_values(data, D(2026, 1, 1))
    assert (values["drill_response_time"], values["drill_coverage"]) == (18.0, 0.75)


def test_compute_adds_the_continuity_keys_and_keeps_the_others():
    data = indicators.NetworkData(regions=REGIONS)
    values = indicators.compute(data, D(2025, 6, 1))["values"]
    assert list(values)[: len(indicators.INDICATORS)] == list(indicators.INDICATORS)
    for key in indicators.CONTINUITY_INDICATORS:
        assert key in values
    assert values["agreements_in_force"] == 0
    assert values["capability_coverage"] == {"Kashiwazaki": None, "Tsubame": None, "Uonuma": None}


# --- from the database --------------------------------------------------------------------------


@pytest.fixture
def world(network, region_a, region_b, member_a, member_b, coordinator):
    return build_world(network, region_a, region_b, member_a, member_b, coordinator)


@pytest.mark.django_db
def test_a_network_without_continuity_data_costs_no_query_more(
    network, region_a, member_a, django_assert_num_queries
):
    # regions, people, ties, events, bulletins (nothing sent: no deliveries query)
    with django_assert_num_queries(5):
        data = indicator_data_load(network=network)
    assert data.continuity.capabilities == []


@pytest.mark.django_db
def test_the_continuity_rows_take_four_queries_more_whatever_the_size(
    network, region_a, region_b, member_a, member_b, world, django_assert_num_queries
):
    with django_assert_num_queries(9):
        small = indicator_data_load(network=network)
    for i in range(5):
        capability(member_b.organization, "space", text=f"hall {i}")
    with django_assert_num_queries(9):
        large = indicator_data_load(network=network)
    assert len(large.continuity.capabilities) == len(small.continuity.capabilities) + 5
    assert [a.id for a in large.continuity.agreements] == [world.agreement.pk]


@pytest.mark.django_db
def test_computed_values_from_the_database(
    network,
    region_a,
    region_b,
    coordinator,
    member_a,
    member_b,
    world,
    django_capture_on_commit_callbacks,
):
    today = timezone.localdate()
    values = indicators.compute(indicator_data_load(network=network), today)["values"]
    # A Works' critical plating need: B Works plates (D Plating is in the same region).
    assert values["capability_coverage"]["Tsubame"] == 1.0
    assert values["capability_coverage_overall"] == 1.0
    assert values["agreements_in_force"] == 1
    assert values["ties_by_kind"]["mutual_support_agreement"] == 1
    assert values["drill_response_time"] is None

    Capability.objects.filter(organization=member_b.organization).update(removed_at=timezone.now())
    start = timezone.now() - dt.timedelta(hours=2)
    drill = services.drill_schedule(
        network=network,
        data={
            "title": "Drill",
            "region": region_a,
            "starts_at": start,
            "ends_at": start + dt.timedelta(hours=1),
        },
        organizations=[member_a.organization],
        user=coordinator,
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.drill_start(incident=drill)
    for reply in drill.replies.all():
        services.reply_answer(
            reply=reply,
            can_help=True,
            request_ids=list(drill.requests.values_list("pk", flat=True)),
            hours=4,
            now=reply.notified_at + dt.timedelta(minutes=12),
        )
    services.incident_close(incident=drill, user=coordinator)
    values = indicators.compute(indicator_data_load(network=network), today)["values"]
    assert values["capability_coverage"]["Tsubame"] == 0.0  # B Works removed its plating
    assert values["drill_response_time"] == 12.0
    assert values["drill_coverage"] == 1.0
    # The notices are not the coordinator's bulletins.
    assert values["bulletins_sent"] == 0
    assert Incident.objects.get(pk=drill.pk).coverage == 1.0
