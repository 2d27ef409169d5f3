"""Writes about bulletins: composing, scheduling, starting a send, and the delivery
state machine (queued → sending → sent | failed; skipped for opted-out people)."""

from __future__ import annotations

import datetime as dt
import smtplib

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from hubless.indicators_dirty import indicators_mark_dirty

from ..models import Bulletin, BulletinAttachment, Delivery, Network, Participant

MAX_BODY_CHARS = 100_000
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
MAX_ATTACHMENTS_BYTES = 10 * 1024 * 1024
MAX_ATTEMPTS = 5
BATCH_SIZE = 50
STUCK_AFTER = dt.timedelta(minutes=10)

# What the first bytes of an allowed attachment look like; the name and the browser's
# claimed type are not trusted.
MAGIC = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
]


class BulletinError(Exception):
    """An action the bulletin's state or input does not allow; the message says why."""


def attachment_type(head: bytes) -> str | None:
    for magic, content_type in MAGIC:
        if head.startswith(magic):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _check_content(subject: str, body: str) -> None:
    if not subject.strip():
        raise BulletinError(_("The subject must not be empty."))
    if len(body) > MAX_BODY_CHARS:
        raise BulletinError(
            _("The body is longer than %(n)s characters.") % {"n": f"{MAX_BODY_CHARS:,}"}
        )


@transaction.atomic
def bulletin_save(
    *, network: Network, bulletin: Bulletin | None = None, data: dict, author=None
) -> Bulletin:
    if bulletin is not None:
        bulletin = Bulletin.objects.select_for_update().get(pk=bulletin.pk)
        if bulletin.status not in (Bulletin.Status.DRAFT, Bulletin.Status.SCHEDULED):
            raise BulletinError(_("A bulletin that is being sent or was sent cannot be changed."))
    bulletin = bulletin or Bulletin(network=network, author=author)
    for key, value in data.items():
        setattr(bulletin, key, value)
    _check_content(bulletin.subject, bulletin.body)
    if bulletin.event_id and bulletin.event.network_id != network.pk:
        raise BulletinError(_("The related event belongs to another network."))
    bulletin.full_clean()
    bulletin.save()
    return bulletin


@transaction.atomic
def bulletin_attach(*, bulletin: Bulletin, upload) -> BulletinAttachment:
    """Keep an uploaded PDF or image, checked by its content and size."""
    if bulletin.status not in (Bulletin.Status.DRAFT, Bulletin.Status.SCHEDULED):
        raise BulletinError(_("A bulletin that is being sent or was sent cannot be changed."))
    if upload.size > MAX_ATTACHMENT_BYTES:
        raise BulletinError(
            _("%(name)s is larger than %(mb)s MB.")
            % {"name": upload.name, "mb": MAX_ATTACHMENT_BYTES // (1024 * 1024)}
        )
    total = sum(a.size for a in bulletin.attachments.all()) + upload.size
    if total > MAX_ATTACHMENTS_BYTES:
        raise BulletinError(
            _("All attachments together may not exceed %(mb)s MB.")
            % {"mb": MAX_ATTACHMENTS_BYTES // (1024 * 1024)}
        )
    head = upload.read(16)
    upload.seek(0)
    content_type = attachment_type(head)
    if content_type is None:
        raise BulletinError(
            _("%(name)s is not a PDF or an image (PNG, JPEG, GIF, WebP).") % {"name": upload.name}
        )
    return BulletinAttachment.objects.create(
        bulletin=bulletin,
        file=upload,
        filename=upload.name[:200],
        content_type=content_type,
        size=upload.size,
    )


@transaction.atomic
def bulletin_detach(*, attachment: BulletinAttachment) -> None:
    bulletin = attachment.bulletin
    if bulletin.status not in (Bulletin.Status.DRAFT, Bulletin.Status.SCHEDULED):
        raise BulletinError(_("A bulletin that is being sent or was sent cannot be changed."))
    # A duplicated bulletin shares the stored file: delete it with its last user.
    shared = BulletinAttachment.objects.filter(file=attachment.file.name).exclude(pk=attachment.pk)
    if not shared.exists():
        attachment.file.delete(save=False)
    attachment.delete()


def _audience_ids(bulletin: Bulletin) -> list[int]:
    from ..selectors import bulletin_audience

    return list(bulletin_audience(bulletin=bulletin).values_list("pk", flat=True))


@transaction.atomic
def bulletin_schedule(
    *, bulletin: Bulletin, at: dt.datetime, now: dt.datetime | None = None
) -> Bulletin:
    now = now or timezone.now()
    bulletin = Bulletin.objects.select_for_update().get(pk=bulletin.pk)
    if bulletin.status not in (Bulletin.Status.DRAFT, Bulletin.Status.SCHEDULED):
        raise BulletinError(_("Only a draft can be scheduled."))
    if at <= now:
        raise BulletinError(_("The sending time must be in the future."))
    if not _audience_ids(bulletin):
        raise BulletinError(_("Choose who receives the bulletin first."))
    bulletin.status = Bulletin.Status.SCHEDULED
    bulletin.scheduled_at = at
    bulletin.save(update_fields=["status", "scheduled_at", "updated_at"])
    return bulletin


@transaction.atomic
def bulletin_unschedule(*, bulletin: Bulletin) -> Bulletin:
    updated = Bulletin.objects.filter(pk=bulletin.pk, status=Bulletin.Status.SCHEDULED).update(
        status=Bulletin.Status.DRAFT, scheduled_at=None
    )
    if not updated:
        raise BulletinError(_("Only a scheduled bulletin can be taken back to draft."))
    return Bulletin.objects.get(pk=bulletin.pk)


@transaction.atomic
def bulletin_cancel(*, bulletin: Bulletin) -> Bulletin:
    """Stop a draft, a scheduled bulletin, or the rest of a send in progress."""
    bulletin = Bulletin.objects.select_for_update().get(pk=bulletin.pk)
    if bulletin.status in (Bulletin.Status.SENT, Bulletin.Status.CANCELLED):
        raise BulletinError(_("This bulletin is already sent or cancelled."))
    bulletin.status = Bulletin.Status.CANCELLED
    bulletin.finished_at = timezone.now() if bulletin.started_at else None
    bulletin.save(update_fields=["status", "finished_at", "updated_at"])
    bulletin.deliveries.filter(status=Delivery.Status.QUEUED).update(
        status=Delivery.Status.SKIPPED, skip_reason="cancelled"
    )
    return bulletin


def skip_reason(participant: Participant, *, kind: str = "") -> str:
    """Why a participant gets no bulletin, or "". Opting out of bulletins is about
    news: a continuity notice (a partner region was hit) still reaches them."""
    if participant.bulletin_opt_out and kind != Bulletin.Kind.CONTINUITY:
        return "opted_out"
    if participant.research_consent == Participant.Consent.WITHDRAWN:
        return "consent_withdrawn"
    return ""


@transaction.atomic
def bulletin_send(*, bulletin: Bulletin, now: dt.datetime | None = None) -> Bulletin:
    """Start sending: one Delivery per recipient, created in this transaction (so a
    crash leaves either no send or a complete list), then the workers take over."""
    from ..tasks import deliver_bulletin

    now = now or timezone.now()
    bulletin = Bulletin.objects.select_for_update().get(pk=bulletin.pk)
    if bulletin.status not in (Bulletin.Status.DRAFT, Bulletin.Status.SCHEDULED):
        raise BulletinError(_("This bulletin is already being sent, sent or cancelled."))
    _check_content(bulletin.subject, bulletin.body)
    people = list(
        Participant.objects.filter(pk__in=_audience_ids(bulletin)).only(
            "pk", "bulletin_opt_out", "research_consent"
        )
    )
    if not people:
        raise BulletinError(_("Choose who receives the bulletin first."))
    deliveries = []
    for person in people:
        reason = skip_reason(person, kind=bulletin.kind)
        deliveries.append(
            Delivery(
                bulletin=bulletin,
                participant=person,
                status=Delivery.Status.SKIPPED if reason else Delivery.Status.QUEUED,
                skip_reason=reason,
            )
        )
    Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    bulletin.status = Bulletin.Status.SENDING
    bulletin.started_at = now
    bulletin.save(update_fields=["status", "started_at", "updated_at"])
    transaction.on_commit(lambda: deliver_bulletin.delay(bulletin.pk))
    indicators_mark_dirty(bulletin.network_id)
    return bulletin


def bulletins_due(*, now: dt.datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        Bulletin.objects.filter(
            status=Bulletin.Status.SCHEDULED, scheduled_at__lte=now
        ).values_list("pk", flat=True)
    )


# --- the delivery state machine ----------------------------------------------------------


def deliveries_claim(*, delivery_ids: list[int], now: dt.datetime | None = None) -> list[int]:
    """Take queued deliveries for one attempt. Rows locked by another worker are
    skipped, and the conditional UPDATE is the claim: a row is claimed once."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            # Only the delivery rows are locked: locking the bulletin's row too would make
            # a second worker skip every row of the same bulletin.
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=delivery_ids, status=Delivery.Status.QUEUED)
            # A retry or a redelivered task of a cancelled bulletin sends nothing.
            .filter(bulletin__status=Bulletin.Status.SENDING)
            .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
            .values_list("pk", flat=True)
        )
        Delivery.objects.filter(pk__in=ids, status=Delivery.Status.QUEUED).update(
            status=Delivery.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
    return ids


def delivery_touch(*, delivery_id: int) -> None:
    Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.SENDING).update(
        claimed_at=timezone.now()
    )


def delivery_sent(*, delivery_id: int) -> None:
    Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.SENT, sent_at=timezone.now(), last_error="", retry_at=None
    )


def delivery_failed(*, delivery_id: int, error: str, transient: bool) -> dt.datetime | None:
    """Record a failed attempt. A transient error queues a retry with backoff (and
    returns when), until MAX_ATTEMPTS; a permanent one fails at once."""
    delivery = Delivery.objects.filter(pk=delivery_id).only("attempts").first()
    if delivery is None:
        return None
    if transient and delivery.attempts < MAX_ATTEMPTS:
        retry_at = timezone.now() + dt.timedelta(
            seconds=settings.BULLETIN_RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1)
        )
        requeued = Delivery.objects.filter(
            pk=delivery_id,
            status=Delivery.Status.SENDING,
            bulletin__status=Bulletin.Status.SENDING,
        ).update(status=Delivery.Status.QUEUED, last_error=error[:2000], retry_at=retry_at)
        if requeued:
            return retry_at
        # Cancelled during this attempt: no retry, and it ends like the queued ones did.
        Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.SENDING).update(
            status=Delivery.Status.SKIPPED, skip_reason="cancelled", last_error=error[:2000]
        )
        return None
    Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.FAILED, last_error=error[:2000]
    )
    return None


def delivery_release(*, delivery_ids: list[int]) -> None:
    """The connection broke before these were tried: give them back untouched."""
    Delivery.objects.filter(pk__in=delivery_ids, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.QUEUED, attempts=F("attempts") - 1
    )


def bulletin_finish_if_done(*, bulletin_id: int) -> bool:
    open_ = Delivery.objects.filter(
        bulletin_id=bulletin_id, status__in=[Delivery.Status.QUEUED, Delivery.Status.SENDING]
    )
    if open_.exists():
        return False
    finished = bool(
        Bulletin.objects.filter(pk=bulletin_id, status=Bulletin.Status.SENDING).update(
            status=Bulletin.Status.SENT, finished_at=timezone.now()
        )
    )
    if finished:
        network_id = Bulletin.objects.values_list("network_id", flat=True).get(pk=bulletin_id)
        indicators_mark_dirty(network_id)
    return finished


def deliveries_requeue_stuck(*, older_than: dt.timedelta = STUCK_AFTER) -> list[int]:
    """The sweeper: a delivery claimed long ago whose worker died goes back to the
    queue. (At worst the one message in flight at the crash is sent again, with the
    same Message-ID.)"""
    cutoff = timezone.now() - older_than
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Delivery.Status.SENDING, claimed_at__lt=cutoff)
            .filter(bulletin__status=Bulletin.Status.SENDING)
            .values_list("pk", flat=True)
        )
        # A row whose attempts are used up (its worker died on it each time) fails
        # instead of going round for ever.
        Delivery.objects.filter(pk__in=ids, attempts__gte=MAX_ATTEMPTS).update(
            status=Delivery.Status.FAILED, last_error="worker stopped while sending"
        )
        Delivery.objects.filter(pk__in=ids, status=Delivery.Status.SENDING).update(
            status=Delivery.Status.QUEUED
        )
        ids = list(
            Delivery.objects.filter(pk__in=ids, status=Delivery.Status.QUEUED).values_list(
                "pk", flat=True
            )
        )
        # Those of a bulletin cancelled meanwhile end like its queued ones did.
        Delivery.objects.filter(status=Delivery.Status.SENDING, claimed_at__lt=cutoff).exclude(
            bulletin__status=Bulletin.Status.SENDING
        ).update(status=Delivery.Status.SKIPPED, skip_reason="cancelled")
    return ids


def bulletins_stalled(
    *, older_than: dt.timedelta = STUCK_AFTER, now: dt.datetime | None = None
) -> list[int]:
    """Sends in progress with deliveries due that no worker has claimed anything of for
    a while: their tasks were lost (a broker restart, a worker killed while holding
    reserved or delayed tasks). Fanning out again is safe: a delivery is claimed once."""
    now = now or timezone.now()
    cutoff = now - older_than
    due = Delivery.objects.filter(bulletin=OuterRef("pk"), status=Delivery.Status.QUEUED).filter(
        Q(retry_at__isnull=True) | Q(retry_at__lte=cutoff)
    )
    worked_on = Delivery.objects.filter(bulletin=OuterRef("pk"), claimed_at__gte=cutoff)
    return list(
        Bulletin.objects.filter(status=Bulletin.Status.SENDING, started_at__lt=cutoff)
        .filter(Exists(due))
        .exclude(Exists(worked_on))
        .values_list("pk", flat=True)
    )


def is_transient(exc: Exception) -> bool:
    """4xx replies and broken connections are worth retrying; 5xx replies are not."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(exc, (smtplib.SMTPResponseException,)):
        return 400 <= exc.smtp_code < 500
    return isinstance(
        exc,
        (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, TimeoutError),
    )


@transaction.atomic
def bulletin_resend_failed(*, bulletin: Bulletin) -> int:
    from ..tasks import deliver_bulletin

    bulletin = Bulletin.objects.select_for_update().get(pk=bulletin.pk)
    if bulletin.status not in (Bulletin.Status.SENT, Bulletin.Status.SENDING):
        raise BulletinError(_("Only a sent bulletin can be resent to its failed recipients."))
    count = bulletin.deliveries.filter(status=Delivery.Status.FAILED).update(
        status=Delivery.Status.QUEUED, attempts=0, retry_at=None
    )
    if count:
        Bulletin.objects.filter(pk=bulletin.pk).update(
            status=Bulletin.Status.SENDING, finished_at=None
        )
        transaction.on_commit(lambda: deliver_bulletin.delay(bulletin.pk))
    return count


@transaction.atomic
def bulletin_duplicate(*, bulletin: Bulletin, author=None) -> Bulletin:
    copy = Bulletin.objects.create(
        network=bulletin.network,
        kind=bulletin.kind,
        subject=bulletin.subject,
        body=bulletin.body,
        event=bulletin.event,
        audience=bulletin.audience,
        author=author or bulletin.author,
    )
    for attachment in bulletin.attachments.all():
        BulletinAttachment.objects.create(
            bulletin=copy,
            file=attachment.file.name,
            filename=attachment.filename,
            content_type=attachment.content_type,
            size=attachment.size,
        )
    return copy


def delivery_mark_read(*, delivery: Delivery, now: dt.datetime | None = None) -> bool:
    """The first read only; later reads change nothing."""
    return bool(
        Delivery.objects.filter(pk=delivery.pk, read_at__isnull=True).update(
            read_at=now or timezone.now()
        )
    )


@transaction.atomic
def participant_set_bulletins(*, participant: Participant, receive: bool) -> Participant:
    participant.bulletin_opt_out = not receive
    participant.save(update_fields=["bulletin_opt_out", "updated_at"])
    return participant
