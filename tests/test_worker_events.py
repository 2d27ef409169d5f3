"""The event mails through a real Celery worker on Redis: invitations, updates,
redelivered tasks and the reminder beat job, each mail exactly once.

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
from django.utils import timezone
from icalendar import Calendar

from coordination import services
from coordination.models import Event, Invitation, InvitationNotice
from coordination.tasks import ping, send_due_reminders, send_invitation_mail
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
# What Django's file backend writes after each message.
SEPARATOR = b"\n" + b"-" * 79 + b"\n"


def _messages(folder: Path) -> list[Message]:
    # One file per backend instance, but two instances may share a name (same second,
    # reused id) and append: count the messages, not the files.
    found = []
    for path in sorted(folder.iterdir()):
        for chunk in path.read_bytes().split(SEPARATOR):
            if chunk.strip():
                found.append(email.message_from_bytes(chunk))
    return found


def _wait_for_messages(folder: Path, count: int, timeout: float = 30) -> list[Message]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = _messages(folder)
        if len(messages) >= count:
            return messages
        time.sleep(0.2)
    raise AssertionError(f"expected {count} mails in {folder}, found {len(_messages(folder))}")


def _settled(folder: Path, count: int) -> list[Message]:
    """Wait for `count` mails, drain the queue behind them, and check no more came."""
    messages = _wait_for_messages(folder, count)
    assert ping.delay("drained").get(timeout=30) == "pong:drained"
    time.sleep(0.5)
    messages = _messages(folder)
    assert len(messages) == count
    return messages


def _subject(messages: list[Message], prefix: str) -> list[Message]:
    # File names sort by second, then by a random id: pick mails by kind, not position.
    return [m for m in messages if m["Subject"].startswith(prefix)]


def _calendar(message: Message) -> Calendar | None:
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    if not parts:
        return None
    assert len(parts) == 1
    return Calendar.from_ical(parts[0].get_payload(decode=True))


def test_the_event_mails_go_out_once_each_through_the_worker(worker):
    network = factories.NetworkFactory()
    region = factories.RegionFactory(network=network)
    people = [
        factories.ParticipantFactory(
            network=network,
            organization=factories.OrganizationFactory(network=network, region=region),
            preferred_language="en",
        )
        for _ in range(20)
    ]
    starts = (timezone.now() + dt.timedelta(days=6)).replace(second=0, microsecond=0)
    event = services.event_save(
        network=network,
        data={
            "title": "Worker visit",
            "starts_at": starts,
            "ends_at": starts + dt.timedelta(hours=2),
            "venue": "Hall 1",
            "reminder_days": [7],
        },
    )

    # Invitations: one each, with the calendar entry.
    services.event_invite(event=event, participant_ids=[p.pk for p in people])
    invitations = _subject(_settled(worker, 20), "Invitation: Worker visit")
    assert sorted(m["To"] for m in invitations) == sorted(p.email for p in people)
    for message in invitations:
        calendar = _calendar(message)
        assert calendar is not None and calendar["METHOD"] == "REQUEST"
        (vevent,) = calendar.walk("VEVENT")
        assert (str(vevent["UID"]), vevent["SEQUENCE"]) == (event.uid, 0)
        (text,) = [p for p in message.walk() if p.get_content_type() == "text/plain"]
        assert text.get_payload(decode=True).decode().count("http://hubless.test/rsvp/") == 3

    # A new venue: one update each, the same calendar entry at revision 1.
    services.event_save(
        network=network, event=Event.objects.get(pk=event.pk), data={"venue": "Hall 2"}
    )
    updates = _subject(_settled(worker, 40), "Changed: Worker visit")
    assert sorted(m["To"] for m in updates) == sorted(p.email for p in people)
    for message in updates:
        (vevent,) = _calendar(message).walk("VEVENT")
        assert (str(vevent["UID"]), vevent["SEQUENCE"]) == (event.uid, 1)
        assert str(vevent["LOCATION"]).startswith("Hall 2")
    assert set(Invitation.objects.values_list("mailed_sequence", flat=True)) == {1}

    # The broker delivers a task again: the claim lets nothing through.
    first = Invitation.objects.get(event=event, participant=people[0])
    assert send_invitation_mail.delay(first.pk, 1).get(timeout=30) is False
    assert send_invitation_mail.delay(first.pk, 0).get(timeout=30) is False
    _settled(worker, 40)

    # The 7-day reminder is due for people invited before its time; beat enqueues the
    # job twice (two schedulers, or a late run): each reminder goes once.
    Invitation.objects.filter(event=event).update(created_at=timezone.now() - dt.timedelta(days=2))
    runs = [send_due_reminders.apply_async(expires=14 * 60) for _ in range(2)]
    assert [run.get(timeout=30) for run in runs] == [20, 20]
    reminders = _subject(_settled(worker, 60), "Reminder: Worker visit")
    assert sorted(m["To"] for m in reminders) == sorted(p.email for p in people)
    for message in reminders:
        assert message["Subject"] == "Reminder: Worker visit"
        assert _calendar(message) is None
    notices = InvitationNotice.objects.filter(invitation__event=event)
    assert notices.count() == 20
    assert not notices.filter(sent_at__isnull=True).exists()
    assert all(k == "remind:7d" for k in notices.values_list("key", flat=True))
