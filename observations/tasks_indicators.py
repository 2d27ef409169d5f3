"""Background work of the indicators: thin Celery tasks taking ids.

When snapshots are computed:
- nightly (beat `indicators-nightly`): every network's history is recomputed — the
  first of each month since its start, and today — so that corrections to the past
  reach the charts by the next morning;
- soon after a change (beat `indicators-dirty`, every five minutes): writes call
  `indicators_mark_dirty(network_id)`, which sets a cache key after commit; the beat
  task takes each mark with an atomic delete and computes today's snapshot once,
  however many writes came in between (the debounce). A network without any snapshot
  gets its whole history instead, so it shows at once.

Why a cache key rather than a database row: marking is on the path of every write
(a tie saved, an answer given) and must cost no query and take no lock; the key is
in Redis, shared by the web processes and the workers; and a lost mark is harmless,
since the nightly run recomputes everything. Every task is safe to run twice: a
snapshot is unique per network and date and is replaced in place."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from coordination.models import Network

from .models import IndicatorSnapshot
from .services.indicators import (
    indicators_dirty_claim,
    indicators_mark_dirty,
    snapshot_compute,
    snapshots_backfill,
)

log = logging.getLogger(__name__)

__all__ = [
    "backfill_indicator_snapshots",
    "compute_dirty_indicators",
    "compute_indicator_snapshot",
    "compute_indicators_nightly",
    "indicators_mark_dirty",
]

# A task queued by beat and still waiting this long is superseded by the next round.
DIRTY_EXPIRES = 3600
NIGHTLY_EXPIRES = 20 * 3600


def _day(value: str | None) -> dt.date:
    return dt.date.fromisoformat(value) if value else timezone.localdate()


@shared_task(
    bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=30, max_retries=3
)
def compute_indicator_snapshot(self, network_id: int, as_of: str | None = None) -> int | None:
    """Store the network's snapshot as of `as_of` (ISO date; default today). Returns
    the snapshot's id, or None when the network is gone."""
    network = Network.objects.filter(pk=network_id).first()
    if network is None:
        return None
    try:
        return snapshot_compute(network=network, as_of=_day(as_of)).pk
    except Exception:
        # The mark was taken to get here: give it back so that the change is not lost.
        indicators_mark_dirty(network_id)
        raise


@shared_task(
    bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=60, max_retries=3
)
def backfill_indicator_snapshots(self, network_id: int, until: str | None = None) -> int:
    """Store monthly snapshots from the network's start to `until` (default today);
    returns how many."""
    network = Network.objects.filter(pk=network_id).first()
    if network is None:
        return 0
    return len(snapshots_backfill(network=network, until=_day(until)))


@shared_task
def compute_dirty_indicators() -> int:
    """Beat, every few minutes: today's snapshot for each network marked dirty (its
    whole history when it has none yet)."""
    claimed = indicators_dirty_claim(network_ids=list(Network.objects.values_list("pk", flat=True)))
    with_history = set(
        IndicatorSnapshot.objects.filter(network_id__in=claimed)
        .values_list("network_id", flat=True)
        .distinct()
    )
    for network_id in claimed:
        task = (
            compute_indicator_snapshot
            if network_id in with_history
            else (backfill_indicator_snapshots)
        )
        task.apply_async((network_id,), expires=DIRTY_EXPIRES)
    if claimed:
        log.info("indicators: recomputing %s network(s) marked dirty", len(claimed))
    return len(claimed)


@shared_task
def compute_indicators_nightly() -> int:
    """Beat, nightly: recompute every network's history up to today."""
    ids = list(
        Network.objects.filter(participants__isnull=False).distinct().values_list("pk", flat=True)
    )
    for network_id in ids:
        backfill_indicator_snapshots.apply_async((network_id,), expires=NIGHTLY_EXPIRES)
    return len(ids)
