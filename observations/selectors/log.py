"""Reads of the observation log: the filtered log, one observation, metrics."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from coordination.models import Network

from ..models import Code, Coding, Metric, Observation

# What the log's filter form gives (every key optional):
#   q (words, each must appear in the title, text, a memo or a quoted passage),
#   code (Code; its sub-codes count too), category, kind, date_from, date_to (dates),
#   region, event, participant (model instances), author (User).
Criteria = dict[str, Any]


def _code_and_descendants(code: Code) -> list[int]:
    ids = [code.pk]
    frontier = [code.pk]
    while frontier:
        frontier = list(
            Code.objects.filter(parent_id__in=frontier, deleted_at__isnull=True).values_list(
                "pk", flat=True
            )
        )
        ids.extend(frontier)
    return ids


def observation_queryset(*, network: Network, criteria: Criteria | None = None) -> QuerySet:
    """The network's observations that are not deleted, filtered by `criteria`, newest
    first. No preloading: list pages use `observation_list`, exports add their own."""
    criteria = criteria or {}
    observations = Observation.objects.filter(network=network, deleted_at__isnull=True)
    if criteria.get("category"):
        observations = observations.filter(category=criteria["category"])
    if criteria.get("kind"):
        observations = observations.filter(kind=criteria["kind"])
    if criteria.get("date_from"):
        observations = observations.filter(observed_on__gte=criteria["date_from"])
    if criteria.get("date_to"):
        observations = observations.filter(observed_on__lte=criteria["date_to"])
    if criteria.get("event"):
        observations = observations.filter(event=criteria["event"])
    if criteria.get("author"):
        observations = observations.filter(author=criteria["author"])
    if criteria.get("participant"):
        observations = observations.filter(participants=criteria["participant"])
    if criteria.get("region"):
        region = criteria["region"]
        # About the region itself, about a firm there, or about a person there.
        observations = observations.filter(
            Q(
                pk__in=Observation.regions.through.objects.filter(region=region).values(
                    "observation_id"
                )
            )
            | Q(
                pk__in=Observation.organizations.through.objects.filter(
                    organization__region=region
                ).values("observation_id")
            )
            | Q(
                pk__in=Observation.participants.through.objects.filter(
                    participant__organization__region=region
                ).values("observation_id")
            )
            | Q(event__region=region)
        )
    if criteria.get("code"):
        codes = _code_and_descendants(criteria["code"])
        observations = observations.filter(
            pk__in=Coding.objects.filter(code_id__in=codes, deleted_at__isnull=True).values(
                "observation_id"
            )
        )
    for word in (criteria.get("q") or "").split():
        observations = observations.filter(
            Q(title__icontains=word)
            | Q(body__icontains=word)
            | Q(
                pk__in=Coding.objects.filter(quote__icontains=word, deleted_at__isnull=True).values(
                    "observation_id"
                )
            )
            | Q(memos__body__icontains=word, memos__deleted_at__isnull=True)
        )
    return observations.distinct().order_by("-observed_on", "-observed_time", "-pk")


def observation_list(*, network: Network, criteria: Criteria | None = None) -> QuerySet:
    """The filtered log with what a list row shows preloaded (a fixed number of
    queries per page)."""
    return (
        observation_queryset(network=network, criteria=criteria)
        .select_related("event", "author", "metric")
        .prefetch_related(
            "participants",
            "organizations",
            "regions",
            Prefetch(
                "codings",
                queryset=Coding.objects.filter(deleted_at__isnull=True).select_related("code"),
                to_attr="live_codings",
            ),
        )
    )


def observation_get(*, network: Network, pk: int) -> Observation | None:
    return (
        Observation.objects.filter(network=network, pk=pk, deleted_at__isnull=True)
        .select_related("event", "author", "metric")
        .prefetch_related("participants__organization", "organizations", "regions")
        .first()
    )


def metric_list(*, network: Network, active_only: bool = False) -> QuerySet[Metric]:
    metrics = Metric.objects.filter(network=network)
    if active_only:
        metrics = metrics.filter(is_active=True)
    return metrics.order_by("position", "name")


def observation_dates(*, network: Network) -> tuple[dt.date | None, dt.date | None]:
    first = (
        Observation.objects.filter(network=network, deleted_at__isnull=True)
        .order_by("observed_on")
        .values_list("observed_on", flat=True)
        .first()
    )
    last = (
        Observation.objects.filter(network=network, deleted_at__isnull=True)
        .order_by("-observed_on")
        .values_list("observed_on", flat=True)
        .first()
    )
    return first, last


# --- history ---------------------------------------------------------------------------

_LOG_HIDDEN = {"updated_at", "created_at", "network", "author"}


@dataclass
class LogHistoryEntry:
    when: dt.datetime
    who: object
    what: str  # "observation", "coding", "memo"
    action: str  # "+" created, "~" changed, "-" deleted (soft deletes included)
    label: str = ""
    changes: list[tuple[str, object, object]] = field(default_factory=list)


def _merge(entries: list[LogHistoryEntry]) -> list[LogHistoryEntry]:
    """One save of the form writes a record per many-to-many field too; records of the
    same thing by the same person within two seconds are one change."""
    merged: list[LogHistoryEntry] = []
    for entry in entries:
        last = merged[-1] if merged else None
        if (
            last is not None
            and last.what == entry.what
            and last.label == entry.label
            and last.who == entry.who
            and (entry.when - last.when).total_seconds() <= 2
            and entry.action == "~"
        ):
            last.changes.extend(entry.changes)
            continue
        merged.append(entry)
    return merged


def observation_history(*, observation: Observation, namer) -> list[LogHistoryEntry]:
    """Every change to the observation, its codings and its memos: who, when, before and
    after, newest first. Names go through `namer`."""
    from coordination.models import Event, Organization, Participant, Region

    from ..models import Memo

    records = list(
        observation.history.select_related("history_user").order_by("history_date", "history_id")
    )
    labels = {
        f.name: f.verbose_name for f in Observation._meta.get_fields() if hasattr(f, "verbose_name")
    }
    choices = {
        "kind": dict(Observation.Kind.choices),
        "category": dict(Observation.Category.choices),
    }
    people = {p.pk: p for p in Participant.objects.filter(network=observation.network_id)}
    organizations = {o.pk: o for o in Organization.objects.filter(network=observation.network_id)}
    regions = {r.pk: r.name for r in Region.objects.filter(network=observation.network_id)}
    events = {e.pk: e for e in Event.objects.filter(network=observation.network_id)}
    metrics = {m.pk: str(m) for m in Metric.objects.filter(network=observation.network_id)}

    def subject_names(name: str, rows) -> str:
        names = []
        for row in rows or []:
            if name == "participants":
                names.append(namer.person(people.get(row["participant"])))
            elif name == "organizations":
                names.append(namer.organization(organizations.get(row["organization"])))
            else:
                names.append(regions.get(row["region"], "?"))
        return ", ".join(sorted(names)) or "–"

    def readable(name: str, value: object) -> object:
        if name in ("participants", "organizations", "regions"):
            return subject_names(name, value)
        if value in (None, ""):
            return "–"
        if name == "event":
            return namer.event(events.get(value)) or value
        if name == "metric":
            return metrics.get(value, value)
        if name in choices:
            return choices[name].get(value, value)
        if name in ("title", "body"):
            return namer.text(str(value))
        return value

    entries: list[LogHistoryEntry] = []
    previous = None
    for record in records:
        entry = LogHistoryEntry(
            when=record.history_date,
            who=record.history_user,
            what="observation",
            action=record.history_type,
        )
        if previous is not None:
            delta = record.diff_against(previous)
            for change in delta.changes:
                if change.field in _LOG_HIDDEN:
                    continue
                if change.field == "deleted_at":
                    entry.action = "-" if change.new else "restored"
                    continue
                entry.changes.append(
                    (
                        labels.get(change.field, change.field),
                        readable(change.field, change.old),
                        readable(change.field, change.new),
                    )
                )
        previous = record
        entries.append(entry)

    codings = (
        Coding.history.filter(observation_id=observation.pk)
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    codes = {c.pk: c.name for c in Code.objects.filter(network=observation.network_id)}
    last_by_id: dict[int, object] = {}
    for record in codings:
        label = codes.get(record.code_id, "?")
        if record.start is not None:
            label += f" «{namer.text(record.quote)[:60]}»"
        entry = LogHistoryEntry(
            when=record.history_date,
            who=record.history_user,
            what="coding",
            action=record.history_type,
            label=label,
        )
        before = last_by_id.get(record.id)
        if before is not None:
            if before.deleted_at is None and record.deleted_at is not None:
                entry.action = "-"
            for name in ("start", "end", "needs_review"):
                if getattr(before, name) != getattr(record, name):
                    entry.changes.append((name, getattr(before, name), getattr(record, name)))
        last_by_id[record.id] = record
        entries.append(entry)

    memos = (
        Memo.history.filter(observation_id=observation.pk)
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    last_memo: dict[int, object] = {}
    for record in memos:
        entry = LogHistoryEntry(
            when=record.history_date,
            who=record.history_user,
            what="memo",
            action=record.history_type,
            label=namer.text(record.body)[:60],
        )
        before = last_memo.get(record.id)
        if before is not None:
            if before.deleted_at is None and record.deleted_at is not None:
                entry.action = "-"
            if before.body != record.body:
                entry.changes.append(
                    (
                        Memo._meta.get_field("body").verbose_name,
                        namer.text(before.body),
                        namer.text(record.body),
                    )
                )
        last_memo[record.id] = record
        entries.append(entry)

    entries.sort(key=lambda e: e.when)
    merged = _merge(entries)
    merged.reverse()
    return merged


def deleted_observations(*, network: Network) -> QuerySet:
    return Observation.objects.filter(network=network, deleted_at__isnull=False).order_by(
        "-deleted_at"
    )


def metric_usage(*, network: Network) -> QuerySet[Metric]:
    from django.db.models import Count

    return (
        Metric.objects.filter(network=network)
        .annotate(uses=Count("observations", filter=Q(observations__deleted_at__isnull=True)))
        .order_by("position", "name")
    )
