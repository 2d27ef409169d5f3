"""Benchmark: `compute_indicators` on synthetic networks of 1k, 10k and 100k
participants (~10 ties each, a year of events and bulletins) on PostgreSQL, and a
backfill of 24 monthly snapshots at 10k. Results and how to read them:
benchmarks/README.md, "Indicators".

    createdb -h 127.0.0.1 -U postgres hubless_ind_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hubless_ind_bench \\
        .venv/bin/python benchmarks/indicators.py [--sizes 1000 10000 100000] [--rebuild]

The networks are built once with COPY (slugs bench-1000, ...) and reused by later runs
unless --rebuild. Everything is seeded: the same command builds the same data."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import resource
import statistics
import sys
import time
import zoneinfo
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hubless.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from coordination.models import Network  # noqa: E402
from observations import indicators  # noqa: E402
from observations.indicator_data import indicator_data_load  # noqa: E402
from observations.models import IndicatorSnapshot  # noqa: E402
from observations.selectors.indicators import (  # noqa: E402
    participant_engagement,
    snapshot_series,
)
from observations.services.indicators import snapshots_backfill  # noqa: E402

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
START = dt.date(2024, 1, 1)
AS_OF = dt.date(2025, 12, 31)
BACKFILL_UNTIL = dt.date(2025, 12, 1)  # 2024-01-01 .. 2025-12-01: 24 snapshots
KINDS = np.array(
    [
        "acquaintance",
        "information_exchange",
        "transaction",
        "joint_project",
        "shared_customer",
        "mutual_support_agreement",
    ]
)
KIND_WEIGHTS = [0.35, 0.3, 0.15, 0.1, 0.05, 0.05]


# --- building the data with COPY -------------------------------------------------------------


def _next_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")
        return cursor.fetchone()[0]


def _copy(table: str, columns: list[str], rows) -> int:
    count = 0
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        if "id" in columns:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            )
    return count


def _day(ordinal: int) -> dt.date:
    return dt.date.fromordinal(int(ordinal))


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=TOKYO)


def _delete(network_id: int) -> None:
    statements = [
        "DELETE FROM coordination_delivery WHERE bulletin_id IN "
        "(SELECT id FROM coordination_bulletin WHERE network_id = %s)",
        "DELETE FROM coordination_invitation WHERE event_id IN "
        "(SELECT id FROM coordination_event WHERE network_id = %s)",
        "DELETE FROM observations_tie WHERE network_id = %s",
        "DELETE FROM observations_indicatorsnapshot WHERE network_id = %s",
        "DELETE FROM coordination_bulletin WHERE network_id = %s",
        "DELETE FROM coordination_event WHERE network_id = %s",
        "UPDATE coordination_participant SET recruited_by_id = NULL WHERE network_id = %s",
        "DELETE FROM coordination_participant WHERE network_id = %s",
        "DELETE FROM coordination_organization WHERE network_id = %s",
        "DELETE FROM coordination_region WHERE network_id = %s",
        "DELETE FROM coordination_network WHERE id = %s",
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql, [network_id])


@transaction.atomic
def build(size: int) -> Network:
    """A network of `size` participants joining over 18 months from 2024-01-01 in
    √size/10 regions (at least 2); two people per organization, 60 % of them located;
    one coordinator, 1 % observers, 5 % who left; ~10 ties each, mostly within a
    region; in 2025 a monthly event per region (its members invited) and a monthly
    bulletin to everyone."""
    rng = np.random.default_rng(size)
    now = timezone.now()
    network = Network.objects.create(slug=f"bench-{size}", name=f"Benchmark {size}")
    region_count = max(2, round(np.sqrt(size) / 10))
    centres = np.column_stack(
        [36 + rng.random(region_count) * 3, 137 + rng.random(region_count) * 3]
    )
    region_base = _next_id("coordination_region")
    _copy(
        "coordination_region",
        ["id", "network_id", "name", "prefecture", "latitude", "longitude", "municipality_code"],
        (
            (region_base + r, network.pk, f"地域{r + 1}", "", *centres[r].tolist(), "")
            for r in range(region_count)
        ),
    )
    orgs = (size + 1) // 2
    org_region = rng.integers(0, region_count, orgs)
    located = rng.random(orgs) < 0.6
    org_points = centres[org_region] + rng.normal(0, 0.05, (orgs, 2))
    org_base = _next_id("coordination_organization")
    _copy(
        "coordination_organization",
        [
            "id",
            "network_id",
            "name",
            "name_kana",
            "kind",
            "region_id",
            "industry",
            "website",
            "latitude",
            "longitude",
        ],
        (
            (
                org_base + o,
                network.pk,
                f"企業{o + 1}",
                "",
                "firm" if o % 20 else "chamber_of_commerce",
                region_base + int(org_region[o]),
                "",
                "",
                float(org_points[o, 0]) if located[o] else None,
                float(org_points[o, 1]) if located[o] else None,
            )
            for o in range(orgs)
        ),
    )

    # Participants: participant i works at organization i // 2.
    person_base = _next_id("coordination_participant")
    org_of = np.arange(size) // 2
    region_of = org_region[org_of]
    joined = START.toordinal() + np.where(rng.random(size) < 0.1, 0, rng.integers(0, 548, size))
    joined[0] = START.toordinal()
    role = np.where(np.arange(size) % 100 == 1, "observer", "member").astype("<U12")
    role[0] = "coordinator"
    leaves = (rng.random(size) < 0.05) & (np.arange(size) > 0)
    left = np.where(leaves, joined + rng.integers(30, 400, size), 0)
    recruited = (rng.random(size) < 0.2) & (joined > START.toordinal())
    # A recruiter is someone who joined earlier (an index below, as joins are random).
    recruiter = np.where(recruited, (rng.random(size) * np.arange(size)).astype(np.int64), -1)
    recruiter = np.where(joined[np.maximum(recruiter, 0)] <= joined, recruiter, -1)
    _copy(
        "coordination_participant",
        [
            "id",
            "network_id",
            "full_name",
            "name_kana",
            "email",
            "organization_id",
            "position",
            "role",
            "joined_on",
            "left_on",
            "recruited_by_id",
            "research_consent",
            "bulletin_opt_out",
            "preferred_language",
            "created_at",
            "updated_at",
        ],
        (
            (
                person_base + i,
                network.pk,
                f"参加者 {i + 1}",
                "",
                f"p{i}@bench-{size}.example",
                org_base + int(org_of[i]),
                "",
                str(role[i]),
                _day(joined[i]),
                _day(left[i]) if left[i] else None,
                person_base + int(recruiter[i]) if recruiter[i] >= 0 else None,
                "pending",
                False,
                "ja",
                now,
                now,
            )
            for i in range(size)
        ),
    )

    # Ties: ~5 records per participant (so ~10 ties each), 70 % within a region.
    records = 5 * size
    by_region = [np.flatnonzero(region_of == r) for r in range(region_count)]
    a = rng.integers(1, size, records)
    local = rng.random(records) < 0.7
    b = rng.integers(1, size, records)
    for r, people in enumerate(by_region):
        pick = local & (region_of[a] == r)
        if len(people):
            b[pick] = people[rng.integers(0, len(people), int(pick.sum()))]
    hub_targets = rng.choice(np.arange(1, size), size=max(1, size // 50), replace=False)
    a = np.concatenate([a, np.zeros(len(hub_targets), dtype=np.int64)])
    b = np.concatenate([b, hub_targets])
    kind = rng.choice(len(KINDS), size=len(a), p=KIND_WEIGHTS)
    started = np.maximum(joined[a], joined[b]) + rng.integers(0, 60, len(a))
    ended = np.where(rng.random(len(a)) < 0.1, started + rng.integers(30, 365, len(a)), 0)
    brokered = rng.random(len(a)) < 0.3
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    key = np.unique(
        np.column_stack([lo[keep], hi[keep], kind[keep], started[keep]]), axis=0, return_index=True
    )[1]
    rows = np.flatnonzero(keep)[key]
    _copy(
        "observations_tie",
        [
            "network_id",
            "source_id",
            "target_id",
            "kind",
            "started_on",
            "ended_on",
            "initiated_by_id",
            "note",
            "status",
            "created_at",
            "updated_at",
        ],
        (
            (
                network.pk,
                person_base + int(a[t]),
                person_base + int(b[t]),
                str(KINDS[kind[t]]),
                _day(started[t]),
                _day(ended[t]) if ended[t] else None,
                person_base if brokered[t] and a[t] != 0 else None,
                "",
                "confirmed",
                now,
                now,
            )
            for t in rows.tolist()
        ),
    )

    # A year of events: one a month in each region, its members invited.
    event_base = _next_id("coordination_event")
    events = []
    for r in range(region_count):
        for month in range(1, 13):
            day = dt.date(2025, month, 10 + r % 15)
            proposer = person_base + int(by_region[r][0]) if month % 4 == 0 else None
            events.append((event_base + len(events), r, day, proposer))
    _copy(
        "coordination_event",
        [
            "id",
            "network_id",
            "kind",
            "title",
            "description",
            "starts_at",
            "ends_at",
            "region_id",
            "venue",
            "address",
            "online_url",
            "rsvp_deadline",
            "reminder_days",
            "show_attendees",
            "status",
            "proposed_by_id",
            "uid",
            "sequence",
            "attendance_recorded",
            "created_at",
            "updated_at",
        ],
        (
            (
                pk,
                network.pk,
                "meeting",
                f"交流会 {pk}",
                "",
                _at(day, 14),
                _at(day, 17),
                region_base + r,
                "",
                "",
                "",
                _at(day - dt.timedelta(days=7), 18),
                "[]",
                True,
                "held",
                proposer,
                f"bench-{size}-{pk}@hubless",
                0,
                True,
                now,
                now,
            )
            for pk, r, day, proposer in events
        ),
    )
    answers = np.array(["yes", "yes", "yes", "no", "maybe", "pending"])

    def invitations():
        for pk, r, day, _proposer in events:
            people = by_region[r]
            people = people[joined[people] <= day.toordinal()]
            answer = answers[rng.integers(0, len(answers), len(people))]
            attended = (answer == "yes") & (rng.random(len(people)) < 0.9)
            answered_at = _at(day - dt.timedelta(days=9))
            for person, said, came in zip(
                people.tolist(), answer.tolist(), attended.tolist(), strict=True
            ):
                yield (
                    pk,
                    person_base + person,
                    said,
                    None if said == "pending" else answered_at,
                    came,
                    False,
                    now,
                )

    _copy(
        "coordination_invitation",
        [
            "event_id",
            "participant_id",
            "answer",
            "answered_at",
            "attended",
            "walk_in",
            "created_at",
        ],
        invitations(),
    )

    # A monthly bulletin to everyone who had joined, 60 % read within ten days.
    bulletin_base = _next_id("coordination_bulletin")
    sends = [dt.date(2025, month, 5) for month in range(1, 13)]
    _copy(
        "coordination_bulletin",
        [
            "id",
            "network_id",
            "kind",
            "subject",
            "body",
            "audience",
            "status",
            "started_at",
            "finished_at",
            "created_at",
            "updated_at",
        ],
        (
            (
                bulletin_base + k,
                network.pk,
                "announcement",
                f"お知らせ {k + 1}",
                "本文",
                '{"everyone": true}',
                "sent",
                _at(day, 9),
                _at(day, 10),
                now,
                now,
            )
            for k, day in enumerate(sends)
        ),
    )

    def deliveries():
        for k, day in enumerate(sends):
            people = np.flatnonzero(joined <= day.toordinal())
            read = rng.random(len(people)) < 0.6
            delay = rng.integers(0, 240, len(people))
            sent = _at(day, 9)
            for person, was_read, hours in zip(
                people.tolist(), read.tolist(), delay.tolist(), strict=True
            ):
                yield (
                    bulletin_base + k,
                    person_base + person,
                    "sent",
                    1,
                    "",
                    "",
                    sent,
                    sent + dt.timedelta(hours=hours) if was_read else None,
                    now,
                )

    _copy(
        "coordination_delivery",
        [
            "bulletin_id",
            "participant_id",
            "status",
            "attempts",
            "last_error",
            "skip_reason",
            "sent_at",
            "read_at",
            "created_at",
        ],
        deliveries(),
    )
    return network


def ensure(size: int, rebuild: bool) -> Network:
    network = Network.objects.filter(slug=f"bench-{size}").first()
    if network is not None and not rebuild and network.participants.count() == size:
        return network
    if network is not None:
        _delete(network.pk)
    started = time.perf_counter()
    network = build(size)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"  built bench-{size} in {time.perf_counter() - started:.1f} s", flush=True)
    return network


def _counts(network: Network) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT
              (SELECT COUNT(*) FROM observations_tie WHERE network_id = %(n)s),
              (SELECT COUNT(*) FROM coordination_invitation i
                 JOIN coordination_event e ON e.id = i.event_id WHERE e.network_id = %(n)s),
              (SELECT COUNT(*) FROM coordination_delivery d
                 JOIN coordination_bulletin b ON b.id = d.bulletin_id WHERE b.network_id = %(n)s)
            """,
            {"n": network.pk},
        )
        ties, invitations, deliveries = cursor.fetchone()
    return {"ties": ties, "invitations": invitations, "deliveries": deliveries}


# --- measuring -----------------------------------------------------------------------------------


def measure(network: Network, runs: int) -> dict:
    """The command end to end (load, compute, store, print the JSON), `runs` times;
    then one run taken apart."""
    totals = []
    for _ in range(runs):
        started = time.perf_counter()
        call_command(
            "compute_indicators",
            network.slug,
            "--as-of",
            AS_OF.isoformat(),
            "--json",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
        totals.append(time.perf_counter() - started)
    started = time.perf_counter()
    data = indicator_data_load(network=network)
    loaded = time.perf_counter()
    result = indicators.compute(data, AS_OF)
    computed = time.perf_counter()
    snapshot = IndicatorSnapshot.objects.get(network=network, as_of=AS_OF)
    began = time.perf_counter()
    rows = participant_engagement(network=network, as_of=AS_OF)
    engagement = time.perf_counter() - began
    page = [row.participant.pk for row in rows[len(rows) // 2 : len(rows) // 2 + 50]]
    began = time.perf_counter()
    participant_engagement(network=network, as_of=AS_OF, participant_ids=page)
    engagement_page = time.perf_counter() - began
    began = time.perf_counter()
    snapshot_series(network=network)
    series = time.perf_counter() - began
    return {
        "engagement": engagement,
        "engagement_page": engagement_page,
        "engagement_rows": len(rows),
        "series": series,
        "median": statistics.median(totals),
        "runs": totals,
        "load": loaded - started,
        "compute": computed - loaded,
        "members": result["values"]["members"],
        "sampled": bool(result["notes"]),
        "snapshot_kb": len(json.dumps(snapshot.values, ensure_ascii=False).encode()) // 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--backfill-size", type=int, default=10000)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run on PostgreSQL: DATABASE_URL=postgres://…/hubless_ind_bench")
    call_command("migrate", verbosity=0)
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"PostgreSQL {connection.pg_version // 10000}.{connection.pg_version % 10000}"
    )
    print(
        "| participants | members | tie records | invitations | deliveries | "
        "command, median of runs (s) | load (s) | compute (s) | sampled | "
        "engagement table: all rows / a page of 50 (s) | snapshot (KB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|:---|---:|---:|")
    for size in args.sizes:
        network = ensure(size, args.rebuild)
        counts = _counts(network)
        result = measure(network, args.runs)
        runs = ", ".join(f"{t:.2f}" for t in result["runs"])
        print(
            f"| {size:,} | {result['members']:,} | {counts['ties']:,} | "
            f"{counts['invitations']:,} | {counts['deliveries']:,} | "
            f"{result['median']:.2f} ({runs}) | {result['load']:.2f} | "
            f"{result['compute']:.2f} | {'yes' if result['sampled'] else 'no'} | "
            f"{result['engagement']:.2f} / {result['engagement_page']:.3f} | "
            f"{result['snapshot_kb']:,} |",
            flush=True,
        )
    if args.backfill_size:
        network = ensure(args.backfill_size, False)
        started = time.perf_counter()
        snapshots = snapshots_backfill(network=network, until=BACKFILL_UNTIL)
        elapsed = time.perf_counter() - started
        print(
            f"\nbackfill at {args.backfill_size:,}: {len(snapshots)} monthly snapshots "
            f"({snapshots[0].as_of} to {snapshots[-1].as_of}) in {elapsed:.2f} s"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS) of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
