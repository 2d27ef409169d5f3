"""The bulletin machinery without its pages: the e-mail each recipient gets, what the
services refuse, starting a send, the delivery state machine with SMTP failures, and
the sweeper.

Runs on SQLite and PostgreSQL; the concurrent claim test needs PostgreSQL's row locks.
Mail goes to the locmem outbox, or through RefusingBackend below, which answers chosen
recipients like an SMTP server would: 450 (try later) or 550 (no such user)."""

from __future__ import annotations

import datetime as dt
import email
import re
import smtplib
import struct
import threading
import zlib
from collections import Counter
from email import policy

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from coordination import bulletin_mail, services, tasks
from coordination.models import Bulletin, BulletinAttachment, Delivery, Network, Participant
from coordination.services import BulletinError
from coordination.services.bulletins import (
    BATCH_SIZE,
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS_BYTES,
    MAX_ATTEMPTS,
    MAX_BODY_CHARS,
)
from tests import factories

Status = Delivery.Status


# --- a test SMTP backend -----------------------------------------------------------------


class RefusingBackend(LocmemBackend):
    """The locmem outbox, but some recipients are refused the way SMTP refuses them:
    `busy` answers 450 a number of times, `unknown` always 550; `break_at` drops the
    connection when the n-th message (counting from 1) is about to go out; `refuse_open`
    fails to connect at all."""

    busy: dict[str, int] = {}
    unknown: set[str] = set()
    break_at: int | None = None
    refuse_open = False
    connections = 0
    tried = 0

    @classmethod
    def reset(cls) -> None:
        cls.busy, cls.unknown, cls.break_at, cls.refuse_open = {}, set(), None, False
        cls.connections = cls.tried = 0

    def open(self):
        if RefusingBackend.refuse_open:
            raise ConnectionRefusedError(111, "Connection refused")
        RefusingBackend.connections += 1
        return super().open()

    def send_messages(self, messages):
        for message in messages:
            RefusingBackend.tried += 1
            if RefusingBackend.break_at == RefusingBackend.tried:
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            for address in message.recipients():
                _name, address = email.utils.parseaddr(address)
                if address in RefusingBackend.unknown:
                    raise smtplib.SMTPRecipientsRefused({address: (550, b"5.1.1 no such user")})
                if RefusingBackend.busy.get(address, 0) > 0:
                    RefusingBackend.busy[address] -= 1
                    raise smtplib.SMTPRecipientsRefused({address: (450, b"4.2.0 try later")})
        return super().send_messages(messages)


@pytest.fixture
def refusing(settings):
    RefusingBackend.reset()
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    settings.BULLETIN_RETRY_BASE_SECONDS = 60
    yield RefusingBackend
    RefusingBackend.reset()


# --- helpers ------------------------------------------------------------------------------


def _people(network: Network, count: int, **extra) -> list[Participant]:
    organization = factories.OrganizationFactory(network=network)
    return [
        factories.ParticipantFactory(
            network=network, organization=organization, preferred_language="en", **extra
        )
        for _ in range(count)
    ]


def _draft(network: Network, **data) -> Bulletin:
    return services.bulletin_save(
        network=network,
        data={
            "subject": "Spring news",
            "body": "**Hello** everyone.\n\n- the visit is in June\n- bring a colleague",
            "audience": {"everyone": True},
            **data,
        },
    )


def _send(bulletin: Bulletin, capture) -> Bulletin:
    with capture(execute=True):
        services.bulletin_send(bulletin=bulletin)
    return Bulletin.objects.get(pk=bulletin.pk)


def _started(network: Network, people: int = 3) -> tuple[Bulletin, list[Delivery]]:
    """A bulletin whose send has started, with its fan-out task not yet run (as if the
    broker still held it)."""
    _people(network, people)
    bulletin = services.bulletin_send(bulletin=_draft(network))
    return bulletin, list(bulletin.deliveries.order_by("pk"))


def _recipients() -> Counter[str]:
    return Counter(
        email.utils.parseaddr(address)[1] for message in mail.outbox for address in message.to
    )


def _delivery(network: Network, **participant) -> Delivery:
    person = factories.ParticipantFactory(
        network=network,
        organization=factories.OrganizationFactory(network=network),
        preferred_language="en",
        **participant,
    )
    bulletin = _draft(network, audience={"participant_ids": [person.pk]})
    return Delivery.objects.create(bulletin=bulletin, participant=person)


def _html(message) -> str:
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    return html


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def _backdate_retry(delivery: Delivery) -> None:
    """Time passes until the retry is due."""
    Delivery.objects.filter(pk=delivery.pk).update(
        retry_at=timezone.now() - dt.timedelta(seconds=1)
    )


# --- the e-mail -----------------------------------------------------------------------------


def test_the_message_is_text_and_html_for_the_person_with_the_web_link(network):
    delivery = _delivery(network, full_name="Hanako Sato", email="hanako@example.com")
    message = bulletin_mail.build_message(delivery)

    assert message.subject == "Spring news"
    assert message.to == ["Hanako Sato <hanako@example.com>"]
    web = settings.SITE_URL + reverse("portal_bulletin", args=["alpha", delivery.bulletin_id])
    assert "Hanako Sato" in message.body and web in message.body
    assert "**Hello** everyone." in message.body
    html = _html(message)
    assert "Hanako Sato" in html and f'href="{web}"' in html
    assert "<strong>Hello</strong>" in html and "<li>the visit is in June</li>" in html

    parsed = email.message_from_bytes(message.message().as_bytes(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_the_sender_is_named_after_the_network(network, settings):
    settings.DEFAULT_FROM_EMAIL = "Hubless <news@hubless.example>"
    message = bulletin_mail.build_message(_delivery(network))
    assert email.utils.parseaddr(message.from_email) == ("Alpha network", "news@hubless.example")

    network.name = "燕三条ネットワーク, 2025"
    network.save()
    delivery = _delivery(network)
    parsed = email.message_from_bytes(
        bulletin_mail.build_message(delivery).message().as_bytes(), policy=policy.default
    )
    (sender,) = parsed["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        "燕三条ネットワーク, 2025",
        "news@hubless.example",
    )


def test_the_message_offers_one_click_unsubscribe_and_a_stable_message_id(network):
    delivery = _delivery(network)
    message = bulletin_mail.build_message(delivery)
    parsed = email.message_from_bytes(message.message().as_bytes(), policy=policy.default)

    # A long header is folded onto a second line; unfolded, its value is the URL alone.
    header = parsed["List-Unsubscribe"].strip()
    match = re.fullmatch(r"<(https?://[^>]+/unsubscribe/([^/>]+)/)>", header)
    assert match, header
    assert match.group(1) in message.body  # the same link in the footer
    person = bulletin_mail.participant_from_unsubscribe_token(match.group(2))
    assert person == delivery.participant
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    assert parsed["Message-ID"] == delivery.message_id()
    again = bulletin_mail.build_message(Delivery.objects.get(pk=delivery.pk)).message()
    assert again["Message-ID"] == delivery.message_id()
    other = _delivery(network)
    assert other.message_id() != delivery.message_id()


def test_scripts_and_javascript_links_do_not_reach_the_html(network):
    delivery = _delivery(network)
    Bulletin.objects.filter(pk=delivery.bulletin_id).update(
        body=(
            "Hello <script>alert('x')</script>\n\n"
            "[click me](javascript:alert(1)) and [the agenda](https://example.org/agenda)\n\n"
            '<a href="javascript:alert(2)">raw</a> <img src=x onerror="alert(3)">'
        )
    )
    html = _html(bulletin_mail.build_message(Delivery.objects.get(pk=delivery.pk))).lower()
    assert "<script" not in html
    assert "javascript:" not in html
    assert "onerror" not in html
    assert 'href="https://example.org/agenda"' in html


def test_attachments_go_with_the_message_with_their_types(network):
    delivery = _delivery(network)
    png = _png()
    services.bulletin_attach(bulletin=delivery.bulletin, upload=_upload("agenda.pdf", PDF))
    # The name and the browser's type are not trusted: the bytes say PNG.
    services.bulletin_attach(bulletin=delivery.bulletin, upload=_upload("photo.jpg", png))

    message = bulletin_mail.build_message(Delivery.objects.get(pk=delivery.pk))
    assert sorted(message.attachments) == [
        ("agenda.pdf", PDF, "application/pdf"),
        ("photo.jpg", png, "image/png"),
    ]
    parsed = email.message_from_bytes(message.message().as_bytes(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    attached = {
        part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
        for part in parsed.iter_attachments()
    }
    assert attached == {"agenda.pdf": ("application/pdf", PDF), "photo.jpg": ("image/png", png)}


def test_the_open_pixel_is_there_only_when_the_network_tracks_opens(network):
    delivery = _delivery(network)
    assert network.track_bulletin_opens is False
    message = bulletin_mail.build_message(delivery)
    assert "/b/open/" not in _html(message) and "<img" not in _html(message)

    Network.objects.filter(pk=network.pk).update(track_bulletin_opens=True)
    message = bulletin_mail.build_message(Delivery.objects.get(pk=delivery.pk))
    match = re.search(r'<img src="(https?://[^"]+/b/open/([^"]+)\.gif)"', _html(message))
    assert match, _html(message)
    assert bulletin_mail.delivery_from_open_token(match.group(2)) == delivery
    assert "/b/open/" not in message.body


# --- what the services refuse ----------------------------------------------------------------


def test_an_empty_subject_is_refused_and_nothing_saved(network):
    with pytest.raises(BulletinError):
        _draft(network, subject="   ")
    assert not Bulletin.objects.exists()

    bulletin = _draft(network)
    with pytest.raises(BulletinError):
        services.bulletin_save(network=network, bulletin=bulletin, data={"subject": ""})
    bulletin.refresh_from_db()
    assert bulletin.subject == "Spring news"


def test_a_body_over_the_limit_is_refused_and_nothing_saved(network):
    with pytest.raises(BulletinError):
        _draft(network, body="x" * (MAX_BODY_CHARS + 1))
    assert not Bulletin.objects.exists()
    assert _draft(network, body="x" * MAX_BODY_CHARS).pk


def test_an_attachment_that_is_not_a_pdf_or_image_is_refused(network, settings):
    bulletin = _draft(network)
    with pytest.raises(BulletinError):
        # An executable named like a PDF.
        services.bulletin_attach(bulletin=bulletin, upload=_upload("report.pdf", b"MZ\x90\x00" * 8))
    assert not BulletinAttachment.objects.exists()
    assert not (settings.MEDIA_ROOT / "bulletins").exists()


def test_an_oversized_attachment_is_refused(network):
    bulletin = _draft(network)
    big = PDF + b"0" * (MAX_ATTACHMENT_BYTES + 1 - len(PDF))
    with pytest.raises(BulletinError):
        services.bulletin_attach(bulletin=bulletin, upload=_upload("big.pdf", big))
    assert not BulletinAttachment.objects.exists()


def test_attachments_over_the_total_limit_are_refused(network):
    bulletin = _draft(network)
    part = PDF + b"0" * (MAX_ATTACHMENT_BYTES - len(PDF))  # each exactly at the limit
    for name in ("one.pdf", "two.pdf"):
        services.bulletin_attach(bulletin=bulletin, upload=_upload(name, part))
    assert sum(a.size for a in bulletin.attachments.all()) == MAX_ATTACHMENTS_BYTES
    with pytest.raises(BulletinError):
        services.bulletin_attach(bulletin=bulletin, upload=_upload("three.pdf", PDF))
    assert sorted(bulletin.attachments.values_list("filename", flat=True)) == [
        "one.pdf",
        "two.pdf",
    ]


def test_scheduling_in_the_past_is_refused(network, member_a):
    bulletin = _draft(network)
    now = timezone.now()
    for at in (now - dt.timedelta(minutes=1), now):
        with pytest.raises(BulletinError):
            services.bulletin_schedule(bulletin=bulletin, at=at, now=now)
    bulletin.refresh_from_db()
    assert (bulletin.status, bulletin.scheduled_at) == (Bulletin.Status.DRAFT, None)


def test_scheduling_or_sending_with_no_audience_is_refused(network, member_a):
    bulletin = _draft(network, audience={})
    with pytest.raises(BulletinError):
        services.bulletin_schedule(bulletin=bulletin, at=timezone.now() + dt.timedelta(hours=1))
    with pytest.raises(BulletinError):
        services.bulletin_send(bulletin=bulletin)
    bulletin.refresh_from_db()
    assert (bulletin.status, bulletin.scheduled_at) == (Bulletin.Status.DRAFT, None)
    assert not Delivery.objects.exists()


def test_a_bulletin_being_sent_cannot_be_changed(network, member_a):
    bulletin, _ = _started(network, 1)
    with pytest.raises(BulletinError):
        services.bulletin_save(network=network, bulletin=bulletin, data={"subject": "Other"})
    with pytest.raises(BulletinError):
        services.bulletin_attach(bulletin=bulletin, upload=_upload("late.pdf", PDF))
    assert Bulletin.objects.get(pk=bulletin.pk).subject == "Spring news"


# --- sending ----------------------------------------------------------------------------------


def test_each_recipient_gets_one_message_and_the_opted_out_none(
    network, other_network, django_capture_on_commit_callbacks
):
    readers = _people(network, 3)
    (opted_out,) = _people(network, 1, bulletin_opt_out=True)
    (withdrawn,) = _people(
        network, 1, research_consent="withdrawn", consent_withdrawn_on=dt.date(2025, 5, 1)
    )
    _people(network, 1, left_on=dt.date(2025, 5, 1))  # no longer a participant
    _people(other_network, 1)
    bulletin = _send(_draft(network), django_capture_on_commit_callbacks)

    deliveries = {d.participant_id: d for d in bulletin.deliveries.all()}
    assert set(deliveries) == {p.pk for p in [*readers, opted_out, withdrawn]}
    assert (deliveries[opted_out.pk].status, deliveries[opted_out.pk].skip_reason) == (
        Status.SKIPPED,
        "opted_out",
    )
    assert (deliveries[withdrawn.pk].status, deliveries[withdrawn.pk].skip_reason) == (
        Status.SKIPPED,
        "consent_withdrawn",
    )
    for person in readers:
        delivery = deliveries[person.pk]
        assert (delivery.status, delivery.attempts) == (Status.SENT, 1)
        assert delivery.sent_at is not None and delivery.last_error == ""
    assert _recipients() == Counter({p.email: 1 for p in readers})
    assert bulletin.status == Bulletin.Status.SENT
    assert bulletin.started_at is not None and bulletin.finished_at >= bulletin.started_at


def test_sending_twice_is_refused_and_running_the_tasks_again_sends_nothing(
    network, django_capture_on_commit_callbacks
):
    _people(network, 3)
    bulletin = _send(_draft(network), django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 3

    with pytest.raises(BulletinError):
        services.bulletin_send(bulletin=bulletin)
    ids = list(bulletin.deliveries.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.deliver_bulletin(bulletin.pk) == 0
        assert tasks.send_delivery_batch(ids) == {"sent": 0, "failed": 0, "retry": 0}
        tasks.deliver_bulletin.delay(bulletin.pk)  # the broker delivers the task again
    assert len(mail.outbox) == 3
    assert bulletin.deliveries.count() == 3
    # The database itself refuses a second delivery to the same person.
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(
            bulletin=bulletin, participant=bulletin.deliveries.first().participant
        )


def test_a_large_send_goes_out_in_batches_one_connection_each(
    network, refusing, django_capture_on_commit_callbacks
):
    people = _people(network, BATCH_SIZE + 3)
    bulletin = _send(_draft(network), django_capture_on_commit_callbacks)
    assert refusing.connections == 2
    assert _recipients() == Counter({p.email: 1 for p in people})
    assert bulletin.status == Bulletin.Status.SENT


def test_a_batch_costs_the_same_few_queries_per_message(
    network, django_capture_on_commit_callbacks
):
    def batch_queries(size: int) -> int:
        _bulletin, deliveries = _started(factories.NetworkFactory(), size)
        before = len(mail.outbox)
        with (
            django_capture_on_commit_callbacks(execute=True),
            CaptureQueriesContext(connection) as captured,
        ):
            tasks.send_delivery_batch([d.pk for d in deliveries])
        assert len(mail.outbox) - before == size
        return len(captured)

    small, large = batch_queries(2), batch_queries(6)
    # The claim (savepoint, SELECT ... FOR UPDATE, UPDATE, release), loading the batch and
    # the finish check (exists + update, and the network to mark for the indicators
    # when it finished); per message the claim refresh, its attachments and its "sent".
    assert (small, large) == (8 + 3 * 2, 8 + 3 * 6)


def test_a_scheduled_bulletin_starts_once_when_due(
    network, member_a, member_b, django_capture_on_commit_callbacks
):
    now = timezone.now()
    bulletin = services.bulletin_schedule(
        bulletin=_draft(network), at=now + dt.timedelta(hours=1), now=now
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_scheduled_bulletins() == 0
    assert Bulletin.objects.get(pk=bulletin.pk).status == Bulletin.Status.SCHEDULED
    assert services.bulletins_due(now=now) == []
    assert services.bulletins_due(now=now + dt.timedelta(hours=1)) == [bulletin.pk]
    assert mail.outbox == []

    # The time comes (the service refuses past times, so move it back directly), and beat
    # runs the job twice: one start, one message each.
    Bulletin.objects.filter(pk=bulletin.pk).update(scheduled_at=now - dt.timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert [tasks.send_scheduled_bulletins(), tasks.send_scheduled_bulletins()] == [1, 0]
    assert _recipients() == Counter({member_a.email: 1, member_b.email: 1})
    bulletin.refresh_from_db()
    assert bulletin.status == Bulletin.Status.SENT and bulletin.deliveries.count() == 2


def test_a_scheduled_bulletin_taken_back_to_draft_is_not_started(
    network, member_a, django_capture_on_commit_callbacks
):
    bulletin = services.bulletin_schedule(
        bulletin=_draft(network), at=timezone.now() + dt.timedelta(hours=1)
    )
    services.bulletin_unschedule(bulletin=bulletin)
    Bulletin.objects.filter(pk=bulletin.pk).update(
        scheduled_at=timezone.now() - dt.timedelta(minutes=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_scheduled_bulletins() == 0
    assert mail.outbox == [] and not Delivery.objects.exists()


def test_cancelling_during_the_send_stops_the_queued_ones(
    network, django_capture_on_commit_callbacks
):
    bulletin, deliveries = _started(network, 4)
    # The first batch has gone as far as one message when the coordinator cancels.
    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_delivery_batch([deliveries[0].pk])
    services.bulletin_cancel(bulletin=bulletin)

    rows = {d.pk: d for d in Delivery.objects.filter(bulletin=bulletin)}
    assert rows[deliveries[0].pk].status == Status.SENT
    for delivery in deliveries[1:]:
        assert (rows[delivery.pk].status, rows[delivery.pk].skip_reason) == (
            Status.SKIPPED,
            "cancelled",
        )
    # The fan-out the broker still held runs now: nothing more goes out.
    with django_capture_on_commit_callbacks(execute=True):
        tasks.deliver_bulletin(bulletin.pk)
        tasks.send_delivery_batch([d.pk for d in deliveries])
    assert len(mail.outbox) == 1
    bulletin.refresh_from_db()
    assert bulletin.status == Bulletin.Status.CANCELLED and bulletin.finished_at is not None


def test_a_message_in_flight_at_cancel_is_not_retried_afterwards(
    network, refusing, django_capture_on_commit_callbacks
):
    bulletin, (delivery,) = _started(network, 1)
    assert services.deliveries_claim(delivery_ids=[delivery.pk]) == [delivery.pk]
    services.bulletin_cancel(bulletin=bulletin)  # while the worker talks to the server
    # ...which answers 450: the attempt is recorded, but the bulletin is cancelled.
    services.delivery_failed(delivery_id=delivery.pk, error="450 try later", transient=True)
    _backdate_retry(delivery)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_delivery_batch([delivery.pk])
        tasks.requeue_stuck_deliveries(older_than_seconds=0)
    assert mail.outbox == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.skip_reason) == (Status.SKIPPED, "cancelled")
    assert delivery.last_error == "450 try later"


def test_a_claim_left_by_a_dead_worker_of_a_cancelled_bulletin_ends_skipped(
    network, django_capture_on_commit_callbacks
):
    bulletin, (stuck, _queued) = _started(network, 2)
    long_ago = timezone.now() - services.STUCK_AFTER - dt.timedelta(minutes=1)
    services.deliveries_claim(delivery_ids=[stuck.pk], now=long_ago)
    services.bulletin_cancel(bulletin=bulletin)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.requeue_stuck_deliveries() == 0
    assert mail.outbox == []
    assert set(bulletin.deliveries.values_list("status", "skip_reason")) == {
        (Status.SKIPPED, "cancelled")
    }


def test_resend_failed_requeues_only_the_failed_ones(
    network, refusing, django_capture_on_commit_callbacks
):
    good, bad = _people(network, 2)
    refusing.unknown = {bad.email}
    bulletin = _send(_draft(network), django_capture_on_commit_callbacks)
    assert bulletin.status == Bulletin.Status.SENT
    sent_at = Delivery.objects.get(participant=good).sent_at
    assert Delivery.objects.get(participant=bad).status == Status.FAILED

    refusing.unknown = set()  # the address was fixed at the receiving end
    with django_capture_on_commit_callbacks(execute=True):
        assert services.bulletin_resend_failed(bulletin=bulletin) == 1
    assert _recipients() == Counter({good.email: 1, bad.email: 1})
    again = Delivery.objects.get(participant=bad)
    assert (again.status, again.attempts, again.last_error) == (Status.SENT, 1, "")
    assert Delivery.objects.get(participant=good).sent_at == sent_at
    assert Bulletin.objects.get(pk=bulletin.pk).status == Bulletin.Status.SENT
    with django_capture_on_commit_callbacks(execute=True):
        assert services.bulletin_resend_failed(bulletin=bulletin) == 0
    assert len(mail.outbox) == 2


def test_duplicate_makes_a_new_draft_with_the_same_content_and_audience(
    network, region_a, coordinator, member_a, django_capture_on_commit_callbacks
):
    starts = timezone.now() + dt.timedelta(days=7)
    event = services.event_save(
        network=network,
        data={"title": "Visit", "starts_at": starts, "ends_at": starts + dt.timedelta(hours=2)},
    )
    original = _draft(
        network,
        kind=Bulletin.Kind.REFLECTION,
        event=event,
        audience={"regions": [region_a.pk], "participant_ids": [member_a.pk]},
    )
    services.bulletin_attach(bulletin=original, upload=_upload("notes.pdf", PDF))
    original = _send(original, django_capture_on_commit_callbacks)

    copy = services.bulletin_duplicate(bulletin=original, author=coordinator)
    assert copy.pk != original.pk
    assert (copy.status, copy.started_at, copy.finished_at, copy.scheduled_at) == (
        Bulletin.Status.DRAFT,
        None,
        None,
        None,
    )
    same = ("network_id", "kind", "subject", "body", "event_id", "audience")
    assert {f: getattr(copy, f) for f in same} == {f: getattr(original, f) for f in same}
    assert copy.author == coordinator
    assert not copy.deliveries.exists()
    (attachment,) = copy.attachments.all()
    assert (attachment.filename, attachment.content_type) == ("notes.pdf", "application/pdf")
    with attachment.file.open("rb") as handle:
        assert handle.read() == PDF


# --- SMTP failures ---------------------------------------------------------------------------


def test_a_4xx_reply_queues_a_retry_with_backoff_that_then_succeeds(
    network, refusing, django_capture_on_commit_callbacks
):
    (person,) = _people(network, 1)
    refusing.busy = {person.email: 1}
    before = timezone.now()
    bulletin = _send(_draft(network), django_capture_on_commit_callbacks)

    delivery = Delivery.objects.get(bulletin=bulletin)
    assert (delivery.status, delivery.attempts) == (Status.QUEUED, 1)
    assert "450" in delivery.last_error and "try later" in delivery.last_error
    base = dt.timedelta(seconds=settings.BULLETIN_RETRY_BASE_SECONDS)
    assert before + base <= delivery.retry_at <= timezone.now() + base
    assert mail.outbox == [] and bulletin.status == Bulletin.Status.SENDING

    # Not due yet: the fan-out and the batch leave it alone.
    with django_capture_on_commit_callbacks(execute=True):
        tasks.deliver_bulletin(bulletin.pk)
        tasks.send_delivery_batch([delivery.pk])
    assert Delivery.objects.get(pk=delivery.pk).attempts == 1

    _backdate_retry(delivery)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_delivery_batch([delivery.pk])  # the retry the batch scheduled
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (Status.SENT, 2, "")
    assert delivery.retry_at is None
    assert _recipients() == Counter({person.email: 1})
    bulletin.refresh_from_db()
    assert bulletin.status == Bulletin.Status.SENT and bulletin.finished_at is not None


def test_a_5xx_reply_fails_the_delivery_at_once_with_the_reason(
    network, refusing, django_capture_on_commit_callbacks
):
    fine, unknown = _people(network, 2)
    refusing.unknown = {unknown.email}
    bulletin = _send(_draft(network), django_capture_on_commit_callbacks)

    failed = Delivery.objects.get(participant=unknown)
    assert (failed.status, failed.attempts, failed.retry_at) == (Status.FAILED, 1, None)
    assert "550" in failed.last_error and "no such user" in failed.last_error
    assert Delivery.objects.get(participant=fine).status == Status.SENT
    assert _recipients() == Counter({fine.email: 1})
    assert bulletin.status == Bulletin.Status.SENT


def test_transient_failures_give_up_after_max_attempts(
    network, refusing, django_capture_on_commit_callbacks
):
    (person,) = _people(network, 1)
    refusing.busy = {person.email: 100}
    bulletin = _send(_draft(network), django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(bulletin=bulletin)
    base = settings.BULLETIN_RETRY_BASE_SECONDS
    for attempt in range(1, MAX_ATTEMPTS):
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (Status.QUEUED, attempt)
        wait = (delivery.retry_at - timezone.now()).total_seconds()
        assert base * 2 ** (attempt - 1) - 5 < wait <= base * 2 ** (attempt - 1)
        _backdate_retry(delivery)
        with django_capture_on_commit_callbacks(execute=True):
            tasks.send_delivery_batch([delivery.pk])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.FAILED, MAX_ATTEMPTS)
    assert "450" in delivery.last_error
    assert refusing.tried == MAX_ATTEMPTS and mail.outbox == []
    assert Bulletin.objects.get(pk=bulletin.pk).status == Bulletin.Status.SENT


def test_a_broken_connection_leaves_the_untried_ones_queued_untouched(
    network, refusing, django_capture_on_commit_callbacks
):
    bulletin, deliveries = _started(network, 5)
    refusing.break_at = 3
    with pytest.raises(smtplib.SMTPServerDisconnected):
        # Called directly, the task's retry raises the error instead of enqueueing.
        tasks.send_delivery_batch([d.pk for d in deliveries])

    rows = [Delivery.objects.get(pk=d.pk) for d in deliveries]
    assert [(r.status, r.attempts) for r in rows[:2]] == [(Status.SENT, 1)] * 2
    broken = rows[2]
    assert (broken.status, broken.attempts) == (Status.QUEUED, 1)
    assert "closed" in broken.last_error and broken.retry_at > timezone.now()
    for untried in rows[3:]:
        assert (untried.status, untried.attempts, untried.last_error) == (Status.QUEUED, 0, "")
        assert untried.retry_at is None
    assert len(mail.outbox) == 2

    # The retry of the batch sends the untried ones; the broken one when its time comes.
    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_delivery_batch([d.pk for d in deliveries])
    assert len(mail.outbox) == 4
    _backdate_retry(broken)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_delivery_batch([d.pk for d in deliveries])
    assert _recipients() == Counter({d.participant.email: 1 for d in deliveries})
    assert Bulletin.objects.get(pk=bulletin.pk).status == Bulletin.Status.SENT


def test_a_broken_connection_schedules_the_retry_of_the_message_it_broke(
    network, refusing, monkeypatch
):
    _bulletin, deliveries = _started(network, 3)
    refusing.break_at = 2
    scheduled: list[tuple] = []
    monkeypatch.setattr(
        tasks.send_delivery_batch,
        "apply_async",
        lambda args, eta=None, **kw: scheduled.append((args, eta)),
    )
    with pytest.raises(smtplib.SMTPServerDisconnected):
        tasks.send_delivery_batch([d.pk for d in deliveries])
    broken = Delivery.objects.get(pk=deliveries[1].pk)
    # Without a task at its retry time, nothing would ever pick it up again.
    assert scheduled == [(([broken.pk],), broken.retry_at)]


def test_a_server_that_cannot_be_reached_leaves_the_batch_queued(
    network, refusing, django_capture_on_commit_callbacks
):
    _bulletin, deliveries = _started(network, 3)
    refusing.refuse_open = True
    with pytest.raises(ConnectionRefusedError):
        tasks.send_delivery_batch([d.pk for d in deliveries])
    rows = Delivery.objects.filter(pk__in=[d.pk for d in deliveries])
    assert set(rows.values_list("status", "attempts")) == {(Status.QUEUED, 0)}
    refusing.refuse_open = False
    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_delivery_batch([d.pk for d in deliveries])
    assert len(mail.outbox) == 3


def test_which_errors_are_worth_retrying():
    refused = smtplib.SMTPRecipientsRefused
    assert services.is_transient(refused({"a@x": (450, b"later"), "b@x": (421, b"busy")}))
    assert not services.is_transient(refused({"a@x": (450, b"later"), "b@x": (550, b"no")}))
    assert not services.is_transient(refused({}))
    assert services.is_transient(smtplib.SMTPDataError(451, b"local error"))
    assert not services.is_transient(smtplib.SMTPDataError(554, b"rejected"))
    assert services.is_transient(smtplib.SMTPServerDisconnected("gone"))
    assert services.is_transient(ConnectionResetError())
    assert not services.is_transient(ValueError())


# --- the sweeper ------------------------------------------------------------------------------


def test_the_sweeper_requeues_old_claims_and_leaves_fresh_ones(
    network, django_capture_on_commit_callbacks
):
    _bulletin, (old, fresh, waiting) = _started(network, 3)
    long_ago = timezone.now() - services.STUCK_AFTER - dt.timedelta(minutes=1)
    # A worker died with `old` claimed; another is busy with `fresh` right now.
    services.deliveries_claim(delivery_ids=[old.pk], now=long_ago)
    services.deliveries_claim(delivery_ids=[fresh.pk])

    assert services.deliveries_requeue_stuck() == [old.pk]
    assert Delivery.objects.get(pk=old.pk).status == Status.QUEUED
    assert Delivery.objects.get(pk=fresh.pk).status == Status.SENDING
    assert services.deliveries_requeue_stuck() == []

    # The beat job requeues and sends them.
    services.deliveries_claim(delivery_ids=[old.pk], now=long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.requeue_stuck_deliveries() == 1
    old.refresh_from_db()
    assert (old.status, old.attempts) == (Status.SENT, 3)  # the two lost attempts count
    assert Delivery.objects.get(pk=fresh.pk).status == Status.SENDING
    assert _recipients() == Counter({old.participant.email: 1})
    assert Delivery.objects.get(pk=waiting.pk).status == Status.QUEUED


def test_the_sweeper_restarts_a_send_whose_queued_tasks_were_lost(
    network, django_capture_on_commit_callbacks
):
    # The fan-out or batch tasks were lost (a broker restart, a worker killed holding
    # prefetched tasks): the deliveries sit queued with no task to take them.
    bulletin, deliveries = _started(network, 3)
    Bulletin.objects.filter(pk=bulletin.pk).update(
        started_at=timezone.now() - services.STUCK_AFTER - dt.timedelta(minutes=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.requeue_stuck_deliveries()
        tasks.requeue_stuck_deliveries()
    assert _recipients() == Counter({d.participant.email: 1 for d in deliveries})
    assert Bulletin.objects.get(pk=bulletin.pk).status == Bulletin.Status.SENT


def test_the_sweeper_leaves_a_send_in_progress_alone(network, django_capture_on_commit_callbacks):
    _bulletin, _deliveries = _started(network, 2)  # just started: its tasks are on the way
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.requeue_stuck_deliveries() == 0
    assert mail.outbox == []


# --- concurrency (PostgreSQL) -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_the_same_batch_take_each_delivery_once(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks")
    # Committed for real here: keep the fan-out from running (and sending) on commit.
    monkeypatch.setattr(tasks.deliver_bulletin, "delay", lambda *args: None)
    network = factories.NetworkFactory()
    _bulletin, deliveries = _started(network, 40)
    ids = [d.pk for d in deliveries]
    claims: list[list[int]] = []
    start = threading.Barrier(4)

    def claim() -> None:
        from django.db import connection as thread_connection

        try:
            start.wait()
            claims.append(services.deliveries_claim(delivery_ids=ids))
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = [pk for claimed in claims for pk in claimed]
    assert sorted(taken) == sorted(ids)  # every one by exactly one worker
    assert set(Delivery.objects.filter(pk__in=ids).values_list("status", "attempts")) == {
        (Status.SENDING, 1)
    }


def test_a_message_that_cannot_be_built_fails_alone_with_the_reason(
    network, monkeypatch, django_capture_on_commit_callbacks
):
    from coordination import bulletin_mail

    good, broken = _people(network, 2)
    real = bulletin_mail.build_message

    def build(delivery, connection=None):
        if delivery.participant_id == broken.pk:
            raise FileNotFoundError("attachment gone from storage")
        return real(delivery, connection)

    monkeypatch.setattr(bulletin_mail, "build_message", build)
    bulletin = _send(_draft(network), django_capture_on_commit_callbacks)
    assert _recipients() == Counter({good.email: 1})
    failed = Delivery.objects.get(participant=broken)
    assert failed.status == Status.FAILED and "attachment gone" in failed.last_error
    assert bulletin.status == Bulletin.Status.SENT


def test_the_sweeper_fails_a_delivery_whose_worker_died_on_every_attempt(network):
    _bulletin, (stuck, _other) = _started(network, 2)
    long_ago = timezone.now() - services.STUCK_AFTER - dt.timedelta(minutes=1)
    services.deliveries_claim(delivery_ids=[stuck.pk], now=long_ago)
    Delivery.objects.filter(pk=stuck.pk).update(attempts=services.MAX_ATTEMPTS)
    assert services.deliveries_requeue_stuck() == []
    stuck.refresh_from_db()
    assert stuck.status == Status.FAILED and stuck.last_error == "worker stopped while sending"


def test_resending_to_failed_is_refused_for_a_cancelled_bulletin(network):
    bulletin, _deliveries = _started(network, 1)
    services.bulletin_cancel(bulletin=bulletin)
    with pytest.raises(services.BulletinError):
        services.bulletin_resend_failed(bulletin=bulletin)
    assert Bulletin.objects.get(pk=bulletin.pk).status == Bulletin.Status.CANCELLED
