"""The e-mails of the event life cycle, each in the invitee's language, with the
calendar entry attached where the calendar should change."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from . import ics
from .models import Event, Invitation
from .services import rsvp_token_issue


def answer_links(invitation: Invitation) -> dict[str, str]:
    """Yes / maybe / no links sharing one fresh secret. Opening one changes nothing:
    the page asks for a confirming click."""
    token = rsvp_token_issue(invitation=invitation)
    base = settings.SITE_URL + reverse("rsvp", args=[invitation.pk, token])
    return {answer: f"{base}?answer={answer}" for answer in ("yes", "maybe", "no")}


def _send(invitation: Invitation, template: str, context: dict, *, calendar: bool) -> None:
    participant = invitation.participant
    event = invitation.event
    with translation.override(participant.preferred_language):
        context = {
            "invitation": invitation,
            "event": event,
            "participant": participant,
            "network": event.network,
            "portal_link": settings.SITE_URL + event.get_portal_url(),
            **context,
        }
        subject = render_to_string(f"coordination/email/{template}_subject.txt", context)
        body = render_to_string(f"coordination/email/{template}.txt", context)
        html = render_to_string(f"coordination/email/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[participant.email],
    )
    message.attach_alternative(html, "text/html")
    if calendar:
        method = "CANCEL" if event.status == Event.Status.CANCELLED else "REQUEST"
        message.attach(
            "invite.ics",
            ics.invitation_ics(invitation),
            # Django adds the charset itself; naming it here too sent it twice.
            f"text/calendar; method={method}",
        )
    message.send()


def send_invitation(invitation: Invitation, previous_sequence: int | None) -> None:
    """The first invitation, an update (time or place changed) or the cancellation."""
    event = invitation.event
    if event.status == Event.Status.CANCELLED:
        _send(invitation, "event_cancelled", {}, calendar=True)
        return
    template = "event_invitation" if previous_sequence is None else "event_updated"
    _send(invitation, template, {"links": answer_links(invitation)}, calendar=True)


def send_reminder(invitation: Invitation) -> None:
    _send(invitation, "event_reminder", {"links": answer_links(invitation)}, calendar=False)


def send_promotion(invitation: Invitation) -> None:
    _send(invitation, "event_promoted", {"links": answer_links(invitation)}, calendar=True)
