"""The review reminder to the network's coordinators (the activation notices go
through the bulletin machinery, see services._ask)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import translation

from coordination.bulletin_mail import sender
from coordination.models import NetworkRole

from .models import Agreement


def coordinator_addresses(network) -> list[str]:
    return sorted(
        set(
            NetworkRole.objects.filter(network=network, role=NetworkRole.Role.COORDINATOR)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )


def send_review_reminder(agreement: Agreement) -> bool:
    to = coordinator_addresses(agreement.network)
    if not to:
        return False
    context = {
        "agreement": agreement,
        "network": agreement.network,
        "link": settings.SITE_URL + agreement.get_absolute_url(),
    }
    with translation.override(settings.LANGUAGE_CODE):
        subject = render_to_string("continuity/email/review_subject.txt", context).strip()
        body = render_to_string("continuity/email/review.txt", context)
    EmailMessage(subject=subject, body=body, from_email=sender(agreement.network), to=to).send()
    return True
