"""{% load continuity %}{% open_incidents network as incidents %}: the incidents of a
network that are awaiting confirmation or active (for the portal's home page)."""

from django import template

register = template.Library()


@register.simple_tag
def open_incidents(network):
    from continuity.models import Incident

    return list(
        Incident.objects.filter(
            network=network, status__in=[Incident.Status.PENDING, Incident.Status.ACTIVE]
        )
        .select_related("region")
        .order_by("-created_at")
    )
