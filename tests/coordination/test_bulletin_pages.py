"""The bulletin pages: the coordinator's list, form with live preview, audience, detail
with statistics and actions, attachment downloads; the participants' portal pages, the
unsubscribe page (RFC 8058 one-click) and the open pixel; who may open and do what."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from coordination import services
from coordination.bulletin_mail import open_token, unsubscribe_token
from coordination.models import Bulletin, BulletinAttachment, Delivery, Participant
from coordination.services.bulletins import MAX_ATTACHMENT_BYTES, MAX_BODY_CHARS
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
TOKYO = ZoneInfo("Asia/Tokyo")

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 32
HOSTILE = (
    "Hello **everyone**.\n\n<script>alert('pwned')</script>\n\n"
    '[click me](javascript:alert(1)) and <a href="javascript:alert(2)">this</a>'
)


def pdf(name: str = "agenda.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def draft(network, *, subject="Spring news", body="**Hello** all", audience=None, **data):
    return services.bulletin_save(
        network=network,
        data={
            "subject": subject,
            "body": body,
            "audience": {"everyone": True} if audience is None else audience,
            **data,
        },
    )


def send(bulletin, capture) -> Bulletin:
    with capture(execute=True):
        services.bulletin_send(bulletin=bulletin)
    bulletin.refresh_from_db()
    return bulletin


def form_data(**overrides) -> dict:
    return {"kind": "announcement", "subject": "Autumn news", "body": "Hi", "event": ""} | overrides


def queries(client, url, data=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, data or {}).status_code == 200
    return len(ctx.captured_queries)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- the world every permission test uses ----------------------------------------------


class World:
    def __init__(self, request, network, member_a, member_b, capture):
        self.network = network
        self.member_a = member_a
        self.member_b = member_b
        self.draft = draft(network, subject="Draft news")
        self.draft_file = services.bulletin_attach(bulletin=self.draft, upload=pdf())
        self.sent = draft(
            network, subject="Reflections", audience={"participant_ids": [member_a.pk]}
        )
        self.sent_file = services.bulletin_attach(
            bulletin=self.sent, upload=SimpleUploadedFile("photo.png", PNG)
        )
        send(self.sent, capture)
        mail.outbox.clear()
        self.users = {
            "anonymous": None,
            **{r: request.getfixturevalue(r) for r in ROLES if r != "anonymous"},
        }

    def user(self, role):
        user = self.users[role]
        return user.user if isinstance(user, Participant) else user

    def snapshot(self) -> list:
        return [
            list(
                Bulletin.objects.order_by("pk").values_list(
                    "pk", "subject", "body", "status", "audience", "scheduled_at"
                )
            ),
            list(BulletinAttachment.objects.order_by("pk").values_list("pk", "bulletin_id")),
            list(Delivery.objects.order_by("pk").values_list("pk", "status", "read_at")),
            list(Participant.objects.order_by("pk").values_list("pk", "bulletin_opt_out")),
        ]


@pytest.fixture
def world(request, network, member_a, member_b, django_capture_on_commit_callbacks):
    return World(request, network, member_a, member_b, django_capture_on_commit_callbacks)


def login(client, world, role):
    user = world.user(role)
    if user is not None:
        client.force_login(user)
    return user


def _draft(w):
    return [w.network.slug, w.draft.pk]


def _sent(w):
    return [w.network.slug, w.sent.pk]


PAGES = [
    ("bulletin_list", lambda w: [w.network.slug], {}, IDENTIFIED),
    ("bulletin_create", lambda w: [w.network.slug], {}, MANAGERS),
    ("bulletin_detail", _draft, {}, IDENTIFIED),
    ("bulletin_detail", _sent, {"status": "sent"}, IDENTIFIED),
    ("bulletin_edit", _draft, {}, MANAGERS),
    ("bulletin_audience", _draft, {}, MANAGERS),
    ("bulletin_audience", _draft, {"everyone": "on", "preview": "1"}, MANAGERS),
    ("bulletin_action", lambda w: [*_draft(w), "send"], {}, MANAGERS),
    ("bulletin_action", lambda w: [*_draft(w), "cancel"], {}, MANAGERS),
    ("bulletin_attachment", lambda w: [*_draft(w), w.draft_file.pk], {}, IDENTIFIED),
    ("bulletin_attachment", lambda w: [*_sent(w), w.sent_file.pk], {}, IDENTIFIED | {"member_a"}),
    ("portal_bulletins", lambda w: [w.network.slug], {}, {"coordinator", "member_a"}),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("name", "args", "query", "allowed"), PAGES, ids=[f"{p[0]}-{i}" for i, p in enumerate(PAGES)]
)
def test_bulletin_page_access_by_role(client, world, role, name, args, query, allowed):
    login(client, world, role)
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
    slug, pk = w.network.slug, w.draft.pk
    action = lambda name: reverse("bulletin_action", args=[slug, pk, name])  # noqa: E731
    return [
        (reverse("bulletin_create", args=[slug]), form_data(subject="Intruded")),
        (reverse("bulletin_edit", args=[slug, pk]), form_data(subject="Renamed")),
        (reverse("bulletin_preview", args=[slug]), {"body": "**x**"}),
        (reverse("bulletin_audience", args=[slug, pk]), {"participants": [w.member_b.pk]}),
        (action("send"), {}),
        (action("schedule"), {"scheduled_at": "2030-01-01T10:00"}),
        (action("cancel"), {}),
        (action("duplicate"), {}),
        (action("detach"), {"attachment": w.draft_file.pk}),
        (reverse("bulletin_action", args=[slug, w.sent.pk, "resend_failed"]), {}),
    ]


@pytest.mark.parametrize("role", ["researcher", "member_a", "outsider", "stranger", "anonymous"])
def test_only_the_coordinator_may_change_bulletins(
    client, world, role, django_capture_on_commit_callbacks
):
    login(client, world, role)
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


def test_coordinator_of_another_network_cannot_reach_bulletins_under_their_own_slug(
    client, world, outsider
):
    client.force_login(outsider)
    for name in ("bulletin_detail", "bulletin_edit", "bulletin_audience"):
        assert client.get(reverse(name, args=["beta", world.draft.pk])).status_code == 404
    url = reverse("bulletin_action", args=["beta", world.draft.pk, "send"])
    assert client.post(url).status_code == 404
    file_url = reverse("bulletin_attachment", args=["beta", world.draft.pk, world.draft_file.pk])
    assert client.get(file_url).status_code == 404
    world.draft.refresh_from_db()
    assert world.draft.status == Bulletin.Status.DRAFT


def test_unknown_action_is_404_and_actions_refuse_get(client, world, coordinator):
    client.force_login(coordinator)
    assert (
        client.get(reverse("bulletin_action", args=[*_draft(world), "explode"])).status_code == 404
    )
    for action in ("schedule", "unschedule", "duplicate", "detach", "resend_failed"):
        response = client.get(reverse("bulletin_action", args=[*_draft(world), action]))
        assert response.status_code == 405, action
    assert Bulletin.objects.count() == 2


# --- the list ------------------------------------------------------------------------------


def test_bulletin_list_shows_status_times_and_counts(client, world, coordinator):
    Delivery.objects.filter(bulletin=world.sent).update(read_at=timezone.now())
    client.force_login(coordinator)
    response = client.get(reverse("bulletin_list", args=[world.network.slug]))
    html = response.content.decode()
    rows = {b.pk: b for b in response.context["page"]}
    assert (rows[world.sent.pk].delivered, rows[world.sent.pk].read) == (1, 1)
    assert (rows[world.draft.pk].delivered, rows[world.draft.pk].failed) == (0, 0)
    assert "Reflections" in html and "Draft news" in html
    assert "badge text-bg-success" in html and "New bulletin" in html


def test_researcher_sees_the_list_without_the_new_button(client, world, identified_researcher):
    client.force_login(identified_researcher)
    html = client.get(reverse("bulletin_list", args=[world.network.slug])).content.decode()
    assert "Reflections" in html
    assert reverse("bulletin_create", args=[world.network.slug]) not in html


def _bulletins_with_deliveries(network, people, n: int) -> None:
    for i in range(n):
        bulletin = Bulletin.objects.create(
            network=network,
            subject=f"Bulletin {i}",
            body="x",
            status=Bulletin.Status.SENT,
            started_at=timezone.now(),
        )
        Delivery.objects.bulk_create(
            Delivery(bulletin=bulletin, participant=p, status="sent") for p in people
        )


def test_bulletin_list_query_count_does_not_grow_with_bulletins(
    client, coordinator, network, member_a, member_b, other_network
):
    client.force_login(coordinator)
    url = reverse("bulletin_list", args=[network.slug])
    _bulletins_with_deliveries(network, [member_a, member_b], 3)
    few = queries(client, url)
    _bulletins_with_deliveries(network, [member_a, member_b], 27)
    many = queries(client, url)
    assert few == many
    assert len(client.get(url).context["page"]) == 30


# --- the form and the live preview ------------------------------------------------------


def test_coordinator_creates_a_bulletin_with_attachments(client, coordinator, network, region_a):
    event = Bulletin._meta.get_field("event").related_model.objects.create(
        network=network,
        title="Kickoff",
        starts_at=timezone.now() + dt.timedelta(days=3),
        ends_at=timezone.now() + dt.timedelta(days=3, hours=2),
    )
    client.force_login(coordinator)
    response = client.post(
        reverse("bulletin_create", args=[network.slug]),
        form_data(
            kind="invitation",
            subject="Join the kickoff",
            body="See the **agenda**.",
            event=event.pk,
            attachments=[pdf(), SimpleUploadedFile("map.png", PNG, content_type="image/png")],
        ),
    )
    bulletin = Bulletin.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("bulletin_detail", args=[network.slug, bulletin.pk])
    assert (bulletin.kind, bulletin.subject, bulletin.status) == (
        "invitation",
        "Join the kickoff",
        "draft",
    )
    assert bulletin.author == coordinator and bulletin.event == event
    files = {a.filename: a.content_type for a in bulletin.attachments.all()}
    assert files == {"agenda.pdf": "application/pdf", "map.png": "image/png"}


def test_related_event_must_be_of_this_network(client, coordinator, network, other_network):
    foreign = Bulletin._meta.get_field("event").related_model.objects.create(
        network=other_network,
        title="Elsewhere",
        starts_at=timezone.now() + dt.timedelta(days=3),
        ends_at=timezone.now() + dt.timedelta(days=3, hours=2),
    )
    client.force_login(coordinator)
    response = client.post(
        reverse("bulletin_create", args=[network.slug]), form_data(event=foreign.pk)
    )
    assert response.status_code == 200
    assert response.context["form"].errors["event"]
    assert not Bulletin.objects.exists()


@pytest.mark.parametrize("subject", ["", "   "])
def test_empty_subject_is_refused(client, coordinator, network, subject):
    client.force_login(coordinator)
    response = client.post(
        reverse("bulletin_create", args=[network.slug]), form_data(subject=subject)
    )
    assert response.status_code == 200
    assert response.context["form"].errors["subject"]
    assert not Bulletin.objects.exists()


def test_subject_over_200_characters_is_refused(client, coordinator, network):
    client.force_login(coordinator)
    response = client.post(
        reverse("bulletin_create", args=[network.slug]), form_data(subject="x" * 201)
    )
    assert response.context["form"].errors["subject"]
    assert not Bulletin.objects.exists()


def test_body_over_the_limit_is_refused(client, coordinator, network):
    client.force_login(coordinator)
    response = client.post(
        reverse("bulletin_create", args=[network.slug]),
        form_data(body="a" * (MAX_BODY_CHARS + 1)),
    )
    assert response.status_code == 200
    assert response.context["form"].errors["body"]
    assert not Bulletin.objects.exists()
    # exactly at the limit is fine
    client.post(
        reverse("bulletin_create", args=[network.slug]), form_data(body="a" * MAX_BODY_CHARS)
    )
    assert Bulletin.objects.get().body == "a" * MAX_BODY_CHARS


def test_a_program_renamed_pdf_is_refused_and_nothing_is_kept(client, coordinator, network):
    client.force_login(coordinator)
    fake = SimpleUploadedFile("report.pdf", EXE, content_type="application/pdf")
    response = client.post(
        reverse("bulletin_create", args=[network.slug]), form_data(attachments=[pdf(), fake])
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["attachments"]
    assert errors == ["report.pdf is not a PDF or an image (PNG, JPEG, GIF, WebP)."]
    assert "report.pdf is not a PDF or an image" in response.content.decode()
    assert not Bulletin.objects.exists()
    assert not BulletinAttachment.objects.exists()


def test_an_oversized_attachment_is_refused(client, coordinator, network):
    client.force_login(coordinator)
    big = SimpleUploadedFile(
        "big.pdf",
        PDF + b"0" * (MAX_ATTACHMENT_BYTES + 1 - len(PDF)),
        content_type="application/pdf",
    )
    assert big.size == MAX_ATTACHMENT_BYTES + 1
    response = client.post(
        reverse("bulletin_create", args=[network.slug]), form_data(attachments=[big])
    )
    assert response.context["form"].errors["attachments"] == ["big.pdf is larger than 5 MB."]
    assert not Bulletin.objects.exists()


def test_a_refused_attachment_on_edit_keeps_the_saved_bulletin_as_it_was(
    client, coordinator, network
):
    bulletin = draft(network, subject="Before")
    client.force_login(coordinator)
    fake = SimpleUploadedFile("setup.pdf", EXE)
    response = client.post(
        reverse("bulletin_edit", args=[network.slug, bulletin.pk]),
        form_data(subject="After", attachments=[fake]),
    )
    assert response.status_code == 200 and response.context["form"].errors["attachments"]
    bulletin.refresh_from_db()
    assert bulletin.subject == "Before"
    assert not bulletin.attachments.exists()


def test_edit_shows_existing_attachments_with_remove_buttons_and_detach_removes(
    client, world, coordinator
):
    client.force_login(coordinator)
    url = reverse("bulletin_edit", args=_draft(world))
    html = client.get(url).content.decode()
    assert "agenda.pdf" in html
    assert f'form="detach-{world.draft_file.pk}"' in html
    detach = reverse("bulletin_action", args=[*_draft(world), "detach"])
    assert f'action="{detach}"' in html

    response = client.post(detach, {"attachment": world.draft_file.pk})
    assert response.status_code == 302 and response.url == url
    assert not BulletinAttachment.objects.filter(pk=world.draft_file.pk).exists()


def test_detach_by_query_string_and_not_of_another_bulletin(client, world, coordinator):
    client.force_login(coordinator)
    detach = reverse("bulletin_action", args=[*_draft(world), "detach"])
    # an attachment of another bulletin is not found through this one
    assert client.post(f"{detach}?attachment={world.sent_file.pk}").status_code == 404
    assert client.post(detach).status_code == 404
    client.post(f"{detach}?attachment={world.draft_file.pk}")
    assert not world.draft.attachments.exists()
    assert BulletinAttachment.objects.filter(pk=world.sent_file.pk).exists()


def test_a_sent_bulletin_cannot_be_edited(client, world, coordinator):
    client.force_login(coordinator)
    url = reverse("bulletin_edit", args=_sent(world))
    response = client.get(url, follow=True)
    assert response.redirect_chain[-1][0] == reverse("bulletin_detail", args=_sent(world))
    assert "cannot be changed" in " ".join(messages_of(response))
    client.post(url, form_data(subject="Rewritten history"))
    world.sent.refresh_from_db()
    assert world.sent.subject == "Reflections"
    # nor its attachments removed
    detach = reverse("bulletin_action", args=[*_sent(world), "detach"])
    client.post(detach, {"attachment": world.sent_file.pk})
    assert BulletinAttachment.objects.filter(pk=world.sent_file.pk).exists()


def test_a_scheduled_bulletin_can_still_be_edited(client, coordinator, network):
    bulletin = draft(network)
    services.bulletin_schedule(bulletin=bulletin, at=timezone.now() + dt.timedelta(days=1))
    client.force_login(coordinator)
    client.post(
        reverse("bulletin_edit", args=[network.slug, bulletin.pk]), form_data(subject="Fixed typo")
    )
    bulletin.refresh_from_db()
    assert (bulletin.subject, bulletin.status) == ("Fixed typo", "scheduled")


def test_the_form_loads_the_preview_script_without_inline_script(client, coordinator, network):
    client.force_login(coordinator)
    html = client.get(reverse("bulletin_create", args=[network.slug])).content.decode()
    assert "js/bulletin-preview.js" in html
    assert f'data-preview-url="{reverse("bulletin_preview", args=[network.slug])}"' in html
    assert 'id="bulletin-preview"' in html and "data-preview-source" in html
    assert "<script>" not in html  # every script has a src (CSP: script-src 'self')


def test_live_preview_returns_sanitised_html(client, coordinator, network):
    client.force_login(coordinator)
    url = reverse("bulletin_preview", args=[network.slug])
    response = client.post(url, {"body": HOSTILE})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "<strong>everyone</strong>" in html
    assert "<script" not in html and "alert(" not in html and "javascript:" not in html
    assert client.get(url).status_code == 405


def test_live_preview_needs_the_csrf_token(coordinator, network):
    client = Client(enforce_csrf_checks=True)
    client.force_login(coordinator)
    response = client.post(reverse("bulletin_preview", args=[network.slug]), {"body": "x"})
    assert response.status_code == 403


def test_preview_button_without_javascript_renders_the_preview_and_saves_nothing(
    client, coordinator, network
):
    client.force_login(coordinator)
    response = client.post(
        reverse("bulletin_create", args=[network.slug]),
        form_data(body=HOSTILE, preview="1"),
    )
    assert response.status_code == 200
    assert not Bulletin.objects.exists()
    assert "<strong>everyone</strong>" in str(response.context["preview"])
    html = response.content.decode()
    assert "<script>alert" not in html  # in the textarea it is escaped, in the preview gone
    assert 'href="javascript:' not in html


def test_script_and_javascript_links_are_absent_from_rendered_pages(
    client, coordinator, network, member_a, django_capture_on_commit_callbacks
):
    bulletin = draft(network, body=HOSTILE, audience={"participant_ids": [member_a.pk]})
    send(bulletin, django_capture_on_commit_callbacks)
    client.force_login(coordinator)
    staff = client.get(reverse("bulletin_detail", args=[network.slug, bulletin.pk])).content
    client.force_login(member_a.user)
    portal = client.get(reverse("portal_bulletin", args=[network.slug, bulletin.pk])).content
    for html in (staff.decode(), portal.decode()):
        assert "<strong>everyone</strong>" in html
        assert "alert(" not in html
        assert "javascript:" not in html


# --- the audience -----------------------------------------------------------------------


def test_audience_preview_counts_and_marks_who_is_skipped_without_saving(
    client, coordinator, network, region_a, region_b, member_a, member_b
):
    opted_out = factories.ParticipantFactory(
        network=network,
        organization__region=region_a,
        full_name="Quiet Person",
        bulletin_opt_out=True,
    )
    withdrawn = factories.ParticipantFactory(
        network=network,
        organization__region=region_a,
        full_name="Withdrawn Person",
        research_consent="withdrawn",
        consent_withdrawn_on=dt.date(2026, 1, 5),
    )
    bulletin = draft(network, audience={})
    client.force_login(coordinator)
    url = reverse("bulletin_audience", args=[network.slug, bulletin.pk])
    response = client.get(url, {"regions": [region_a.pk], "preview": "1"})
    assert response.status_code == 200
    rows = {p.pk: reason for p, reason, _label in response.context["preview"]}
    coordinator_p = Participant.objects.get(user=coordinator)
    assert rows == {
        member_a.pk: "",
        coordinator_p.pk: "",
        opted_out.pk: "opted_out",
        withdrawn.pk: "consent_withdrawn",
    }
    assert (response.context["receiving"], response.context["skipped"]) == (2, 2)
    html = response.content.decode()
    assert "2 people will receive it" in html and "2 skipped" in html
    assert "Opted out of bulletins" in html and "Research consent withdrawn" in html
    assert f'id="recipient-{member_a.pk}"' in html
    assert f'id="recipient-{member_b.pk}"' not in html
    bulletin.refresh_from_db()
    assert bulletin.audience == {}  # a preview saves nothing
    # the save form carries the previewed choice
    assert f'name="regions" value="{region_a.pk}"' in html


def test_audience_post_saves_the_choice_on_the_bulletin(
    client, coordinator, network, region_b, member_a, member_b
):
    bulletin = draft(network, audience={})
    client.force_login(coordinator)
    response = client.post(
        reverse("bulletin_audience", args=[network.slug, bulletin.pk]),
        {"regions": [region_b.pk], "kinds": ["university"], "participants": [member_a.pk]},
    )
    assert response.status_code == 302
    bulletin.refresh_from_db()
    assert bulletin.audience == {
        "everyone": False,
        "regions": [region_b.pk],
        "kinds": ["university"],
        "participant_ids": [member_a.pk],
    }
    # the page without a query previews what is saved, and the form shows it chosen
    response = client.get(reverse("bulletin_audience", args=[network.slug, bulletin.pk]))
    assert {p.pk for p, *_ in response.context["preview"]} == {member_a.pk, member_b.pk}
    detail = client.get(reverse("bulletin_detail", args=[network.slug, bulletin.pk]))
    assert "2 people will receive it" in detail.content.decode()


def test_audience_must_choose_someone(client, coordinator, network):
    bulletin = draft(network, audience={"everyone": True})
    client.force_login(coordinator)
    url = reverse("bulletin_audience", args=[network.slug, bulletin.pk])
    response = client.post(url, {})
    assert response.status_code == 200 and response.context["form"].errors
    bulletin.refresh_from_db()
    assert bulletin.audience == {"everyone": True}


def test_audience_of_a_sent_bulletin_cannot_change(client, world, coordinator):
    client.force_login(coordinator)
    url = reverse("bulletin_audience", args=_sent(world))
    response = client.post(url, {"everyone": "on"}, follow=True)
    assert "cannot be changed" in " ".join(messages_of(response))
    world.sent.refresh_from_db()
    assert world.sent.audience == {"participant_ids": [world.member_a.pk]}


# --- detail, scheduling and sending ----------------------------------------------------


def test_detail_shows_the_rendered_bulletin_audience_and_attachments(client, world, coordinator):
    client.force_login(coordinator)
    response = client.get(reverse("bulletin_detail", args=_draft(world)))
    html = response.content.decode()
    assert "<strong>Hello</strong> all" in html
    assert reverse("bulletin_attachment", args=[*_draft(world), world.draft_file.pk]) in html
    assert "The whole network" in html
    # coordinator, member A, member B
    assert response.context["audience"]["receiving"] == 3
    assert "3 people will receive it" in html
    assert reverse("bulletin_action", args=[*_draft(world), "send"]) in html


def test_researcher_sees_the_detail_without_actions(client, world, identified_researcher):
    client.force_login(identified_researcher)
    html = client.get(reverse("bulletin_detail", args=_draft(world))).content.decode()
    assert "Draft news" in html
    assert 'id="bulletin-actions"' not in html and 'id="schedule-form"' not in html


def test_scheduling_in_the_past_is_refused(client, world, coordinator):
    client.force_login(coordinator)
    url = reverse("bulletin_action", args=[*_draft(world), "schedule"])
    response = client.post(url, {"scheduled_at": "2020-01-01T10:00"}, follow=True)
    assert "The sending time must be in the future." in messages_of(response)
    world.draft.refresh_from_db()
    assert (world.draft.status, world.draft.scheduled_at) == ("draft", None)
    response = client.post(url, {"scheduled_at": "not a time"}, follow=True)
    assert "Choose a date and time to send at." in messages_of(response)


def test_scheduling_reads_japan_time_and_unschedule_returns_to_draft(client, world, coordinator):
    client.force_login(coordinator)
    client.post(
        reverse("bulletin_action", args=[*_draft(world), "schedule"]),
        {"scheduled_at": "2031-05-01T09:30"},
    )
    world.draft.refresh_from_db()
    assert world.draft.status == "scheduled"
    assert world.draft.scheduled_at == dt.datetime(2031, 5, 1, 9, 30, tzinfo=TOKYO)
    html = client.get(reverse("bulletin_detail", args=_draft(world))).content.decode()
    assert 'value="2031-05-01T09:30"' in html
    client.post(reverse("bulletin_action", args=[*_draft(world), "unschedule"]))
    world.draft.refresh_from_db()
    assert (world.draft.status, world.draft.scheduled_at) == ("draft", None)


def test_scheduling_without_recipients_is_refused(client, coordinator, network):
    bulletin = draft(network, audience={})
    client.force_login(coordinator)
    response = client.post(
        reverse("bulletin_action", args=[network.slug, bulletin.pk, "schedule"]),
        {"scheduled_at": "2031-05-01T09:30"},
        follow=True,
    )
    assert "Choose who receives the bulletin first." in messages_of(response)
    bulletin.refresh_from_db()
    assert bulletin.status == "draft"


def test_send_asks_first_then_delivers_through_the_outbox(
    client, coordinator, network, member_a, member_b, django_capture_on_commit_callbacks
):
    member_b.bulletin_opt_out = True
    member_b.save()
    bulletin = draft(network, audience={"participant_ids": [member_a.pk, member_b.pk]})
    client.force_login(coordinator)
    url = reverse("bulletin_action", args=[network.slug, bulletin.pk, "send"])

    confirm = client.get(url)
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert "Send to 1 person?" in html
    assert "1 more person is chosen but skipped" in html
    bulletin.refresh_from_db()
    assert bulletin.status == "draft" and not Delivery.objects.exists() and mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [[f"{member_a.full_name} <{member_a.email}>"]]
    assert mail.outbox[0].subject == "Spring news"
    bulletin.refresh_from_db()
    assert bulletin.status == "sent"
    skipped = Delivery.objects.get(bulletin=bulletin, participant=member_b)
    assert (skipped.status, skipped.skip_reason) == ("skipped", "opted_out")

    response = client.get(reverse("bulletin_detail", args=[network.slug, bulletin.pk]))
    stats = response.context["stats"]
    assert (stats["sent"], stats["skipped"], stats["failed"], stats["read"]) == (1, 1, 0, 0)
    html = response.content.decode()
    assert '<div class="stat" id="stat-sent">1</div>' in html
    assert '<div class="stat" id="stat-skipped">1</div>' in html
    assert "Opted out of bulletins" in html
    rows = {d.participant_id: d for d in response.context["deliveries"]}
    assert rows[member_a.pk].status == "sent" and rows[member_a.pk].attempts == 1
    assert rows[member_b.pk].skip_label == "Opted out of bulletins"

    # sending twice is refused and sends nothing more
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, follow=True)
    assert "already being sent, sent or cancelled" in " ".join(messages_of(response))
    assert len(mail.outbox) == 1


def test_send_without_recipients_says_so(client, coordinator, network):
    bulletin = draft(network, audience={})
    client.force_login(coordinator)
    url = reverse("bulletin_action", args=[network.slug, bulletin.pk, "send"])
    assert "Choose who receives the bulletin first." in client.get(url).content.decode()
    response = client.post(url, follow=True)
    assert "Choose who receives the bulletin first." in messages_of(response)
    assert not Delivery.objects.exists()


def test_detail_statistics_read_rate_by_region_and_failed_errors(
    client, coordinator, network, region_a, region_b, member_a, member_b
):
    extra = factories.ParticipantFactory(network=network, organization__region=region_a)
    bulletin = Bulletin.objects.create(
        network=network, subject="Findings", body="x", status="sent", started_at=timezone.now()
    )
    now = timezone.now()
    Delivery.objects.create(
        bulletin=bulletin, participant=member_a, status="sent", read_at=now, sent_at=now, attempts=1
    )
    Delivery.objects.create(
        bulletin=bulletin, participant=extra, status="sent", sent_at=now, attempts=1
    )
    Delivery.objects.create(
        bulletin=bulletin,
        participant=member_b,
        status="failed",
        attempts=5,
        last_error="SMTPRecipientsRefused: 550 mailbox unavailable",
    )
    client.force_login(coordinator)
    url = reverse("bulletin_detail", args=[network.slug, bulletin.pk])
    response = client.get(url)
    html = response.content.decode()
    assert '<div class="stat" id="stat-read-rate">50%</div>' in html
    regions = {r["region"]: (r["sent"], r["read"]) for r in response.context["stats"]["regions"]}
    assert regions == {"Tsubame": (2, 1)}
    assert "550 mailbox unavailable" in html
    assert reverse("bulletin_action", args=[network.slug, bulletin.pk, "resend_failed"]) in html

    failed_only = client.get(url, {"status": "failed"})
    assert [d.participant_id for d in failed_only.context["deliveries"]] == [member_b.pk]
    # an unknown status filter shows everything
    assert len(client.get(url, {"status": "bogus"}).context["deliveries"]) == 3


def test_resend_to_failed_delivers_again(
    client, world, coordinator, django_capture_on_commit_callbacks
):
    Delivery.objects.filter(bulletin=world.sent).update(
        status="failed", last_error="SMTPDataError: 451 try later"
    )
    Bulletin.objects.filter(pk=world.sent.pk).update(status="sent")
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("bulletin_action", args=[*_sent(world), "resend_failed"]), follow=True
        )
    assert "Sending again to 1 person." in messages_of(response)
    assert len(mail.outbox) == 1
    assert Delivery.objects.get(bulletin=world.sent).status == "sent"


def test_cancel_asks_first_and_cancels_on_post(client, world, coordinator):
    client.force_login(coordinator)
    url = reverse("bulletin_action", args=[*_draft(world), "cancel"])
    assert "Cancel the bulletin?" in client.get(url).content.decode()
    world.draft.refresh_from_db()
    assert world.draft.status == "draft"
    client.post(url)
    world.draft.refresh_from_db()
    assert world.draft.status == "cancelled"
    # a cancelled bulletin cannot be sent
    response = client.post(reverse("bulletin_action", args=[*_draft(world), "send"]), follow=True)
    assert "already being sent, sent or cancelled" in " ".join(messages_of(response))
    assert not Delivery.objects.filter(bulletin=world.draft).exists()


def test_duplicate_makes_a_new_draft_and_opens_its_form(client, world, coordinator):
    client.force_login(coordinator)
    response = client.post(reverse("bulletin_action", args=[*_sent(world), "duplicate"]))
    copy = Bulletin.objects.exclude(pk__in=[world.sent.pk, world.draft.pk]).get()
    assert response.status_code == 302
    assert response.url == reverse("bulletin_edit", args=[world.network.slug, copy.pk])
    assert (copy.subject, copy.status, copy.author) == ("Reflections", "draft", coordinator)
    assert copy.audience == world.sent.audience
    assert [a.filename for a in copy.attachments.all()] == ["photo.png"]
    assert not copy.deliveries.exists()


def _sent_bulletin_with_deliveries(network, n: int) -> Bulletin:
    bulletin = Bulletin.objects.create(
        network=network,
        subject="Many",
        body="x",
        status="sent",
        started_at=timezone.now(),
        audience={"everyone": True},
    )
    regions = [factories.RegionFactory(network=network) for _ in range(2)]
    statuses = ["sent", "failed", "skipped", "queued", "sent"]
    for i in range(n):
        person = factories.ParticipantFactory(network=network, organization__region=regions[i % 2])
        Delivery.objects.create(
            bulletin=bulletin,
            participant=person,
            status=statuses[i % 5],
            skip_reason="opted_out" if statuses[i % 5] == "skipped" else "",
            last_error="boom" if statuses[i % 5] == "failed" else "",
            read_at=timezone.now() if i % 5 == 4 else None,
        )
    return bulletin


def test_bulletin_detail_query_count_does_not_grow_with_deliveries(client, coordinator, network):
    client.force_login(coordinator)
    few = _sent_bulletin_with_deliveries(network, 5)
    many = _sent_bulletin_with_deliveries(network, 50)
    assert queries(client, reverse("bulletin_detail", args=[network.slug, few.pk])) == queries(
        client, reverse("bulletin_detail", args=[network.slug, many.pk])
    )
    response = client.get(reverse("bulletin_detail", args=[network.slug, many.pk]))
    assert response.context["stats"]["failed"] == 10
    assert len(response.context["deliveries"]) == 50


def test_draft_detail_query_count_does_not_grow_with_the_audience(client, coordinator, network):
    client.force_login(coordinator)
    bulletin = draft(network)
    region = factories.RegionFactory(network=network)
    factories.ParticipantFactory.create_batch(3, network=network, organization__region=region)
    url = reverse("bulletin_detail", args=[network.slug, bulletin.pk])
    few = queries(client, url)
    factories.ParticipantFactory.create_batch(30, network=network, organization__region=region)
    assert queries(client, url) == few


# --- attachments ------------------------------------------------------------------------


def test_attachment_download_has_the_stored_type_and_name(client, world, coordinator):
    client.force_login(coordinator)
    response = client.get(
        reverse("bulletin_attachment", args=[*_draft(world), world.draft_file.pk])
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="agenda.pdf"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == PDF


def test_participant_downloads_only_attachments_of_bulletins_sent_to_them(
    client, world, member_a, member_b
):
    sent_url = reverse("bulletin_attachment", args=[*_sent(world), world.sent_file.pk])
    draft_url = reverse("bulletin_attachment", args=[*_draft(world), world.draft_file.pk])
    client.force_login(member_a.user)
    assert client.get(sent_url).status_code == 200
    assert client.get(draft_url).status_code == 404
    # the pair must match: the draft's file is not reachable through the sent bulletin
    mixed = reverse("bulletin_attachment", args=[*_sent(world), world.draft_file.pk])
    assert client.get(mixed).status_code == 404
    client.force_login(member_b.user)
    assert client.get(sent_url).status_code == 404
    # a skipped delivery is no delivery
    Delivery.objects.filter(bulletin=world.sent).update(status="skipped")
    client.force_login(member_a.user)
    assert client.get(sent_url).status_code == 404


# --- the portal ---------------------------------------------------------------------------


def test_portal_list_shows_unread_then_read_after_opening(
    client, world, member_a, django_capture_on_commit_callbacks
):
    older = world.sent
    newer = send(
        draft(world.network, subject="Newer", audience={"participant_ids": [member_a.pk]}),
        django_capture_on_commit_callbacks,
    )
    Bulletin.objects.filter(pk=older.pk).update(started_at=timezone.now() - dt.timedelta(days=2))
    client.force_login(member_a.user)
    url = reverse("portal_bulletins", args=[world.network.slug])
    response = client.get(url)
    assert [d.bulletin_id for d in response.context["page"]] == [newer.pk, older.pk]
    html = response.content.decode()
    assert html.count('class="badge text-bg-primary unread"') == 2
    assert "Draft news" not in html

    page = client.get(reverse("portal_bulletin", args=[world.network.slug, older.pk]))
    assert page.status_code == 200
    assert "<strong>Hello</strong> all" in page.content.decode()
    assert "photo.png" in page.content.decode()
    first = Delivery.objects.get(bulletin=older, participant=member_a).read_at
    assert first is not None
    # reading again keeps the first read time
    client.get(reverse("portal_bulletin", args=[world.network.slug, older.pk]))
    assert Delivery.objects.get(bulletin=older, participant=member_a).read_at == first

    html = client.get(url).content.decode()
    assert html.count('class="badge text-bg-primary unread"') == 1
    assert f'id="bulletin-{newer.pk}"' in html


def test_reading_a_bulletin_not_addressed_to_me_is_404(
    client, world, member_b, other_network, django_capture_on_commit_callbacks
):
    client.force_login(member_b.user)
    for pk in (world.sent.pk, world.draft.pk, 999999):
        assert (
            client.get(reverse("portal_bulletin", args=[world.network.slug, pk])).status_code == 404
        )
    # a bulletin of another network, even under this network's slug
    region = factories.RegionFactory(network=other_network)
    stranger = factories.ParticipantFactory(network=other_network, organization__region=region)
    foreign = send(
        draft(other_network, audience={"participant_ids": [stranger.pk]}),
        django_capture_on_commit_callbacks,
    )
    assert client.get(reverse("portal_bulletin", args=["alpha", foreign.pk])).status_code == 404
    assert client.get(reverse("portal_bulletin", args=["beta", foreign.pk])).status_code == 404
    assert Delivery.objects.get(bulletin=world.sent).read_at is None


@pytest.mark.parametrize("role", ["researcher", "outsider", "stranger", "anonymous"])
def test_portal_bulletin_is_only_for_participants(client, world, role):
    login(client, world, role)
    response = client.get(reverse("portal_bulletin", args=_sent(world)))
    assert response.status_code == (302 if role == "anonymous" else 404)
    assert Delivery.objects.get(bulletin=world.sent).read_at is None


def test_portal_list_query_count_does_not_grow_with_bulletins(client, network, member_a):
    client.force_login(member_a.user)
    url = reverse("portal_bulletins", args=[network.slug])
    _bulletins_with_deliveries(network, [member_a], 3)
    few = queries(client, url)
    _bulletins_with_deliveries(network, [member_a], 20)
    assert queries(client, url) == few


# --- unsubscribe (RFC 8058) ----------------------------------------------------------


def test_unsubscribe_get_only_asks(world, member_a):
    # The page speaks the participant's language (here English; Japanese is the default).
    member_a.preferred_language = "en"
    member_a.save()
    client = Client()
    url = reverse("bulletin_unsubscribe", args=[unsubscribe_token(member_a)])
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Stop receiving bulletins from Alpha network?" in html
    assert 'id="unsubscribe"' in html
    member_a.refresh_from_db()
    assert member_a.bulletin_opt_out is False


def test_one_click_unsubscribe_works_without_csrf(
    world, member_a, django_capture_on_commit_callbacks
):
    # the address the e-mail itself announces
    send(
        draft(world.network, audience={"participant_ids": [member_a.pk]}),
        django_capture_on_commit_callbacks,
    )
    header = mail.outbox[-1].extra_headers["List-Unsubscribe"]
    url = header.strip("<>").split("://", 1)[1].partition("/")[2]
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/" + url,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    member_a.refresh_from_db()
    assert member_a.bulletin_opt_out is True
    # and a later bulletin skips them
    later = send(
        draft(world.network, audience={"participant_ids": [member_a.pk]}),
        django_capture_on_commit_callbacks,
    )
    assert Delivery.objects.get(bulletin=later).skip_reason == "opted_out"


def test_one_click_as_multipart_also_unsubscribes(world, member_a):
    client = Client(enforce_csrf_checks=True)
    url = reverse("bulletin_unsubscribe", args=[unsubscribe_token(member_a)])
    assert client.post(url, {"List-Unsubscribe": "One-Click"}).status_code == 200
    member_a.refresh_from_db()
    assert member_a.bulletin_opt_out is True


def test_the_page_buttons_unsubscribe_and_subscribe_again(world, member_a):
    member_a.preferred_language = "en"
    member_a.save()
    client = Client(enforce_csrf_checks=True)
    url = reverse("bulletin_unsubscribe", args=[unsubscribe_token(member_a)])
    response = client.post(url, {"receive": "0"})
    assert response.status_code == 200 and 'id="unsubscribed"' in response.content.decode()
    member_a.refresh_from_db()
    assert member_a.bulletin_opt_out is True

    html = client.get(url).content.decode()
    assert "Receive bulletins again" in html
    client.post(url, {"receive": "1"})
    member_a.refresh_from_db()
    assert member_a.bulletin_opt_out is False


def test_unsubscribe_with_a_bad_token_is_404_and_a_stray_post_changes_nothing(world, member_a):
    client = Client()
    assert client.get(reverse("bulletin_unsubscribe", args=["forged"])).status_code == 404
    token = unsubscribe_token(member_a)
    assert (
        client.post(
            reverse("bulletin_unsubscribe", args=[token[:-2] + "xx"]), {"receive": "0"}
        ).status_code
        == 404
    )
    assert (
        client.post(reverse("bulletin_unsubscribe", args=[token]), {"other": "1"}).status_code
        == 400
    )
    member_a.refresh_from_db()
    assert member_a.bulletin_opt_out is False


def test_unsubscribe_page_speaks_the_participants_language(world, member_a):
    member_a.preferred_language = "ja"
    member_a.save()
    client = Client()
    response = client.get(reverse("bulletin_unsubscribe", args=[unsubscribe_token(member_a)]))
    assert response.status_code == 200
    assert '<html lang="ja">' in response.content.decode()


# --- the open pixel ------------------------------------------------------------------------


def test_pixel_records_the_first_read_when_tracking_is_on(world):
    world.network.track_bulletin_opens = True
    world.network.save()
    delivery = Delivery.objects.get(bulletin=world.sent)
    response = Client().get(reverse("bulletin_open", args=[open_token(delivery)]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(b"GIF89a\x01\x00\x01\x00")
    delivery.refresh_from_db()
    first = delivery.read_at
    assert first is not None
    Client().get(reverse("bulletin_open", args=[open_token(delivery)]))
    delivery.refresh_from_db()
    assert delivery.read_at == first


def test_pixel_is_404_and_records_nothing_when_tracking_is_off(world):
    assert world.network.track_bulletin_opens is False
    delivery = Delivery.objects.get(bulletin=world.sent)
    response = Client().get(reverse("bulletin_open", args=[open_token(delivery)]))
    assert response.status_code == 404
    delivery.refresh_from_db()
    assert delivery.read_at is None


def test_pixel_with_a_bad_token_is_404(world):
    world.network.track_bulletin_opens = True
    world.network.save()
    assert Client().get(reverse("bulletin_open", args=["forged"])).status_code == 404
    assert Delivery.objects.get(bulletin=world.sent).read_at is None


def test_the_unsubscribe_page_is_japanese_for_a_japanese_participant(world, member_a):
    member_a.preferred_language = "ja"
    member_a.save()
    html = Client().get(reverse("bulletin_unsubscribe", args=[unsubscribe_token(member_a)])).content
    assert "配信停止" in html.decode() or "受信を停止" in html.decode()
