"""Bulletins through real services: a Celery worker on Redis, PostgreSQL, and a real SMTP
server (aiosmtpd) that records every message it accepts.

The proof: a worker killed with SIGKILL in the middle of a send loses nothing and
sends nothing twice (beyond the one message that may have been in flight), once the
sweeper has run and a new worker has taken over; and SMTP's 4xx / 5xx replies end as
retried / failed deliveries.

Runs when REDIS_URL is set and the database is PostgreSQL (CI); skipped in the
embedded SQLite run, and failed rather than skipped if CI lacks either.
"""

from __future__ import annotations

import asyncio
import email
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.db import connection
from django.utils import timezone

from coordination import services, tasks
from coordination.models import Bulletin, Delivery, Network, Participant
from coordination.tasks import ping
from hubless.celery import app
from tests import factories
from tests.conftest import _database_url

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


# --- a real SMTP server -----------------------------------------------------------------


class RecordingHandler:
    """Keeps (recipient, Message-ID) for every message accepted with 250. Can be slowed
    down, and can refuse chosen recipients at RCPT: 450 the first time, or 550 always."""

    def __init__(
        self,
        *,
        delay: float = 0.0,
        busy_once: set[str] = frozenset(),
        unknown: set[str] = frozenset(),
    ) -> None:
        self.delay = delay
        self.busy_once = {a.lower() for a in busy_once}
        self.unknown = {a.lower() for a in unknown}
        self.refusals: Counter[tuple[str, int]] = Counter()
        self.received: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options) -> str:
        address = address.lower()
        with self._lock:
            if address in self.unknown:
                self.refusals[address, 550] += 1
                return "550 5.1.1 no such user"
            if address in self.busy_once and not self.refusals[address, 450]:
                self.refusals[address, 450] += 1
                return "450 4.2.0 try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.original_content or envelope.content)
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append((rcpt.lower(), message["Message-ID"]))
        return "250 2.0.0 Message accepted"

    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def snapshot(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self.received)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[Callable[[RecordingHandler], str]]:
    """Starts aiosmtpd on 127.0.0.1 with the given handler; returns its EMAIL_URL."""
    controllers: list[Controller] = []

    def start(handler: RecordingHandler) -> str:
        port = _free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        return f"smtp://127.0.0.1:{port}?timeout=10"

    try:
        yield start
    finally:
        for controller in controllers:
            controller.stop()


# --- real workers that can be killed ------------------------------------------------------


class Workers:
    """`celery worker --pool solo` processes against this test's PostgreSQL database."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen] = []
        self._logs: list = []

    def start(self, email_url: str, **env: str) -> subprocess.Popen:
        log = (self.tmp_path / f"worker-{len(self.processes)}.log").open("w")
        self._logs.append(log)
        environment = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "EMAIL_URL": email_url,
            "SITE_URL": "http://hubless.test",
            **env,
        }
        command = [sys.executable, "-m", "celery", "-A", "hubless", "worker", "--pool", "solo"]
        command += ["--without-mingle", "--without-gossip", "-l", "info"]
        command += ["-n", f"bulletins-{len(self.processes)}@%h"]
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        return process

    def log(self, index: int) -> str:
        return (self.tmp_path / f"worker-{index}.log").read_text()

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        for log in self._logs:
            log.close()


@pytest.fixture
def workers(tmp_path) -> Iterator[Workers]:
    """Like tests.conftest.worker, but any number of workers, each with its own EMAIL_URL
    and environment, that a test may SIGKILL and replace."""
    if not os.environ.get("REDIS_URL") or connection.vendor != "postgresql":
        if os.environ.get("CI"):
            pytest.fail("CI must run the worker tests with REDIS_URL and PostgreSQL")
        pytest.skip("needs REDIS_URL and a PostgreSQL DATABASE_URL")
    app.control.purge()
    app.conf.task_always_eager = False
    pool = Workers(tmp_path)
    try:
        yield pool
    finally:
        app.conf.task_always_eager = True
        pool.stop_all()


# --- helpers ------------------------------------------------------------------------------


def _people(network: Network, count: int) -> list[Participant]:
    organization = factories.OrganizationFactory(network=network)
    built = factories.ParticipantFactory.build_batch(
        count, network=network, organization=organization, preferred_language="en"
    )
    Participant.objects.bulk_create(built)
    return list(Participant.objects.filter(network=network).order_by("pk"))


def _bulletin(network: Network) -> Bulletin:
    return services.bulletin_save(
        network=network,
        data={
            "subject": "News from the network",
            "body": "**Hello** everyone.\n\nThe next visit is in June.",
            "audience": {"everyone": True},
        },
    )


def _wait(condition: Callable[[], bool], timeout: float, what: str, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _status(bulletin: Bulletin) -> str:
    return Bulletin.objects.values_list("status", flat=True).get(pk=bulletin.pk)


def _deliveries(bulletin: Bulletin) -> dict[str, Delivery]:
    return {
        d.participant.email.lower(): d
        for d in Delivery.objects.filter(bulletin=bulletin).select_related("participant")
    }


# --- the proof ------------------------------------------------------------------------------


def test_a_worker_killed_mid_send_loses_no_recipient_and_repeats_at_most_one(workers, smtp_server):
    handler = RecordingHandler(delay=0.01)
    email_url = smtp_server(handler)
    network = factories.NetworkFactory()
    people = _people(network, 300)
    bulletin = _bulletin(network)

    first = workers.start(email_url)
    assert ping.delay("ready").get(timeout=60) == "pong:ready"
    services.bulletin_send(bulletin=bulletin)  # enqueues the fan-out on commit

    _wait(lambda: handler.count() >= 100, 40, "a third of the messages")
    os.kill(first.pid, signal.SIGKILL)
    # Only a dead worker's claims may be swept: requeueing live work would send twice.
    assert first.wait(timeout=10) == -signal.SIGKILL
    at_kill = handler.count()
    assert 100 <= at_kill < 300, at_kill
    open_ = Delivery.objects.filter(
        bulletin=bulletin, status__in=[Delivery.Status.QUEUED, Delivery.Status.SENDING]
    )
    assert open_.exists(), "the worker finished before it was killed: nothing was proven"
    assert _status(bulletin) == Bulletin.Status.SENDING

    # The batch in progress at the kill is claimed ("sending") by a dead worker.
    in_flight = Delivery.objects.filter(bulletin=bulletin, status=Delivery.Status.SENDING)
    claimed_by_the_dead = in_flight.count()
    assert tasks.requeue_stuck_deliveries(older_than_seconds=0) == claimed_by_the_dead
    assert not Delivery.objects.filter(bulletin=bulletin, status=Delivery.Status.SENDING).exists()
    workers.start(email_url)
    _wait(lambda: _status(bulletin) == Bulletin.Status.SENT, 45, "the bulletin to be sent", 0.2)
    time.sleep(0.5)  # nothing more may arrive after the end

    received = handler.snapshot()
    expected = {p.email.lower() for p in people}
    by_recipient: dict[str, set[str]] = {}
    for rcpt, message_id in received:
        by_recipient.setdefault(rcpt, set()).add(message_id)
    assert set(by_recipient) == expected, sorted(expected ^ set(by_recipient))[:10]
    deliveries = _deliveries(bulletin)
    for rcpt, ids in by_recipient.items():
        assert ids == {deliveries[rcpt].message_id()}, (rcpt, ids)
    # A crash between the server's 250 reply and our commit of "sent" can repeat that
    # one message, with the same Message-ID, which receivers treat as the same message.
    # Every other recipient got exactly one.
    repeats = len(received) - len(set(received))
    assert repeats <= 1, Counter(received).most_common(3)
    assert len(received) in (300, 301)

    statuses = Counter(d.status for d in deliveries.values())
    assert statuses == {Delivery.Status.SENT: 300}
    assert Bulletin.objects.get(pk=bulletin.pk).finished_at is not None


def test_smtp_refusals_end_retried_or_failed_through_the_worker(workers, smtp_server):
    network = factories.NetworkFactory()
    people = _people(network, 20)
    busy = {p.email.lower() for p in people[:5]}
    unknown = {p.email.lower() for p in people[5:8]}
    handler = RecordingHandler(busy_once=busy, unknown=unknown)
    email_url = smtp_server(handler)
    bulletin = _bulletin(network)

    workers.start(email_url, BULLETIN_RETRY_BASE_SECONDS="1")
    assert ping.delay("ready").get(timeout=60) == "pong:ready"
    services.bulletin_send(bulletin=bulletin)
    _wait(lambda: _status(bulletin) == Bulletin.Status.SENT, 30, "the bulletin to be sent", 0.2)
    time.sleep(0.5)

    deliveries = _deliveries(bulletin)
    received = Counter(rcpt for rcpt, _id in handler.snapshot())
    for address in busy:
        delivery = deliveries[address]
        assert (delivery.status, delivery.attempts) == (Delivery.Status.SENT, 2), address
        assert delivery.last_error == ""
        assert handler.refusals[address, 450] == 1
        assert received[address] == 1
    for address in unknown:
        delivery = deliveries[address]
        assert (delivery.status, delivery.attempts) == (Delivery.Status.FAILED, 1), address
        assert "550" in delivery.last_error and "no such user" in delivery.last_error
        assert handler.refusals[address, 550] == 1  # a permanent refusal is not retried
        assert received[address] == 0
    for address in set(deliveries) - busy - unknown:
        delivery = deliveries[address]
        assert (delivery.status, delivery.attempts) == (Delivery.Status.SENT, 1), address
        assert received[address] == 1
    assert sum(received.values()) == 17


def test_a_retry_held_by_a_killed_worker_is_not_lost(workers, smtp_server):
    # A worker keeps a delayed retry (eta) in memory, unacknowledged; killed, Redis gives
    # the task back only after its visibility timeout (an hour). The sweeper's fan-out of
    # a stalled send must take the retry over.
    network = factories.NetworkFactory()
    people = _people(network, 10)
    busy = {p.email.lower() for p in people[:2]}
    handler = RecordingHandler(busy_once=busy)
    email_url = smtp_server(handler)
    bulletin = _bulletin(network)

    first = workers.start(email_url, BULLETIN_RETRY_BASE_SECONDS="2")
    assert ping.delay("ready").get(timeout=60) == "pong:ready"
    services.bulletin_send(bulletin=bulletin)
    waiting = Delivery.objects.filter(
        bulletin=bulletin, status=Delivery.Status.QUEUED, attempts=1, retry_at__isnull=False
    )
    _wait(lambda: handler.count() == 8 and waiting.count() == 2, 20, "the retries to wait")
    os.kill(first.pid, signal.SIGKILL)
    assert first.wait(timeout=10) == -signal.SIGKILL

    due = max(waiting.values_list("retry_at", flat=True))
    time.sleep(max(0.0, (due - timezone.now()).total_seconds()) + 0.2)
    assert tasks.requeue_stuck_deliveries(older_than_seconds=0) == 0  # none was in flight
    workers.start(email_url, BULLETIN_RETRY_BASE_SECONDS="2")
    _wait(lambda: _status(bulletin) == Bulletin.Status.SENT, 30, "the bulletin to be sent", 0.2)
    time.sleep(0.5)

    received = Counter(rcpt for rcpt, _id in handler.snapshot())
    assert received == Counter({p.email.lower(): 1 for p in people})
    deliveries = _deliveries(bulletin)
    assert {a: deliveries[a].attempts for a in busy} == dict.fromkeys(busy, 2)
    assert Counter(d.status for d in deliveries.values()) == {Delivery.Status.SENT: 10}
