"""Events in a real browser: answering from the e-mail link and from the portal, and
checking people in on a phone."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone

from coordination import selectors, services
from coordination.models import Invitation, Participant
from tests import factories
from tests.e2e.session import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

YES_LINK = re.compile(r"(http://\S+/rsvp/\d+/\S+/\?answer=yes)")


@pytest.fixture
def meeting(network, region_a, member_a, member_b, coordinator, settings, live_server):
    settings.SITE_URL = live_server.url
    settings.LANGUAGE_CODE = "ja"
    start = timezone.now() + dt.timedelta(days=14)
    event = services.event_save(
        network=network,
        data={
            "title": "Factory tour",
            "kind": "site_visit",
            "starts_at": start,
            "ends_at": start + dt.timedelta(hours=3),
            "venue": "A Works",
            "capacity": 10,
        },
    )
    services.event_invite(
        event=event,
        participant_ids=list(
            selectors.audience(event=event, everyone=True).values_list("pk", flat=True)
        ),
    )
    return event


def test_participant_answers_from_the_email_link_without_signing_in(page, meeting, member_a):
    message = next(m for m in mail.outbox if m.to == [member_a.email])
    assert any(a[0] == "invite.ics" for a in message.attachments)
    link = YES_LINK.search(message.body).group(1)
    page.goto(link)
    # Opening the link changed nothing; "yes" is pre-selected, waiting for a click.
    invitation = Invitation.objects.get(event=meeting, participant=member_a)
    assert invitation.answer == "pending"
    assert page.locator("input[name=answer][value=yes]").is_checked()
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    invitation.refresh_from_db()
    assert invitation.answer == "yes"


def test_participant_changes_the_answer_in_the_portal(page, client, meeting, member_b):
    log_in(page, client, member_b.user)
    page.goto(page.base + "/n/alpha/portal/")
    page.click("#upcoming-events a")
    page.click("input[name=answer][value=maybe] + label")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert Invitation.objects.get(event=meeting, participant=member_b).answer == "maybe"
    page.click("input[name=answer][value=no] + label")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert Invitation.objects.get(event=meeting, participant=member_b).answer == "no"


def test_coordinator_checks_people_in_on_a_phone(
    phone, client, meeting, coordinator, member_a, network
):
    services.invitation_answer(
        invitation_id=Invitation.objects.get(event=meeting, participant=member_a).pk, answer="yes"
    )
    walk_in = factories.ParticipantFactory(network=network, full_name="Late Comer")
    log_in(phone, client, coordinator)
    phone.goto(phone.base + f"/n/alpha/events/{meeting.pk}/check-in/")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    invitation = Invitation.objects.get(event=meeting, participant=member_a)
    phone.click(f"#i{invitation.pk} button")
    phone.wait_for_load_state()
    invitation.refresh_from_db()
    assert invitation.attended and invitation.checked_in_at is not None
    assert "1" in phone.locator("#checkin-count").inner_text()
    option = phone.locator("#walk-in select option", has_text="Late Comer")
    phone.select_option("#walk-in select", value=option.get_attribute("value"))
    phone.click("#walk-in button[type=submit]")
    phone.wait_for_load_state()
    assert Invitation.objects.get(event=meeting, participant=walk_in).attended
    assert Participant.objects.get(pk=walk_in.pk).invitations.get().walk_in
