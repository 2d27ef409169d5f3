"""Background work of the observations app: thin Celery tasks taking ids."""

from __future__ import annotations

from celery import shared_task

from . import export_log


@shared_task(acks_late=True)
def build_observation_export(job_id: int) -> str:
    """Builds an export job's file. Safe to run twice: the job is claimed with a
    conditional UPDATE (pending → running), so a redelivered task finds it taken and
    does nothing; hence acks_late, so a worker lost mid-task gets the job redelivered."""
    job = export_log.export_job_run(job_id=job_id)
    return job.status if job is not None else "skipped"
