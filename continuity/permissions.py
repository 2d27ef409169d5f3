"""Who may see and do what in continuity; the views ask this module.

- The coordinator manages everything of the network.
- Members (participants) manage the capabilities and needs of their own organization
  from the portal, see the other organizations' capabilities, declare incidents, and
  track the requests of their own organization.
- Researchers read the staff pages, with names through `namer_for`.
- Anyone else (another network's people included) gets a 404.
"""

from __future__ import annotations

from django.http import Http404
from django.utils import timezone

from coordination.models import Network, Organization, Participant
from coordination.permissions import get_network_for_user

from .models import HelpRequest, Incident

VIEW = "coordination.view_network"
MANAGE = "coordination.manage_network"
PORTAL = "coordination.use_portal"


def staff_network(user, slug: str) -> Network:
    return get_network_for_user(user, slug, VIEW)


def manager_network(user, slug: str) -> Network:
    return get_network_for_user(user, slug, MANAGE)


def can_manage(user, network: Network) -> bool:
    return user.has_perm(MANAGE, network)


def portal_participant(user, slug: str) -> Participant:
    """The signed-in participant of the network, with organization and region."""
    network = get_network_for_user(user, slug, PORTAL)
    me = (
        Participant.objects.select_related("network", "organization__region")
        .filter(network=network, user=user)
        .order_by("-joined_on")
        .first()
    )
    if me is None:
        raise Http404
    me.network = network
    return me


def is_active(participant: Participant) -> bool:
    return participant.is_active_on(timezone.localdate())


def get_organization_for_user(user, slug: str, pk: int) -> Organization:
    network = staff_network(user, slug)
    organization = (
        Organization.objects.select_related("region").filter(network=network, pk=pk).first()
    )
    if organization is None:
        raise Http404
    organization.network = network
    return organization


def get_incident(network: Network, pk: int) -> Incident:
    incident = (
        Incident.objects.select_related("region", "event", "created_by")
        .filter(network=network, pk=pk)
        .first()
    )
    if incident is None:
        raise Http404
    incident.network = network
    return incident


def can_track(user, network: Network, request: HelpRequest, me: Participant | None) -> bool:
    """Requests are tracked by the coordinator and by the requesting organization."""
    if can_manage(user, network):
        return True
    return me is not None and me.organization_id == request.organization_id
