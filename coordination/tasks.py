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
