"""Access to the observations app's objects: the object if the user may `perm` in its
network, else 404. The roles and perms are coordination's."""

from __future__ import annotations

from django.http import Http404

from coordination.permissions import get_network_for_user

from . import selectors
from .models import Observation, Tie

VIEW = "coordination.view_network"
IDENTITIES = "coordination.view_identities"
MANAGE = "coordination.manage_network"
PORTAL = "coordination.use_portal"
RESEARCH = "coordination.do_research"


def get_tie_for_user(user, slug: str, pk: int, perm: str) -> Tie:
    """The tie if the user may `perm` in its network, else 404 (outsiders learn nothing);
    deleted ties are gone for every page. `tie.network` is the checked network."""
    network = get_network_for_user(user, slug, perm)
    tie = selectors.tie_get(network=network, pk=pk)
    if tie is None:
        raise Http404
    tie.network = network
    return tie


def get_observation_for_user(user, slug: str, pk: int, perm: str = RESEARCH) -> Observation:
    """The observation (not deleted) with what its pages show preloaded, if the user may
    `perm` in its network, else 404; `observation.network` is the checked network."""
    network = get_network_for_user(user, slug, perm)
    observation = selectors.observation_get(network=network, pk=pk)
    if observation is None:
        raise Http404
    observation.network = network
    return observation
