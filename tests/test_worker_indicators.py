"""Indicator snapshots through a real Celery worker on Redis and PostgreSQL: the task
stores a snapshot, a redelivered task changes nothing, and a dirty mark set by a write
in this process is taken by the beat task in the worker, which computes today's
snapshot once.

Runs when REDIS_URL is set and the database is PostgreSQL (CI); skipped in the
embedded SQLite run, and failed rather than skipped if CI lacks either."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from coordination.models import Participant
from coordination.tasks import ping
from hubless.celery import app
from observations import tasks_indicators as tasks
from observations.models import IndicatorSnapshot, Tie
from observations.services.indicators import indicators_mark_dirty
from tests import factories
from tests.conftest import _database_url

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
CACHE_PREFIX = "hubless-test-indicators"


@pytest.fixture
def indicator_worker(tmp_path, settings) -> Iterator[None]:
    """Like tests.conftest.worker, plus: the worker imports observations.tasks_indicators
    (until observations.tasks imports it, autodiscovery alone would not), and this
    process shares the worker's Redis cache, where the dirty marks live."""
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url or connection.vendor != "postgresql":
        if os.environ.get("CI"):
            pytest.fail("CI must run the worker tests with REDIS_URL and PostgreSQL")
        pytest.skip("needs REDIS_URL and a PostgreSQL DATABASE_URL")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": CACHE_PREFIX,
        }
    }
    from django.core.cache import cache

    cache.clear()
    log = (tmp_path / "worker.log").open("w")
    env = {**os.environ, "DATABASE_URL": _database_url(), "CACHE_KEY_PREFIX": CACHE_PREFIX}
    app.control.purge()
    command = [sys.executable, "-m", "celery", "-A", "hubless", "worker", "--pool", "solo"]
    command += ["--without-mingle", "--without-gossip", "-l", "info"]
    command += ["--include", "observations.tasks_indicators", "-n", "indicators@%h"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    app.conf.task_always_eager = False
    try:
        assert ping.delay("ready").get(timeout=90) == "pong:ready"
        yield
    finally:
        app.conf.task_always_eager = True
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        cache.clear()


def _network():
    network = factories.NetworkFactory()
    tsubame = factories.RegionFactory(
        network=network, name="燕市", latitude=37.67, longitude=138.88
    )
    uonuma = factories.RegionFactory(
        network=network, name="魚沼市", latitude=37.24, longitude=138.96
    )
    people = [
        factories.ParticipantFactory(
            network=network,
            organization=factories.OrganizationFactory(network=network, region=region),
            joined_on=dt.date(2025, 4, 19),
        )
        for region in (tsubame, uonuma, uonuma)
    ]
    hub = factories.ParticipantFactory(
        network=network,
        role=Participant.Role.COORDINATOR,
        organization=factories.OrganizationFactory(network=network, region=tsubame),
        joined_on=dt.date(2025, 4, 1),
    )
    for a, b in ((people[0], people[1]), (hub, people[2]), (hub, people[0])):
        Tie.objects.create(
            network=network, source=a, target=b, kind="acquaintance", started_on=dt.date(2025, 5, 1)
        )
    return network, people


def _wait_for(query, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = query.first()
        if found is not None:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the snapshot")


def test_the_worker_stores_a_snapshot_and_a_redelivery_changes_nothing(indicator_worker):
    network, _people = _network()
    pk = tasks.compute_indicator_snapshot.delay(network.pk, "2025-06-01").get(timeout=60)
    snapshot = IndicatorSnapshot.objects.get(pk=pk)
    assert snapshot.network_id == network.pk and snapshot.as_of == dt.date(2025, 6, 1)
    values = snapshot.values
    assert (values["members"], values["ties"], values["cross_region_ties"]) == (3, 1, 1)
    assert values["members_by_region"] == {"燕市": 1, "魚沼市": 2}
    assert values["lcc_share"] == pytest.approx(2 / 3)
    assert values["lcc_share_with_hub"] == 1.0
    assert snapshot.duration_ms >= 0
    again = tasks.compute_indicator_snapshot.delay(network.pk, "2025-06-01").get(timeout=60)
    assert again == pk
    assert IndicatorSnapshot.objects.filter(network=network).count() == 1
    assert IndicatorSnapshot.objects.get(pk=pk).values == values


def test_a_write_marks_the_network_and_the_beat_task_computes_today_once(indicator_worker):
    network, people = _network()
    IndicatorSnapshot.objects.create(network=network, as_of=dt.date(2025, 5, 1))  # history
    Tie.objects.create(
        network=network,
        source=people[1],
        target=people[2],
        kind="joint_project",
        started_on=dt.date(2025, 6, 1),
    )
    indicators_mark_dirty(network.pk)  # autocommit: set at once, in Redis
    indicators_mark_dirty(network.pk)
    assert tasks.compute_dirty_indicators.delay().get(timeout=60) == 1
    today = IndicatorSnapshot.objects.filter(network=network, as_of=timezone.localdate())
    snapshot = _wait_for(today)
    assert snapshot.values["ties"] == 2
    # The mark was taken: the next round finds nothing to do.
    assert tasks.compute_dirty_indicators.delay().get(timeout=60) == 0


def test_the_worker_backfills_monthly_history(indicator_worker):
    network, _people = _network()
    count = tasks.backfill_indicator_snapshots.delay(network.pk, "2025-09-15").get(timeout=60)
    assert count == 7  # 2025-04-01 (the coordinator joined), May to September, 09-15
    members = list(
        IndicatorSnapshot.objects.filter(network=network)
        .order_by("as_of")
        .values_list("as_of", "values__members")
    )
    assert members[0] == (dt.date(2025, 4, 1), 0)
    assert members[-1] == (dt.date(2025, 9, 15), 3)
