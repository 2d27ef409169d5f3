"""The demo network's collaborations (DESIGN's model case): ties the coordinator
brokered at the first meetings, across and within the two towns, and two firms that met
at a meeting and started several joint projects on their own."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from coordination.demo import COORDINATOR_EMAIL
from coordination.models import Event, Network, Participant

from .models import Tie

# source, target, kind, started_on, brokered by the coordinator, met at (event title)
TIES = [
    (
        "k.yamamoto@example.jp",
        "n.kobayashi@example.jp",
        "acquaintance",
        "2025-04-19",
        True,
        "キックオフ会議",
    ),
    (
        "m.sato@example.jp",
        "y.nakamura@example.jp",
        "acquaintance",
        "2025-04-19",
        True,
        "キックオフ会議",
    ),
    (
        "m.takahashi@example.jp",
        "t.kato@example.jp",
        "information_exchange",
        "2025-04-19",
        True,
        "キックオフ会議",
    ),
    (
        "k.watanabe@example.jp",
        "m.yoshida@example.jp",
        "information_exchange",
        "2025-08-23",
        True,
        "燕の工場見学（研磨・プレス）",
    ),
    (
        "o.saito@example.jp",
        "k.yamamoto@example.jp",
        "information_exchange",
        "2025-08-23",
        True,
        "燕の工場見学（研磨・プレス）",
    ),
    ("m.sato@example.jp", "m.takahashi@example.jp", "transaction", "2025-06-01", False, ""),
    (
        "y.nakamura@example.jp",
        "k.yamamoto@example.jp",
        "acquaintance",
        "2025-11-08",
        False,
        "第2回交流会：災害時の相互支援を考える",
    ),
    (
        "y.nakamura@example.jp",
        "k.yamamoto@example.jp",
        "joint_project",
        "2026-01-15",
        False,
        "第2回交流会：災害時の相互支援を考える",
    ),
    ("y.nakamura@example.jp", "k.yamamoto@example.jp", "joint_project", "2026-06-01", False, ""),
    (
        "y.nakamura@example.jp",
        "k.yamamoto@example.jp",
        "mutual_support_agreement",
        "2026-07-01",
        True,
        "",
    ),
    (
        "s.matsumoto@example.jp",
        "n.kobayashi@example.jp",
        "transaction",
        "2026-05-16",
        False,
        "魚沼の工場見学（樹脂成形）",
    ),
    (
        "a.inoue@example.jp",
        "m.sato@example.jp",
        "acquaintance",
        "2026-10-17",
        False,
        "第3回交流会：共同受注の進め方",
    ),
]


@transaction.atomic
def ties_seed(*, network: Network) -> int:
    """Idempotent: a tie that exists (same pair, kind and start) is left alone."""
    people = {p.email: p for p in Participant.objects.filter(network=network)}
    events = {e.title: e for e in Event.objects.filter(network=network)}
    coordinator = people.get(COORDINATOR_EMAIL)
    created = 0
    for source, target, kind, started, brokered, met_at in TIES:
        a, b = people[source], people[target]
        started_on = dt.date.fromisoformat(started)
        exists = Tie.objects.filter(
            network=network, kind=kind, started_on=started_on, deleted_at__isnull=True
        ).filter(source__in=[a, b], target__in=[a, b])
        if exists.exists():
            continue
        Tie.objects.create(
            network=network,
            source=a,
            target=b,
            kind=kind,
            started_on=started_on,
            initiated_by=coordinator if brokered else None,
            origin_event=events.get(met_at),
        )
        created += 1
    return created
