"""Continuity mails through a real Celery worker on Redis and PostgreSQL: the
activation notices go out exactly once each, also when the sending task and the
reminder beat job run again.

Runs when REDIS_URL is set and the database is PostgreSQL (CI); skipped in the
embedded SQLite run, and failed rather than skipped if CI lacks either.
"""

from __future__ import annotations

import datetime as dt
import email
import time
from email.message import Message
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from django.utils import timezone

from continuity import services
from continuity.models import Agreement, AgreementReminder, Reply
from continuity.tasks import send_agreement_review_reminders
from coordination.models import NetworkRole
from coordination.tasks import deliver_bulletin, ping
from tests import factories

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
SEPARATOR = b"\n" + b"-" * 79 + b"\n"


def _messages(folder: Path) -> list[Message]:
    found = []
    for path in sorted(folder.iterdir()):
        for chunk in path.read_bytes().split(SEPARATOR):
            if chunk.strip():
                found.append(email.message_from_bytes(chunk))
    return found


def _settled(folder: Path, count: int, timeout: float = 30) -> list[Message]:
    """Wait for `count` mails, drain the queue behind them, and check no more came."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(_messages(folder)) < count:
        time.sleep(0.2)
    assert ping.delay("drained").get(timeout=30) == "pong:drained"
    time.sleep(0.5)
    messages = _messages(folder)
    assert len(messages) == count
    return messages


def _text(message: Message) -> str:
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/plain"]
    return part.get_payload(decode=True).decode()


def _user(email_address: str):
    user = factories.UserFactory(email=email_address)
    EmailAddress.objects.create(user=user, email=email_address, primary=True, verified=True)
    return user


def test_the_activation_mails_go_out_exactly_once_through_the_worker(worker):
    network = factories.NetworkFactory()
    hit = factories.RegionFactory(network=network, name="Tsubame")
    other = factories.RegionFactory(network=network, name="Uonuma")
    affected = factories.OrganizationFactory(network=network, region=hit)
    declarers = [
        factories.ParticipantFactory(
            network=network, organization=affected, user=_user(f"declarer{i}@example.com")
        )
        for i in range(3)
    ]
    services.need_save(
        organization=affected,
        data={
            "category": "process",
            "process": "plating",
            "description": "plating",
            "critical": True,
        },
    )
    partners = []
    for i in range(12):
        org = factories.OrganizationFactory(network=network, region=other)
        services.capability_save(
            organization=org,
            data={"category": "process", "process": "plating", "description": f"line {i}"},
        )
        partners.append(
            factories.ParticipantFactory(network=network, organization=org, preferred_language="en")
        )

    # Two distinct members activate; the third confirmation changes nothing.
    assert not services.incident_declare(
        network=network, region=hit, user=declarers[0].user
    ).activated
    result = services.incident_declare(network=network, region=hit, user=declarers[1].user)
    assert result.activated
    messages = _settled(worker, 12)
    assert sorted(m["To"].split("<")[-1].rstrip(">") for m in messages) == sorted(
        p.email for p in partners
    )
    # Each carries its own reply link.
    links = {_text(m).split("/help/")[1].split()[0] for m in messages}
    assert len(links) == 12
    services.incident_declare(network=network, region=hit, user=declarers[2].user)

    # The sending task again (a redelivery, the sweeper's fan-out): nothing more.
    bulletins = list(
        Reply.objects.filter(incident=result.incident).values_list("bulletin_id", flat=True)
    )
    for bulletin_id in bulletins:
        deliver_bulletin.delay(bulletin_id)
        deliver_bulletin.delay(bulletin_id)
    _settled(worker, 12)


def test_the_review_reminder_goes_once_through_the_worker(worker):
    network = factories.NetworkFactory()
    coordinator = _user("coordinator@example.com")
    NetworkRole.objects.create(network=network, user=coordinator, role=NetworkRole.Role.COORDINATOR)
    region_a = factories.RegionFactory(network=network)
    region_b = factories.RegionFactory(network=network)
    a = factories.ParticipantFactory(
        network=network,
        organization=factories.OrganizationFactory(network=network, region=region_a),
    )
    b = factories.ParticipantFactory(
        network=network,
        organization=factories.OrganizationFactory(network=network, region=region_b),
    )
    services.agreement_save(
        network=network,
        data={
            "organization_a": a.organization,
            "organization_b": b.organization,
            "contact_a": a,
            "contact_b": b,
            "status": Agreement.Status.IN_FORCE,
            "signed_on": dt.date(2025, 4, 1),
            "review_on": timezone.localdate() + dt.timedelta(days=2),
        },
    )
    send_agreement_review_reminders.delay()
    send_agreement_review_reminders.delay()
    (message,) = _settled(worker, 1)
    assert message["To"] == coordinator.email
    assert AgreementReminder.objects.get().sent_at is not None
