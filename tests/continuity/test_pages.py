"""Every page and action per role: coordinator, researcher (pseudonyms), member (own
organization), a third network's people and strangers (404)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from continuity import services
from continuity.models import Agreement, Capability, HelpRequest, Incident, Need, Reply
from observations.pseudonyms import pseudonym
from tests import factories

from .helpers import build_world, capability, person

pytestmark = pytest.mark.django_db
LINK = re.compile(r"http://\S+(/help/\d+/\S+/)")


@pytest.fixture
def world(network, region_a, region_b, member_a, member_b, coordinator):
    return build_world(network, region_a, region_b, member_a, member_b, coordinator)


@pytest.fixture
def incident(network, region_a, coordinator, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return services.incident_declare(
            network=network, region=region_a, user=coordinator
        ).incident


def _get(client, user, url):
    client.force_login(user) if user else client.logout()
    return client.get(url)


def _staff_urls(network, world, incident, member_a):
    slug = network.slug
    return [
        reverse("continuity_home", args=[slug]),
        reverse("continuity_organization", args=[slug, member_a.organization_id]),
        reverse("continuity_agreements", args=[slug]),
        reverse("continuity_agreement", args=[slug, world.agreement.pk]),
        reverse("continuity_incident", args=[slug, incident.pk]),
    ]


def _manager_urls(network, world, member_a):
    slug, org = network.slug, member_a.organization_id
    return [
        reverse("continuity_item_create", args=[slug, org, "capability"]),
        reverse("continuity_item_create", args=[slug, org, "need"]),
        reverse("continuity_agreement_create", args=[slug]),
        reverse("continuity_agreement_edit", args=[slug, world.agreement.pk]),
        reverse("continuity_drill_create", args=[slug]),
        reverse("continuity_declare", args=[slug]),
    ]


def _portal_urls(network, incident):
    slug = network.slug
    return [
        reverse("portal_continuity", args=[slug]),
        reverse("portal_continuity_item_create", args=[slug, "capability"]),
        reverse("portal_continuity_incident", args=[slug, incident.pk]),
    ]


def test_the_coordinator_sees_and_manages_everything(
    client, network, coordinator, member_a, world, incident
):
    for url in _staff_urls(network, world, incident, member_a) + _manager_urls(
        network, world, member_a
    ):
        assert _get(client, coordinator, url).status_code == 200, url


def test_a_researcher_reads_under_pseudonyms_and_changes_nothing(
    client, network, researcher, member_a, world, incident
):
    for url in _staff_urls(network, world, incident, member_a):
        response = _get(client, researcher, url)
        assert response.status_code == 200, url
        assert "A Works" not in response.content.decode(), url
    page = _get(client, researcher, reverse("continuity_home", args=[network.slug]))
    assert pseudonym(network, member_a.organization_id, "organization") in page.content.decode()
    for url in _manager_urls(network, world, member_a):
        assert _get(client, researcher, url).status_code == 404, url
    action = reverse("continuity_incident_action", args=[network.slug, incident.pk, "close"])
    assert client.post(action).status_code == 404
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.ACTIVE


def test_a_researcher_with_identified_access_sees_names(
    client, network, identified_researcher, member_a, world, incident
):
    page = _get(client, identified_researcher, reverse("continuity_home", args=[network.slug]))
    assert "A Works" in page.content.decode()


def test_a_member_uses_the_portal_but_not_the_staff_pages(
    client, network, member_a, world, incident
):
    for url in _portal_urls(network, incident):
        assert _get(client, member_a.user, url).status_code == 200, url
    for url in _staff_urls(network, world, incident, member_a) + _manager_urls(
        network, world, member_a
    ):
        assert _get(client, member_a.user, url).status_code == 404, url


@pytest.mark.parametrize("who", ["outsider", "stranger"])
def test_a_member_of_a_third_network_sees_nothing(
    client, request, network, member_a, world, incident, who
):
    user = request.getfixturevalue(who)
    urls = (
        _staff_urls(network, world, incident, member_a)
        + _manager_urls(network, world, member_a)
        + _portal_urls(network, incident)
    )
    for url in urls:
        assert _get(client, user, url).status_code == 404, url
    slug = network.slug
    posts = [
        reverse("portal_continuity_declare", args=[slug]),
        reverse("continuity_declare", args=[slug]),
        reverse("continuity_incident_action", args=[slug, incident.pk, "close"]),
        reverse(
            "portal_continuity_request_action",
            args=[slug, incident.pk, incident.requests.first().pk],
        ),
    ]
    for url in posts:
        assert (
            client.post(url, {"region": incident.region_id, "action": "close"}).status_code == 404
        )
    assert Incident.objects.get().status == Incident.Status.ACTIVE


def test_a_participant_of_the_third_network_sees_nothing(
    client, network, other_network, member_a, world, incident
):
    third = person(
        other_network, factories.OrganizationFactory(network=other_network), "Tom Third", user=True
    )
    for url in _portal_urls(network, incident) + _staff_urls(network, world, incident, member_a):
        assert _get(client, third.user, url).status_code == 404, url


def test_signed_out_visitors_are_sent_to_sign_in(client, network, member_a, world, incident):
    for url in _portal_urls(network, incident) + _staff_urls(network, world, incident, member_a):
        response = _get(client, None, url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- members manage their own organization ------------------------------------------------------


def test_a_member_adds_a_capability_to_their_own_organization(client, network, member_a):
    client.force_login(member_a.user)
    url = reverse("portal_continuity_item_create", args=[network.slug, "capability"])
    response = client.post(
        url, {"category": "process", "process": "press", "description": "80 t press"}
    )
    assert response.status_code == 302
    (added,) = Capability.objects.all()
    assert added.organization == member_a.organization
    assert added.key == "process:press"


def test_a_member_cannot_edit_or_remove_another_organizations_entries(
    client, network, member_a, member_b
):
    theirs = capability(member_b.organization, "space", text="their hall")
    client.force_login(member_a.user)
    slug = network.slug
    edit = reverse("portal_continuity_item_edit", args=[slug, "capability", theirs.pk])
    remove = reverse("portal_continuity_item_remove", args=[slug, "capability", theirs.pk])
    assert client.get(edit).status_code == 404
    assert client.post(edit, {"category": "space", "description": "mine now"}).status_code == 404
    assert client.post(remove).status_code == 404
    theirs.refresh_from_db()
    assert theirs.description == "their hall" and theirs.removed_at is None


def test_a_member_removes_their_own_need_softly(client, network, member_a):
    need = Need.objects.create(
        network=network,
        organization=member_a.organization,
        category="transport",
        description="truck",
    )
    client.force_login(member_a.user)
    url = reverse("portal_continuity_item_remove", args=[network.slug, "need", need.pk])
    assert client.post(url).status_code == 302
    need.refresh_from_db()
    assert need.removed_at is not None


def test_the_coordinator_edits_any_organizations_entries(client, network, coordinator, member_b):
    theirs = capability(member_b.organization, "space", text="hall")
    client.force_login(coordinator)
    url = reverse(
        "continuity_item_edit",
        args=[network.slug, member_b.organization_id, "capability", theirs.pk],
    )
    response = client.post(
        url, {"category": "space", "description": "big hall", "quantity": "300 m²"}
    )
    assert response.status_code == 302
    theirs.refresh_from_db()
    assert (theirs.description, theirs.quantity) == ("big hall", "300 m²")


def test_the_portal_search_shows_other_regions_by_default(
    client, network, member_a, member_b, region_a
):
    capability(member_b.organization, "process", "plating", "zinc plating in B")
    near = factories.OrganizationFactory(network=network, region=region_a, name="Near Plating")
    capability(near, "process", "plating", "plating next door")
    client.force_login(member_a.user)
    url = reverse("portal_continuity", args=[network.slug])
    page = client.get(url, {"q": "plating"}).content.decode()
    assert "zinc plating in B" in page and "plating next door" not in page
    page = client.get(url, {"q": "plating", "region": "all"}).content.decode()
    assert "zinc plating in B" in page and "plating next door" in page
    page = client.get(url, {"process": "press", "region": "all"}).content.decode()
    assert "zinc plating in B" not in page


def test_the_staff_search_finds_by_category_and_region(
    client, network, coordinator, member_b, region_b
):
    capability(member_b.organization, "transport", "", "two trucks")
    client.force_login(coordinator)
    url = reverse("continuity_home", args=[network.slug])
    assert "two trucks" in client.get(url, {"category": "transport"}).content.decode()
    assert "two trucks" not in client.get(url, {"category": "space"}).content.decode()
    assert "two trucks" in client.get(url, {"region": region_b.pk}).content.decode()


# --- declaring from the portal ----------------------------------------------------------------


def test_two_members_declare_from_the_portal_and_the_partners_get_one_mail_each(
    client, network, region_a, member_a, member_b, world, django_capture_on_commit_callbacks
):
    url = reverse("portal_continuity_declare", args=[network.slug])
    client.force_login(member_a.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"region": region_a.pk, "description": "Quake"})
    incident = Incident.objects.get()
    assert response["Location"] == incident.get_portal_url()
    assert incident.status == Incident.Status.PENDING and mail.outbox == []
    page = client.get(incident.get_portal_url()).content.decode()
    assert "confirm-incident" not in page  # one cannot confirm one's own declaration
    client.force_login(world.c1.user)
    assert 'id="confirm-incident"' in client.get(incident.get_portal_url()).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"region": region_a.pk})
    assert Incident.objects.get().status == Incident.Status.ACTIVE
    assert len(mail.outbox) == 3
    client.force_login(member_b.user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"region": region_a.pk})
    assert len(mail.outbox) == 3


def test_the_portal_home_shows_the_active_incident(client, network, member_b, incident):
    client.force_login(member_b.user)
    page = client.get(reverse("portal_home", args=[network.slug])).content.decode()
    assert incident.get_portal_url() in page


# --- the reply link and tracking --------------------------------------------------------------


def _link_for(person_) -> str:
    message = next(m for m in mail.outbox if person_.email in m.to[0])
    return LINK.search(message.body).group(1)


def test_the_reply_link_shows_the_form_and_records_only_on_post(client, member_b, world, incident):
    link = _link_for(member_b)
    page = client.get(link)
    assert page.status_code == 200
    assert "plating of 5,000 parts a week" in page.content.decode()
    reply = Reply.objects.get(participant=member_b)
    assert reply.answered_at is None
    plating = incident.requests.get(need=world.plating)
    response = client.post(
        link, {"can_help": "yes", "requests": [plating.pk], "hours": "24", "note": "call me"}
    )
    assert response.status_code == 200 and "reply-done" in response.content.decode()
    reply.refresh_from_db()
    assert reply.can_help and reply.hours == 24 and reply.answered_at
    plating.refresh_from_db()
    assert plating.status == HelpRequest.Status.MATCHED


def test_a_yes_without_what_or_when_is_sent_back(client, member_b, incident):
    link = _link_for(member_b)
    response = client.post(link, {"can_help": "yes"})
    assert response.status_code == 200 and "reply-form" in response.content.decode()
    assert Reply.objects.get(participant=member_b).answered_at is None


def test_a_forged_or_foreign_link_is_refused(client, member_b, world, incident):
    link = _link_for(member_b)
    other = Reply.objects.get(participant=world.b2)
    assert client.get(link[:-3] + "xx/").status_code == 404
    foreign = re.sub(r"/help/\d+/", f"/help/{other.pk}/", link)
    assert client.get(foreign).status_code == 404
    assert client.post(foreign, {"can_help": "no"}).status_code == 404
    assert Reply.objects.get(pk=other.pk).answered_at is None


def test_a_closed_incident_takes_no_more_answers(client, coordinator, member_b, incident):
    link = _link_for(member_b)
    services.incident_close(incident=incident, user=coordinator)
    response = client.post(link, {"can_help": "no"})
    assert response.status_code == 200 and "reply-form" not in response.content.decode()
    assert Reply.objects.get(participant=member_b).answered_at is None


def test_the_requesting_member_tracks_their_request_and_others_cannot(
    client, network, member_a, member_b, world, incident
):
    plating = incident.requests.get(need=world.plating)
    url = reverse("portal_continuity_request_action", args=[network.slug, incident.pk, plating.pk])
    client.force_login(member_b.user)
    assert client.post(url, {"action": "fulfil"}).status_code == 404
    client.force_login(member_a.user)
    page = client.get(incident.get_portal_url()).content.decode()
    assert url in page
    assert client.post(url, {"action": "fulfil"}).status_code == 302
    plating.refresh_from_db()
    assert plating.status == HelpRequest.Status.FULFILLED


def test_the_coordinator_starts_and_finishes_a_drill_from_its_page(
    client, network, region_a, coordinator, member_a, world, django_capture_on_commit_callbacks
):
    client.force_login(coordinator)
    response = client.post(
        reverse("continuity_drill_create", args=[network.slug]),
        {
            "title": "Spring drill",
            "region": region_a.pk,
            "starts_at": "2026-04-01T10:00",
            "ends_at": "2026-04-01T12:00",
            "organizations": [member_a.organization_id],
        },
    )
    drill = Incident.objects.get(kind="drill")
    assert response["Location"] == drill.get_absolute_url()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("continuity_incident_action", args=[network.slug, drill.pk, "start"]))
    assert len(mail.outbox) == 1  # E Logistics by the agreement; nobody else polishes
    client.post(reverse("continuity_incident_action", args=[network.slug, drill.pk, "close"]))
    drill.refresh_from_db()
    assert drill.status == Incident.Status.CLOSED
    assert "results" in client.get(drill.get_absolute_url()).content.decode()


def test_the_coordinator_records_an_agreement_from_the_form(
    client, network, coordinator, member_a, member_b
):
    client.force_login(coordinator)
    response = client.post(
        reverse("continuity_agreement_create", args=[network.slug]),
        {
            "organization_a": member_a.organization_id,
            "contact_a": member_a.pk,
            "organization_b": member_b.organization_id,
            "contact_b": member_b.pk,
            "status": "in_force",
            "signed_on": "2026-01-10",
            "review_on": "2027-01-10",
            "offers_a": "polishing",
        },
    )
    agreement = Agreement.objects.get()
    assert response["Location"] == agreement.get_absolute_url()
    assert agreement.tie.kind == "mutual_support_agreement"


# --- query counts -------------------------------------------------------------------------------


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def _grow(network, region_b, n: int) -> None:
    for i in range(n):
        org = factories.OrganizationFactory(network=network, region=region_b, name=f"Grow {i}")
        capability(org, "process", "plating", f"line {i}")
        Need.objects.create(network=network, organization=org, category="space", description="x")
        person(network, org, f"Grow Person {i}")


def test_the_list_pages_take_the_same_queries_whatever_the_size(
    client, network, region_a, region_b, coordinator, member_a, world, incident
):
    staff = [
        reverse("continuity_home", args=[network.slug]),
        reverse("continuity_agreements", args=[network.slug]),
        reverse("continuity_incident", args=[network.slug, incident.pk]),
    ]
    client.force_login(coordinator)
    before = [_count(client, url) for url in staff]
    client.force_login(member_a.user)
    portal = [
        reverse("portal_continuity", args=[network.slug]),
        incident.get_portal_url(),
    ]
    before_portal = [_count(client, url) for url in portal]
    _grow(network, region_b, 6)
    for reply in Reply.objects.filter(incident=incident):
        services.reply_answer(reply=reply, can_help=True, what="help", hours=24)
    client.force_login(coordinator)
    assert [_count(client, url) for url in staff] == before
    client.force_login(member_a.user)
    assert [_count(client, url) for url in portal] == before_portal
