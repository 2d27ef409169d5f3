"""Partner searches through a real Celery worker on Redis and PostgreSQL: the search is
enqueued on commit, runs in the worker with its progress recorded, and a redelivered
or duplicated task changes nothing.

Runs when REDIS_URL is set and the database is PostgreSQL (CI); skipped in the
embedded SQLite run, and failed rather than skipped if CI lacks either.
"""

from __future__ import annotations

import time

import pytest

from partners import services, synthetic, tasks
from partners.models import PartnerSearch
from partners.search import SearchParameters

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _wait_until_finished(pk: int, timeout: float = 90) -> PartnerSearch:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        search = PartnerSearch.objects.get(pk=pk)
        if search.is_finished:
            return search
        time.sleep(0.2)
    raise AssertionError(f"search {pk} still {PartnerSearch.objects.get(pk=pk).status}")


@pytest.fixture
def dataset(network, coordinator):
    return services.dataset_upload(
        network=network,
        user=coordinator,
        name="Synthetic",
        layout="generic",
        filename="synthetic.csv",
        data=synthetic.synthetic_csv(),
    )


def test_a_requested_search_is_run_by_the_worker(worker, dataset, coordinator):
    search = services.partner_search_create(
        dataset=dataset,
        user=coordinator,
        parameters=SearchParameters(target=synthetic.TARGET_CODE, min_hours=3, max_hours=4),
    )
    assert search.status == PartnerSearch.Status.PENDING
    search = _wait_until_finished(search.pk)
    assert search.status == PartnerSearch.Status.DONE, search.error
    assert (search.progress, search.stage) == (100, "done")
    assert search.result["candidates"][0]["code"] == synthetic.TWIN_CODE
    assert search.dataset_version == dataset.version
    # The broker delivers the same task again: the claim lets nothing through.
    finished = search.finished_at
    assert tasks.run_partner_search.delay(search.pk).get(timeout=30) == "skipped"
    search.refresh_from_db()
    assert search.finished_at == finished


def test_two_deliveries_of_one_search_run_it_once(worker, dataset):
    search = PartnerSearch.objects.create(
        network=dataset.network,
        dataset=dataset,
        dataset_version=dataset.version,
        target_code=synthetic.TARGET_CODE,
        parameters=SearchParameters(target=synthetic.TARGET_CODE).as_dict(),
    )
    first = tasks.run_partner_search.delay(search.pk)
    second = tasks.run_partner_search.delay(search.pk)
    assert sorted([first.get(timeout=60), second.get(timeout=60)]) == ["done", "skipped"]


def test_a_search_that_cannot_run_fails_in_the_worker_with_its_reason(worker, dataset, coordinator):
    search = services.partner_search_create(
        dataset=dataset,
        user=coordinator,
        parameters=SearchParameters(target=synthetic.TARGET_CODE, components=99),
    )
    search = _wait_until_finished(search.pk)
    assert search.status == PartnerSearch.Status.FAILED
    # The worker speaks the site's language (Japanese by default); the numbers say why.
    assert "99" in search.error and "70" in search.error
