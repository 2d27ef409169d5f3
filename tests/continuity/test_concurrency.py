"""Declarations at the same moment (PostgreSQL row locks and the unique open incident)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from continuity import services
from continuity.models import Confirmation, Incident, Reply
from coordination.models import Bulletin

from .helpers import capability, need, person

needs_row_locks = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite has one writer and ignores SELECT ... FOR UPDATE",
)


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_members_declaring_at_once_activate_one_incident_and_mail_each_partner_once(
    network, region_a, region_b, member_a, member_b, mailoutbox
):
    need(member_a.organization, "process", "plating")
    capability(member_b.organization, "process", "plating")
    declarers = [member_a] + [
        person(network, member_a.organization, f"Declarer {i}", user=True) for i in range(5)
    ]
    barrier = threading.Barrier(len(declarers))
    errors: list[Exception] = []
    activated: list[bool] = []

    def declare(participant) -> None:
        try:
            barrier.wait(timeout=30)
            result = services.incident_declare(
                network=network, region=region_a, user=participant.user
            )
            activated.append(result.activated)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=declare, args=(p,)) for p in declarers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(activated) == [False] * 5 + [True]
    incident = Incident.objects.get()
    assert incident.status == Incident.Status.ACTIVE
    assert Confirmation.objects.filter(incident=incident).count() == 6
    assert Reply.objects.filter(incident=incident).count() == 1
    assert Bulletin.objects.count() == 1
    assert [m.to for m in mailoutbox] == [[f"{member_b.full_name} <{member_b.email}>"]]
