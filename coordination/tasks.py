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
