"""A large XLSX export through real services: the export page enqueues a job on Redis,
a Celery worker builds the workbook against PostgreSQL and stores it, the requester
downloads it; a redelivered task changes nothing.

Runs when REDIS_URL is set and the database is PostgreSQL (CI); skipped in the
embedded SQLite run, and failed rather than skipped if CI lacks either.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import openpyxl
import pytest
from django.urls import reverse

from observations import export_log
from observations.models import Coding, ExportJob, Observation
from observations.pseudonyms import pseudonym
from observations.tasks import build_observation_export
from tests import factories

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROWS = export_log.XLSX_INLINE_MAX_ROWS + 1000


@pytest.fixture
def shared_media(settings, monkeypatch):
    """The worker stores files where this test reads them (requested before `worker`,
    which passes the environment on)."""
    monkeypatch.setenv("MEDIA_ROOT", str(settings.MEDIA_ROOT))
    return settings.MEDIA_ROOT


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _files(root) -> list:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_a_large_workbook_is_built_by_a_real_worker_and_twice_changes_nothing(
    shared_media, worker, client, network, researcher, member_a, member_b
):
    code = factories.CodeFactory(network=network, name="協力")
    observations = Observation.objects.bulk_create(
        factories.ObservationFactory.build_batch(
            ROWS, network=network, title="Member A と話した", body="A Works の工場で"
        )
    )
    through = Observation.participants.through
    through.objects.bulk_create(
        [through(observation_id=o.pk, participant_id=member_a.pk) for o in observations]
    )
    Coding.objects.bulk_create([Coding(observation=o, code=code) for o in observations[::10]])

    client.force_login(researcher)
    page = reverse("observation_export", args=[network.slug])
    response = client.post(page, {"format": "xlsx"})
    assert response.status_code == 302  # too large for the request: a job
    job = ExportJob.objects.get(requested_by=researcher)
    _wait(
        lambda: ExportJob.objects.get(pk=job.pk).status in ("done", "failed"),
        120,
        "the worker to build the workbook",
    )
    job.refresh_from_db()
    assert (job.status, job.error, job.row_count) == ("done", "", ROWS)
    assert job.pseudonymized is True  # a researcher without identified access

    download = reverse("observation_export_job_download", args=[network.slug, job.pk])
    assert download in client.get(page).content.decode()
    response = client.get(download)
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(
        io.BytesIO(b"".join(response.streaming_content)), read_only=True
    )
    assert workbook.sheetnames == ["observations", "codings", "codes", "memos"]
    rows = list(workbook["observations"].values)
    header = rows[0]
    assert len(rows) == ROWS + 1
    first = dict(zip(header, rows[1], strict=True))
    masked = pseudonym(network, member_a.pk)
    assert (first["participants"], first["title"]) == (masked, f"{masked} と話した")
    assert len(list(workbook["codings"].values)) == len(observations[::10]) + 1

    # A redelivered task (or one enqueued twice) finds the job claimed and does nothing.
    before = (job.status, job.file.name, job.row_count, job.started_at, job.finished_at)
    files = _files(shared_media)
    assert len(files) == 1
    assert build_observation_export.delay(job.pk).get(timeout=60) == "skipped"
    assert build_observation_export.delay(job.pk).get(timeout=60) == "skipped"
    job.refresh_from_db()
    assert (job.status, job.file.name, job.row_count, job.started_at, job.finished_at) == before
    assert _files(shared_media) == files
