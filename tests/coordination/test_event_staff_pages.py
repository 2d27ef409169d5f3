"""The coordinator's event pages: list, form, detail, audience, actions, exports,
sign-in sheet and check-in; who may open and do what."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import openpyxl
import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from coordination import services
from coordination.models import Event, Invitation, Organization, Participant
from tests import factories

pytestmark = pytest.mark.django_db

ROLES = [
    "coordinator",
    "researcher",
    "identified_researcher",
    "member_a",
    "outsider",
    "stranger",
    "anonymous",
]
VIEWERS = {"coordinator", "researcher", "identified_researcher"}
# Pages that name people and firms: researchers only with identified access.
IDENTIFIED = {"coordinator", "identified_researcher"}
MANAGERS = {"coordinator"}


def make_event(network, *, status=Event.Status.SCHEDULED, days=10, **fields) -> Event:
    starts = timezone.now().replace(microsecond=0) + dt.timedelta(days=days)
    fields.setdefault("title", "Kickoff in Tsubame")
    return Event.objects.create(
        network=network,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=3),
        status=status,
        **fields,
    )


def invite(event, *participants, answer=Invitation.Answer.PENDING, **fields) -> list[Invitation]:
    return [
        Invitation.objects.create(event=event, participant=p, answer=answer, **fields)
        for p in participants
    ]


def person(network, region, name, **fields) -> Participant:
    return factories.ParticipantFactory(
        network=network, organization__region=region, full_name=name, **fields
    )


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def posted_ids(html: str) -> set[int]:
    return {int(v) for v in re.findall(r'name="participant_id" value="(\d+)"', html)}


def event_form_data(**overrides) -> dict:
    return {
        "kind": "meeting",
        "title": "Site visit to A Works",
        "description": "",
        "starts_at": "2027-02-10T14:00",
        "ends_at": "2027-02-10T17:00",
        "venue": "A Works, hall 2",
        "address": "",
        "online_url": "",
        "capacity": "",
        "rsvp_deadline": "",
        "reminder_days": "7, 1",
        "show_attendees": "on",
        **overrides,
    }


# --- permissions ------------------------------------------------------------------------


class World:
    def __init__(self, request, network, member_a, member_b):
        self.network = network
        self.member_a = member_a
        self.member_b = member_b
        self.event = make_event(network, venue="Tsubame hall")
        (self.invitation,) = invite(self.event, member_a)
        self.proposal = make_event(
            network, status=Event.Status.PROPOSED, title="Visit B Works", proposed_by=member_b
        )
        self.users = {
            "anonymous": None,
            **{r: request.getfixturevalue(r) for r in ROLES if r != "anonymous"},
        }

    def user(self, role):
        user = self.users[role]
        return user.user if isinstance(user, Participant) else user

    def snapshot(self) -> list:
        return [
            list(Event.objects.order_by("pk").values_list("pk", "title", "status", "sequence")),
            list(
                Invitation.objects.order_by("pk").values_list(
                    "pk", "participant_id", "answer", "attended", "walk_in", "mailed_sequence"
                )
            ),
        ]


@pytest.fixture
def world(request, network, member_a, member_b):
    return World(request, network, member_a, member_b)


def _detail_args(w):
    return [w.network.slug, w.event.pk]


PAGES = [
    ("event_list", lambda w: [w.network.slug], {}, IDENTIFIED),
    ("event_list", lambda w: [w.network.slug], {"when": "past", "status": "held"}, IDENTIFIED),
    ("event_create", lambda w: [w.network.slug], {}, MANAGERS),
    ("event_detail", _detail_args, {}, IDENTIFIED),
    ("event_edit", _detail_args, {}, MANAGERS),
    ("event_audience", _detail_args, {}, MANAGERS),
    ("event_audience", _detail_args, {"everyone": "on", "preview": "1"}, MANAGERS),
    ("event_action", lambda w: [*_detail_args(w), "cancel"], {}, MANAGERS),
    ("event_export", lambda w: [*_detail_args(w), "csv"], {}, IDENTIFIED),
    ("event_export", lambda w: [*_detail_args(w), "xlsx"], {}, IDENTIFIED),
    ("event_signin_sheet", _detail_args, {}, IDENTIFIED),
    ("event_checkin", _detail_args, {}, MANAGERS),
    ("event_checkin", _detail_args, {"q": "member"}, MANAGERS),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("name", "args", "query", "allowed"), PAGES, ids=[f"{p[0]}-{i}" for i, p in enumerate(PAGES)]
)
def test_event_page_access_by_role(client, world, role, name, args, query, allowed):
    user = world.user(role)
    if user is not None:
        client.force_login(user)
    before = world.snapshot()
    response = client.get(reverse(name, args=args(world)), query)
    if role == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))
    elif role in allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 404
    assert world.snapshot() == before  # no page changes anything on a GET
    assert mail.outbox == []


def _write_attempts(w) -> list[tuple[str, dict]]:
    slug, pk = w.network.slug, w.event.pk
    return [
        (reverse("event_create", args=[slug]), event_form_data(title="Intruded")),
        (reverse("event_edit", args=[slug, pk]), event_form_data(title="Renamed")),
        (reverse("event_audience", args=[slug, pk]), {"participant_id": [w.member_b.pk]}),
        (reverse("event_action", args=[slug, w.proposal.pk, "approve"]), {}),
        (reverse("event_action", args=[slug, pk, "cancel"]), {}),
        (reverse("event_action", args=[slug, pk, "held"]), {}),
        (reverse("event_action", args=[slug, pk, "remind"]), {}),
        (
            reverse("event_checkin", args=[slug, pk]),
            {"invitation": w.invitation.pk, "attended": "1"},
        ),
        (reverse("event_checkin", args=[slug, pk]), {"participant": w.member_b.pk}),
    ]


@pytest.mark.parametrize("role", ["researcher", "member_a", "outsider", "stranger", "anonymous"])
def test_only_the_coordinator_may_change_events(
    client, world, role, django_capture_on_commit_callbacks
):
    user = world.user(role)
    if user is not None:
        client.force_login(user)
    before = world.snapshot()
    with django_capture_on_commit_callbacks(execute=True):
        for url, data in _write_attempts(world):
            response = client.post(url, data)
            if role == "anonymous":
                assert response.status_code == 302, url
                assert response.url.startswith(reverse("account_login")), url
            else:
                assert response.status_code == 404, url
    assert world.snapshot() == before
    assert mail.outbox == []


def test_coordinator_of_another_network_cannot_reach_events_under_their_own_slug(
    client, world, outsider
):
    client.force_login(outsider)
    for name in ("event_detail", "event_edit", "event_checkin", "event_signin_sheet"):
        assert client.get(reverse(name, args=["beta", world.event.pk])).status_code == 404
    url = reverse("event_action", args=["beta", world.event.pk, "cancel"])
    assert client.post(url).status_code == 404
    world.event.refresh_from_db()
    assert world.event.status == Event.Status.SCHEDULED


# --- the list ---------------------------------------------------------------------------


def test_event_list_splits_upcoming_and_past_and_counts_answers(
    client, coordinator, network, member_a, member_b
):
    upcoming = make_event(network, title="Coming meeting")
    past = make_event(network, title="Old meeting", days=-30, status=Event.Status.HELD)
    invite(upcoming, member_a, answer="yes")
    invite(upcoming, member_b, answer="no")
    invite(past, member_a, answer="yes", attended=True)
    invite(past, member_b, answer="yes", waitlisted_at=timezone.now())
    client.force_login(coordinator)
    url = reverse("event_list", args=[network.slug])

    response = client.get(url)
    page = list(response.context["page"])
    assert [e.title for e in page] == ["Coming meeting"]
    assert (page[0].invited, page[0].yes, page[0].attended) == (2, 1, 0)

    response = client.get(url, {"when": "past"})
    page = list(response.context["page"])
    assert [e.title for e in page] == ["Old meeting"]
    # the waiting list is not a "yes" yet
    assert (page[0].invited, page[0].yes, page[0].attended) == (2, 1, 1)

    html = client.get(url, {"when": "all", "status": "held"}).content.decode()
    assert "Old meeting" in html and "Coming meeting" not in html


def test_event_list_highlights_proposals_and_offers_new_event_to_coordinators_only(
    client, coordinator, identified_researcher, network, member_b
):
    make_event(network, title="Visit B Works", status=Event.Status.PROPOSED, proposed_by=member_b)
    make_event(network, title="Regular meeting")
    client.force_login(coordinator)
    html = client.get(reverse("event_list", args=[network.slug])).content.decode()
    assert 'id="proposals"' in html and "1 proposed event awaits approval." in html
    assert re.search(
        r'<tr class="table-warning">\s*<td>[^<]*</td>\s*<td><a[^>]*>Visit B Works', html
    )
    assert "proposed by Member B" in html
    assert reverse("event_create", args=[network.slug]) in html

    client.force_login(identified_researcher)
    html = client.get(reverse("event_list", args=[network.slug])).content.decode()
    assert "Visit B Works" in html
    assert reverse("event_create", args=[network.slug]) not in html


def test_event_list_query_count_does_not_grow_with_events(
    client, coordinator, network, member_a, member_b
):
    def add(n):
        for i in range(n):
            event = make_event(network, title=f"Meeting {i}", days=i + 1)
            invite(event, member_a, answer="yes")
            invite(event, member_b)

    client.force_login(coordinator)
    url = reverse("event_list", args=[network.slug])
    add(3)
    few = queries(client, url)
    add(27)
    assert queries(client, url) == few


def test_event_list_query_count_is_pinned(
    client, coordinator, network, member_a, django_assert_num_queries
):
    for i in range(5):
        invite(make_event(network, title=f"Meeting {i}", days=i + 1), member_a)
    client.force_login(coordinator)
    url = reverse("event_list", args=[network.slug])
    client.get(url)
    # session, user, network, staff roles, participation, proposals awaiting approval,
    # the count, the page of events with their counts
    with django_assert_num_queries(8):
        client.get(url)


def test_event_list_paginates_by_fifty(client, coordinator, network):
    for i in range(55):
        make_event(network, title=f"Meeting {i:02d}", days=i + 1)
    client.force_login(coordinator)
    url = reverse("event_list", args=[network.slug])
    first = client.get(url, {"when": "upcoming"})
    second = client.get(url, {"when": "upcoming", "page": 2})
    assert len(first.context["page"].object_list) == 50
    assert len(second.context["page"].object_list) == 5
    assert "when=upcoming&amp;page=2" in first.content.decode()


# --- create and edit --------------------------------------------------------------------


def test_coordinator_creates_an_event_as_a_draft(client, coordinator, network, region_a):
    client.force_login(coordinator)
    response = client.post(
        reverse("event_create", args=[network.slug]), event_form_data(region=region_a.pk)
    )
    event = Event.objects.get(network=network, title="Site visit to A Works")
    assert response.status_code == 302
    assert response.url == reverse("event_detail", args=[network.slug, event.pk])
    assert event.status == Event.Status.DRAFT
    assert event.region == region_a
    assert event.reminder_days == [7, 1]
    assert timezone.localtime(event.starts_at).hour == 14
    assert mail.outbox == []


def test_event_form_errors_are_shown_and_nothing_is_saved(client, coordinator, network):
    client.force_login(coordinator)
    response = client.post(
        reverse("event_create", args=[network.slug]),
        event_form_data(ends_at="2027-02-10T13:00"),
    )
    assert response.status_code == 200
    assert "The end must be after the start." in response.content.decode()
    assert not Event.objects.exists()


def test_editing_a_scheduled_event_warns_and_mails_an_update_when_it_moves(
    client, coordinator, network, member_a, member_b, django_capture_on_commit_callbacks
):
    event = make_event(network, status=Event.Status.DRAFT, title="Site visit to A Works")
    with django_capture_on_commit_callbacks(execute=True):
        services.event_invite(event=event, participant_ids=[member_a.pk, member_b.pk])
    assert len(mail.outbox) == 2
    mail.outbox.clear()
    client.force_login(coordinator)
    url = reverse("event_edit", args=[network.slug, event.pk])
    html = client.get(url).content.decode()
    assert 'id="update-note"' in html
    assert "sends an update to everyone invited" in html

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, event_form_data(venue="B Works, main hall"))
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.venue == "B Works, main hall"
    assert event.status == Event.Status.SCHEDULED
    assert sorted(m.to[0] for m in mail.outbox) == sorted([member_a.email, member_b.email])


def test_the_create_page_has_no_update_note(client, coordinator, network):
    client.force_login(coordinator)
    html = client.get(reverse("event_create", args=[network.slug])).content.decode()
    assert 'id="update-note"' not in html


# --- detail --------------------------------------------------------------------------------


def test_event_detail_shows_details_counts_by_region_and_invitees_by_answer(
    client, coordinator, network, region_a, region_b, member_a, member_b
):
    event = make_event(
        network,
        title="Kickoff",
        description="Bring **samples**.\n\n<script>alert(1)</script>",
        venue="Tsubame hall",
        capacity=2,
        proposed_by=member_b,
    )
    a2 = person(network, region_a, "Aoki Two")
    b2 = person(network, region_b, "Baba Two")
    b3 = person(network, region_b, "Baba Three")
    first, second = person(network, region_b, "First Waiting"), person(network, region_a, "Second")
    now = timezone.now()
    invite(event, member_a, answer="yes", answered_at=now, attended=True)
    invite(event, a2, answer="maybe")
    invite(event, member_b, answer="no")
    invite(event, b2)
    invite(event, b3, answer="yes")
    invite(event, second, answer="yes", waitlisted_at=now)
    invite(event, first, answer="yes", waitlisted_at=now - dt.timedelta(hours=1))
    client.force_login(coordinator)
    response = client.get(reverse("event_detail", args=[network.slug, event.pk]))
    html = response.content.decode()

    assert "<strong>samples</strong>" in html
    assert "<script>alert(1)" not in html
    assert "Tsubame hall" in html and "Scheduled" in html
    assert "Member B" in html  # proposed by
    totals = response.context["summary"]["totals"]
    assert {k: totals[k] for k in ("yes", "maybe", "no", "pending", "waitlisted", "attended")} == {
        "yes": 2,
        "maybe": 1,
        "no": 1,
        "pending": 1,
        "waitlisted": 2,
        "attended": 1,
    }
    regions = response.context["summary"]["regions"]
    assert regions["Tsubame"]["yes"] == 1 and regions["Tsubame"]["waitlisted"] == 1
    assert regions["Uonuma"]["no"] == 1 and regions["Uonuma"]["pending"] == 1
    assert 'id="answers-by-region"' in html

    groups = {
        key: [i.participant.full_name for i in items]
        for key, _l, items in response.context["groups"]
    }
    assert sorted(groups["yes"]) == ["Baba Three", "Member A"]
    assert groups["waitlisted"] == ["First Waiting", "Second"]  # in the order they wait
    assert groups["maybe"] == ["Aoki Two"]
    assert groups["no"] == ["Member B"]
    assert groups["pending"] == ["Baba Two"]
    unanswered = html[html.index('id="unanswered"') :]
    assert "Baba Two" in unanswered[: unanswered.index("</section>")]
    assert reverse("event_action", args=[network.slug, event.pk, "remind"]) in html


def test_event_detail_buttons_follow_role_and_status(
    client, coordinator, identified_researcher, network, member_b
):
    proposal = make_event(network, status=Event.Status.PROPOSED, proposed_by=member_b)
    client.force_login(coordinator)
    html = client.get(reverse("event_detail", args=[network.slug, proposal.pk])).content.decode()
    slug = network.slug
    assert reverse("event_action", args=[slug, proposal.pk, "approve"]) in html
    assert reverse("event_action", args=[slug, proposal.pk, "cancel"]) in html
    assert reverse("event_edit", args=[slug, proposal.pk]) in html
    assert reverse("event_audience", args=[slug, proposal.pk]) not in html
    assert reverse("event_checkin", args=[slug, proposal.pk]) not in html
    assert "Member B proposed this event" in html

    scheduled = make_event(network)
    html = client.get(reverse("event_detail", args=[slug, scheduled.pk])).content.decode()
    for url in (
        reverse("event_audience", args=[slug, scheduled.pk]),
        reverse("event_checkin", args=[slug, scheduled.pk]),
        reverse("event_action", args=[slug, scheduled.pk, "held"]),
        reverse("event_export", args=[slug, scheduled.pk, "csv"]),
        reverse("event_export", args=[slug, scheduled.pk, "xlsx"]),
        reverse("event_signin_sheet", args=[slug, scheduled.pk]),
    ):
        assert url in html
    assert reverse("event_action", args=[slug, scheduled.pk, "approve"]) not in html

    client.force_login(identified_researcher)
    html = client.get(reverse("event_detail", args=[slug, scheduled.pk])).content.decode()
    assert reverse("event_edit", args=[slug, scheduled.pk]) not in html
    assert reverse("event_action", args=[slug, scheduled.pk, "cancel"]) not in html
    assert reverse("event_checkin", args=[slug, scheduled.pk]) not in html
    assert reverse("event_export", args=[slug, scheduled.pk, "csv"]) in html


def test_event_detail_query_count_does_not_grow_with_invitations(
    client, coordinator, network, region_a, region_b
):
    event = make_event(network, proposed_by=person(network, region_a, "Proposer"))
    answers = ["yes", "no", "maybe", "pending"]

    def add(n, start):
        for i in range(start, start + n):
            invite(
                event,
                person(network, region_a if i % 2 else region_b, f"P{i}"),
                answer=answers[i % 4],
                attended=i % 3 == 0,
            )

    client.force_login(coordinator)
    url = reverse("event_detail", args=[network.slug, event.pk])
    add(3, 0)
    few = queries(client, url)
    add(25, 3)
    assert queries(client, url) == few


# --- actions ------------------------------------------------------------------------------


def _cancellations() -> list[str]:
    return [
        m.to[0]
        for m in mail.outbox
        if any("method=CANCEL" in attachment[2] for attachment in m.attachments)
    ]


def test_cancel_asks_on_get_and_cancels_with_a_mail_on_post(
    client, coordinator, network, member_a, member_b, django_capture_on_commit_callbacks
):
    event = make_event(network, status=Event.Status.DRAFT)
    with django_capture_on_commit_callbacks(execute=True):
        services.event_invite(event=event, participant_ids=[member_a.pk, member_b.pk])
    mail.outbox.clear()
    client.force_login(coordinator)
    url = reverse("event_action", args=[network.slug, event.pk, "cancel"])

    response = client.get(url)
    assert response.status_code == 200
    assert "Yes, cancel the event" in response.content.decode()
    event.refresh_from_db()
    assert event.status == Event.Status.SCHEDULED
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response.url == reverse("event_detail", args=[network.slug, event.pk])
    event.refresh_from_db()
    assert event.status == Event.Status.CANCELLED
    assert sorted(_cancellations()) == sorted([member_a.email, member_b.email])
    assert len(mail.outbox) == 2


def test_an_action_the_state_does_not_allow_shows_the_reason(client, coordinator, network):
    event = make_event(network, status=Event.Status.HELD)
    client.force_login(coordinator)
    response = client.post(
        reverse("event_action", args=[network.slug, event.pk, "cancel"]), follow=True
    )
    assert "This event is already cancelled or held." in response.content.decode()
    event.refresh_from_db()
    assert event.status == Event.Status.HELD


def test_approve_schedules_a_proposal(client, coordinator, network, member_b):
    proposal = make_event(network, status=Event.Status.PROPOSED, proposed_by=member_b)
    client.force_login(coordinator)
    url = reverse("event_action", args=[network.slug, proposal.pk, "approve"])
    assert client.get(url).status_code == 405
    proposal.refresh_from_db()
    assert proposal.status == Event.Status.PROPOSED
    assert client.post(url).status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == Event.Status.SCHEDULED


def test_mark_as_held_records_attendance(client, coordinator, network):
    event = make_event(network, days=-1)
    client.force_login(coordinator)
    client.post(reverse("event_action", args=[network.slug, event.pk, "held"]))
    event.refresh_from_db()
    assert event.status == Event.Status.HELD and event.attendance_recorded


def test_unknown_action_is_404(client, coordinator, network):
    event = make_event(network)
    client.force_login(coordinator)
    assert (
        client.post(reverse("event_action", args=[network.slug, event.pk, "delete"])).status_code
        == 404
    )


def test_remind_now_mails_exactly_those_who_have_not_answered(
    client, coordinator, network, region_a, member_a, member_b, django_capture_on_commit_callbacks
):
    event = make_event(network)
    quiet = person(network, region_a, "Quiet One")
    invite(event, member_a, quiet)
    invite(event, member_b, answer="yes")
    invite(event, person(network, region_a, "Declined"), answer="no")
    invite(event, person(network, region_a, "Unsure"), answer="maybe")
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("event_action", args=[network.slug, event.pk, "remind"]), follow=True
        )
    assert sorted(m.to[0] for m in mail.outbox) == sorted([member_a.email, quiet.email])
    assert "Sent a reminder to 2 people who have not answered." in response.content.decode()


# --- choosing who to invite -------------------------------------------------------------


def test_audience_preview_lists_exactly_the_chosen_and_the_post_invites_exactly_them(
    client,
    coordinator,
    network,
    region_a,
    region_b,
    member_a,
    member_b,
    django_capture_on_commit_callbacks,
):
    region_c = factories.RegionFactory(network=network, name="Sanjo")
    chamber = factories.OrganizationFactory(
        network=network, region=region_c, kind=Organization.Kind.CHAMBER_OF_COMMERCE
    )
    chamber_person = factories.ParticipantFactory(
        network=network, organization=chamber, full_name="Chamber Person"
    )
    picked = person(network, region_c, "Picked Person")
    not_chosen = person(network, region_c, "Sanjo Firm Person")
    left = person(network, region_a, "Gone Person", left_on=dt.date(2025, 6, 1))
    coordinator_self = Participant.objects.get(user=coordinator)
    event = make_event(network, status=Event.Status.DRAFT)
    expected = {member_a.pk, coordinator_self.pk, chamber_person.pk, picked.pk}

    client.force_login(coordinator)
    url = reverse("event_audience", args=[network.slug, event.pk])
    query = {
        "regions": [region_a.pk],
        "kinds": ["chamber_of_commerce"],
        "participants": [picked.pk],
        "preview": "1",
    }
    response = client.get(url, query)
    html = response.content.decode()
    assert posted_ids(html) == expected
    assert "4 people chosen" in html
    for name in ("Member B", "Sanjo Firm Person", "Gone Person"):
        assert name not in html[html.index('id="preview"') :]
    assert not_chosen.pk not in posted_ids(html) and left.pk not in posted_ids(html)
    assert member_b.pk not in posted_ids(html)
    assert Invitation.objects.count() == 0  # the preview changed nothing

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{url}?{response.request['QUERY_STRING']}",
            {"participant_id": sorted(posted_ids(html))},
            follow=True,
        )
    assert response.redirect_chain[-1][0] == reverse("event_detail", args=[network.slug, event.pk])
    assert "4 people invited." in response.content.decode()
    assert set(event.invitations.values_list("participant_id", flat=True)) == expected
    event.refresh_from_db()
    assert event.status == Event.Status.SCHEDULED
    emails = Participant.objects.filter(pk__in=expected).values_list("email", flat=True)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(emails)

    # the same again: the preview marks them invited, the post invites and mails nobody twice
    mail.outbox.clear()
    html = client.get(url, query).content.decode()
    assert html.count("Already invited") == 4
    assert "0 not invited yet" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"participant_id": sorted(expected)}, follow=True)
    assert "0 people invited." in response.content.decode()
    assert event.invitations.count() == 4
    assert mail.outbox == []


def test_audience_of_the_whole_network_leaves_out_other_networks(
    client, coordinator, network, member_a, member_b, other_network
):
    elsewhere = factories.ParticipantFactory(network=other_network, full_name="Elsewhere")
    event = make_event(network)
    client.force_login(coordinator)
    url = reverse("event_audience", args=[network.slug, event.pk])
    html = client.get(url, {"everyone": "on", "preview": "1"}).content.decode()
    ids = posted_ids(html)
    assert {member_a.pk, member_b.pk} <= ids and elsewhere.pk not in ids
    # an id from another network smuggled into the post is ignored
    client.post(url, {"participant_id": [member_a.pk, elsewhere.pk]})
    assert list(event.invitations.values_list("participant_id", flat=True)) == [member_a.pk]


def test_audience_without_a_choice_asks_for_one(client, coordinator, network):
    event = make_event(network)
    client.force_login(coordinator)
    url = reverse("event_audience", args=[network.slug, event.pk])
    html = client.get(url, {"preview": "1"}).content.decode()
    assert "Choose who to invite." in html
    assert 'id="preview"' not in html


def test_a_proposal_cannot_be_invited_to_until_approved(
    client, coordinator, network, member_a, member_b
):
    proposal = make_event(network, status=Event.Status.PROPOSED, proposed_by=member_b)
    client.force_login(coordinator)
    url = reverse("event_audience", args=[network.slug, proposal.pk])
    response = client.get(url, {"everyone": "on", "preview": "1"})
    html = response.content.decode()
    assert 'id="cannot-invite"' in html and "waits for approval" in html
    assert "Send the invitation" not in html
    response = client.post(url, {"participant_id": [member_a.pk]}, follow=True)
    assert "Invitations can only be sent for a draft or scheduled event." in (
        response.content.decode()
    )
    assert not proposal.invitations.exists()
    assert mail.outbox == []


# --- exports ------------------------------------------------------------------------------


def _export_world(network, region_a, member_a, member_b) -> Event:
    event = make_event(network, title="Kickoff")
    answered = dt.datetime(2026, 5, 1, 1, 30, tzinfo=dt.UTC)  # 10:30 in Tokyo
    member_a.name_kana = "めんばー えー"
    member_a.save()
    invite(event, member_a, answer="yes", answered_at=answered, attended=True)
    invite(event, member_b, answer="no", answered_at=answered)
    invite(
        event,
        person(network, region_a, "Second Waiting"),
        answer="yes",
        answered_at=answered,
        waitlisted_at=answered,
    )
    invite(
        event,
        person(network, region_a, "First Waiting"),
        answer="yes",
        answered_at=answered,
        waitlisted_at=answered - dt.timedelta(minutes=5),
    )
    invite(event, person(network, region_a, "=HYPERLINK(1)"), walk_in=True, attended=True)
    return event


def test_csv_export_has_a_bom_and_parses_back(
    client, coordinator, network, region_a, member_a, member_b
):
    event = _export_world(network, region_a, member_a, member_b)
    client.force_login(coordinator)
    response = client.get(reverse("event_export", args=[network.slug, event.pk, "csv"]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    day = timezone.localtime(event.starts_at).date().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="event-{day}-{event.pk}.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "Name",
        "Kana",
        "E-mail address",
        "Organization",
        "Organization kind",
        "Region",
        "Answer",
        "Answered at",
        "Waiting list position",
        "Attended",
        "Walk-in",
    ]
    by_name = {row[0]: row for row in rows[1:]}
    assert len(by_name) == 5
    assert by_name["Member A"] == [
        "Member A",
        "めんばー えー",
        member_a.email,
        "A Works",
        "Firm",
        "Tsubame",
        "Yes",
        "2026-05-01T10:30:00+09:00",
        "",
        "1",
        "0",
    ]
    assert by_name["Member B"][6] == "No" and by_name["Member B"][5] == "Uonuma"
    assert by_name["First Waiting"][8] == "1"
    assert by_name["Second Waiting"][8] == "2"
    # a name that looks like a formula is not run by Excel
    assert by_name["'=HYPERLINK(1)"][9:] == ["1", "1"]


def test_a_researchers_export_has_no_contact_addresses(
    client, identified_researcher, network, region_a, member_a, member_b
):
    event = _export_world(network, region_a, member_a, member_b)
    client.force_login(identified_researcher)
    response = client.get(reverse("event_export", args=[network.slug, event.pk, "csv"]))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert "E-mail address" not in rows[0] and rows[0][:3] == ["Name", "Kana", "Organization"]
    assert member_a.email not in response.content.decode("utf-8-sig")
    assert {row[0] for row in rows[1:]} >= {"Member A", "Member B"}


def test_xlsx_export_has_the_same_rows_as_the_csv(
    client, coordinator, network, region_a, member_a, member_b
):
    event = _export_world(network, region_a, member_a, member_b)
    client.force_login(coordinator)
    csv_response = client.get(reverse("event_export", args=[network.slug, event.pk, "csv"]))
    csv_rows = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    response = client.get(reverse("event_export", args=[network.slug, event.pk, "xlsx"]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Disposition"].endswith('.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book.active
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    xlsx_rows = [
        ["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)
    ]
    assert xlsx_rows == csv_rows
    assert len(xlsx_rows) == 6


def test_unknown_export_format_is_404(client, coordinator, network):
    event = make_event(network)
    client.force_login(coordinator)
    assert (
        client.get(reverse("event_export", args=[network.slug, event.pk, "pdf"])).status_code == 404
    )


# --- sign-in sheet --------------------------------------------------------------------------


def test_signin_sheet_lists_confirmed_and_maybe_with_a_signature_column(
    client, identified_researcher, network, region_a, member_a, member_b
):
    event = make_event(network, title="Kickoff", venue="Tsubame hall")
    invite(event, member_a, answer="yes")
    invite(event, member_b, answer="maybe")
    invite(event, person(network, region_a, "Said No"), answer="no")
    invite(event, person(network, region_a, "Silent"))
    invite(event, person(network, region_a, "Waiting"), answer="yes", waitlisted_at=timezone.now())
    client.force_login(identified_researcher)
    html = client.get(reverse("event_signin_sheet", args=[network.slug, event.pk])).content.decode()
    sheet = html[html.index('id="signin-sheet"') :]
    assert "Member A" in sheet and "Member B" in sheet
    for name in ("Said No", "Silent", "Waiting"):
        assert name not in sheet
    assert "Signature" in sheet
    assert "Kickoff" in html and "Tsubame hall" in html
    assert "css/print.css" in html


# --- check-in -------------------------------------------------------------------------------


def test_checkin_lists_yes_and_maybe_first_and_counts(
    client, coordinator, network, region_a, member_a, member_b
):
    event = make_event(network)
    invite(event, member_a, answer="yes", attended=True)
    invite(event, member_b, answer="maybe")
    invite(event, person(network, region_a, "Not Coming"), answer="no")
    client.force_login(coordinator)
    url = reverse("event_checkin", args=[network.slug, event.pk])
    response = client.get(url)
    html = response.content.decode()
    assert "Checked in 1 of 2" in html
    assert [i.participant.full_name for i in response.context["expected"]] == [
        "Member A",
        "Member B",
    ]
    assert [i.participant.full_name for i in response.context["others"]] == ["Not Coming"]
    assert html.index("Member B") < html.index("Not Coming")
    assert 'name="viewport"' in html  # phone-sized

    response = client.get(url, {"q": "b works"})
    assert [i.participant.full_name for i in response.context["expected"]] == ["Member B"]
    assert response.context["others"] == []


def test_checkin_toggles_attendance_and_returns_to_the_row(client, coordinator, network, member_a):
    event = make_event(network)
    (invitation,) = invite(event, member_a, answer="yes")
    client.force_login(coordinator)
    url = reverse("event_checkin", args=[network.slug, event.pk])

    response = client.post(url, {"invitation": invitation.pk, "attended": "1"})
    assert response.url == f"{url}#i{invitation.pk}"
    invitation.refresh_from_db()
    assert invitation.attended and invitation.checked_in_at is not None
    client.post(url, {"invitation": invitation.pk, "attended": "1"})  # a double tap
    invitation.refresh_from_db()
    assert invitation.attended

    response = client.post(url, {"invitation": invitation.pk, "attended": "0", "q": "mem"})
    assert response.url == f"{url}?q=mem#i{invitation.pk}"
    invitation.refresh_from_db()
    assert not invitation.attended and invitation.checked_in_at is None


def test_checkin_of_another_events_invitation_is_404(client, coordinator, network, member_a):
    event, other = make_event(network), make_event(network)
    (invitation,) = invite(other, member_a)
    client.force_login(coordinator)
    url = reverse("event_checkin", args=[network.slug, event.pk])
    assert client.post(url, {"invitation": invitation.pk, "attended": "1"}).status_code == 404
    invitation.refresh_from_db()
    assert not invitation.attended


def test_walk_in_adds_an_attended_invitation(client, coordinator, network, member_a, member_b):
    event = make_event(network)
    invite(event, member_a, answer="yes")
    client.force_login(coordinator)
    url = reverse("event_checkin", args=[network.slug, event.pk])
    response = client.post(url, {"participant": member_b.pk})
    walk_in = Invitation.objects.get(event=event, participant=member_b)
    assert response.url == f"{url}#i{walk_in.pk}"
    assert walk_in.walk_in and walk_in.attended
    html = client.get(url).content.decode()
    assert "Checked in 1 of 1" in html and "1 walk-in" in html


def test_attendance_is_refused_unless_the_event_is_scheduled_or_held(
    client, coordinator, network, member_a, member_b
):
    event = make_event(network, status=Event.Status.CANCELLED)
    (invitation,) = invite(event, member_a, answer="yes")
    client.force_login(coordinator)
    url = reverse("event_checkin", args=[network.slug, event.pk])
    html = client.get(url).content.decode()
    assert "Attendance can only be recorded for a scheduled or held event." in html
    assert 'name="attended"' not in html
    client.post(url, {"invitation": invitation.pk, "attended": "1"})
    client.post(url, {"participant": member_b.pk})
    invitation.refresh_from_db()
    assert not invitation.attended
    assert not Invitation.objects.filter(participant=member_b).exists()

    event.status = Event.Status.HELD
    event.save()
    client.post(url, {"invitation": invitation.pk, "attended": "1"})
    invitation.refresh_from_db()
    assert invitation.attended
