"""Writes of the indicators: snapshots (one per network and date, recomputed in place)
and the "recompute soon" mark that writes elsewhere set.

Computing reads the network once through `indicator_data`, computes outside any
transaction (seconds on a large network), then stores in a short one."""

from __future__ import annotations

import datetime as dt
import time

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from coordination.models import Network

# The debounce mark lives in hubless/indicators_dirty.py, so that coordination's writes
# can set it without importing observations.
from hubless.indicators_dirty import DIRTY_KEY, indicators_mark_dirty  # noqa: F401

from .. import indicators
from ..indicator_data import indicator_data_load
from ..indicators.core import indicators_on, prepare
from ..models import IndicatorSnapshot


def indicators_dirty_claim(*, network_ids: list[int]) -> list[int]:
    """The networks marked dirty, each claimed by deleting its mark: a delete that
    removed the key is ours, so two beats (or workers) never both take a network, and a
    write after the claim marks it again for the next round."""
    keys = {DIRTY_KEY.format(pk): pk for pk in network_ids}
    marked = cache.get_many(list(keys))
    return [keys[key] for key in marked if cache.delete(key)]


@transaction.atomic
def _store(*, network_id: int, as_of: dt.date, result: dict, duration_ms: int):
    snapshot, _created = IndicatorSnapshot.objects.update_or_create(
        network_id=network_id,
        as_of=as_of,
        defaults={
            "values": result["values"],
            "notes": result["notes"],
            "duration_ms": duration_ms,
        },
    )
    return snapshot


def snapshot_compute(
    *, network: Network, as_of: dt.date, data: indicators.NetworkData | None = None
) -> IndicatorSnapshot:
    """Compute and store the network's indicators as of one date. Running it again
    replaces the snapshot with the same values (unique per network and date)."""
    started = time.perf_counter()
    if data is None:
        data = indicator_data_load(network=network)
    result = indicators.compute(data, as_of)
    duration_ms = round((time.perf_counter() - started) * 1000)
    return _store(network_id=network.pk, as_of=as_of, result=result, duration_ms=duration_ms)


@transaction.atomic
def _store_many(*, network_id: int, results: list[tuple[dt.date, dict, int]]) -> None:
    IndicatorSnapshot.objects.bulk_create(
        [
            IndicatorSnapshot(
                network_id=network_id,
                as_of=day,
                values=result["values"],
                notes=result["notes"],
                duration_ms=duration_ms,
            )
            for day, result, duration_ms in results
        ],
        update_conflicts=True,
        unique_fields=["network", "as_of"],
        update_fields=["values", "notes", "duration_ms", "computed_at"],
    )


def snapshots_backfill(
    *, network: Network, until: dt.date | None = None
) -> list[IndicatorSnapshot]:
    """Snapshots from the network's start (its first joined_on) to `until` (today):
    the start, the first of every month, and `until`. The data is read once; every
    date is computed from it; all snapshots are stored together (or none). Existing
    snapshots of those dates are recomputed, so this also repairs history after a
    correction to the past."""
    until = until or timezone.localdate()
    started = time.perf_counter()
    data = indicator_data_load(network=network)
    dates = indicators.monthly_dates(data.start, until)
    if not dates:
        return []
    loaded = time.perf_counter() - started
    results = []
    prepared_at = time.perf_counter()
    prepared = prepare(data)
    # The load and preparation are shared; each snapshot carries its share of them.
    shared = (loaded + time.perf_counter() - prepared_at) / len(dates)
    for day in dates:
        began = time.perf_counter()
        result = indicators.with_continuity(data, day, indicators_on(prepared, day))
        duration_ms = round((time.perf_counter() - began + shared) * 1000)
        results.append((day, result, duration_ms))
    _store_many(network_id=network.pk, results=results)
    return list(
        IndicatorSnapshot.objects.filter(network=network, as_of__in=dates).order_by("as_of")
    )
