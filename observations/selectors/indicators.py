"""Reads for the indicator dashboard: stored snapshots as series, and the engagement of
each participant as of a date. Both in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Q
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from coordination.models import (
    Bulletin,
    Delivery,
    Event,
    Invitation,
    Network,
    Organization,
    Participant,
    Region,
)

from ..models import IndicatorSnapshot, Tie

__all__ = [
    "ENGAGEMENT_FIELDS",
    "INDICATOR_LABELS",
    "SERIES_KEYS",
    "EngagementRow",
    "SnapshotPoint",
    "participant_engagement",
    "snapshot_latest",
    "snapshot_series",
]

# What each indicator is called on a page (the keys are the snapshot's).
INDICATOR_LABELS = {
    "members": _("Members"),
    "organizations": _("Organizations"),
    "regions": _("Regions"),
    "members_by_region": _("Members by region"),
    "recruited_by_members": _("Recruited by members"),
    "spread_km": _("Spread (km)"),
    "ties": _("Ties"),
    "ties_by_kind": _("Tie records by kind"),
    "cross_region_ties": _("Cross-region ties"),
    "ei_index": _("E–I index"),
    "cross_region_joint_projects": _("Cross-region joint projects"),
    "density": _("Density"),
    "degree_centralization": _("Degree centralization"),
    "lcc_share": _("Largest component (share of members)"),
    "lcc_share_with_hub": _("Largest component with the coordinator"),
    "hub_dependence": _("Hub dependence"),
    "brokered_share": _("Ties brokered by the coordinator"),
    "fragmentation": _("Fragmentation"),
    "region_modularity": _("Modularity of the regions"),
    "events_held": _("Events held"),
    "member_initiated_events": _("Events proposed by members"),
    "rsvp_response_rate": _("RSVP response rate"),
    "attendance_rate": _("Attendance rate"),
    "bulletins_sent": _("Bulletins sent"),
    "bulletin_read_rate": _("Bulletin read rate"),
    "components": pgettext_lazy("parts of a graph", "Connected components"),
    "isolates": _("Members without ties"),
    "coordinators": _("Coordinators"),
    "coordinator_path_share": _("Shortest paths through the coordinator"),
    "coordinator_cross_region_path_share": _("Cross-region shortest paths through the coordinator"),
    "brokerage_roles": _("Brokerage roles"),
    "brokerage_by_region": _("Brokerage roles by region"),
}

# Everything but the per-member detail, which can be megabytes on a large network.
SERIES_KEYS = tuple(INDICATOR_LABELS)


@dataclass
class SnapshotPoint:
    as_of: dt.date
    computed_at: dt.datetime
    values: dict[str, Any]
    notes: dict[str, Any]

    @property
    def sampled(self) -> bool:
        return bool(self.notes.get("sampled"))


def snapshot_series(
    *, network: Network, keys: tuple[str, ...] | list[str] = SERIES_KEYS
) -> list[SnapshotPoint]:
    """The network's snapshots, oldest first, with only `keys` of their values (read
    inside the database, so large per-member values never leave it). One query."""
    aliases = {f"v{index}": key for index, key in enumerate(keys)}
    rows = (
        IndicatorSnapshot.objects.filter(network=network)
        .order_by("as_of")
        .annotate(**{alias: KeyTransform(key, "values") for alias, key in aliases.items()})
        .values("as_of", "computed_at", "notes", *aliases)
    )
    return [
        SnapshotPoint(
            as_of=row["as_of"],
            computed_at=row["computed_at"],
            values={key: row[alias] for alias, key in aliases.items()},
            notes=row["notes"] or {},
        )
        for row in rows
    ]


def snapshot_latest(*, network: Network, on_or_before: dt.date | None = None):
    """The newest snapshot (all its values), or None."""
    snapshots = IndicatorSnapshot.objects.filter(network=network)
    if on_or_before is not None:
        snapshots = snapshots.filter(as_of__lte=on_or_before)
    return snapshots.order_by("-as_of").first()


@dataclass
class EngagementRow:
    participant: Participant
    active: bool
    events_invited: int = 0
    events_attended: int = 0
    rsvp_due: int = 0
    rsvp_answered: int = 0
    bulletins_delivered: int = 0
    bulletins_read: int = 0
    ties: int = 0
    recruited: int = 0

    @property
    def rsvp_rate(self) -> float | None:
        return self.rsvp_answered / self.rsvp_due if self.rsvp_due else None

    @property
    def read_rate(self) -> float | None:
        return self.bulletins_read / self.bulletins_delivered if self.bulletins_delivered else None


def _end_of(day: dt.date) -> dt.datetime:
    """The first instant after `day`, in the site's time zone: "by t" means before it."""
    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)


# What the engagement table loads of each participant; other fields are deferred.
ENGAGEMENT_FIELDS = (
    "network_id",
    "full_name",
    "name_kana",
    "email",
    "position",
    "role",
    "joined_on",
    "left_on",
    "organization_id",
    "recruited_by_id",
    "research_consent",
    "user_id",
)


def participant_engagement(
    *, network: Network, as_of: dt.date, participant_ids: list[int] | None = None
) -> list[EngagementRow]:
    """One row per participant who joined by `as_of` (those who left too, marked not
    active), ordered by name, in eight queries whatever the network's size; with
    `participant_ids`, for those participants only (a page of the table):

    - events_invited: invitations to events not cancelled that started by `as_of`;
    - events_attended: invitations marked attended, of events started by `as_of` whose
      attendance was recorded;
    - rsvp_due / rsvp_answered (rsvp_rate): invitations whose answer deadline (else the
      start) passed by `as_of`, and those answered — the network's rsvp_response_rate,
      per person;
    - bulletins_delivered / bulletins_read: deliveries sent by `as_of`, and those of
      them first read by `as_of`;
    - ties: people with an active tie to them at `as_of` (both ends active; any role);
    - recruited: participants they recruited who joined by `as_of`.

    The same definitions as the network's indicators (docs/indicators.md). Each
    participant comes with its network, organization and region attached (loaded once
    each, not once per row); fields outside ENGAGEMENT_FIELDS are deferred."""
    end = _end_of(as_of)
    chosen = Q() if participant_ids is None else Q(participant_id__in=participant_ids)
    regions = {r.pk: r for r in Region.objects.filter(network=network)}
    organizations = {}
    wanted = Organization.objects.filter(network=network)
    if participant_ids is not None:
        wanted = wanted.filter(
            pk__in=Participant.objects.filter(pk__in=participant_ids).values("organization_id")
        )
    for organization in wanted.only("network_id", "name", "name_kana", "kind", "region_id"):
        organization.region = regions[organization.region_id]
        organization.network = network
        organizations[organization.pk] = organization
    people = Participant.objects.filter(network=network, joined_on__lte=as_of)
    if participant_ids is not None:
        people = people.filter(pk__in=participant_ids)
    rows = {}
    for person in people.only(*ENGAGEMENT_FIELDS).order_by("name_kana", "full_name", "pk"):
        person.network = network
        person.organization = organizations[person.organization_id]
        rows[person.pk] = EngagementRow(
            participant=person, active=person.left_on is None or person.left_on > as_of
        )

    started = Q(event__starts_at__lt=end)
    not_cancelled = ~Q(event__status=Event.Status.CANCELLED)
    due = Q(answer_by__lt=end)
    invitations = (
        Invitation.objects.filter(chosen, event__network=network)
        .annotate(answer_by=Coalesce("event__rsvp_deadline", "event__starts_at"))
        .values("participant_id")
        .annotate(
            invited=Count("pk", filter=started & not_cancelled),
            attended=Count(
                "pk", filter=started & Q(event__attendance_recorded=True, attended=True)
            ),
            due=Count("pk", filter=due),
            answered=Count("pk", filter=due & ~Q(answer=Invitation.Answer.PENDING)),
        )
        .order_by()
    )
    for item in invitations:
        row = rows.get(item["participant_id"])
        if row is not None:
            row.events_invited = item["invited"]
            row.events_attended = item["attended"]
            row.rsvp_due = item["due"]
            row.rsvp_answered = item["answered"]

    # By the bulletins' ids rather than a join, which PostgreSQL misjudges when other
    # networks' deliveries fill the table (it would scan them all).
    bulletins = list(Bulletin.objects.filter(network=network).values_list("pk", flat=True))
    sent = Q(sent_at__lt=end)
    deliveries = (
        Delivery.objects.filter(chosen, bulletin_id__in=bulletins)
        .values("participant_id")
        .annotate(
            delivered=Count("pk", filter=sent),
            read=Count("pk", filter=sent & Q(read_at__lt=end)),
        )
        .order_by()
    )
    for item in deliveries:
        row = rows.get(item["participant_id"])
        if row is not None:
            row.bulletins_delivered = item["delivered"]
            row.bulletins_read = item["read"]

    ties = (
        Tie.objects.filter(
            network=network,
            status=Tie.Status.CONFIRMED,
            deleted_at__isnull=True,
            started_on__lte=as_of,
        )
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=as_of))
        .order_by()
    )
    if participant_ids is None:
        # Every participant who joined is in `rows`: whether an end is active is known.
        active = {pk for pk, row in rows.items() if row.active}
        pairs = {
            (min(a, b), max(a, b))
            for a, b in ties.values_list("source_id", "target_id")
            if a in active and b in active
        }
    else:

        def active_end(prefix: str) -> Q:
            return Q(**{f"{prefix}__joined_on__lte": as_of}) & (
                Q(**{f"{prefix}__left_on__isnull": True}) | Q(**{f"{prefix}__left_on__gt": as_of})
            )

        pairs = (
            ties.filter(active_end("source") & active_end("target"))
            .filter(Q(source_id__in=participant_ids) | Q(target_id__in=participant_ids))
            .annotate(
                low=Least(F("source_id"), F("target_id")), high=Greatest("source_id", "target_id")
            )
            .values_list("low", "high")
            .distinct()
        )
    # Distinct pairs: each is one partner for either end.
    for pair in pairs:
        for end_id in pair:
            row = rows.get(end_id)
            if row is not None:
                row.ties += 1

    recruits = (
        Participant.objects.filter(
            network=network, recruited_by__isnull=False, joined_on__lte=as_of
        )
        .filter(Q() if participant_ids is None else Q(recruited_by_id__in=participant_ids))
        .values("recruited_by_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for item in recruits:
        row = rows.get(item["recruited_by_id"])
        if row is not None:
            row.recruited = item["n"]
    return list(rows.values())
