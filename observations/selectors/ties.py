"""Every non-trivial read of the observations app."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from coordination.models import Event, Network, Participant

from ..models import Tie

_RELATED = (
    "source__organization__region",
    "target__organization__region",
    "initiated_by",
    "reported_by",
    "origin_event",
)


def tie_list(
    *,
    network: Network,
    kind: str = "",
    status: str = "",
    region: int | None = None,
    participant: int | None = None,
    active_on: dt.date | None = None,
) -> QuerySet[Tie]:
    """The network's ties that are not deleted, with both ends preloaded."""
    ties = Tie.objects.filter(network=network, deleted_at__isnull=True).select_related(*_RELATED)
    if kind:
        ties = ties.filter(kind=kind)
    if status:
        ties = ties.filter(status=status)
    if region:
        ties = ties.filter(
            Q(source__organization__region_id=region) | Q(target__organization__region_id=region)
        )
    if participant:
        ties = ties.filter(Q(source_id=participant) | Q(target_id=participant))
    if active_on:
        ties = ties.filter(started_on__lte=active_on).filter(
            Q(ended_on__isnull=True) | Q(ended_on__gt=active_on)
        )
    return ties.order_by("-started_on", "pk")


def tie_get(*, network: Network, pk: int) -> Tie | None:
    return (
        Tie.objects.select_related(*_RELATED, "created_by")
        .filter(network=network, pk=pk, deleted_at__isnull=True)
        .first()
    )


def portal_reported_ties(*, participant: Participant) -> QuerySet[Tie]:
    """What a participant reported, whatever became of it (deleted ones excepted)."""
    return (
        Tie.objects.filter(reported_by=participant, deleted_at__isnull=True)
        .select_related("source", "target", "origin_event")
        .order_by("-created_at", "-pk")
    )


def attended_events(*, participant: Participant) -> QuerySet[Event]:
    """Events the participant attended: where a reported tie may have begun."""
    return Event.objects.filter(
        network_id=participant.network_id,
        invitations__participant=participant,
        invitations__attended=True,
    ).order_by("-starts_at")


@dataclass
class HistoryEntry:
    when: dt.datetime
    who: object
    action: str  # "+" created, "~" changed, "-" deleted (simple-history's types)
    changes: list[tuple[str, object, object]] = field(default_factory=list)


_FK_FIELDS = {"source", "target", "initiated_by", "reported_by", "origin_event", "created_by"}
_HIDDEN = {"updated_at", "created_at", "network"}


def tie_history(*, tie: Tie) -> list[HistoryEntry]:
    """Who changed what and when, newest first, with readable before/after values."""
    records = list(tie.history.select_related("history_user").order_by("history_date", "pk"))
    people_ids: set[int] = set()
    event_ids: set[int] = set()
    for record in records:
        for name in ("source", "target", "initiated_by", "reported_by"):
            if getattr(record, f"{name}_id"):
                people_ids.add(getattr(record, f"{name}_id"))
        if record.origin_event_id:
            event_ids.add(record.origin_event_id)
    people = {p.pk: p.full_name for p in Participant.objects.filter(pk__in=people_ids)}
    events = {e.pk: e.title for e in Event.objects.filter(pk__in=event_ids)}
    labels = {f.name: f.verbose_name for f in Tie._meta.fields}
    choices = {"kind": dict(Tie.Kind.choices), "status": dict(Tie.Status.choices)}

    def readable(name: str, value: object) -> object:
        if value in (None, ""):
            return "–"
        if name == "origin_event":
            return events.get(value, value)
        if name in _FK_FIELDS and name != "created_by":
            return people.get(value, value)
        if name in choices:
            return choices[name].get(value, value)
        return value

    entries: list[HistoryEntry] = []
    previous = None
    for record in records:
        entry = HistoryEntry(
            when=record.history_date, who=record.history_user, action=record.history_type
        )
        if previous is not None:
            delta = record.diff_against(previous)
            for change in delta.changes:
                if change.field in _HIDDEN or change.field == "created_by":
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
    entries.reverse()
    return entries
