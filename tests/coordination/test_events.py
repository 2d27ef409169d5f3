"""The event machinery without its pages: scheduling, invitations and their e-mails with
calendar entries, answer links, the waiting list, reminders and attendance.

Runs on SQLite and PostgreSQL; the concurrency tests need PostgreSQL's row locks."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable

import pytest
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone, translation
from django.utils.formats import date_format
from icalendar import Calendar

from coordination import selectors, services, tasks
from coordination.forms_events import EventForm
from coordination.models import (
    Event,
    Invitation,
    InvitationNotice,
    Network,
    OrganizationKind,
    Participant,
    Region,
    RsvpToken,
)
from coordination.services import EventError, TokenRefused
from tests import factories

YES, MAYBE, NO, PENDING = "yes", "maybe", "no", "pending"
LINK = re.compile(r"https?://[^\s\"<>]+/rsvp/(\d+)/([A-Za-z0-9_-]+)/\?answer=(yes|maybe|no)")


# --- helpers ----------------------------------------------------------------------------


def _start(days: float) -> dt.datetime:
    # Whole minutes, as the event form sends them; the .ics keeps seconds only.
    return (timezone.now() + dt.timedelta(days=days)).replace(second=0, microsecond=0)


def _event(network: Network, *, days: float = 10, hours: float = 2, **extra) -> Event:
    starts = _start(days)
    data = {
        "title": "Factory visit",
        "starts_at": starts,
        "ends_at": starts + dt.timedelta(hours=hours),
        "venue": "Hall 1",
        "address": "1-2-3 Tsubame",
        **extra,
    }
    return services.event_save(network=network, data=data)


def _person(
    network: Network,
    *,
    region: Region | None = None,
    kind: str = OrganizationKind.FIRM,
    language: str = "en",
    **extra,
) -> Participant:
    organization = factories.OrganizationFactory(
        network=network,
        region=region or factories.RegionFactory(network=network),
        kind=kind,
    )
    return factories.ParticipantFactory(
        network=network, organization=organization, preferred_language=language, **extra
    )


def _people(network: Network, n: int, **extra) -> list[Participant]:
    region = factories.RegionFactory(network=network)
    return [_person(network, region=region, **extra) for _ in range(n)]


def _invite(event: Event, people: Iterable[Participant], capture) -> int:
    with capture(execute=True):
        return services.event_invite(event=event, participant_ids=[p.pk for p in people])


def _invitation(event: Event, person: Participant) -> Invitation:
    return Invitation.objects.get(event=event, participant=person)


def _answer(event: Event, person: Participant, answer: str, capture, **kwargs):
    with capture(execute=True):
        return services.invitation_answer(
            invitation_id=_invitation(event, person).pk, answer=answer, **kwargs
        )


def _to(outbox, person: Participant) -> list:
    return [m for m in outbox if m.to == [person.email]]


def _ics_attachment(message):
    found = [a for a in message.attachments if a[0].endswith(".ics")]
    assert len(found) == 1, f"expected one .ics in {message.subject!r}"
    return found[0]


def _calendar(message) -> Calendar:
    content = _ics_attachment(message)[1]
    return Calendar.from_ical(content if isinstance(content, bytes) else content.encode())


def _vevent(message):
    (vevent,) = _calendar(message).walk("VEVENT")
    return vevent


def _links(message) -> dict[str, tuple[int, str]]:
    return {answer: (int(pk), token) for pk, token, answer in LINK.findall(message.body)}


def _confirmed(event: Event) -> list[int]:
    return list(
        event.invitations.filter(answer=YES, waitlisted_at__isnull=True).values_list(
            "participant_id", flat=True
        )
    )


def _waitlist(event: Event) -> list[int]:
    return list(
        event.invitations.filter(waitlisted_at__isnull=False)
        .order_by("waitlisted_at", "pk")
        .values_list("participant_id", flat=True)
    )


# --- scheduling ---------------------------------------------------------------------------


def test_an_event_must_end_after_it_starts(network):
    starts = _start(5)
    with pytest.raises(ValidationError):
        services.event_save(
            network=network, data={"title": "Backwards", "starts_at": starts, "ends_at": starts}
        )
    assert not Event.objects.exists()


def test_an_event_needs_at_least_one_seat_when_it_has_a_capacity(network):
    with pytest.raises(ValidationError):
        _event(network, capacity=0)
    assert not Event.objects.exists()
    assert _event(network, capacity=1).capacity == 1


def test_a_new_event_is_a_draft_without_invitations(network):
    event = _event(network, reminder_days=[1, 7, 7])
    assert event.status == Event.Status.DRAFT
    assert event.sequence == 0
    assert event.reminder_days == [7, 1]
    assert not event.invitations.exists()


def test_inviting_creates_one_invitation_each_and_schedules_the_draft(
    network, django_capture_on_commit_callbacks
):
    event = _event(network)
    people = _people(network, 3)
    assert _invite(event, people, django_capture_on_commit_callbacks) == 3
    event.refresh_from_db()
    assert event.status == Event.Status.SCHEDULED
    assert sorted(event.invitations.values_list("participant_id", flat=True)) == sorted(
        p.pk for p in people
    )
    # The same people again, plus one new: only the new one is invited.
    newcomer = _person(network)
    assert _invite(event, [*people, newcomer], django_capture_on_commit_callbacks) == 1
    assert event.invitations.count() == 4


def test_only_participants_of_the_events_network_are_invited(
    network, other_network, django_capture_on_commit_callbacks
):
    event = _event(network)
    ours, theirs = _person(network), _person(other_network)
    assert _invite(event, [ours, theirs], django_capture_on_commit_callbacks) == 1
    assert list(event.invitations.values_list("participant_id", flat=True)) == [ours.pk]


@pytest.mark.parametrize(
    "status", [Event.Status.PROPOSED, Event.Status.CANCELLED, Event.Status.HELD]
)
def test_invitations_are_refused_for_proposed_cancelled_and_held_events(
    network, status, django_capture_on_commit_callbacks, mailoutbox
):
    event = _event(network, status=status)
    with pytest.raises(EventError):
        _invite(event, [_person(network)], django_capture_on_commit_callbacks)
    assert not Invitation.objects.exists()
    assert Event.objects.get(pk=event.pk).status == status
    assert mailoutbox == []


# --- the audience -----------------------------------------------------------------------------


@pytest.fixture
def crowd(network, other_network, region_a, region_b):
    """Three active participants, three who are not active on the event's day, one other."""
    event = _event(network, days=10)
    day = timezone.localtime(event.starts_at).date()
    return {
        "event": event,
        "a_firm": _person(network, region=region_a, kind=OrganizationKind.FIRM),
        "b_university": _person(network, region=region_b, kind=OrganizationKind.UNIVERSITY),
        "b_firm": _person(network, region=region_b, kind=OrganizationKind.FIRM),
        "left_before": _person(network, region=region_a, left_on=day - dt.timedelta(days=1)),
        "left_that_day": _person(network, region=region_a, left_on=day),
        "joins_after": _person(network, region=region_a, joined_on=day + dt.timedelta(days=1)),
        "elsewhere": _person(other_network),
    }


def _names(crowd: dict, qs) -> set[str]:
    by_pk = {p.pk: name for name, p in crowd.items() if isinstance(p, Participant)}
    return {by_pk[p.pk] for p in qs}


def test_the_audience_of_the_whole_network_is_who_is_active_on_the_day(crowd):
    got = selectors.audience(event=crowd["event"], everyone=True)
    assert _names(crowd, got) == {"a_firm", "b_university", "b_firm"}


def test_the_audience_by_region(crowd, region_a, region_b):
    assert _names(crowd, selectors.audience(event=crowd["event"], regions=[region_a.pk])) == {
        "a_firm"
    }
    assert _names(crowd, selectors.audience(event=crowd["event"], regions=[region_b.pk])) == {
        "b_university",
        "b_firm",
    }


def test_the_audience_by_organization_kind(crowd):
    got = selectors.audience(event=crowd["event"], kinds=[OrganizationKind.UNIVERSITY])
    assert _names(crowd, got) == {"b_university"}


def test_the_audience_by_individuals_skips_the_inactive_and_other_networks(crowd):
    ids = [crowd[k].pk for k in ("b_firm", "left_before", "joins_after", "elsewhere")]
    got = selectors.audience(event=crowd["event"], participant_ids=ids)
    assert _names(crowd, got) == {"b_firm"}


def test_the_audience_is_the_union_of_the_choices(crowd, region_a):
    got = selectors.audience(
        event=crowd["event"],
        regions=[region_a.pk],
        kinds=[OrganizationKind.UNIVERSITY],
        participant_ids=[crowd["b_firm"].pk],
    )
    assert _names(crowd, got) == {"a_firm", "b_university", "b_firm"}
    assert list(selectors.audience(event=crowd["event"])) == []


def test_the_audience_is_one_query(crowd, region_a, django_assert_num_queries):
    with django_assert_num_queries(1):
        people = list(selectors.audience(event=crowd["event"], regions=[region_a.pk]))
        assert [p.organization.region.name for p in people] == [region_a.name]


# --- mails ------------------------------------------------------------------------------


def test_each_invitee_gets_one_invitation_in_their_language_with_the_calendar_entry(
    network, django_capture_on_commit_callbacks, mailoutbox
):
    event = _event(network)
    english = _person(network, language="en", full_name="Ann Smith")
    japanese = _person(network, language="ja", full_name="山田 花子")
    _invite(event, [english, japanese], django_capture_on_commit_callbacks)

    assert len(mailoutbox) == 2
    (en_mail,) = _to(mailoutbox, english)
    (ja_mail,) = _to(mailoutbox, japanese)
    assert "Dear Ann Smith," in en_mail.body
    assert en_mail.subject == f"Invitation: Factory visit ({network.name})"
    assert "山田 花子 様" in ja_mail.body
    assert "年" in ja_mail.body and "年" not in en_mail.body  # 2026年12月3日
    for person, mail in ((english, en_mail), (japanese, ja_mail)):
        invitation = _invitation(event, person)
        # multipart: the text body and an HTML alternative
        assert mail.body.strip()
        assert [a[1] for a in mail.alternatives] == ["text/html"]
        assert "Factory visit" in mail.alternatives[0][0]
        # the calendar entry, as a file and as the MIME part a mail client sees
        name, _content, mimetype = _ics_attachment(mail)
        assert name == "invite.ics"
        assert mimetype.startswith("text/calendar; method=REQUEST")
        parts = [p for p in mail.message().walk() if p.get_content_type() == "text/calendar"]
        assert len(parts) == 1
        assert parts[0].get_param("method") == "REQUEST"
        params = [key for key, _value in parts[0].get_params()]
        assert len(params) == len(set(params)), parts[0]["Content-Type"]
        # three answer links, one secret, this person's invitation
        links = _links(mail)
        assert set(links) == {YES, MAYBE, NO}
        assert len(set(links.values())) == 1
        pk, token = links[YES]
        assert pk == invitation.pk
        assert services.rsvp_token_resolve(invitation_id=pk, raw=token) == invitation
        for answer in (YES, MAYBE, NO):
            assert f"{token}/?answer={answer}" in mail.alternatives[0][0]
        # the entry parses back
        calendar = _calendar(mail)
        assert calendar["METHOD"] == "REQUEST"
        (vevent,) = calendar.walk("VEVENT")
        assert str(vevent["UID"]) == event.uid
        assert vevent["SEQUENCE"] == 0
        assert vevent.decoded("DTSTART") == event.starts_at
        assert vevent.decoded("DTEND") == event.ends_at
        assert str(vevent["ATTENDEE"]) == f"mailto:{person.email}"
        assert vevent["ATTENDEE"].params["PARTSTAT"] == "NEEDS-ACTION"
        assert str(vevent["STATUS"]) == "CONFIRMED"
        assert "Hall 1" in str(vevent["LOCATION"])
        # RFC 5545: every TZID used has its VTIMEZONE
        tzid = vevent["DTSTART"].params["TZID"]
        assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == [tzid]
        invitation.refresh_from_db()
        assert invitation.mailed_sequence == 0 and invitation.mailed_at is not None


def test_plain_text_mails_are_not_html_escaped(
    network, django_capture_on_commit_callbacks, mailoutbox
):
    event = _event(network, title="R&D day", description="Bring your 'best' <samples> & ideas")
    person = _person(network, full_name="Ann O'Neil")
    _invite(event, [person], django_capture_on_commit_callbacks)
    (mail,) = mailoutbox
    assert mail.subject == f"Invitation: R&D day ({network.name})"
    assert "Dear Ann O'Neil," in mail.body
    assert "Bring your 'best' <samples> & ideas" in mail.body
    assert "&amp;" not in mail.body and "&#x27;" not in mail.body
    # The HTML part stays escaped.
    assert "R&amp;D day" in mail.alternatives[0][0]


def test_a_multi_day_event_shows_its_end_date(
    network, django_capture_on_commit_callbacks, mailoutbox
):
    event = _event(network, hours=49)
    _invite(event, [_person(network)], django_capture_on_commit_callbacks)
    (mail,) = mailoutbox
    when = next(line for line in mail.body.splitlines() if line.startswith("When:"))
    with translation.override("en"):
        end = date_format(timezone.localtime(event.ends_at), "DATETIME_FORMAT")
    assert when.endswith(f"– {end}")


@pytest.fixture
def invited(network, django_capture_on_commit_callbacks, mailoutbox):
    """A scheduled event, three invitees who had their invitation, an empty outbox."""
    event = _event(network)
    people = _people(network, 3)
    _invite(event, people, django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 3
    first_uid = {str(_vevent(m)["UID"]) for m in mailoutbox}
    assert first_uid == {event.uid}
    mailoutbox.clear()
    return Event.objects.get(pk=event.pk), people


@pytest.mark.parametrize(
    "change",
    [
        {"venue": "Hall 2"},
        {"address": "4-5-6 Sanjo"},
        {"online_url": "https://meet.example.com/x"},
        {"title": "Factory visit (new title)"},
        "time",
    ],
)
def test_moving_a_scheduled_event_sends_one_update_each_with_the_same_uid(
    invited, change, django_capture_on_commit_callbacks, mailoutbox
):
    event, people = invited
    if change == "time":
        change = {
            "starts_at": event.starts_at + dt.timedelta(hours=1),
            "ends_at": event.ends_at + dt.timedelta(hours=1),
        }
    with django_capture_on_commit_callbacks(execute=True):
        services.event_save(network=event.network, event=event, data=change)
    event.refresh_from_db()
    assert event.sequence == 1
    assert sorted(m.to[0] for m in mailoutbox) == sorted(p.email for p in people)
    for mail in mailoutbox:
        assert mail.subject.startswith("Changed:")
        calendar = _calendar(mail)
        assert calendar["METHOD"] == "REQUEST"
        vevent = _vevent(mail)
        assert str(vevent["UID"]) == event.uid
        assert vevent["SEQUENCE"] == 1
        assert vevent.decoded("DTSTART") == event.starts_at
        assert set(_links(mail)) == {YES, MAYBE, NO}
    assert set(event.invitations.values_list("mailed_sequence", flat=True)) == {1}


def test_editing_through_the_event_form_still_sends_the_update(
    invited, django_capture_on_commit_callbacks, mailoutbox
):
    """The staff view passes the form's own instance, already changed by is_valid()."""
    event, people = invited
    local = timezone.localtime
    form = EventForm(
        data={
            "kind": event.kind,
            "title": event.title,
            "description": event.description,
            "starts_at": f"{local(event.starts_at):%Y-%m-%dT%H:%M}",
            "ends_at": f"{local(event.ends_at):%Y-%m-%dT%H:%M}",
            "venue": "Hall 9",
            "address": event.address,
            "reminder_days": "7, 1",
            "show_attendees": "on",
        },
        instance=event,
        network=event.network,
    )
    assert form.is_valid(), form.errors
    with django_capture_on_commit_callbacks(execute=True):
        saved = services.event_save(network=event.network, event=event, data=form.cleaned_data)
    assert saved.sequence == 1
    assert len(mailoutbox) == len(people)
    assert {str(_vevent(m)["LOCATION"]).split(" / ")[0] for m in mailoutbox} == {"Hall 9"}


def test_a_stale_instance_does_not_undo_the_schedule(network, django_capture_on_commit_callbacks):
    event = _event(network)
    stale = Event.objects.get(pk=event.pk)  # loaded while still a draft
    _invite(event, [_person(network)], django_capture_on_commit_callbacks)
    services.event_save(network=network, event=stale, data={"description": "More text"})
    assert Event.objects.get(pk=event.pk).status == Event.Status.SCHEDULED


def test_changing_only_the_description_sends_nothing(
    invited, django_capture_on_commit_callbacks, mailoutbox
):
    event = invited[0]
    with django_capture_on_commit_callbacks(execute=True):
        services.event_save(
            network=event.network,
            event=event,
            data={"description": "Please bring **samples**.", "capacity": None},
        )
    event.refresh_from_db()
    assert event.sequence == 0
    assert mailoutbox == []


def test_moving_a_draft_sends_nothing(network, django_capture_on_commit_callbacks, mailoutbox):
    event = _event(network)
    with django_capture_on_commit_callbacks(execute=True):
        services.event_save(network=network, event=event, data={"venue": "Elsewhere"})
    event.refresh_from_db()
    assert event.sequence == 0
    assert mailoutbox == []


def test_cancelling_removes_the_entry_only_for_people_already_mailed(
    invited, django_capture_on_commit_callbacks, mailoutbox
):
    event, people = invited
    with django_capture_on_commit_callbacks(execute=True):
        services.event_save(network=event.network, event=event, data={"venue": "Hall 2"})
    assert len(mailoutbox) == 3
    mailoutbox.clear()
    # Invited, but the mail never went out (the on-commit job did not run).
    unmailed = _person(event.network)
    services.event_invite(event=event, participant_ids=[unmailed.pk])
    assert _invitation(event, unmailed).mailed_sequence is None

    with django_capture_on_commit_callbacks(execute=True):
        services.event_cancel(event=event)
    event.refresh_from_db()
    assert event.status == Event.Status.CANCELLED
    assert event.sequence == 2
    assert sorted(m.to[0] for m in mailoutbox) == sorted(p.email for p in people)
    for mail in mailoutbox:
        assert mail.subject.startswith("Cancelled:")
        assert _ics_attachment(mail)[2].startswith("text/calendar; method=CANCEL")
        calendar = _calendar(mail)
        assert calendar["METHOD"] == "CANCEL"
        vevent = _vevent(mail)
        assert str(vevent["STATUS"]) == "CANCELLED"
        assert str(vevent["UID"]) == event.uid
        assert vevent["SEQUENCE"] == 2
        assert _links(mail) == {}  # nothing left to answer
    assert _to(mailoutbox, unmailed) == []
    # Cancelling twice is refused and sends nothing.
    mailoutbox.clear()
    with pytest.raises(EventError), django_capture_on_commit_callbacks(execute=True):
        services.event_cancel(event=event)
    assert mailoutbox == []


def test_running_the_mail_tasks_again_sends_nothing_more(invited, mailoutbox):
    event, people = invited
    assert tasks.send_event_mail(event.pk) == 0
    invitation = _invitation(event, people[0])
    assert tasks.send_invitation_mail(invitation.pk, event.sequence) is False
    # A task for an old revision, delivered late, sends nothing either.
    event = services.event_save(network=event.network, event=event, data={"venue": "Hall 2"})
    assert tasks.send_invitation_mail(invitation.pk, 0) is False
    invitation.refresh_from_db()
    assert invitation.mailed_sequence == 0
    assert mailoutbox == []
    # The current revision goes once.
    assert tasks.send_invitation_mail(invitation.pk, 1) is True
    assert tasks.send_invitation_mail(invitation.pk, 1) is False
    assert tasks.send_event_mail(event.pk) == 2  # the two others still wait for theirs
    assert tasks.send_event_mail(event.pk) == 0
    assert Counter(m.to[0] for m in mailoutbox) == Counter(p.email for p in people)


def test_a_failed_send_gives_the_claim_back(invited, monkeypatch, mailoutbox):
    event, people = invited
    event = services.event_save(network=event.network, event=event, data={"venue": "Hall 2"})
    invitation = _invitation(event, people[0])

    def broken(*args, **kwargs):
        raise ConnectionError("smtp down")

    monkeypatch.setattr("coordination.event_mail.EmailMultiAlternatives.send", broken)
    with pytest.raises(ConnectionError):
        tasks.send_invitation_mail.apply(args=(invitation.pk, 1), throw=True, retries=5)
    invitation.refresh_from_db()
    assert invitation.mailed_sequence == 0  # the retry may send it
    monkeypatch.undo()
    assert tasks.send_invitation_mail(invitation.pk, 1) is True
    assert len(mailoutbox) == 1


# --- answer links --------------------------------------------------------------------------


def test_a_forged_token_is_unknown(invited):
    event, people = invited
    invitation = _invitation(event, people[0])
    with pytest.raises(TokenRefused) as refused:
        services.rsvp_token_resolve(invitation_id=invitation.pk, raw="forged-token")
    assert refused.value.reason == "unknown"


def test_another_invitations_token_is_unknown(invited):
    event, people = invited
    mine, theirs = (_invitation(event, p) for p in people[:2])
    token = services.rsvp_token_issue(invitation=theirs)
    assert services.rsvp_token_resolve(invitation_id=theirs.pk, raw=token) == theirs
    with pytest.raises(TokenRefused) as refused:
        services.rsvp_token_resolve(invitation_id=mine.pk, raw=token)
    assert refused.value.reason == "unknown"


def test_tokens_are_revoked_by_cancellation(invited):
    event, people = invited
    invitation = _invitation(event, people[0])
    token = services.rsvp_token_issue(invitation=invitation)
    services.event_cancel(event=event)
    with pytest.raises(TokenRefused) as refused:
        services.rsvp_token_resolve(invitation_id=invitation.pk, raw=token)
    assert refused.value.reason == "revoked"


def test_tokens_expire_at_the_end_of_the_event_and_follow_its_moves(invited):
    event, people = invited
    invitation = _invitation(event, people[0])
    token = services.rsvp_token_issue(invitation=invitation)
    assert services.rsvp_token_resolve(
        invitation_id=invitation.pk, raw=token, now=event.ends_at - dt.timedelta(minutes=1)
    )
    with pytest.raises(TokenRefused) as refused:
        services.rsvp_token_resolve(invitation_id=invitation.pk, raw=token, now=event.ends_at)
    assert refused.value.reason == "expired"
    later = event.ends_at + dt.timedelta(days=1)
    services.event_save(
        network=event.network,
        event=event,
        data={"starts_at": event.starts_at + dt.timedelta(days=1), "ends_at": later},
    )
    assert services.rsvp_token_resolve(
        invitation_id=invitation.pk, raw=token, now=later - dt.timedelta(minutes=1)
    )


def _every_stored_value() -> str:
    values = []
    for model in apps.get_models():
        for row in model._base_manager.values_list():
            values.extend(str(v) for v in row)
    return "\n".join(values)


def test_only_the_sha256_of_a_token_is_stored(invited, mailoutbox):
    event, people = invited
    invitation = _invitation(event, people[0])
    raw = services.rsvp_token_issue(invitation=invitation)
    import hashlib

    stored = RsvpToken.objects.get(digest=hashlib.sha256(raw.encode()).hexdigest())
    assert stored.invitation == invitation
    assert raw not in _every_stored_value()
    # Nor do the secrets of the links that were e-mailed.
    event = services.event_save(network=event.network, event=event, data={"venue": "Hall 2"})
    tasks.send_invitation_mail(invitation.pk, event.sequence)
    (mail,) = mailoutbox
    _pk, mailed = _links(mail)[YES]
    assert mailed not in _every_stored_value()
    assert services.rsvp_token_resolve(invitation_id=invitation.pk, raw=mailed) == invitation


# --- answers and the waiting list -------------------------------------------------------------


@pytest.fixture
def full_event(network, django_capture_on_commit_callbacks, mailoutbox):
    """Capacity 2, four invitees who answered yes in order: two in, two waiting."""
    event = _event(network, capacity=2)
    people = _people(network, 4)
    _invite(event, people, django_capture_on_commit_callbacks)
    results = []
    for i, person in enumerate(people):
        results.append(
            _answer(
                event,
                person,
                YES,
                django_capture_on_commit_callbacks,
                now=timezone.now() + dt.timedelta(seconds=i),
            )
        )
    assert [r.waitlisted for r in results] == [False, False, True, True]
    mailoutbox.clear()
    return Event.objects.get(pk=event.pk), people


def test_yes_answers_beyond_capacity_wait_in_answer_order(full_event):
    event, people = full_event
    assert sorted(_confirmed(event)) == sorted(p.pk for p in people[:2])
    assert _waitlist(event) == [people[2].pk, people[3].pk]
    summary = selectors.event_answer_summary(event=event)
    assert summary["totals"]["yes"] == 2
    assert summary["totals"]["waitlisted"] == 2
    assert summary["totals"]["invited"] == 4


def test_a_confirmed_no_promotes_the_first_waiting(
    full_event, django_capture_on_commit_callbacks, mailoutbox
):
    event, people = full_event
    result = _answer(event, people[0], NO, django_capture_on_commit_callbacks)
    assert result.changed and not result.waitlisted
    assert result.promoted == [_invitation(event, people[2]).pk]
    assert sorted(_confirmed(event)) == sorted([people[1].pk, people[2].pk])
    assert _waitlist(event) == [people[3].pk]
    (mail,) = mailoutbox
    assert mail.to == [people[2].email]
    assert mail.subject.startswith("A place is free for you:")
    assert _calendar(mail)["METHOD"] == "REQUEST"
    assert str(_vevent(mail)["UID"]) == event.uid
    assert _vevent(mail)["ATTENDEE"].params["PARTSTAT"] == "ACCEPTED"
    assert _links(mail)[NO][0] == _invitation(event, people[2]).pk
    # The promotion mail goes once, however often its task runs.
    assert tasks.send_promotion_mail(_invitation(event, people[2]).pk) is False
    assert len(mailoutbox) == 1


def test_a_waiting_no_just_leaves_the_list(
    full_event, django_capture_on_commit_callbacks, mailoutbox
):
    event, people = full_event
    result = _answer(event, people[2], NO, django_capture_on_commit_callbacks)
    assert result.changed and result.promoted == []
    assert sorted(_confirmed(event)) == sorted(p.pk for p in people[:2])
    assert _waitlist(event) == [people[3].pk]
    assert _invitation(event, people[2]).waitlisted_at is None
    assert mailoutbox == []


def test_a_confirmed_maybe_also_frees_the_seat(
    full_event, django_capture_on_commit_callbacks, mailoutbox
):
    event, people = full_event
    result = _answer(event, people[1], MAYBE, django_capture_on_commit_callbacks)
    assert result.promoted == [_invitation(event, people[2]).pk]
    assert [m.to for m in mailoutbox] == [[people[2].email]]


def test_raising_the_capacity_promotes_the_waiting(
    full_event, django_capture_on_commit_callbacks, mailoutbox
):
    event, people = full_event
    with django_capture_on_commit_callbacks(execute=True):
        services.event_save(network=event.network, event=event, data={"capacity": 3})
    assert sorted(_confirmed(event)) == sorted(p.pk for p in people[:3])
    assert _waitlist(event) == [people[3].pk]
    assert [m.to for m in mailoutbox] == [[people[2].email]]
    with django_capture_on_commit_callbacks(execute=True):
        services.event_save(network=event.network, event=event, data={"capacity": None})
    assert _waitlist(event) == []
    assert [m.to for m in mailoutbox] == [[people[2].email], [people[3].email]]
    assert Event.objects.get(pk=event.pk).sequence == 0  # no calendar change


def test_answers_after_the_deadline_are_refused_and_change_nothing(
    network, django_capture_on_commit_callbacks
):
    deadline = _start(2)
    event = _event(network, days=5, rsvp_deadline=deadline)
    person = _person(network)
    _invite(event, [person], django_capture_on_commit_callbacks)
    _answer(event, person, MAYBE, django_capture_on_commit_callbacks, now=deadline)
    with pytest.raises(EventError):
        _answer(
            event,
            person,
            YES,
            django_capture_on_commit_callbacks,
            now=deadline + dt.timedelta(seconds=1),
        )
    invitation = _invitation(event, person)
    assert invitation.answer == MAYBE
    assert invitation.answered_at == deadline


def test_answers_to_a_cancelled_event_are_refused(invited, django_capture_on_commit_callbacks):
    event, people = invited
    services.event_cancel(event=event)
    with pytest.raises(EventError):
        _answer(event, people[0], YES, django_capture_on_commit_callbacks)
    assert _invitation(event, people[0]).answer == PENDING


def test_the_same_answer_twice_changes_nothing(
    full_event, django_capture_on_commit_callbacks, mailoutbox
):
    event, people = full_event
    before = _invitation(event, people[3])
    result = _answer(event, people[3], YES, django_capture_on_commit_callbacks)
    assert not result.changed and result.waitlisted and result.promoted == []
    after = _invitation(event, people[3])
    assert (after.answered_at, after.waitlisted_at) == (before.answered_at, before.waitlisted_at)
    assert _waitlist(event) == [people[2].pk, people[3].pk]
    assert mailoutbox == []


def test_an_answer_that_is_not_yes_no_or_maybe_is_refused(invited):
    event, people = invited
    with pytest.raises(EventError):
        services.invitation_answer(invitation_id=_invitation(event, people[0]).pk, answer="x")


# --- concurrency (PostgreSQL) ---------------------------------------------------------------

needs_row_locks = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite has one writer and ignores SELECT ... FOR UPDATE: "
    "concurrent answers need PostgreSQL",
)


def _all_at_once(invitation_ids: list[int], answer: str, event: Event) -> tuple[list, int]:
    """Answer from one thread per invitation, all released together; meanwhile a
    watcher keeps counting the confirmed seats. Returns the errors and the most seen."""
    barrier = threading.Barrier(len(invitation_ids))
    errors: list[Exception] = []
    done = threading.Event()
    most = [0]

    def answer_one(pk: int) -> None:
        try:
            barrier.wait(timeout=30)
            services.invitation_answer(invitation_id=pk, answer=answer)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def watch() -> None:
        try:
            while not done.is_set():
                most[0] = max(most[0], len(_confirmed(event)))
                time.sleep(0.005)
        finally:
            connection.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=answer_one, args=(pk,)) for pk in invitation_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    done.set()
    watcher.join(timeout=10)
    assert not any(t.is_alive() for t in threads), "an answer never finished"
    return errors, most[0]


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_thirty_people_answering_yes_at_once_never_overfill_the_event(network, mailoutbox):
    event = _event(network, capacity=5, status=Event.Status.SCHEDULED)
    people = _people(network, 30)
    Invitation.objects.bulk_create([Invitation(event=event, participant=p) for p in people])
    ids = list(event.invitations.order_by("pk").values_list("pk", flat=True))

    errors, most = _all_at_once(ids, YES, event)
    assert errors == []
    assert most <= 5
    assert len(_confirmed(event)) == 5
    assert len(_waitlist(event)) == 25
    assert event.invitations.filter(answer=YES).count() == 30

    # Ten of them (some in, most waiting) take it back at the same moment.
    confirmed = list(
        event.invitations.filter(answer=YES, waitlisted_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    waiting = list(
        event.invitations.filter(waitlisted_at__isnull=False)
        .order_by("waitlisted_at", "pk")
        .values_list("pk", flat=True)
    )
    leaving = confirmed[:3] + waiting[-7:]
    errors, most = _all_at_once(leaving, NO, event)
    assert errors == []
    assert most <= 5
    remaining_yes = event.invitations.filter(answer=YES).count()
    assert remaining_yes == 20
    assert len(_confirmed(event)) == min(5, remaining_yes) == 5
    assert len(_waitlist(event)) == 15
    # The three freed seats went to the three who had waited longest.
    promoted = set(confirmed[3:]) ^ set(
        event.invitations.filter(answer=YES, waitlisted_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    assert promoted == set(waiting[:3])
    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        Invitation.objects.get(pk=pk).participant.email for pk in promoted
    )


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_concurrent_noes_keep_the_seats_filled_from_a_short_list(network):
    event = _event(network, capacity=5, status=Event.Status.SCHEDULED)
    people = _people(network, 8)
    Invitation.objects.bulk_create([Invitation(event=event, participant=p) for p in people])
    ids = list(event.invitations.order_by("pk").values_list("pk", flat=True))
    errors, _most = _all_at_once(ids, YES, event)
    assert errors == []
    # Five in, three waiting; five say no at once: three remain, all in.
    confirmed = list(
        event.invitations.filter(answer=YES, waitlisted_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    errors, most = _all_at_once(confirmed, NO, event)
    assert errors == []
    assert most <= 5
    assert len(_confirmed(event)) == min(5, event.invitations.filter(answer=YES).count()) == 3
    assert _waitlist(event) == []


# --- reminders ---------------------------------------------------------------------------------


@pytest.fixture
def reminded(network, django_capture_on_commit_callbacks, mailoutbox):
    """An event in ten days with reminders 7 and 1 days before; four invitees answered
    yes, maybe, no and nothing; a fifth was invited five days from now."""
    event = _event(network, days=10, reminder_days=[1, 7])
    people = dict(zip((YES, MAYBE, NO, PENDING), _people(network, 4), strict=True))
    _invite(event, people.values(), django_capture_on_commit_callbacks)
    for answer in (YES, MAYBE, NO):
        _answer(event, people[answer], answer, django_capture_on_commit_callbacks)
    late = _person(network)
    _invite(event, [late], django_capture_on_commit_callbacks)
    Invitation.objects.filter(participant=late).update(
        created_at=event.starts_at - dt.timedelta(days=5)
    )
    mailoutbox.clear()
    return Event.objects.get(pk=event.pk), people, late


def _due(event: Event, now: dt.datetime) -> set[tuple[int, str]]:
    return {(pk, key) for pk, key in selectors.due_reminders(now=now)}


def test_no_reminder_is_due_before_its_time(reminded):
    event = reminded[0]
    assert _due(event, event.starts_at - dt.timedelta(days=8)) == set()
    assert _due(event, event.starts_at - dt.timedelta(days=7, seconds=1)) == set()


def test_the_seven_day_reminder_reaches_everyone_but_the_noes(reminded):
    event, people, _late = reminded
    due = _due(event, event.starts_at - dt.timedelta(days=6))
    expected = {(_invitation(event, people[a]).pk, "remind:7d") for a in (YES, MAYBE, PENDING)}
    assert due == expected


def test_people_invited_after_a_reminder_time_skip_that_reminder(reminded):
    event, _people, late = reminded
    due = _due(event, event.starts_at - dt.timedelta(hours=12))
    late_pk = _invitation(event, late).pk
    assert (late_pk, "remind:7d") not in due
    assert (late_pk, "remind:1d") in due
    assert {key for _pk, key in due} == {"remind:7d", "remind:1d"}
    assert len(due) == 3 + 4


def test_no_reminders_for_events_that_are_over_cancelled_or_without_reminders(
    reminded, network, django_capture_on_commit_callbacks
):
    event = reminded[0]
    quiet = _event(network, days=10)
    _invite(quiet, [_person(network)], django_capture_on_commit_callbacks)
    assert _due(event, event.starts_at + dt.timedelta(minutes=1)) == set()
    services.event_cancel(event=event)
    assert _due(event, event.starts_at - dt.timedelta(days=6)) == set()


def test_due_reminders_query_count_does_not_grow_with_invitees(reminded, django_assert_num_queries):
    event = reminded[0]
    # One query for the events, one per reminder of each event.
    with django_assert_num_queries(3):
        selectors.due_reminders(now=event.starts_at - dt.timedelta(hours=12))


def _due_now(event: Event, *, days_left: float, invited_days_ago: float) -> None:
    """Move the event closer, as time passing would (the task reads the clock)."""
    starts = timezone.now() + dt.timedelta(days=days_left)
    Event.objects.filter(pk=event.pk).update(
        starts_at=starts, ends_at=starts + dt.timedelta(hours=2)
    )
    event.invitations.filter(walk_in=False).update(
        created_at=timezone.now() - dt.timedelta(days=invited_days_ago)
    )


def test_the_beat_job_sends_each_reminder_once(reminded, mailoutbox):
    event, people, late = reminded
    late_invitation = _invitation(event, late)
    _due_now(event, days_left=6, invited_days_ago=2)
    # The late invitee was invited just now, after the 7-day reminder's time.
    Invitation.objects.filter(pk=late_invitation.pk).update(created_at=timezone.now())

    assert tasks.send_due_reminders() == 3
    tasks.send_due_reminders()
    expected = sorted(people[a].email for a in (YES, MAYBE, PENDING))
    assert sorted(m.to[0] for m in mailoutbox) == expected
    for mail in mailoutbox:
        assert mail.subject == "Reminder: Factory visit"
        assert set(_links(mail)) == {YES, MAYBE, NO}
        assert mail.attachments == []
    (pending_mail,) = _to(mailoutbox, people[PENDING])
    assert "We have not had your answer yet" in pending_mail.body
    assert "A reminder of the coming event." in _to(mailoutbox, people[YES])[0].body
    assert InvitationNotice.objects.filter(key="remind:7d", sent_at__isnull=False).count() == 3
    # The same reminder task delivered again sends nothing.
    assert tasks.send_reminder(_invitation(event, people[YES]).pk, "remind:7d") is False
    assert len(mailoutbox) == 3

    # Later, the day before: the 1-day reminder goes once more, the late invitee too.
    mailoutbox.clear()
    _due_now(event, days_left=0.5, invited_days_ago=8)
    Invitation.objects.filter(pk=late_invitation.pk).update(
        created_at=timezone.now() - dt.timedelta(days=1)
    )
    tasks.send_due_reminders()
    tasks.send_due_reminders()
    assert sorted(m.to[0] for m in mailoutbox) == sorted([*expected, late.email])
    assert InvitationNotice.objects.filter(key="remind:1d").count() == 4
    assert InvitationNotice.objects.filter(invitation=late_invitation).count() == 1


def test_a_failed_reminder_can_be_sent_by_the_retry(reminded, monkeypatch, mailoutbox):
    event, people, _late = reminded
    pk = _invitation(event, people[PENDING]).pk

    def broken(*args, **kwargs):
        raise ConnectionError("smtp down")

    monkeypatch.setattr("coordination.event_mail.EmailMultiAlternatives.send", broken)
    with pytest.raises(ConnectionError):
        tasks.send_reminder.apply(args=(pk, "remind:7d"), throw=True, retries=5)
    assert not InvitationNotice.objects.filter(invitation_id=pk).exists()
    monkeypatch.undo()
    assert tasks.send_reminder(pk, "remind:7d") is True
    assert len(mailoutbox) == 1


def test_remind_now_reaches_the_unanswered_and_each_click_is_a_new_round(
    reminded, mailoutbox, django_capture_on_commit_callbacks
):
    event, people, late = reminded
    unanswered = sorted([people[PENDING].email, late.email])
    with django_capture_on_commit_callbacks(execute=True):
        assert services.event_remind_now(event=event) == 2
    assert sorted(m.to[0] for m in mailoutbox) == unanswered
    with django_capture_on_commit_callbacks(execute=True):
        assert services.event_remind_now(event=event) == 2
    assert sorted(m.to[0] for m in mailoutbox) == sorted(unanswered * 2)
    keys = set(InvitationNotice.objects.values_list("key", flat=True))
    assert len(keys) == 2 and all(k.startswith("manual:") for k in keys)
    # Everyone who has not declined, when asked for.
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.event_remind_now(event=event, only_unanswered=False) == 4
    assert people[NO].email not in {m.to[0] for m in mailoutbox}


def test_remind_now_is_refused_for_an_event_that_is_not_scheduled(network):
    with pytest.raises(EventError):
        services.event_remind_now(event=_event(network))


# --- attendance ---------------------------------------------------------------------------------


def test_checking_in_and_out(invited):
    event, people = invited
    invitation = services.invitation_check_in(
        invitation=_invitation(event, people[0]), attended=True
    )
    stored = _invitation(event, people[0])
    assert stored.attended and stored.checked_in_at is not None
    assert invitation.checked_in_at == stored.checked_in_at
    services.invitation_check_in(invitation=stored, attended=False)
    stored = _invitation(event, people[0])
    assert not stored.attended and stored.checked_in_at is None


def test_a_walk_in_of_the_network_is_recorded_as_attending(invited):
    event, people = invited
    walk_in = _person(event.network)
    invitation = services.event_add_walk_in(event=event, participant=walk_in)
    stored = Invitation.objects.get(pk=invitation.pk)
    assert stored.walk_in and stored.attended and stored.checked_in_at is not None
    # An invitee who came is checked in, not turned into a walk-in.
    invited_one = services.event_add_walk_in(event=event, participant=people[0])
    assert invited_one.attended and not invited_one.walk_in
    assert event.invitations.count() == 4


def test_a_walk_in_from_another_network_is_refused(invited, other_network):
    event = invited[0]
    with pytest.raises(EventError):
        services.event_add_walk_in(event=event, participant=_person(other_network))
    assert event.invitations.count() == 3


def test_marking_held_records_the_attendance(invited):
    event = invited[0]
    held = services.event_mark_held(event=event)
    stored = Event.objects.get(pk=event.pk)
    assert held.status == stored.status == Event.Status.HELD
    assert stored.attendance_recorded
    assert services.event_mark_held(event=stored).status == Event.Status.HELD


@pytest.mark.parametrize(
    "status", [Event.Status.DRAFT, Event.Status.PROPOSED, Event.Status.CANCELLED]
)
def test_only_a_scheduled_event_can_be_marked_held(network, status):
    event = _event(network, status=status)
    with pytest.raises(EventError):
        services.event_mark_held(event=event)
    stored = Event.objects.get(pk=event.pk)
    assert stored.status == status and not stored.attendance_recorded


def test_the_attendance_is_kept_when_the_event_is_edited_later(invited):
    event = invited[0]
    services.event_mark_held(event=event)
    services.event_save(network=event.network, event=event, data={"description": "Minutes"})
    stored = Event.objects.get(pk=event.pk)
    assert stored.status == Event.Status.HELD and stored.attendance_recorded


def test_site_url_is_used_in_answer_links(invited, mailoutbox):
    event = invited[0]
    event = services.event_save(network=event.network, event=event, data={"venue": "Hall 2"})
    tasks.send_event_mail(event.pk)
    assert all(
        link.startswith(settings.SITE_URL + "/")
        for mail in mailoutbox
        for link in re.findall(r"https?://\S+/rsvp/\S+", mail.body)
    )
