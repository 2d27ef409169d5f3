"""The "recompute the indicators soon" mark, shared by every app that writes what the
indicators count (coordination records facts, observations computes from them; neither
imports the other for this).

One cache key per network (Redis in production, so web processes and workers share
it), set once the transaction commits: a mark taken before the data is visible would
compute the old state. The beat task `compute_dirty_indicators` takes each mark with an
atomic delete. A lost mark is harmless: the nightly run recomputes everything."""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

DIRTY_KEY = "indicators:dirty:{}"
DIRTY_TIMEOUT = 2 * 24 * 3600


def indicators_mark_dirty(network_id: int) -> None:
    """Ask for today's snapshot of this network to be recomputed within the beat period,
    however many writes come meanwhile (the debounce)."""

    def mark() -> None:
        cache.add(DIRTY_KEY.format(network_id), timezone.now().isoformat(), DIRTY_TIMEOUT)

    transaction.on_commit(mark)
