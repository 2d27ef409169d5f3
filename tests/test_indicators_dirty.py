"""Writes that change what the indicators count ask for a recomputation, once they
commit; a dry-run import does not."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache

from coordination import services as coordination_services
from hubless.indicators_dirty import DIRTY_KEY
from observations import services as observation_services
from observations.services.indicators import indicators_dirty_claim

pytestmark = pytest.mark.django_db


def _marked(network) -> bool:
    return cache.get(DIRTY_KEY.format(network.pk)) is not None


def test_a_region_saved_marks_the_network_once(network, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        coordination_services.region_save(network=network, data={"name": "Sanjo"})
    assert _marked(network)
    assert indicators_dirty_claim(network_ids=[network.pk]) == [network.pk]
    assert not _marked(network)  # claimed once
    assert indicators_dirty_claim(network_ids=[network.pk]) == []


def test_a_tie_marks_the_network(
    network, member_a, member_b, coordinator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        observation_services.tie_save(
            network=network,
            data={
                "source": member_a,
                "target": member_b,
                "kind": "transaction",
                "started_on": dt.date(2025, 6, 1),
            },
            user=coordinator,
        )
    assert _marked(network)


def test_a_dry_run_import_marks_nothing(network, region_a, django_capture_on_commit_callbacks):
    data = "full_name,email,organization,region,joined_on\nA,a@example.com,X,Tsubame,2025-04-19\n"
    with django_capture_on_commit_callbacks(execute=True):
        coordination_services.participants_import(
            network=network, data=data.encode(), filename="p.csv", dry_run=True
        )
    assert not _marked(network)
    with django_capture_on_commit_callbacks(execute=True):
        coordination_services.participants_import(
            network=network, data=data.encode(), filename="p.csv", dry_run=False
        )
    assert _marked(network)
