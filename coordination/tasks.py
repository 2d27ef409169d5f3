from __future__ import annotations

import logging
import smtplib

from celery import shared_task

from . import emails, services

log = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError),
    retry_backoff=30,
    max_retries=5,
)
def send_portal_invitation(self, participant_id: int, invited_at: str) -> bool:
    """E-mail one portal invitation; safe to run twice (the claim lets one through)."""
    participant = services.participant_claim_invitation(
        participant_id=participant_id, invited_at=invited_at
    )
    if participant is None:
        log.info("invitation %s/%s already sent or superseded", participant_id, invited_at)
        return False
    try:
        emails.send_portal_invitation(participant)
    except Exception:
        # Give the claim back so that the retry (or a new invitation) can send it.
        services.participant_unclaim_invitation(participant_id=participant_id)
        raise
    return True


@shared_task
def ping(value: str) -> str:
    """A no-op round trip, used to prove that a worker is consuming the queue."""
    return f"pong:{value}"


TRANSIENT = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError)


@shared_task
def send_event_mail(event_id: int) -> int:
    """Fan out: one task per invitee who has not had the event's current revision."""
    from django.db.models import Q

    from .models import Event

    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        return 0
    stale = Q(mailed_sequence__lt=event.sequence)
    if event.status == Event.Status.CANCELLED:
        invitations = event.invitations.filter(stale)  # never mailed: nothing to cancel
    elif event.status == Event.Status.SCHEDULED:
        invitations = event.invitations.filter(stale | Q(mailed_sequence__isnull=True))
    else:
        return 0
    ids = list(invitations.values_list("pk", flat=True))
    for pk in ids:
        send_invitation_mail.delay(pk, event.sequence)
    return len(ids)


@shared_task(bind=True, acks_late=True, autoretry_for=TRANSIENT, retry_backoff=30, max_retries=5)
def send_invitation_mail(self, invitation_id: int, sequence: int) -> bool:
    from . import event_mail

    claim = services.invitation_claim_mail(invitation_id=invitation_id, sequence=sequence)
    if claim is None:
        return False
    invitation, previous = claim
    if invitation.event.sequence != sequence:
        # A newer revision exists; its own task mails that one.
        services.invitation_unclaim_mail(
            invitation_id=invitation_id, sequence=sequence, previous=previous
        )
        return False
    try:
        event_mail.send_invitation(invitation, previous)
    except Exception:
        services.invitation_unclaim_mail(
            invitation_id=invitation_id, sequence=sequence, previous=previous
        )
        raise
    return True


def _send_notice(invitation_id: int, key: str, send) -> bool:
    from .models import Event, Invitation

    invitation = (
        Invitation.objects.select_related("event__network", "participant")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None or invitation.event.status != Event.Status.SCHEDULED:
        return False
    if not services.notice_claim(invitation_id=invitation_id, key=key):
        return False
    try:
        send(invitation)
    except Exception:
        services.notice_release(invitation_id=invitation_id, key=key)
        raise
    services.notice_sent(invitation_id=invitation_id, key=key)
    return True


@shared_task(bind=True, acks_late=True, autoretry_for=TRANSIENT, retry_backoff=30, max_retries=5)
def send_reminder(self, invitation_id: int, key: str) -> bool:
    from . import event_mail

    return _send_notice(invitation_id, key, event_mail.send_reminder)


@shared_task(bind=True, acks_late=True, autoretry_for=TRANSIENT, retry_backoff=30, max_retries=5)
def send_promotion_mail(self, invitation_id: int) -> bool:
    from . import event_mail
    from .models import Invitation

    answered = (
        Invitation.objects.filter(pk=invitation_id).values_list("answered_at", flat=True).first()
    )
    if answered is None:
        return False
    # One promotion per yes-answer: answering yes again later may be promoted again.
    return _send_notice(
        invitation_id, f"promoted:{answered.isoformat()}", event_mail.send_promotion
    )


@shared_task
def send_due_reminders() -> int:
    """Beat runs this often; each (invitation, reminder) is claimed once, so running it
    twice, or two beats at once, sends nothing twice."""
    from django.utils import timezone

    from . import selectors

    due = selectors.due_reminders(now=timezone.now())
    for pk, key in due:
        send_reminder.delay(pk, key)
    return len(due)


# --- bulletins ---------------------------------------------------------------------


def _chunks(ids: list[int], size: int):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


@shared_task
def deliver_bulletin(bulletin_id: int) -> int:
    """Fan out the queued deliveries in batches; each batch uses one SMTP connection."""
    from django.db.models import Q
    from django.utils import timezone

    from .models import Delivery

    now = timezone.now()
    ids = list(
        Delivery.objects.filter(bulletin_id=bulletin_id, status=Delivery.Status.QUEUED)
        .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for batch in _chunks(ids, services.BATCH_SIZE):
        send_delivery_batch.delay(batch)
    services.bulletin_finish_if_done(bulletin_id=bulletin_id)
    return len(ids)


@shared_task(bind=True, acks_late=True, max_retries=None)
def send_delivery_batch(self, delivery_ids: list[int]) -> dict:
    """Send one batch. Claimed rows only; each result is committed right after its
    message, so a crash repeats at most the one message in flight."""
    from django.core.mail import get_connection

    from . import bulletin_mail
    from .models import Delivery

    claimed = services.deliveries_claim(delivery_ids=delivery_ids)
    counts = {"sent": 0, "failed": 0, "retry": 0}
    if not claimed:
        return counts
    deliveries = list(
        Delivery.objects.filter(pk__in=claimed)
        .select_related("bulletin__network", "participant")
        .order_by("pk")
    )
    retries: dict[str, list[int]] = {}
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
    except Exception as exc:
        services.delivery_release(delivery_ids=claimed)
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 900)) from exc
    try:
        for index, delivery in enumerate(deliveries):
            # A long batch keeps its claims fresh, so the sweeper never takes live work.
            services.delivery_touch(delivery_id=delivery.pk)
            try:
                message = bulletin_mail.build_message(delivery, connection)
            except Exception as exc:
                # Not the mail server: this message cannot be built (an attachment gone
                # from storage...). Fail it with the reason instead of looping the batch.
                log.exception("bulletin delivery %s cannot be built", delivery.pk)
                services.delivery_failed(
                    delivery_id=delivery.pk, error=f"{type(exc).__name__}: {exc}", transient=False
                )
                counts["failed"] += 1
                continue
            try:
                message.send()
            except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
                # The connection is gone: this one counts as an attempt, the rest
                # are untouched, and the whole remainder is tried again later.
                retry_at = services.delivery_failed(
                    delivery_id=delivery.pk, error=f"{type(exc).__name__}: {exc}", transient=True
                )
                rest = [d.pk for d in deliveries[index + 1 :]]
                services.delivery_release(delivery_ids=rest)
                if retry_at is not None:
                    # The batch's own retry comes before this one is due and passes it by.
                    send_delivery_batch.apply_async(([delivery.pk],), eta=retry_at)
                raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 900)) from exc
            except smtplib.SMTPException as exc:
                transient = services.is_transient(exc)
                retry_at = services.delivery_failed(
                    delivery_id=delivery.pk,
                    error=f"{type(exc).__name__}: {exc}",
                    transient=transient,
                )
                if retry_at is not None:
                    retries.setdefault(retry_at.isoformat(), []).append(delivery.pk)
                    counts["retry"] += 1
                else:
                    counts["failed"] += 1
            else:
                services.delivery_sent(delivery_id=delivery.pk)
                counts["sent"] += 1
    finally:
        connection.close()
    for at, ids in retries.items():
        from datetime import datetime

        send_delivery_batch.apply_async((ids,), eta=datetime.fromisoformat(at))
    services.bulletin_finish_if_done(bulletin_id=deliveries[0].bulletin_id)
    return counts


@shared_task
def send_scheduled_bulletins() -> int:
    from .models import Bulletin

    started = 0
    for pk in services.bulletins_due():
        try:
            services.bulletin_send(bulletin=Bulletin(pk=pk))
        except services.BulletinError:
            continue  # taken back to draft or started by someone else meanwhile
        started += 1
    return started


@shared_task
def requeue_stuck_deliveries(older_than_seconds: int | None = None) -> int:
    import datetime as dt

    from .models import Delivery

    kwargs = {}
    if older_than_seconds is not None:
        kwargs["older_than"] = dt.timedelta(seconds=older_than_seconds)
    # Looked up first: the rows requeued below would make their bulletin look stalled.
    stalled = services.bulletins_stalled(**kwargs)
    ids = services.deliveries_requeue_stuck(**kwargs)
    by_bulletin: dict[int, list[int]] = {}
    for pk, bulletin_id in Delivery.objects.filter(pk__in=ids).values_list("pk", "bulletin_id"):
        by_bulletin.setdefault(bulletin_id, []).append(pk)
    for bulletin_id, bulletin_ids in by_bulletin.items():
        if bulletin_id in stalled:
            continue  # the fan-out below takes these too
        for batch in _chunks(bulletin_ids, services.BATCH_SIZE):
            send_delivery_batch.delay(batch)
    for bulletin_id in stalled:
        deliver_bulletin.delay(bulletin_id)
    return len(ids)
