"""The background-work plumbing, proven with a real Celery worker on Redis.

Runs when REDIS_URL is set and the database is PostgreSQL (CI); skipped in the
embedded SQLite run, and failed rather than skipped if CI lacks either.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from coordination import services
from coordination.tasks import ping, send_portal_invitation
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _wait_for_files(folder: Path, count: int, timeout: float = 60) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted(folder.iterdir())
        if len(files) >= count:
            return files
        time.sleep(0.2)
    raise AssertionError(
        f"expected {count} mail files in {folder}, found {len(list(folder.iterdir()))}"
    )


def test_a_real_worker_consumes_the_queue_and_returns_results(worker):
    assert ping.delay("hubless").get(timeout=30) == "pong:hubless"


def test_an_invitation_is_sent_by_the_worker_exactly_once(worker):
    person = factories.ParticipantFactory(email="worker.test@example.com", full_name="Worker Test")
    services.participants_invite(network=person.network, participant_ids=[person.pk])
    files = _wait_for_files(worker, 1)
    text = files[0].read_text()
    assert "To: worker.test@example.com" in text
    assert "http://hubless.test/welcome/" in text
    person.refresh_from_db()
    assert person.invitation_sent_at is not None and person.user is not None
    # The broker redelivers the same task: the claim lets nothing through.
    assert (
        send_portal_invitation.delay(person.pk, person.invited_at.isoformat()).get(timeout=30)
        is False
    )
    time.sleep(1)
    assert len(list(worker.iterdir())) == 1
