"""A bulletin as an e-mail to one recipient: multipart text + sanitised HTML, their
name, the web version, one-click unsubscribe (RFC 8058) and a stable Message-ID."""

from __future__ import annotations

from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from .markup import plain_text, render_markdown
from .models import Delivery, Participant

UNSUBSCRIBE_SALT = "hubless.bulletins.unsubscribe"
OPEN_SALT = "hubless.bulletins.open"


def unsubscribe_token(participant: Participant) -> str:
    return signing.dumps({"p": participant.pk}, salt=UNSUBSCRIBE_SALT)


def participant_from_unsubscribe_token(token: str) -> Participant | None:
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return Participant.objects.select_related("network").filter(pk=data.get("p")).first()


def open_token(delivery: Delivery) -> str:
    return signing.dumps({"d": delivery.pk}, salt=OPEN_SALT, compress=True)


def delivery_from_open_token(token: str) -> Delivery | None:
    try:
        data = signing.loads(token, salt=OPEN_SALT)
    except signing.BadSignature:
        return None
    return Delivery.objects.select_related("bulletin__network").filter(pk=data.get("d")).first()


def sender(network) -> str:
    _name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((network.name, address or "hubless@localhost"))


def build_message(delivery: Delivery, connection=None) -> EmailMultiAlternatives:
    bulletin = delivery.bulletin
    participant = delivery.participant
    network = bulletin.network
    unsubscribe = settings.SITE_URL + reverse(
        "bulletin_unsubscribe", args=[unsubscribe_token(participant)]
    )
    context = {
        "bulletin": bulletin,
        "participant": participant,
        "network": network,
        "web_link": settings.SITE_URL + bulletin.get_portal_url(),
        "unsubscribe_link": unsubscribe,
        "body_text": plain_text(bulletin.body),
        "body_html": render_markdown(bulletin.body),
        "pixel": settings.SITE_URL + reverse("bulletin_open", args=[open_token(delivery)])
        if network.track_bulletin_opens
        else "",
    }
    with translation.override(participant.preferred_language):
        text = render_to_string("coordination/email/bulletin.txt", context)
        html = render_to_string("coordination/email/bulletin.html", context)
    message = EmailMultiAlternatives(
        subject=bulletin.subject,
        body=text,
        from_email=sender(network),
        to=[formataddr((participant.full_name, participant.email))],
        connection=connection,
        headers={
            "Message-ID": delivery.message_id(),
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": f"{network.name} <{network.slug}.hubless>",
        },
    )
    message.attach_alternative(html, "text/html")
    for attachment in bulletin.attachments.all():
        with attachment.file.open("rb") as handle:
            message.attach(attachment.filename, handle.read(), attachment.content_type)
    return message
