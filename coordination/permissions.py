"""Who may see and do what. Views ask this module; nothing else decides.

Roles are per network: a coordinator (manages everything in the network), a
researcher (writes observations and codes, reads coordination data under pseudonyms
unless granted identified access, never edits it), a participant (their own
network's portal and their own profile). Superusers may do everything.
"""

from __future__ import annotations

import rules
from django.db.models import Q
from django.http import Http404

from .models import Bulletin, Event, Network, NetworkRole, Participant

COORDINATOR = NetworkRole.Role.COORDINATOR
RESEARCHER = NetworkRole.Role.RESEARCHER
PARTICIPANT = "participant"
# Not a role of its own: a researcher the coordinator allowed to see real names.
IDENTIFIED = "identified"


def roles_of(user, network: Network) -> frozenset[str]:
    """The user's roles in the network, computed once per user object."""
    if not user.is_authenticated:
        return frozenset()
    cache = user.__dict__.setdefault("_hubless_roles", {})
    if network.pk not in cache:
        roles = set()
        for role, identified in NetworkRole.objects.filter(user=user, network=network).values_list(
            "role", "identified_access"
        ):
            roles.add(role)
            if identified:
                roles.add(IDENTIFIED)
        if Participant.objects.filter(user=user, network=network).exists():
            roles.add(PARTICIPANT)
        cache[network.pk] = frozenset(roles)
    return cache[network.pk]


@rules.predicate
def is_coordinator(user, network: Network) -> bool:
    return user.is_superuser or COORDINATOR in roles_of(user, network)


@rules.predicate
def is_researcher(user, network: Network) -> bool:
    return RESEARCHER in roles_of(user, network)


@rules.predicate
def has_identified_access(user, network: Network) -> bool:
    return IDENTIFIED in roles_of(user, network)


@rules.predicate
def is_participant(user, network: Network) -> bool:
    return PARTICIPANT in roles_of(user, network)


@rules.predicate
def is_staff_user(user) -> bool:
    return user.is_authenticated and (user.is_staff or user.is_superuser)


# The staff side of a network: its overview, regions, the observation log, codes,
# pseudonymised exports.
rules.add_perm("coordination.view_network", is_coordinator | is_researcher)
# Coordination data that names people and firms (participants, organizations, events
# with their attendees, bulletins with their recipients, ties): coordinators, and
# researchers the coordinator granted identified access. Everyone else on the staff
# side sees pseudonyms.
rules.add_perm(
    "coordination.view_identities", is_coordinator | (is_researcher & has_identified_access)
)
# Research work: writing observations, codes, codings and memos.
rules.add_perm("coordination.do_research", is_coordinator | is_researcher)
# Changing it: registering people, imports, invitations.
rules.add_perm("coordination.manage_network", is_coordinator)
# The participant portal of the network.
rules.add_perm("coordination.use_portal", is_participant)
# Anyone who belongs to the network in some role.
rules.add_perm("coordination.belong", is_coordinator | is_researcher | is_participant)
rules.add_perm("coordination.create_network", is_staff_user)


def get_network_for_user(user, slug: str, perm: str) -> Network:
    """The network if the user may `perm` in it, else 404 (outsiders learn nothing)."""
    network = Network.objects.filter(slug=slug).first()
    if network is None or not user.has_perm(perm, network):
        raise Http404
    return network


def networks_for_user(user):
    if user.is_superuser:
        return Network.objects.all()
    return Network.objects.filter(Q(staff_roles__user=user) | Q(participants__user=user)).distinct()


def get_event_for_user(user, slug: str, pk: int, perm: str) -> Event:
    """The event if the user may `perm` in its network, else 404, with what its pages
    show preloaded; `event.network` is the network the permission was checked on."""
    network = get_network_for_user(user, slug, perm)
    event = (
        Event.objects.select_related("region", "host_organization", "proposed_by__organization")
        .filter(network=network, pk=pk)
        .first()
    )
    if event is None:
        raise Http404
    event.network = network
    return event


def get_bulletin_for_user(user, slug: str, pk: int, perm: str) -> Bulletin:
    """The bulletin if the user may `perm` in its network, else 404 (as above)."""
    network = get_network_for_user(user, slug, perm)
    bulletin = (
        Bulletin.objects.select_related("author", "event").filter(network=network, pk=pk).first()
    )
    if bulletin is None:
        raise Http404
    bulletin.network = network
    return bulletin
