"""Benchmark: the observation log's CSV export against PostgreSQL's own COPY.

    createdb -h 127.0.0.1 -U postgres hubless_export_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hubless_export_bench \\
        .venv/bin/python benchmarks/export_observations.py [--rows 1000000] [--rebuild]

Migrates the database, creates (once; `--rebuild` to start over) a scratch network
"bench-export" with `--rows` observations filled by set-based SQL (INSERT ... SELECT
generate_series), dated over two years in the order they were written: 50 participants in 20 organizations and 2 regions, every observation
with 2 participants, 1 organization and 1 region, one in ten quantitative, one in five
at an event, a whole-observation coding on one in five and a coded passage on one in
ten. Then, in one run:

(a) observations.csv through `export_log.log_export_stream(observations_only=True)`,
    written to /dev/null in a child process: wall time, and peak memory as the child's
    maximum resident set size (`resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`, read in
    the parent after the child exits; it includes the interpreter and Django);
(b) `COPY (SELECT ... the same columns, joins, aggregates and order ...) TO STDOUT
    WITH CSV HEADER` through psycopg's copy, to /dev/null;

and prints the ratio (a)/(b). Goals: peak < 200 MB, time <= 3 x COPY. `--pseudonymized`
adds the pseudonymised export (masking every text) for information; it has no goal.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SLUG = "bench-export"
GOAL_PEAK_MB = 200
GOAL_RATIO = 3.0


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hubless.settings")
    import django

    django.setup()


# --- the scratch network ----------------------------------------------------------------

_FILL = """
WITH n AS (SELECT %(network)s AS id)
INSERT INTO observations_observation
    (network_id, observed_on, observed_time, event_id, author_id, kind, category, title,
     body, metric_id, value, unit, rating, deleted_at, created_at, updated_at)
SELECT n.id,
       -- Written as the study goes (two years), a few entries a day or two late: the
       -- log's order follows the order of the rows, as in a real log.
       DATE '2025-04-01' + (i * 700 / %(rows)s)::int - (i %% 3),
       CASE WHEN i %% 3 = 0 THEN TIME '09:00' + (i %% 480) * INTERVAL '1 minute' END,
       CASE WHEN i %% 5 = 0 THEN (%(events)s)[1 + i %% 10] END,
       %(author)s,
       CASE WHEN i %% 10 = 0 THEN 'quantitative' ELSE 'qualitative' END,
       (ARRAY['attitude_change','mutual_learning','meeting_atmosphere','collaboration',
              'network_expansion','bcp','other'])[1 + i %% 7],
       '観察 ' || i || ': 燕と魚沼の交流',
       'Person ' || (i %% 50) || ' は金型の共同開発について話した。' ||
           repeat(' 工場見学の後、BCP の相互支援について意見を交わした。', 1 + i %% 4),
       CASE WHEN i %% 10 = 0 THEN %(metric)s END,
       CASE WHEN i %% 10 = 0 THEN (i %% 97) + 0.25 END,
       CASE WHEN i %% 10 = 0 THEN '回' ELSE '' END,
       CASE WHEN i %% 4 = 0 THEN 1 + i %% 5 END,
       NULL,
       TIMESTAMPTZ '2025-04-01 09:00+09' + i * INTERVAL '1 minute',
       TIMESTAMPTZ '2025-04-01 09:00+09' + i * INTERVAL '1 minute'
FROM n, generate_series(1, %(rows)s) AS i
"""


_OBSERVATIONS = "SELECT id FROM observations_observation WHERE network_id = %(network)s"
_CLEAR = [
    f"DELETE FROM observations_coding WHERE observation_id IN ({_OBSERVATIONS})",
    f"DELETE FROM observations_observation_participants WHERE observation_id IN ({_OBSERVATIONS})",
    f"DELETE FROM observations_observation_organizations WHERE observation_id IN ({_OBSERVATIONS})",
    f"DELETE FROM observations_observation_regions WHERE observation_id IN ({_OBSERVATIONS})",
    "DELETE FROM observations_observation WHERE network_id = %(network)s",
    "UPDATE observations_code SET parent_id = NULL WHERE network_id = %(network)s",
    "DELETE FROM observations_code WHERE network_id = %(network)s",
    "DELETE FROM observations_metric WHERE network_id = %(network)s",
    "DELETE FROM coordination_event WHERE network_id = %(network)s",
    "DELETE FROM coordination_participant WHERE network_id = %(network)s",
    "DELETE FROM coordination_organization WHERE network_id = %(network)s",
    "DELETE FROM coordination_region WHERE network_id = %(network)s",
]


def _build(rows: int) -> None:
    import datetime as dt

    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import User
    from coordination.models import Event, Network, Organization, Participant, Region
    from observations.models import Code, Metric

    with transaction.atomic():
        old = Network.objects.filter(slug=SLUG).first()
        if old is not None:
            # Set-based, children first: the ORM's cascade would load a million rows.
            with connection.cursor() as cursor:
                for statement in _CLEAR:
                    cursor.execute(statement, {"network": old.pk})
            old.delete()
        network = Network.objects.create(slug=SLUG, name="Export benchmark")
        regions = [Region.objects.create(network=network, name=n) for n in ("燕", "魚沼")]
        firms = [
            Organization.objects.create(
                network=network, region=regions[i % 2], name=f"株式会社ベンチ{i}"
            )
            for i in range(20)
        ]
        people = Participant.objects.bulk_create(
            Participant(
                network=network,
                organization=firms[i % 20],
                full_name=f"Person {i}",
                email=f"person{i}@bench.example",
                joined_on=dt.date(2025, 4, 1),
            )
            for i in range(50)
        )
        author, _ = User.objects.get_or_create(email="bench.author@bench.example")
        starts = timezone.make_aware(dt.datetime(2025, 5, 10, 14, 0))
        events = [
            Event.objects.create(
                network=network,
                title=f"交流会 {i}",
                starts_at=starts + dt.timedelta(days=60 * i),
                ends_at=starts + dt.timedelta(days=60 * i, hours=3),
            )
            for i in range(10)
        ]
        metric = Metric.objects.create(network=network, name="訪問回数", unit="回")
        parent = Code.objects.create(network=network, name="協力")
        codes = [
            Code.objects.create(network=network, name=f"子コード{i}", parent=parent)
            for i in range(4)
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                _FILL,
                {
                    "network": network.pk,
                    "events": [e.pk for e in events],
                    "author": author.pk,
                    "metric": metric.pk,
                    "rows": rows,
                },
            )
            ids = "SELECT id, row_number() OVER (ORDER BY id) AS i FROM observations_observation WHERE network_id = %(network)s"
            args = {
                "network": network.pk,
                "people": [p.pk for p in people],
                "firms": [f.pk for f in firms],
                "regions": [r.pk for r in regions],
                "codes": [c.pk for c in codes],
                "parent": parent.pk,
            }
            cursor.execute(
                f"INSERT INTO observations_observation_participants (observation_id, participant_id) "
                f"SELECT o.id, (%(people)s)[1 + (o.i + k * 7) %% 50] FROM ({ids}) o, generate_series(0, 1) k",
                args,
            )
            cursor.execute(
                f"INSERT INTO observations_observation_organizations (observation_id, organization_id) "
                f"SELECT o.id, (%(firms)s)[1 + o.i %% 20] FROM ({ids}) o",
                args,
            )
            cursor.execute(
                f"INSERT INTO observations_observation_regions (observation_id, region_id) "
                f"SELECT o.id, (%(regions)s)[1 + o.i %% 2] FROM ({ids}) o",
                args,
            )
            cursor.execute(
                'INSERT INTO observations_coding (observation_id, code_id, start, "end", quote, '
                "needs_review, created_at) "
                f"SELECT o.id, %(parent)s, NULL, NULL, '', false, now() FROM ({ids}) o WHERE o.i %% 5 = 0 "
                f"UNION ALL "
                f"SELECT o.id, (%(codes)s)[1 + o.i %% 4], 0, 10, 'Person ' || (o.i %% 50), false, now() "
                f"FROM ({ids}) o WHERE o.i %% 10 = 0",
                args,
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _ensure(rows: int, rebuild: bool) -> int:
    from django.core.management import call_command

    from coordination.models import Network
    from observations.models import Observation

    call_command("migrate", verbosity=0, interactive=False)
    network = Network.objects.filter(slug=SLUG).first()
    have = Observation.objects.filter(network=network).count() if network else 0
    if rebuild or have != rows:
        started = time.perf_counter()
        _build(rows)
        print(f"built {rows:,} observations in {time.perf_counter() - started:.1f} s")
    return Network.objects.get(slug=SLUG).pk


# --- (a) the export, in a child process ----------------------------------------------------


def _child(pseudonymized: bool) -> None:
    _setup()
    from coordination.models import Network
    from observations.export_log import log_export_stream

    network = Network.objects.get(slug=SLUG)
    size = 0
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        for chunk in log_export_stream(
            network=network, fmt="csv", pseudonymized=pseudonymized, observations_only=True
        ):
            size += len(chunk)
            sink.write(chunk)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: kilobytes
    print(json.dumps({"seconds": seconds, "bytes": size, "self_peak_mb": peak_kb / 1024}))


def _export(pseudonymized: bool) -> dict:
    """Runs (a) in a child process. The peak is RUSAGE_CHILDREN's ru_maxrss read here
    after the child exits: the largest of the children so far, so the plain export runs
    first; the child also reports its own RUSAGE_SELF, which must agree."""
    command = [sys.executable, __file__, "--child"] + (["--pseudonymized"] if pseudonymized else [])
    result = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    out = json.loads(result.stdout.strip().splitlines()[-1])
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return out


# --- (b) PostgreSQL's COPY of the same columns ----------------------------------------------

_COPY = """
COPY (
SELECT o.id, o.observed_on, o.observed_time, o.event_id, e.title,
       (e.starts_at AT TIME ZONE 'Asia/Tokyo')::date, u.email, o.kind, o.category,
       o.title, o.body,
       (SELECT string_agg(p.full_name, '; ' ORDER BY p.id)
          FROM observations_observation_participants op
          JOIN coordination_participant p ON p.id = op.participant_id
         WHERE op.observation_id = o.id),
       (SELECT string_agg(g.name, '; ' ORDER BY g.id)
          FROM observations_observation_organizations og
          JOIN coordination_organization g ON g.id = og.organization_id
         WHERE og.observation_id = o.id),
       (SELECT string_agg(r.name, '; ' ORDER BY r.name)
          FROM observations_observation_regions orr
          JOIN coordination_region r ON r.id = orr.region_id
         WHERE orr.observation_id = o.id),
       m.name, o.value, o.unit, o.rating,
       o.created_at AT TIME ZONE 'Asia/Tokyo', o.updated_at AT TIME ZONE 'Asia/Tokyo',
       (SELECT string_agg(DISTINCT coalesce(pc.name || '/', '') || c.name, '; ')
          FROM observations_coding cd JOIN observations_code c ON c.id = cd.code_id
          LEFT JOIN observations_code pc ON pc.id = c.parent_id
         WHERE cd.observation_id = o.id AND cd.start IS NULL
           AND cd.deleted_at IS NULL AND c.deleted_at IS NULL),
       (SELECT string_agg(DISTINCT coalesce(pc.name || '/', '') || c.name, '; ')
          FROM observations_coding cd JOIN observations_code c ON c.id = cd.code_id
          LEFT JOIN observations_code pc ON pc.id = c.parent_id
         WHERE cd.observation_id = o.id AND cd.start IS NOT NULL
           AND cd.deleted_at IS NULL AND c.deleted_at IS NULL),
       (SELECT count(*) FROM observations_coding cd JOIN observations_code c ON c.id = cd.code_id
         WHERE cd.observation_id = o.id AND cd.start IS NOT NULL
           AND cd.deleted_at IS NULL AND c.deleted_at IS NULL)
  FROM observations_observation o
  LEFT JOIN coordination_event e ON e.id = o.event_id
  LEFT JOIN accounts_user u ON u.id = o.author_id
  LEFT JOIN observations_metric m ON m.id = o.metric_id
 WHERE o.network_id = {network} AND o.deleted_at IS NULL
 ORDER BY o.observed_on DESC, o.observed_time DESC, o.id DESC
) TO STDOUT WITH CSV HEADER
"""


def _copy(network_pk: int) -> dict:
    import psycopg
    from django.db import connection

    settings = connection.settings_dict
    started = time.perf_counter()
    size = 0
    with (
        psycopg.connect(
            dbname=settings["NAME"],
            user=settings["USER"],
            password=settings["PASSWORD"] or None,
            host=settings["HOST"] or None,
            port=settings["PORT"] or None,
        ) as conn,
        conn.cursor() as cursor,
        open(os.devnull, "wb") as sink,
        cursor.copy(_COPY.format(network=int(network_pk))) as copy,
    ):
        for data in copy:
            size += len(data)
            sink.write(data)
    return {"seconds": time.perf_counter() - started, "bytes": size}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true", help="recreate the scratch network")
    parser.add_argument(
        "--pseudonymized",
        action="store_true",
        help="also (or, with --child, only) the pseudonymised export",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.pseudonymized)
        return 0
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("DATABASE_URL must name a PostgreSQL database (see the docstring)", file=sys.stderr)
        return 2
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    _setup()
    network_pk = _ensure(args.rows, args.rebuild)

    export = _export(pseudonymized=False)
    copy = _copy(network_pk)
    ratio = export["seconds"] / copy["seconds"]
    print(f"rows:                {args.rows:,}")
    print(
        f"export (CSV):        {export['seconds']:.2f} s, {export['bytes'] / 1e6:.0f} MB written, "
        f"peak RSS {export['peak_mb']:.0f} MB (child's own: {export['self_peak_mb']:.0f} MB)"
    )
    print(f"COPY (same columns): {copy['seconds']:.2f} s, {copy['bytes'] / 1e6:.0f} MB written")
    print(f"ratio export / COPY: {ratio:.2f}")
    if args.pseudonymized:
        masked = _export(pseudonymized=True)
        print(
            f"pseudonymised export: {masked['seconds']:.2f} s, peak RSS {masked['self_peak_mb']:.0f} MB "
            f"(ratio {masked['seconds'] / copy['seconds']:.2f}, no goal)"
        )
    ok = export["peak_mb"] < GOAL_PEAK_MB and ratio <= GOAL_RATIO
    print(
        f"goals (peak < {GOAL_PEAK_MB} MB, ratio <= {GOAL_RATIO:g}): {'met' if ok else 'NOT met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
