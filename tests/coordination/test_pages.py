"""The coordinator's pages: lists with filters, search and pages; forms; invitations."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from coordination import emails
from coordination.models import Organization, Participant
from tests import factories

pytestmark = pytest.mark.django_db


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "name", ["participant_list", "organization_list", "region_list", "network_detail"]
)
def test_list_pages_do_not_grow_queries_with_rows(client, coordinator, network, region_a, name):
    url = reverse(name, args=[network.slug])
    client.force_login(coordinator)
    factories.ParticipantFactory.create_batch(3, network=network, organization__region=region_a)
    few = _queries(client, url)
    factories.ParticipantFactory.create_batch(30, network=network, organization__region=region_a)
    assert _queries(client, url) == few


def test_participant_list_query_count_is_pinned(
    client, coordinator, network, region_a, django_assert_num_queries
):
    factories.ParticipantFactory.create_batch(10, network=network, organization__region=region_a)
    client.force_login(coordinator)
    client.get(reverse("participant_list", args=[network.slug]))  # warm the session
    # session, user, network, staff roles, participation, the filter form's region and
    # organization choices, the count, the page of rows
    with django_assert_num_queries(9):
        client.get(reverse("participant_list", args=[network.slug]))


def test_portal_directory_query_count_does_not_grow(client, member_a, network, region_a):
    client.force_login(member_a.user)
    url = reverse("portal_home", args=[network.slug])
    few = _queries(client, url)
    factories.ParticipantFactory.create_batch(25, network=network, organization__region=region_a)
    assert _queries(client, url) == few


def test_participant_list_filters_by_region_and_searches_kana(
    client, coordinator, member_a, member_b, region_b
):
    member_b.name_kana = "びー めんばー"
    member_b.save()
    client.force_login(coordinator)
    url = reverse("participant_list", args=[member_a.network.slug])
    html = client.get(url, {"region": region_b.pk}).content.decode()
    assert "Member B" in html and "Member A" not in html
    html = client.get(url, {"q": "めんばー"}).content.decode()
    assert "Member B" in html and "Member A" not in html
    html = client.get(url, {"q": "b works"}).content.decode()
    assert "Member B" in html and "Member A" not in html


def test_participant_list_filters_by_status(client, coordinator, member_a, member_b):
    member_b.left_on = dt.date(2025, 10, 1)
    member_b.save()
    client.force_login(coordinator)
    url = reverse("participant_list", args=[member_a.network.slug])
    html = client.get(url, {"status": "left"}).content.decode()
    assert "Member B" in html and "Member A" not in html
    html = client.get(url, {"status": "active"}).content.decode()
    assert "Member A" in html and "Member B" not in html


def test_participant_list_paginates(client, coordinator, network, region_a):
    organization = factories.OrganizationFactory(network=network, region=region_a, name="Big Firm")
    for i in range(60):
        factories.ParticipantFactory(
            network=network,
            organization=organization,
            full_name=f"Worker {i:02d}",
            name_kana=f"{i:02d}",
        )
    client.force_login(coordinator)
    url = reverse("participant_list", args=[network.slug])
    first = client.get(url, {"organization": organization.pk}).content.decode()
    second = client.get(url, {"organization": organization.pk, "page": 2}).content.decode()
    assert first.count('name="participant" value=') == 50
    assert second.count('name="participant" value=') == 10
    assert f"organization={organization.pk}&amp;page=2" in first


def test_coordinator_creates_and_edits_a_participant(client, coordinator, network, member_a):
    client.force_login(coordinator)
    data = {
        "full_name": "新井 花子",
        "name_kana": "あらい はなこ",
        "email": "Hanako@Example.com",
        "organization": member_a.organization.pk,
        "role": "member",
        "joined_on": "2026-01-10",
        "research_consent": "given",
        "preferred_language": "ja",
    }
    response = client.post(reverse("participant_create", args=[network.slug]), data)
    assert response.status_code == 302
    person = Participant.objects.get(network=network, full_name="新井 花子")
    assert person.email == "hanako@example.com"
    assert person.consent_given_on is not None
    data["left_on"] = "2025-12-31"  # before joining
    response = client.post(reverse("participant_edit", args=[network.slug, person.pk]), data)
    assert response.status_code == 200
    person.refresh_from_db()
    assert person.left_on is None


def test_the_same_address_twice_in_a_network_is_refused_whatever_the_case(
    client, coordinator, network, member_a
):
    client.force_login(coordinator)
    response = client.post(
        reverse("participant_create", args=[network.slug]),
        {
            "full_name": "Copy",
            "email": member_a.email.upper(),
            "organization": member_a.organization.pk,
            "role": "member",
            "joined_on": "2026-01-10",
            "research_consent": "pending",
            "preferred_language": "en",
        },
    )
    assert response.status_code == 200
    assert "Another participant of this network has this address" in response.content.decode()
    assert Participant.objects.filter(network=network, email__iexact=member_a.email).count() == 1


def test_organization_form_offers_only_this_networks_regions(
    client, coordinator, network, other_network
):
    foreign = factories.RegionFactory(network=other_network, name="Foreign")
    client.force_login(coordinator)
    response = client.post(
        reverse("organization_create", args=[network.slug]),
        {"name": "Sneaky", "kind": "firm", "region": foreign.pk},
    )
    assert response.status_code == 200
    assert not Organization.objects.filter(name="Sneaky").exists()


def test_inviting_participants_sends_each_one_sign_in_link_once(
    client, coordinator, network, member_a, member_b, django_capture_on_commit_callbacks
):
    client.force_login(coordinator)
    with_no_account = factories.ParticipantFactory(
        network=network, email="fresh@example.com", preferred_language="ja"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("participant_invite", args=[network.slug]),
            {"participant": [member_a.pk, member_b.pk, with_no_account.pk]},
        )
    assert response.status_code == 302
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [member_a.email, member_b.email, "fresh@example.com"]
    )
    with_no_account.refresh_from_db()
    assert with_no_account.user is not None and with_no_account.user.email == "fresh@example.com"
    assert with_no_account.invitation_sent_at is not None
    message = next(m for m in mail.outbox if m.to == ["fresh@example.com"])
    assert "招待" in message.subject  # the participant's own language
    link = re.search(r"http://\S+/welcome/(\S+)/", message.body)
    assert link
    assert emails.participant_from_welcome_token(link.group(1)) == with_no_account
    html = message.alternatives[0][0]
    assert link.group(0) in html


def test_a_delivered_invitation_task_does_not_send_twice(
    member_a, django_capture_on_commit_callbacks
):
    from coordination import services
    from coordination.tasks import send_portal_invitation

    with django_capture_on_commit_callbacks(execute=True):
        services.participants_invite(network=member_a.network, participant_ids=[member_a.pk])
    member_a.refresh_from_db()
    assert len(mail.outbox) == 1
    # The broker delivers the same message again (a worker died after sending).
    assert send_portal_invitation.run(member_a.pk, member_a.invited_at.isoformat()) is False
    assert len(mail.outbox) == 1


def test_participant_edits_own_profile_and_withdraws_consent(client, member_a):
    member_a.research_consent = "given"
    member_a.consent_given_on = dt.date(2025, 4, 19)
    member_a.save()
    client.force_login(member_a.user)
    url = reverse("portal_profile", args=[member_a.network.slug])
    response = client.post(
        url,
        {
            "full_name": "Member A",
            "name_kana": "めんばー えー",
            "position": "社長",
            "preferred_language": "en",
            "bulletin_opt_out": "on",
            "research_consent": "withdrawn",
        },
    )
    assert response.status_code == 302
    member_a.refresh_from_db()
    assert member_a.bulletin_opt_out is True
    assert member_a.research_consent == "withdrawn"
    assert member_a.consent_withdrawn_on is not None
    assert member_a.position == "社長"


def test_participant_cannot_change_their_role_or_email_through_the_profile(client, member_a):
    client.force_login(member_a.user)
    client.post(
        reverse("portal_profile", args=[member_a.network.slug]),
        {
            "full_name": "Member A",
            "preferred_language": "ja",
            "role": "coordinator",
            "email": "x@example.com",
        },
    )
    member_a.refresh_from_db()
    assert member_a.role == "member"
    assert member_a.email == "member.a@example.com"


def test_pages_render_in_japanese_by_default_and_english_on_request(
    client, coordinator, network, settings
):
    settings.LANGUAGE_CODE = "ja"
    client.force_login(coordinator)
    url = reverse("participant_list", args=[network.slug])
    assert "参加者" in client.get(url).content.decode()
    assert "Participants" in client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    client.post(reverse("set_language"), {"language": "en", "next": url})
    assert "Participants" in client.get(url).content.decode()


def test_region_list_searches_and_filters_by_prefecture(
    client, coordinator, network, region_a, region_b
):
    factories.RegionFactory(
        network=network, name="Sapporo", prefecture="北海道", municipality_code="01100"
    )
    client.force_login(coordinator)
    url = reverse("region_list", args=[network.slug])
    html = client.get(url, {"q": "011"}).content.decode()
    assert "Sapporo" in html and "Tsubame" not in html
    html = client.get(url, {"prefecture": "北海道"}).content.decode()
    assert "Sapporo" in html and "Uonuma" not in html
