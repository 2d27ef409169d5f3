"""The observation log in a real browser: a quick note on a phone during a meeting."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from coordination import services as coordination_services
from observations.models import Observation
from tests.e2e.session import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def meeting_now(network, region_a, member_a, member_b, coordinator, settings):
    settings.LANGUAGE_CODE = "ja"
    start = timezone.now() - dt.timedelta(minutes=30)
    event = coordination_services.event_save(
        network=network,
        data={
            "title": "Exchange meeting",
            "kind": "meeting",
            "starts_at": start,
            "ends_at": start + dt.timedelta(hours=2),
            "region": region_a,
            "venue": "Tsubame hall",
        },
    )
    coordination_services.event_invite(event=event, participant_ids=[member_a.pk, member_b.pk])
    return event


def test_a_researcher_writes_two_quick_notes_on_a_phone(
    phone, client, meeting_now, identified_researcher, member_a, member_b
):
    log_in(phone, client, identified_researcher)
    phone.goto(phone.base + "/n/alpha/observations/quick/")
    # Nothing sticks out sideways on a 390 px screen.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    # The meeting going on is chosen, and its invitees are offered as subjects.
    assert phone.locator("#id_event").input_value() == str(meeting_now.pk)
    phone.fill("#id_body", "Member B asked about plating; the room got lively.")
    phone.locator("label:has(input[value=mutual_learning])").click()
    phone.locator("label:has(input[name=rating][value='4'])").click()
    phone.locator("#quick-form label", has_text="Member B").click()
    phone.click("#quick-form button[type=submit]")
    phone.wait_for_load_state()
    assert phone.locator(".alert-success").count() == 1
    saved = Observation.objects.get()
    assert saved.category == "mutual_learning" and saved.rating == 4
    assert saved.event == meeting_now and list(saved.participants.all()) == [member_b]
    assert saved.title.startswith("Member B asked about plating")
    # The form is empty again, still on the same meeting, and lists the note.
    assert phone.locator("#id_body").input_value() == ""
    assert phone.locator("#id_event").input_value() == str(meeting_now.pk)
    assert "Member B asked" in phone.locator("#recent-notes").inner_text()
    # An empty note is refused with the reason, and nothing is saved.
    phone.click("#quick-form button[type=submit]")
    phone.wait_for_load_state()
    assert Observation.objects.count() == 1
    assert phone.locator(".invalid-feedback").count() >= 1
