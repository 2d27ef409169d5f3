"""The indicators' query layer (observations.indicator_data) and the dashboard's reads
(observations.selectors.indicators): what they load, and in how many queries."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

import pytest

from coordination.models import Bulletin, Delivery, Event, Invitation, Participant
from observations.indicator_data import indicator_data_load
from observations.indicators import DeliveryCount
from observations.models import IndicatorSnapshot, Tie
from observations.selectors.indicators import (
    SERIES_KEYS,
    participant_engagement,
    snapshot_latest,
    snapshot_series,
)
from observations.services.indicators import snapshot_compute
from tests import factories

pytestmark = pytest.mark.django_db

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
DAY = dt.date(2025, 10, 1)


def at(day: str, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=TOKYO)


def _person(network, region, **extra) -> Participant:
    organization = extra.pop("organization", None) or factories.OrganizationFactory(
        network=network, region=region
    )
    return factories.ParticipantFactory(network=network, organization=organization, **extra)


def _tie(network, a, b, **extra) -> Tie:
    fields = {"kind": "acquaintance", "started_on": dt.date(2025, 5, 1), **extra}
    return Tie.objects.create(network=network, source=a, target=b, **fields)


def _event(network, starts: dt.datetime, **extra) -> Event:
    return Event.objects.create(
        network=network,
        title=extra.pop("title", "Meeting"),
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        **extra,
    )


def _populate(network, region_a, region_b, size: int) -> list[Participant]:
    """`size` members in two regions, a chain of ties, an event and a bulletin each."""
    people = [
        _person(network, region_a if i % 2 else region_b, joined_on=dt.date(2025, 4, 19))
        for i in range(size)
    ]
    for a, b in itertools.pairwise(people):
        _tie(network, a, b)
    event = _event(network, at("2025-06-01"), status="held", attendance_recorded=True)
    Invitation.objects.bulk_create(
        Invitation(event=event, participant=p, answer="yes", attended=True) for p in people
    )
    bulletin = Bulletin.objects.create(
        network=network, subject="News", body="Hello", status="sent", started_at=at("2025-06-02")
    )
    Delivery.objects.bulk_create(
        Delivery(bulletin=bulletin, participant=p, status="sent", sent_at=at("2025-06-02"))
        for p in people
    )
    return people


# --- the query layer --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [3, 40])
def test_loading_takes_six_queries_whatever_the_size(
    network, region_a, region_b, size, django_assert_num_queries
):
    _populate(network, region_a, region_b, size)
    with django_assert_num_queries(6):
        data = indicator_data_load(network=network)
    assert len(data.people) == size
    assert len(data.ties) == size - 1
    assert data.events[0].invitations == size
    assert sum(d.count for d in data.deliveries) == size


def test_a_participant_is_located_at_the_organization_else_the_region_centre(
    network, region_a, region_b
):
    own = _person(
        network,
        region_a,
        organization=factories.OrganizationFactory(
            network=network, region=region_a, latitude=37.7, longitude=138.9
        ),
    )
    centre = _person(network, region_b)
    nowhere = _person(network, factories.RegionFactory(network=network, name="Somewhere"))
    people = {p.id: p for p in indicator_data_load(network=network).people}
    assert (people[own.pk].latitude, people[own.pk].longitude) == (37.7, 138.9)
    assert (people[centre.pk].latitude, people[centre.pk].longitude) == (37.24, 138.96)
    assert (people[nowhere.pk].latitude, people[nowhere.pk].longitude) == (None, None)
    assert people[own.pk].region == region_a.pk
    assert people[own.pk].organization_kind == "firm"


def test_only_confirmed_ties_that_are_not_deleted_are_loaded(network, region_a, region_b):
    a, b, c, d = (_person(network, region_a) for _ in range(4))
    coordinator = _person(network, region_b, role="coordinator")
    kept = _tie(network, a, b, initiated_by=coordinator, ended_on=dt.date(2025, 9, 1))
    _tie(network, a, c, status=Tie.Status.REPORTED)
    _tie(network, a, d, status=Tie.Status.REJECTED)
    from django.utils import timezone

    _tie(network, b, c, deleted_at=timezone.now())
    ties = indicator_data_load(network=network).ties
    assert [(t.source, t.target) for t in ties] == [(a.pk, b.pk)]
    assert ties[0].initiated_by == coordinator.pk
    assert ties[0].ended_on == kept.ended_on


def test_event_and_delivery_days_are_tokyo_days(network, region_a):
    person = _person(network, region_a)
    # 00:30 in Tokyo is still the previous day in UTC.
    event = _event(network, at("2025-06-01", 0, 30), rsvp_deadline=at("2025-05-25", 0, 30))
    Invitation.objects.create(event=event, participant=person, answer="no")
    cancelled = _event(network, at("2025-07-01"), status="cancelled", title="Off")
    bulletin = Bulletin.objects.create(
        network=network, subject="S", body="B", status="sent", started_at=at("2025-06-02", 0, 5)
    )
    Delivery.objects.create(
        bulletin=bulletin,
        participant=person,
        status="sent",
        sent_at=at("2025-06-02", 0, 5),
        read_at=at("2025-06-03", 23, 50),
    )
    Bulletin.objects.create(network=network, subject="Draft", body="B")  # never sent
    data = indicator_data_load(network=network)
    by_id = {e.id: e for e in data.events}
    assert by_id[event.pk].starts_on == dt.date(2025, 6, 1)
    assert by_id[event.pk].answer_by == dt.date(2025, 5, 25)
    assert (by_id[event.pk].invitations, by_id[event.pk].answered) == (1, 1)
    assert by_id[cancelled.pk].cancelled and by_id[cancelled.pk].answer_by == dt.date(2025, 7, 1)
    assert [b.id for b in data.bulletins] == [bulletin.pk]
    assert data.bulletins[0].started_on == dt.date(2025, 6, 2)
    assert data.deliveries == [
        DeliveryCount(bulletin.pk, dt.date(2025, 6, 2), dt.date(2025, 6, 3), 1)
    ]


def test_another_networks_rows_are_not_loaded(network, other_network, region_a):
    _person(network, region_a)
    factories.ParticipantFactory(network=other_network)
    assert len(indicator_data_load(network=network).people) == 1
    assert len(indicator_data_load(network=other_network.pk).people) == 1


# --- snapshot series ------------------------------------------------------------------------------


def test_the_series_reads_the_chosen_values_in_one_query(
    network, region_a, region_b, django_assert_num_queries
):
    _populate(network, region_a, region_b, 5)
    for day in (dt.date(2025, 5, 1), dt.date(2025, 7, 1), dt.date(2025, 6, 1)):
        snapshot_compute(network=network, as_of=day)
    with django_assert_num_queries(1):
        series = snapshot_series(network=network)
    assert [point.as_of for point in series] == [
        dt.date(2025, 5, 1),
        dt.date(2025, 6, 1),
        dt.date(2025, 7, 1),
    ]
    latest = series[-1].values
    assert set(latest) == set(SERIES_KEYS)
    assert "brokerage_by_member" not in latest
    assert latest["members"] == 5 and latest["ties"] == 4
    assert latest["members_by_region"] == {"Tsubame": 2, "Uonuma": 3}
    assert latest["attendance_rate"] == 1.0
    assert latest["ei_index"] == 1.0
    assert series[0].values["events_held"] == 0 and not series[0].sampled
    only = snapshot_series(network=network, keys=["ties", "nothing_like_this"])
    assert only[-1].values == {"ties": 4, "nothing_like_this": None}


def test_the_latest_snapshot_on_or_before_a_date(network, region_a):
    _person(network, region_a)
    assert snapshot_latest(network=network) is None
    snapshot_compute(network=network, as_of=dt.date(2025, 5, 1))
    snapshot_compute(network=network, as_of=dt.date(2025, 8, 1))
    assert snapshot_latest(network=network).as_of == dt.date(2025, 8, 1)
    assert snapshot_latest(network=network, on_or_before=dt.date(2025, 7, 31)).as_of == (
        dt.date(2025, 5, 1)
    )
    assert IndicatorSnapshot.objects.count() == 2


# --- engagement per participant -------------------------------------------------------------------


@pytest.mark.parametrize("size", [4, 30])
def test_engagement_takes_eight_queries_whatever_the_size(
    network, region_a, region_b, size, django_assert_num_queries
):
    _populate(network, region_a, region_b, size)
    with django_assert_num_queries(8):
        rows = participant_engagement(network=network, as_of=DAY)
        # What a table row shows comes attached: no query per row.
        shown = [
            (
                row.participant.full_name,
                row.participant.organization.name,
                row.participant.organization.region.name,
                row.participant.get_absolute_url(),
            )
            for row in rows
        ]
    assert len(rows) == len(shown) == size
    assert {region for _name, _org, region, _url in shown} == {"Tsubame", "Uonuma"}


def test_engagement_of_a_page_of_participants_equals_their_rows_in_the_whole(
    network, region_a, region_b
):
    people = _populate(network, region_a, region_b, 6)
    whole = {row.participant.pk: row for row in participant_engagement(network=network, as_of=DAY)}
    page = [people[1].pk, people[4].pk]
    rows = participant_engagement(network=network, as_of=DAY, participant_ids=page)
    assert sorted(row.participant.pk for row in rows) == sorted(page)
    for row in rows:
        expected = whole[row.participant.pk]
        assert (row.events_invited, row.events_attended, row.ties, row.bulletins_delivered) == (
            expected.events_invited,
            expected.events_attended,
            expected.ties,
            expected.bulletins_delivered,
        )
        assert row.ties == 2  # in the middle of the chain


def test_engagement_counts_each_persons_part_as_of_the_date(network, region_a, region_b):
    anna = _person(network, region_a, full_name="Anna", name_kana="あんな")
    ben = _person(network, region_b, full_name="Ben", name_kana="べん", recruited_by=anna)
    cleo = _person(
        network,
        region_b,
        full_name="Cleo",
        name_kana="くれお",
        recruited_by=anna,
        joined_on=dt.date(2025, 9, 1),
        left_on=dt.date(2025, 9, 20),
    )
    late = _person(
        network, region_a, full_name="Late", recruited_by=anna, joined_on=dt.date(2025, 12, 1)
    )
    # Ties: Anna–Ben twice (one pair), Anna–Cleo (Cleo has left), Anna–Late (not joined).
    _tie(network, anna, ben)
    _tie(network, ben, anna, kind="joint_project", started_on=dt.date(2025, 6, 1))
    _tie(network, anna, cleo, started_on=dt.date(2025, 9, 2))
    _tie(network, anna, late)
    _tie(network, ben, cleo, ended_on=dt.date(2025, 9, 10))

    held = _event(
        network,
        at("2025-06-01"),
        status="held",
        attendance_recorded=True,
        rsvp_deadline=at("2025-05-25"),
    )
    future = _event(
        network, at("2025-10-20"), status="scheduled", rsvp_deadline=at("2025-10-01", 9)
    )
    later = _event(network, at("2025-11-20"), status="scheduled")
    off = _event(network, at("2025-07-01"), status="cancelled")
    Invitation.objects.create(event=held, participant=anna, answer="yes", attended=True)
    Invitation.objects.create(event=held, participant=ben, answer="no")
    Invitation.objects.create(event=future, participant=anna, answer="maybe")
    Invitation.objects.create(event=future, participant=ben)
    Invitation.objects.create(event=later, participant=anna, answer="yes")
    Invitation.objects.create(event=off, participant=anna)

    bulletin = Bulletin.objects.create(
        network=network, subject="S", body="B", status="sent", started_at=at("2025-06-02")
    )
    second = Bulletin.objects.create(
        network=network, subject="T", body="B", status="sent", started_at=at("2025-10-02")
    )
    Delivery.objects.create(
        bulletin=bulletin,
        participant=anna,
        status="sent",
        sent_at=at("2025-06-02"),
        read_at=at("2025-06-02", 12),
    )
    Delivery.objects.create(
        bulletin=bulletin,
        participant=ben,
        status="sent",
        sent_at=at("2025-06-02"),
        read_at=at("2025-10-05"),
    )
    Delivery.objects.create(
        bulletin=second, participant=anna, status="sent", sent_at=at("2025-10-02")
    )

    rows = {
        row.participant.full_name: row for row in participant_engagement(network=network, as_of=DAY)
    }
    assert list(rows) == ["Anna", "Cleo", "Ben"]  # by kana; Late has not joined yet
    a, b, c = rows["Anna"], rows["Ben"], rows["Cleo"]
    assert (a.active, b.active, c.active) == (True, True, False)
    # Anna: the held event (attended) and the cancelled one don't both count as invited.
    assert (a.events_invited, a.events_attended) == (1, 1)
    # Answer deadlines by the date: the held event, the cancelled one (its start) and
    # the coming one (deadline on the date itself).
    assert (a.rsvp_due, a.rsvp_answered) == (3, 2)
    assert a.rsvp_rate == pytest.approx(2 / 3)
    assert (b.rsvp_due, b.rsvp_answered, b.rsvp_rate) == (2, 1, 0.5)
    assert (a.bulletins_delivered, a.bulletins_read, a.read_rate) == (1, 1, 1.0)
    assert (b.bulletins_delivered, b.bulletins_read, b.read_rate) == (1, 0, 0.0)
    assert (c.bulletins_delivered, c.read_rate, c.rsvp_rate) == (0, None, None)
    # Ties at the date: Anna–Ben only (Cleo left, Late not joined, Ben–Cleo ended).
    assert (a.ties, b.ties, c.ties) == (1, 1, 0)
    # Anna recruited Ben and Cleo by then (Late joins later).
    assert (a.recruited, b.recruited) == (2, 0)


def test_engagement_is_for_one_network_only(network, other_network, region_a):
    _person(network, region_a)
    stranger = factories.ParticipantFactory(network=other_network)
    rows = participant_engagement(network=network, as_of=DAY)
    assert stranger.pk not in {row.participant.pk for row in rows}
    assert len(rows) == 1
