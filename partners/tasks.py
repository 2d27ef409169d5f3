"""Background work of the partners app: thin Celery tasks taking ids."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def run_partner_search(search_id: int) -> str:
    """Runs a partner search. Safe to run twice: the search is claimed with a conditional
    UPDATE (pending → running), so a redelivered task finds it taken and does nothing;
    hence acks_late, so a worker lost mid-task gets the search redelivered."""
    search = services.partner_search_run(search_id=search_id)
    return search.status if search is not None else "skipped"
