"""The database itself refuses what the code relies on never happening."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from coordination.models import NetworkRole, Participant
from tests import factories

pytestmark = pytest.mark.django_db


def _refused(make) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


def test_participant_email_is_unique_in_a_network_ignoring_case(member_a):
    _refused(
        lambda: factories.ParticipantFactory(network=member_a.network, email="MEMBER.A@example.com")
    )


def test_the_same_person_may_take_part_in_two_networks(member_a, other_network):
    factories.ParticipantFactory(network=other_network, email=member_a.email)
    assert Participant.objects.filter(email=member_a.email).count() == 2


def test_leaving_before_joining_is_refused(network):
    _refused(
        lambda: factories.ParticipantFactory(
            network=network, joined_on=dt.date(2026, 1, 2), left_on=dt.date(2026, 1, 1)
        )
    )


def test_self_recruitment_is_refused(member_a):
    member_a.recruited_by_id = member_a.pk
    _refused(member_a.save)


def test_consent_given_needs_its_date(member_a):
    member_a.research_consent = Participant.Consent.GIVEN
    _refused(member_a.save)


def test_region_name_is_unique_in_a_network(region_a):
    _refused(lambda: factories.RegionFactory(network=region_a.network, name=region_a.name))


def test_region_needs_both_coordinates_or_neither(network):
    _refused(lambda: factories.RegionFactory(network=network, latitude=37.0, longitude=None))


def test_latitude_must_be_on_the_earth(network):
    _refused(lambda: factories.RegionFactory(network=network, latitude=91, longitude=0))


def test_organization_kind_must_be_known(network, region_a):
    _refused(lambda: factories.OrganizationFactory(network=network, region=region_a, kind="bank"))


def test_one_staff_role_per_user_and_network(coordinator, network):
    _refused(
        lambda: NetworkRole.objects.create(network=network, user=coordinator, role="researcher")
    )


def test_user_email_is_unique_ignoring_case(db):
    get_user_model().objects.create_user(email="Someone@Example.com")
    _refused(lambda: get_user_model().objects.create(email="someone@EXAMPLE.com"))


def test_user_manager_stores_addresses_in_lower_case(db):
    assert (
        get_user_model().objects.create_user(email="MiXeD@Example.COM").email == "mixed@example.com"
    )


def test_activity_follows_the_design_definition(member_a):
    member_a.joined_on = dt.date(2025, 4, 19)
    member_a.left_on = dt.date(2026, 3, 31)
    assert not member_a.is_active_on(dt.date(2025, 4, 18))
    assert member_a.is_active_on(dt.date(2025, 4, 19))
    assert member_a.is_active_on(dt.date(2026, 3, 30))
    assert not member_a.is_active_on(dt.date(2026, 3, 31))


def test_organization_location_falls_back_to_its_region_centre(network, region_a):
    org = factories.OrganizationFactory(network=network, region=region_a)
    assert org.location == (region_a.latitude, region_a.longitude)
    org.latitude, org.longitude = 37.7, 138.9
    assert org.location == (37.7, 138.9)


def test_changes_to_participants_are_kept_in_history(member_a):
    member_a.full_name = "Renamed"
    member_a.save()
    assert [h.full_name for h in member_a.history.order_by("history_date")][-2:] == [
        "Member A",
        "Renamed",
    ]
