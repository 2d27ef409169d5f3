"""Who may use the partner-region finder: the network's coordinators upload datasets,
run searches and add a candidate as a region (manage_network); coordinators and
researchers read datasets and results (view_network). Everyone else gets a 404."""

from __future__ import annotations

from django.http import Http404

from coordination.permissions import get_network_for_user

from .models import Dataset, PartnerSearch

VIEW = "coordination.view_network"
MANAGE = "coordination.manage_network"


def get_dataset_for_user(user, slug: str, pk: int, perm: str) -> Dataset:
    """The dataset if the user may `perm` in its network, else 404; the uploaded files
    are not loaded (`dataset.network` is the network the permission was checked on)."""
    network = get_network_for_user(user, slug, perm)
    dataset = (
        Dataset.objects.defer("content", "coordinates_content")
        .filter(network=network, pk=pk)
        .first()
    )
    if dataset is None:
        raise Http404
    dataset.network = network
    return dataset


def get_search_for_user(user, slug: str, pk: int, perm: str) -> PartnerSearch:
    network = get_network_for_user(user, slug, perm)
    search = (
        PartnerSearch.objects.select_related("dataset", "requested_by")
        .defer("dataset__content", "dataset__coordinates_content", "dataset__problems")
        .filter(network=network, pk=pk)
        .first()
    )
    if search is None:
        raise Http404
    search.network = network
    search.dataset.network = network
    return search
