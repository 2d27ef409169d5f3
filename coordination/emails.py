from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from .models import Participant

WELCOME_SALT = "hubless.portal.welcome"
WELCOME_MAX_AGE = 30 * 24 * 3600


def welcome_token(participant: Participant) -> str:
    return signing.dumps({"p": participant.pk, "e": participant.email.lower()}, salt=WELCOME_SALT)


def participant_from_welcome_token(token: str) -> Participant | None:
    try:
        data = signing.loads(token, salt=WELCOME_SALT, max_age=WELCOME_MAX_AGE)
    except signing.BadSignature:
        return None
    participant = Participant.objects.select_related("network").filter(pk=data.get("p")).first()
    # A changed address voids links sent to the old one.
    if participant is None or participant.email.lower() != data.get("e"):
        return None
    return participant


def send_portal_invitation(participant: Participant) -> None:
    with translation.override(participant.preferred_language):
        link = settings.SITE_URL + reverse("portal_welcome", args=[welcome_token(participant)])
        context = {"participant": participant, "network": participant.network, "link": link}
        subject = render_to_string("coordination/email/invitation_subject.txt", context).strip()
        body = render_to_string("coordination/email/invitation.txt", context)
        html = render_to_string("coordination/email/invitation.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[participant.email],
    )
    message.attach_alternative(html, "text/html")
    message.send()
