"""Answering an activation on a phone (390 px) from the e-mailed link, without
signing in; then the affected member sees the match on the status page."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from continuity import services
from continuity.models import HelpRequest, Reply
from tests.e2e.session import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LINK = re.compile(r"(http://\S+/help/\d+/\S+/)")


@pytest.fixture
def activation(network, region_a, region_b, member_a, member_b, coordinator, settings, live_server):
    settings.SITE_URL = live_server.url
    settings.LANGUAGE_CODE = "ja"
    services.need_save(
        organization=member_a.organization,
        data={
            "category": "process",
            "process": "plating",
            "description": "月5,000個のめっき",
            "critical": True,
        },
    )
    services.capability_save(
        organization=member_b.organization,
        data={"category": "process", "process": "plating", "description": "亜鉛めっきライン"},
    )
    return services.incident_declare(network=network, region=region_a, user=coordinator).incident


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_partner_answers_the_activation_on_a_phone(phone, client, activation, member_a, member_b):
    (message,) = [m for m in mail.outbox if member_b.email in m.to[0]]
    link = LINK.search(message.body).group(1)
    phone.goto(link)
    # Opening the link records nothing; the form fits the phone's width.
    reply = Reply.objects.get(incident=activation, participant=member_b)
    assert reply.answered_at is None
    assert _fits(phone)
    phone.click("label[for=id_can_help_0]")
    phone.check("input[name=requests]")
    phone.fill("input[name=what]", "熟練者2名も派遣できます")
    phone.click("label[for=id_hours_1]")  # within a day
    phone.click("#reply-form button[type=submit]")
    phone.wait_for_selector("#reply-done")
    assert _fits(phone)
    reply.refresh_from_db()
    assert (reply.can_help, reply.hours, reply.what) == (True, 24, "熟練者2名も派遣できます")
    request = HelpRequest.objects.get(incident=activation)
    assert request.status == HelpRequest.Status.MATCHED and request.matched_reply_id == reply.pk

    # The affected member follows it on the status page, on the phone too.
    log_in(phone, client, member_a.user)
    phone.goto(phone.base + activation.get_portal_url())
    assert _fits(phone)
    assert phone.locator("#requests .request-status").inner_text().strip() != ""
    assert member_b.organization.name in phone.locator("#requests").inner_text()
    phone.click("#requests button[value=fulfil]")
    phone.wait_for_load_state()
    request.refresh_from_db()
    assert request.status == HelpRequest.Status.FULFILLED
