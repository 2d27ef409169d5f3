"""The participants' side of events: their event pages, the answer links of the e-mails,
proposals and the personal calendar feed."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from coordination import services
from coordination.models import Event, Invitation, Participant
from tests import factories

pytestmark = pytest.mark.django_db

PORTAL_PAGES = ["portal_events", "portal_event_propose", "portal_calendar"]


def _event(network, *, days: float = 10, title: str = "Factory visit", **data) -> Event:
    starts = timezone.now() + dt.timedelta(days=days)
    return services.event_save(
        network=network,
        data={
            "kind": Event.Kind.SITE_VISIT,
            "title": title,
            "description": "Bring **safety shoes**.",
            "starts_at": starts,
            "ends_at": starts + dt.timedelta(hours=2),
            "venue": "Tsubame works hall",
            **data,
        },
    )


def _invited(event: Event, *participants: Participant) -> list[Invitation]:
    services.event_invite(event=event, participant_ids=[p.pk for p in participants])
    return [Invitation.objects.get(event=event, participant=p) for p in participants]


def _rsvp_url(invitation: Invitation, token: str, answer: str | None = None) -> str:
    url = reverse("rsvp", args=[invitation.pk, token])
    return f"{url}?answer={answer}" if answer else url


def _answer_of(invitation: Invitation) -> str:
    invitation.refresh_from_db()
    return invitation.answer


def _checked(html: str, value: str) -> bool:
    return re.search(rf'<input[^>]*value="{value}"[^>]*\bchecked\b', html) is not None


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


# --- answer links ----------------------------------------------------------------------------


@pytest.fixture
def invitee(member_a):
    """member_a reading in English: the answer pages speak the invitee's language."""
    member_a.preferred_language = Participant.Language.EN
    member_a.save()
    return member_a


def test_opening_an_answer_link_changes_nothing_and_preselects_the_answer(client, member_a):
    (invitation,) = _invited(_event(member_a.network), member_a)
    token = services.rsvp_token_issue(invitation=invitation)

    response = client.get(_rsvp_url(invitation, token, "maybe"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Factory visit" in html
    assert _checked(html, "maybe") and not _checked(html, "yes")
    (answer_form,) = re.findall(r'<form method="post" action="/rsvp/.*?</form>', html, re.S)
    assert answer_form.count('type="submit"') == 1
    assert _answer_of(invitation) == Invitation.Answer.PENDING
    assert invitation.answered_at is None


def test_posting_the_answer_link_records_the_answer(client, invitee):
    (invitation,) = _invited(_event(invitee.network), invitee)
    token = services.rsvp_token_issue(invitation=invitation)

    response = client.post(_rsvp_url(invitation, token, "yes"), {"answer": "yes"})

    assert response.status_code == 200
    assert "Your place is confirmed" in response.content.decode()
    assert _answer_of(invitation) == Invitation.Answer.YES


def test_answer_link_form_is_csrf_protected(member_a):
    (invitation,) = _invited(_event(member_a.network), member_a)
    token = services.rsvp_token_issue(invitation=invitation)
    client = Client(enforce_csrf_checks=True)

    response = client.post(_rsvp_url(invitation, token, "yes"), {"answer": "yes"})

    assert response.status_code == 403
    assert _answer_of(invitation) == Invitation.Answer.PENDING


def test_answer_can_be_changed_until_the_deadline_and_not_after(client, invitee):
    event = _event(invitee.network, rsvp_deadline=timezone.now() + dt.timedelta(days=3))
    (invitation,) = _invited(event, invitee)
    url = _rsvp_url(invitation, services.rsvp_token_issue(invitation=invitation))

    assert "Changed from" not in client.post(url, {"answer": "yes"}).content.decode()
    response = client.post(url, {"answer": "no"})
    assert "Changed from: Yes" in response.content.decode()
    assert _answer_of(invitation) == Invitation.Answer.NO

    Event.objects.filter(pk=event.pk).update(rsvp_deadline=timezone.now() - dt.timedelta(hours=1))
    html = client.get(url + "?answer=yes").content.decode()
    assert "Answers closed on" in html
    assert 'name="answer"' not in html
    assert "Not coming" in html  # the current answer is still shown

    response = client.post(url, {"answer": "yes"})
    assert response.status_code == 200
    assert "Answers closed on" in response.content.decode()
    assert _answer_of(invitation) == Invitation.Answer.NO


def test_forged_token_is_not_found(client, member_a):
    (invitation,) = _invited(_event(member_a.network), member_a)
    services.rsvp_token_issue(invitation=invitation)

    response = client.get(_rsvp_url(invitation, "forged-token-forged-token", "yes"))

    assert response.status_code == 404
    assert "This answer link is not valid" in response.content.decode()
    assert client.post(_rsvp_url(invitation, "forged"), {"answer": "yes"}).status_code == 404
    assert _answer_of(invitation) == Invitation.Answer.PENDING


def test_another_invitations_token_is_not_found(client, member_a, member_b):
    mine, theirs = _invited(_event(member_a.network), member_a, member_b)
    their_token = services.rsvp_token_issue(invitation=theirs)

    response = client.post(_rsvp_url(mine, their_token), {"answer": "yes"})

    assert response.status_code == 404
    assert _answer_of(mine) == Invitation.Answer.PENDING
    assert _answer_of(theirs) == Invitation.Answer.PENDING


def test_link_of_a_cancelled_event_is_gone(client, member_a):
    event = _event(member_a.network)
    (invitation,) = _invited(event, member_a)
    token = services.rsvp_token_issue(invitation=invitation)
    services.event_cancel(event=event)

    response = client.get(_rsvp_url(invitation, token, "yes"))

    assert response.status_code == 410
    assert "This event was cancelled" in response.content.decode()
    assert client.post(_rsvp_url(invitation, token), {"answer": "yes"}).status_code == 410
    assert _answer_of(invitation) == Invitation.Answer.PENDING


def test_link_of_a_past_event_is_gone(client, member_a):
    (invitation,) = _invited(_event(member_a.network, days=-2), member_a)
    token = services.rsvp_token_issue(invitation=invitation)

    response = client.get(_rsvp_url(invitation, token, "yes"))

    assert response.status_code == 410
    assert "This event is over" in response.content.decode()


def test_answer_by_email_end_to_end(client, member_a, django_capture_on_commit_callbacks):
    event = _event(member_a.network)
    with django_capture_on_commit_callbacks(execute=True):
        services.event_invite(event=event, participant_ids=[member_a.pk])
    assert [m.to for m in mail.outbox] == [[member_a.email]]
    link = re.search(r"https?://\S+/rsvp/\d+/[\w-]+/\?answer=yes", mail.outbox[0].body).group(0)
    path = link.removeprefix(settings.SITE_URL)
    invitation = Invitation.objects.get(event=event, participant=member_a)

    page = client.get(path)
    assert page.status_code == 200 and _checked(page.content.decode(), "yes")
    assert _answer_of(invitation) == Invitation.Answer.PENDING

    done = client.post(path, {"answer": "yes"})
    assert done.status_code == 200
    assert _answer_of(invitation) == Invitation.Answer.YES
    assert event.get_portal_url() in done.content.decode()


def test_answer_link_when_full_puts_on_the_waiting_list(client, invitee, member_b):
    first, second = _invited(_event(invitee.network, capacity=1), member_b, invitee)
    services.invitation_answer(invitation_id=first.pk, answer="yes")
    url = _rsvp_url(second, services.rsvp_token_issue(invitation=second))

    html = client.post(url, {"answer": "yes"}).content.decode()

    assert "waiting list (position 1)" in html
    second.refresh_from_db()
    assert second.is_waitlisted


def test_answer_link_speaks_the_invitees_language_unless_they_chose_one(client, member_a):
    (invitation,) = _invited(_event(member_a.network), member_a)
    url = _rsvp_url(invitation, services.rsvp_token_issue(invitation=invitation), "yes")
    assert member_a.preferred_language == "ja" and settings.LANGUAGE_CODE == "en"

    assert '<html lang="ja">' in client.get(url).content.decode()

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert '<html lang="en">' in client.get(url).content.decode()


# --- the portal pages ------------------------------------------------------------------------


def test_events_page_lists_upcoming_and_past_with_answers(client, member_a):
    network = member_a.network
    coming = _invited(_event(network, title="Spring meeting"), member_a)[0]
    maybe = _invited(_event(network, days=20, title="Summer workshop"), member_a)[0]
    _invited(_event(network, days=-30, title="Winter kickoff"), member_a)
    _event(network, title="Draft not shown")
    services.invitation_answer(invitation_id=coming.pk, answer="yes")
    services.invitation_answer(invitation_id=maybe.pk, answer="maybe")
    client.force_login(member_a.user)

    html = client.get(reverse("portal_events", args=[network.slug])).content.decode()

    upcoming, past = html.split("Past", 1)
    assert "Spring meeting" in upcoming and "Summer workshop" in upcoming
    assert upcoming.index("Spring meeting") < upcoming.index("Summer workshop")
    assert "Winter kickoff" in past and "Winter kickoff" not in upcoming
    assert "Draft not shown" not in html
    assert "Yes, coming" in upcoming and "Maybe" in upcoming and "Not answered" in past
    assert reverse("portal_event_propose", args=[network.slug]) in html
    assert reverse("portal_calendar", args=[network.slug]) in html
    assert coming.event.get_portal_url() in html


def test_events_page_shows_dates_in_japanese(client, member_a, settings):
    start = dt.datetime(2031, 12, 3, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    event = _event(member_a.network, starts_at=start, ends_at=start + dt.timedelta(hours=2))
    _invited(event, member_a)
    client.force_login(member_a.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"

    html = client.get(reverse("portal_events", args=[member_a.network.slug])).content.decode()

    assert "2031年12月3日" in html and "14:00" in html


def test_waiting_list_position_is_shown(client, coordinator, member_a, member_b):
    network = member_a.network
    me_coord = Participant.objects.get(user=coordinator)
    event = _event(network, capacity=1)
    for participant in (me_coord, member_b, member_a):
        (invitation,) = _invited(event, participant)
        services.invitation_answer(invitation_id=invitation.pk, answer="yes")
    client.force_login(member_a.user)

    listing = client.get(reverse("portal_events", args=[network.slug])).content.decode()
    detail = client.get(event.get_portal_url()).content.decode()

    assert "On the waiting list (position 2)" in listing
    assert "You are on the waiting list (position 2)" in detail


def test_event_page_shows_details_and_answers(client, member_a):
    event = _event(member_a.network)
    (invitation,) = _invited(event, member_a)
    client.force_login(member_a.user)

    page = client.get(event.get_portal_url())
    assert page.status_code == 200
    html = page.content.decode()
    assert "<strong>safety shoes</strong>" in html
    assert reverse("portal_event_ics", args=[member_a.network.slug, event.pk]) in html

    response = client.post(event.get_portal_url(), {"answer": "yes"}, follow=True)
    assert "Your place is confirmed" in response.content.decode()
    assert _answer_of(invitation) == Invitation.Answer.YES
    assert _checked(response.content.decode(), "yes")


def test_event_page_after_the_deadline_replaces_the_form(client, member_a):
    event = _event(member_a.network, rsvp_deadline=timezone.now() + dt.timedelta(days=1))
    (invitation,) = _invited(event, member_a)
    Event.objects.filter(pk=event.pk).update(rsvp_deadline=timezone.now() - dt.timedelta(hours=1))
    client.force_login(member_a.user)

    html = client.get(event.get_portal_url()).content.decode()
    assert "Answers closed on" in html and 'name="answer"' not in html

    response = client.post(event.get_portal_url(), {"answer": "yes"}, follow=True)
    assert "Answers for this event are closed." in response.content.decode()
    assert _answer_of(invitation) == Invitation.Answer.PENDING


def test_event_page_of_a_cancelled_event_says_so(client, member_a):
    event = _event(member_a.network)
    _invited(event, member_a)
    services.event_cancel(event=event)
    client.force_login(member_a.user)

    html = client.get(event.get_portal_url()).content.decode()

    assert "This event was cancelled." in html and 'name="answer"' not in html


@pytest.mark.parametrize("show", [True, False])
def test_who_else_is_coming_only_when_the_event_shows_it(client, member_a, member_b, show):
    event = _event(member_a.network, show_attendees=show)
    _, theirs = _invited(event, member_a, member_b)
    services.invitation_answer(invitation_id=theirs.pk, answer="yes")
    client.force_login(member_a.user)

    html = client.get(event.get_portal_url()).content.decode()

    assert ("Who else is coming" in html) is show
    assert ("Member B" in html) is show


def test_event_ics_download(client, member_a):
    event = _event(member_a.network)
    _invited(event, member_a)
    client.force_login(member_a.user)

    response = client.get(reverse("portal_event_ics", args=[member_a.network.slug, event.pk]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert response["Content-Disposition"].startswith("attachment; filename=")
    calendar = Calendar.from_ical(response.content)
    assert [str(e["uid"]) for e in calendar.walk("VEVENT")] == [event.uid]


def test_participant_cannot_see_an_event_they_were_not_invited_to(
    client, member_a, member_b, other_network
):
    network = member_a.network
    not_mine = _event(network, title="Not mine")
    _invited(not_mine, member_b)
    elsewhere = _event(other_network, title="Elsewhere")
    outsider_participant = factories.ParticipantFactory(network=other_network)
    _invited(elsewhere, outsider_participant)
    client.force_login(member_a.user)

    for pk in (not_mine.pk, elsewhere.pk):
        assert client.get(reverse("portal_event", args=[network.slug, pk])).status_code == 404
        assert client.get(reverse("portal_event_ics", args=[network.slug, pk])).status_code == 404
    assert (
        client.get(reverse("portal_event", args=[other_network.slug, elsewhere.pk])).status_code
        == 404
    )
    assert client.get(reverse("portal_events", args=[other_network.slug])).status_code == 404
    html = client.get(reverse("portal_events", args=[network.slug])).content.decode()
    assert "Not mine" not in html and "Elsewhere" not in html
    response = client.post(
        reverse("portal_event", args=[network.slug, not_mine.pk]), {"answer": "yes"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize("who", ["researcher", "outsider", "stranger"])
def test_non_participants_get_404_on_portal_pages(client, request, network, member_b, who):
    event = _event(network)
    _invited(event, member_b)
    client.force_login(request.getfixturevalue(who))

    for name in PORTAL_PAGES:
        assert client.get(reverse(name, args=[network.slug])).status_code == 404
    for name in ("portal_event", "portal_event_ics"):
        assert client.get(reverse(name, args=[network.slug, event.pk])).status_code == 404


def test_anonymous_is_sent_to_sign_in_on_portal_pages_but_not_on_links(client, member_a):
    network = member_a.network
    event = _event(network)
    (invitation,) = _invited(event, member_a)
    urls = [reverse(name, args=[network.slug]) for name in PORTAL_PAGES]
    urls += [
        reverse(n, args=[network.slug, event.pk]) for n in ("portal_event", "portal_event_ics")
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))

    token = services.rsvp_token_issue(invitation=invitation)
    assert client.get(_rsvp_url(invitation, token, "yes")).status_code == 200
    feed_token = services.participant_calendar_token_reset(participant=member_a)
    assert client.get(reverse("calendar_feed", args=[feed_token])).status_code == 200


def test_events_page_query_count_does_not_grow(client, member_a, django_assert_num_queries):
    network = member_a.network
    for days in (3, -3):
        _invited(_event(network, days=days), member_a)
    _event(network, proposed_by=member_a, status=Event.Status.PROPOSED)
    client.force_login(member_a.user)
    url = reverse("portal_events", args=[network.slug])
    client.get(url)  # warm the session
    # session, user, network, staff roles, participation (permission), own participant,
    # the invitations with their waiting-list positions, the own proposals
    with django_assert_num_queries(8):
        client.get(url)
    few = _queries(client, url)
    for days in range(1, 10):
        (invitation,) = _invited(_event(network, days=days, capacity=1), member_a)
        services.invitation_answer(invitation_id=invitation.pk, answer="yes")
        _invited(_event(network, days=-days), member_a)
    assert Invitation.objects.filter(participant=member_a).count() == 20
    assert _queries(client, url) == few


# --- proposals -------------------------------------------------------------------------------


def _proposal_data(region) -> dict:
    return {
        "kind": Event.Kind.SITE_VISIT,
        "title": "Visit my press shop",
        "description": "",
        "starts_at": "2031-06-10T14:00",
        "ends_at": "2031-06-10T16:00",
        "region": region.pk,
        "venue": "A Works",
        "address": "",
        "host_organization": "",
        "online_url": "",
        "capacity": "",
        "reminder_days": "",
    }


def test_propose_form_defaults_to_own_organization_and_region(client, member_a):
    client.force_login(member_a.user)

    response = client.get(reverse("portal_event_propose", args=[member_a.network.slug]))

    form = response.context["form"]
    assert form["host_organization"].value() == member_a.organization.pk
    assert form["region"].value() == member_a.organization.region.pk


def test_proposal_waits_for_approval_and_invites_nobody(
    client, member_a, member_b, django_capture_on_commit_callbacks
):
    network = member_a.network
    client.force_login(member_a.user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal_event_propose", args=[network.slug]),
            _proposal_data(member_a.organization.region),
            follow=True,
        )

    event = Event.objects.get(title="Visit my press shop")
    assert response.redirect_chain[-1][0] == reverse("portal_events", args=[network.slug])
    assert event.status == Event.Status.PROPOSED and event.proposed_by == member_a
    assert not event.invitations.exists() and mail.outbox == []
    html = response.content.decode()
    assert "waits for the coordinator" in html and "Awaiting approval" in html
    assert client.get(event.get_portal_url()).status_code == 200
    client.force_login(member_b.user)
    assert client.get(event.get_portal_url()).status_code == 404


def test_proposal_is_scheduled_directly_and_invites_the_network(
    client, coordinator, member_a, member_b, django_capture_on_commit_callbacks
):
    network = member_a.network
    network.members_schedule_directly = True
    network.save()
    client.force_login(member_a.user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal_event_propose", args=[network.slug]),
            _proposal_data(member_a.organization.region),
            follow=True,
        )

    event = Event.objects.get(title="Visit my press shop")
    assert event.status == Event.Status.SCHEDULED
    everyone = set(Participant.objects.filter(network=network).values_list("pk", flat=True))
    assert set(event.invitations.values_list("participant_id", flat=True)) == everyone
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        Participant.objects.filter(network=network).values_list("email", flat=True)
    )
    assert "scheduled and the whole network is invited" in response.content.decode()


# --- the calendar feed -----------------------------------------------------------------------


def test_calendar_page_creates_and_shows_the_feed_address(client, member_a):
    url = reverse("portal_calendar", args=[member_a.network.slug])
    client.force_login(member_a.user)
    assert "Create my calendar address" in client.get(url).content.decode()

    html = client.post(url, follow=True).content.decode()

    member_a.refresh_from_db()
    assert member_a.calendar_token
    feed = settings.SITE_URL + reverse("calendar_feed", args=[member_a.calendar_token])
    assert f'value="{feed}"' in html
    assert "webcal://" in html and "Google Calendar" in html


def test_feed_lists_own_events_including_cancelled_but_not_drafts(client, member_a, member_b):
    network = member_a.network
    coming = _event(network, title="Coming")
    cancelled = _event(network, title="Called off")
    _invited(coming, member_a)
    _invited(cancelled, member_a)
    services.event_cancel(event=cancelled)
    draft = _event(network, title="Draft")
    Invitation.objects.create(event=draft, participant=member_a)
    proposed = _event(network, title="Proposed", status=Event.Status.PROPOSED)
    Invitation.objects.create(event=proposed, participant=member_a)
    _invited(_event(network, title="Theirs"), member_b)
    token = services.participant_calendar_token_reset(participant=member_a)

    response = client.get(reverse("calendar_feed", args=[token]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["x-wr-calname"]) == network.name
    events = {str(e["uid"]): str(e["status"]) for e in calendar.walk("VEVENT")}
    assert events == {coming.uid: "CONFIRMED", cancelled.uid: "CANCELLED"}


def test_reset_feed_address_stops_the_old_one(client, member_a):
    old = services.participant_calendar_token_reset(participant=member_a)
    client.force_login(member_a.user)

    client.post(reverse("portal_calendar", args=[member_a.network.slug]))

    member_a.refresh_from_db()
    assert member_a.calendar_token != old
    assert client.get(reverse("calendar_feed", args=[old])).status_code == 404
    assert client.get(reverse("calendar_feed", args=[member_a.calendar_token])).status_code == 200


def test_unknown_feed_address_is_not_found(client, member_a):
    assert client.get(reverse("calendar_feed", args=["no-such-token"])).status_code == 404
