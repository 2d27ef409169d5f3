"""Thin Celery tasks: ids in, services do the work; safe to run twice."""

from __future__ import annotations

import datetime as dt
import smtplib

from celery import shared_task

from . import services

TRANSIENT = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError)


@shared_task
def send_agreement_review_reminders() -> int:
    """Beat runs this daily; each (agreement, review date) is claimed once, so running
    it twice, or two beats at once, mails nothing twice."""
    due = services.agreements_due_for_review()
    for pk, review_on in due:
        send_agreement_review_reminder.delay(pk, review_on.isoformat())
    return len(due)


@shared_task(bind=True, acks_late=True, autoretry_for=TRANSIENT, retry_backoff=30, max_retries=5)
def send_agreement_review_reminder(self, agreement_id: int, review_on: str) -> bool:
    from . import mail
    from .models import Agreement

    day = dt.date.fromisoformat(review_on)
    agreement = (
        Agreement.objects.select_related("network", "organization_a", "organization_b")
        .filter(pk=agreement_id, review_on=day, status=Agreement.Status.IN_FORCE)
        .first()
    )
    if agreement is None:
        return False  # reviewed, ended or gone meanwhile
    if not services.agreement_reminder_claim(agreement_id=agreement_id, review_on=day):
        return False
    try:
        sent = mail.send_review_reminder(agreement)
    except Exception:
        services.agreement_reminder_release(agreement_id=agreement_id, review_on=day)
        raise
    services.agreement_reminder_sent(agreement_id=agreement_id, review_on=day)
    return sent
