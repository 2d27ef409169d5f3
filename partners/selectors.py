"""Reads of the partners app: datasets and searches of a network, a dataset as a table."""

from __future__ import annotations

import numpy as np
from django.db.models import Count, QuerySet

from coordination.models import Network, Region

from .models import Dataset, Municipality, PartnerSearch
from .stats import StatsTable


def dataset_list(*, network: Network) -> QuerySet[Dataset]:
    return (
        Dataset.objects.filter(network=network)
        .defer("content", "coordinates_content", "problems")
        .annotate(search_count=Count("searches"))
        .order_by("-created_at", "-pk")
    )


def search_list(*, network: Network, dataset: Dataset | None = None) -> QuerySet[PartnerSearch]:
    searches = PartnerSearch.objects.filter(network=network)
    if dataset is not None:
        searches = searches.filter(dataset=dataset)
    return (
        searches.select_related("dataset", "requested_by")
        .defer("result", "travel_times", "dataset__content", "dataset__coordinates_content")
        .order_by("-created_at", "-pk")
    )


def dataset_table(*, dataset: Dataset) -> StatsTable:
    """The ready dataset's rows as a table, in the order of the file."""
    rows = list(
        Municipality.objects.filter(dataset=dataset)
        .order_by("position")
        .values_list("code", "name", "prefecture", "latitude", "longitude", "population", "values")
    )
    p = len(dataset.indicators)
    values = np.array([row[6] for row in rows], dtype=float).reshape(len(rows), p)
    return StatsTable(
        codes=[row[0] for row in rows],
        names=[row[1] for row in rows],
        prefectures=[row[2] for row in rows],
        latitude=np.array([row[3] for row in rows], dtype=float),
        longitude=np.array([row[4] for row in rows], dtype=float),
        population=np.array([row[5] for row in rows], dtype=float),
        indicators=list(dataset.indicators),
        values=values,
    )


def dataset_choices(*, dataset: Dataset) -> tuple[list, list[str]]:
    """(target choices grouped by prefecture, the prefectures in the order of the file)
    for the search form."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for code, name, prefecture in (
        Municipality.objects.filter(dataset=dataset)
        .order_by("position")
        .values_list("code", "name", "prefecture")
    ):
        groups.setdefault(prefecture, []).append((code, f"{code} {name}"))
    return [(prefecture or "–", options) for prefecture, options in groups.items()], list(groups)


def region_codes(*, network: Network) -> dict[str, Region]:
    """The network's regions by municipal code (to mark candidates already added)."""
    return {
        region.municipality_code: region
        for region in Region.objects.filter(network=network).exclude(municipality_code="")
    }


def search_of_dataset(*, dataset: Dataset, pk: int) -> PartnerSearch | None:
    return PartnerSearch.objects.filter(dataset=dataset, pk=pk).only("parameters").first()
