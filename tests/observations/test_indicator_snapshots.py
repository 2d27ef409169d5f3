"""Snapshots: the services that store them, the tasks and the debounce mark that
schedule them, the compute_indicators command, and the demo network's values."""

from __future__ import annotations

import datetime as dt
import functools
import io
import json

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from coordination.models import Network, Participant
from observations import indicators
from observations import tasks_indicators as tasks
from observations.models import IndicatorSnapshot, Tie
from observations.services.indicators import (
    DIRTY_KEY,
    indicators_dirty_claim,
    indicators_mark_dirty,
    snapshot_compute,
    snapshots_backfill,
)
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(network, region_a, region_b):
    """Two members in two regions, tied since 2025-05-01, and the coordinator."""
    people = []
    for region, name in ((region_a, "A"), (region_b, "B")):
        people.append(
            factories.ParticipantFactory(
                network=network,
                full_name=f"Member {name}",
                organization=factories.OrganizationFactory(network=network, region=region),
                joined_on=dt.date(2025, 4, 19),
            )
        )
    factories.ParticipantFactory(
        network=network,
        role=Participant.Role.COORDINATOR,
        organization=factories.OrganizationFactory(network=network, region=region_a),
        joined_on=dt.date(2025, 4, 1),
    )
    Tie.objects.create(
        network=network,
        source=people[0],
        target=people[1],
        kind="joint_project",
        started_on=dt.date(2025, 5, 1),
    )
    return people


# --- services -------------------------------------------------------------------------------------


def test_computing_a_snapshot_twice_keeps_one_with_the_same_values(network, pair):
    day = dt.date(2025, 6, 1)
    first = snapshot_compute(network=network, as_of=day)
    second = snapshot_compute(network=network, as_of=day)
    assert first.pk == second.pk
    assert IndicatorSnapshot.objects.filter(network=network).count() == 1
    stored = IndicatorSnapshot.objects.get()
    assert stored.values == first.values
    assert stored.values["members"] == 2
    assert stored.values["cross_region_joint_projects"] == 1
    assert stored.notes == {}


def test_a_snapshot_is_recomputed_in_place_after_a_change(network, pair):
    day = dt.date(2025, 6, 1)
    snapshot_compute(network=network, as_of=day)
    Tie.objects.update(ended_on=dt.date(2025, 5, 15))
    snapshot_compute(network=network, as_of=day)
    assert IndicatorSnapshot.objects.get().values["ties"] == 0


def test_backfill_stores_monthly_snapshots_from_the_start(network, pair):
    snapshots = snapshots_backfill(network=network, until=dt.date(2025, 8, 10))
    assert [s.as_of for s in snapshots] == [
        dt.date(2025, 4, 1),  # the coordinator joined first
        dt.date(2025, 5, 1),
        dt.date(2025, 6, 1),
        dt.date(2025, 7, 1),
        dt.date(2025, 8, 1),
        dt.date(2025, 8, 10),
    ]
    assert [s.values["members"] for s in snapshots] == [0, 2, 2, 2, 2, 2]
    assert [s.values["ties"] for s in snapshots] == [0, 1, 1, 1, 1, 1]
    again = snapshots_backfill(network=network, until=dt.date(2025, 8, 10))
    assert [s.pk for s in again] == [s.pk for s in snapshots]
    assert all(s.computed_at is not None for s in again)


def test_backfill_reads_the_data_once_whatever_the_number_of_months(
    network, pair, django_assert_num_queries
):
    # Five queries to load (no bulletin was sent: no query for deliveries), then the
    # upsert of all snapshots (in a savepoint) and the read-back: the same for 4 months
    # as for 24.
    for until in (dt.date(2025, 7, 1), dt.date(2027, 3, 1)):
        with django_assert_num_queries(9):
            snapshots_backfill(network=network, until=until)


def test_backfill_of_a_network_without_anyone_stores_nothing(network):
    assert snapshots_backfill(network=network, until=dt.date(2025, 8, 1)) == []
    assert not IndicatorSnapshot.objects.exists()


# --- the debounce mark --------------------------------------------------------------------------


def test_a_mark_is_set_when_the_write_commits_and_claimed_once(
    network, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        indicators_mark_dirty(network.pk)
        indicators_mark_dirty(network.pk)  # a burst of writes: one mark
        assert cache.get(DIRTY_KEY.format(network.pk)) is None  # not before the commit
    assert cache.get(DIRTY_KEY.format(network.pk)) is not None
    assert indicators_dirty_claim(network_ids=[network.pk, network.pk + 1]) == [network.pk]
    assert indicators_dirty_claim(network_ids=[network.pk]) == []


def test_a_rolled_back_write_leaves_no_mark(network, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                indicators_mark_dirty(network.pk)
                raise RuntimeError("the write failed")
        except RuntimeError:
            pass
    assert callbacks == []
    assert indicators_dirty_claim(network_ids=[network.pk]) == []


def test_the_beat_task_computes_today_for_marked_networks_only(
    network, other_network, pair, django_capture_on_commit_callbacks
):
    today = timezone.localdate()
    snapshot_compute(network=network, as_of=dt.date(2025, 5, 1))  # it has history
    factories.ParticipantFactory(network=other_network)
    with django_capture_on_commit_callbacks(execute=True):
        indicators_mark_dirty(network.pk)
    assert tasks.compute_dirty_indicators() == 1
    assert IndicatorSnapshot.objects.filter(network=network, as_of=today).exists()
    assert not IndicatorSnapshot.objects.filter(network=other_network).exists()
    assert tasks.compute_dirty_indicators() == 0  # the mark was taken


def test_a_marked_network_without_history_gets_its_whole_history(
    network, pair, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        indicators_mark_dirty(network.pk)
    tasks.compute_dirty_indicators()
    dates = list(IndicatorSnapshot.objects.filter(network=network).values_list("as_of", flat=True))
    assert dates[0] == dt.date(2025, 4, 1)
    assert dates[-1] == timezone.localdate()
    assert dt.date(2025, 5, 1) in dates


def test_a_failed_computation_gives_the_mark_back(
    network, pair, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(**kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(tasks, "snapshot_compute", broken)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        tasks.compute_indicator_snapshot.apply(args=(network.pk,), throw=True)
    assert indicators_dirty_claim(network_ids=[network.pk]) == [network.pk]


def test_the_tasks_return_quietly_for_a_network_that_is_gone(db):
    assert tasks.compute_indicator_snapshot.delay(999_999).get() is None
    assert tasks.backfill_indicator_snapshots.delay(999_999).get() == 0


def test_the_snapshot_task_takes_an_id_and_an_iso_date(network, pair):
    pk = tasks.compute_indicator_snapshot.delay(network.pk, "2025-06-01").get()
    assert IndicatorSnapshot.objects.get(pk=pk).as_of == dt.date(2025, 6, 1)


def test_the_nightly_task_backfills_every_network_with_participants(network, other_network, pair):
    empty = Network.objects.create(slug="empty", name="Empty")
    assert tasks.compute_indicators_nightly() == 1
    assert IndicatorSnapshot.objects.filter(network=network, as_of=timezone.localdate()).exists()
    assert not IndicatorSnapshot.objects.filter(network__in=[other_network, empty]).exists()


# --- the command -------------------------------------------------------------------------------


def _run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("compute_indicators", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_prints_one_json_object_keyed_by_indicator_and_stores_it(network, pair):
    network.regions.filter(name="Tsubame").update(name="燕市")
    out, err = _run("alpha", "--as-of", "2025-06-01", "--json")
    values = json.loads(out)
    assert set(indicators.INDICATORS) <= set(values)
    assert values["as_of"] == "2025-06-01"
    assert values["members_by_region"] == {"Uonuma": 1, "燕市": 1}
    assert "燕市" in out  # not escaped as \u71d5\u5e02
    assert values["notes"] == {} and err == ""
    stored = IndicatorSnapshot.objects.get(network=network, as_of=dt.date(2025, 6, 1))
    assert stored.values["ei_index"] == values["ei_index"] == 1.0


def test_the_command_prints_a_table_that_says_nothing_was_sampled(network, pair):
    out, _err = _run("alpha", "--as-of", "2025-06-01")
    assert "ei_index" in out and "1.0000" in out
    assert "cross_region_joint_projects" in out
    assert "All measures exact (no sampling)." in out


def test_the_command_says_when_shortest_paths_were_sampled(network, pair, monkeypatch):
    monkeypatch.setattr(
        indicators,
        "compute",
        functools.partial(indicators.compute, sample_above=1, sample_sources=1),
    )
    out, _err = _run("alpha", "--as-of", "2025-06-01")
    assert "sampled shortest paths (1 of 2 members as sources" in out
    assert "coordinator_cross_region_path_share" in out
    _out, err = _run("alpha", "--as-of", "2025-06-01", "--json")
    assert "sampled shortest paths" in err
    assert json.loads(_out)["notes"]["sampled"]["coordinator_path_share"]["sources"] == 1


def test_the_command_defaults_to_today(network, pair):
    _run("alpha")
    assert IndicatorSnapshot.objects.get().as_of == timezone.localdate()


def test_the_command_can_backfill(network, pair):
    out, err = _run("alpha", "--as-of", "2025-07-15", "--backfill", "--json")
    assert json.loads(out)["as_of"] == "2025-07-15"
    assert "Stored 5 snapshots from 2025-04-01 to 2025-07-15." in err
    assert IndicatorSnapshot.objects.count() == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuch"], "No network with the slug nosuch."),
        (["alpha", "--as-of", "2025-13-01"], "is not a date: use YYYY-MM-DD."),
        (["alpha", "--as-of", "2020-01-01", "--backfill"], "has nobody who joined by 2020-01-01"),
    ],
)
def test_the_command_refuses_bad_input_and_stores_nothing(network, pair, args, message):
    with pytest.raises(CommandError, match=message):
        _run(*args)
    assert not IndicatorSnapshot.objects.exists()


# --- the demo network ---------------------------------------------------------------------------


def test_the_demo_networks_values_at_the_end_of_2026(db):
    call_command("seed_demo", stdout=io.StringIO())
    demo = Network.objects.get(slug="demo")
    v = snapshot_compute(network=demo, as_of=dt.date(2026, 12, 31)).values
    # 11 members (9 founders, 2 recruited by members), 5 in Tsubame, 6 in Uonuma.
    assert (v["members"], v["organizations"], v["regions"]) == (11, 11, 2)
    assert v["members_by_region"] == {"燕市": 5, "魚沼市": 6}
    assert v["recruited_by_members"] == 2
    # The city offices of Tsubame and Uonuma, 49.09 km apart.
    assert v["spread_km"] == pytest.approx(49.0912, abs=1e-4)
    # 12 tie records; 9 pairs, of which only Sato–Takahashi is inside one town.
    assert v["ties"] == 9 and v["cross_region_ties"] == 8
    assert v["ei_index"] == pytest.approx(7 / 9)
    assert v["ties_by_kind"]["joint_project"] == 2
    assert v["cross_region_joint_projects"] == 2
    assert v["density"] == pytest.approx(18 / 110)
    # Degrees 3, 3, 2, 2, 2, 1 × 6: Σ(3 − d) = 15 over 10 · 9.
    assert v["degree_centralization"] == pytest.approx(15 / 90)
    # Components of 9 and 2 (Watanabe–Yoshida); the coordinator has no ties.
    assert v["lcc_share"] == pytest.approx(9 / 11)
    assert v["lcc_share_with_hub"] == pytest.approx(9 / 11)
    assert v["hub_dependence"] == 0.0
    assert v["fragmentation"] == pytest.approx(1 - 74 / 110)
    # Inside Tsubame 1 edge; degree sums 10 and 8 over 2m = 18.
    assert v["region_modularity"] == pytest.approx(-32 / 81)
    assert v["brokered_share"] == 0.5  # 6 of 12 records the coordinator brokered
    # Yamamoto links three Uonuma members: an itinerant broker six ways.
    assert v["brokerage_roles"] == {
        "coordinator": 0,
        "itinerant": 12,
        "gatekeeper": 3,
        "representative": 3,
        "liaison": 0,
    }
    # five meetings and visits, and the business-continuity drill of continuity.demo
    assert (v["events_held"], v["member_initiated_events"]) == (6, 0)
    assert v["rsvp_response_rate"] == 1.0
    assert v["attendance_rate"] == pytest.approx(44 / 55)
    assert v["bulletins_sent"] == 8
    assert v["bulletin_read_rate"] == pytest.approx(57 / 86)


def test_the_demo_network_in_its_first_summer(db):
    call_command("seed_demo", stdout=io.StringIO())
    demo = Network.objects.get(slug="demo")
    v = snapshot_compute(network=demo, as_of=dt.date(2025, 6, 30)).values
    # The founders; the three brokered kickoff ties and Sato–Takahashi's transaction.
    assert v["members"] == 9
    assert (v["ties"], v["cross_region_ties"]) == (4, 3)
    assert v["ei_index"] == 0.5
    assert v["brokered_share"] == 0.75
    assert v["events_held"] == 1
    assert v["bulletins_sent"] == 2
    assert v["bulletin_read_rate"] == pytest.approx((6 + 7) / 20)
