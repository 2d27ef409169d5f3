"""The background-work plumbing, proven with a real Celery worker on Redis.

Runs when REDIS_URL is set and the database is PostgreSQL (CI); skipped in the
embedded SQLite run, and failed rather than skipped if CI lacks either.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from coordination import services
from coordination.tasks import ping, send_portal_invitation
from hubless.celery import app
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(tmp_path):
    if not os.environ.get("REDIS_URL") or connection.vendor != "postgresql":
        if os.environ.get("CI"):
            pytest.fail("CI must run the worker tests with REDIS_URL and PostgreSQL")
        pytest.skip("needs REDIS_URL and a PostgreSQL DATABASE_URL")
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    log = (tmp_path / "worker.log").open("w")
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "EMAIL_URL": f"file://{mail_dir}",
        "SITE_URL": "http://hubless.test",
    }
    app.control.purge()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "hubless",
            "worker",
            "--pool",
            "solo",
            "--without-mingle",
            "--without-gossip",
            "-l",
            "info",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    app.conf.task_always_eager = False
    try:
        # The first round trip also waits for the worker to be ready.
        assert ping.delay("ready").get(timeout=90) == "pong:ready"
        yield mail_dir
    finally:
        app.conf.task_always_eager = True
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


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
