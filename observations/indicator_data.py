"""The one query layer of the indicators: a network's facts as plain rows
(observations.indicators.types), in six queries whatever the network's size (five
when it has sent no bulletin), plus four for the continuity rows when the network
records any (capabilities, needs, signed agreements, finished drills).

Invitations and deliveries, the largest tables, arrive counted (per event; per
bulletin, day sent and day read) rather than row by row: the indicators only need
those counts, and a year of bulletins to 100,000 people is millions of rows."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from continuity.models import Agreement, Capability, Incident, Need, Reply, match_key
from coordination.models import Bulletin, Delivery, Event, Invitation, Network, Participant, Region

from .indicators.continuity import (
    AgreementRow,
    CapabilityRow,
    ContinuityData,
    DrillRow,
    NeedRow,
)
from .indicators.types import (
    BulletinRow,
    DeliveryCount,
    EventRow,
    NetworkData,
    PersonRow,
    TieRow,
)
from .models import Tie


def indicator_data_load(*, network: Network | int) -> NetworkData:
    network_id = network if isinstance(network, int) else network.pk
    regions = {}
    centres = {}
    any_continuity = False
    # Whether the network records continuity data comes with the regions, so that a
    # network without any costs no query more.
    for pk, name, latitude, longitude, has_continuity in (
        Region.objects.filter(network_id=network_id)
        .annotate(has_continuity=_continuity_exists())
        .values_list("pk", "name", "latitude", "longitude", "has_continuity")
    ):
        regions[pk] = name
        centres[pk] = (latitude, longitude)
        any_continuity = any_continuity or has_continuity

    people = []
    rows = (
        Participant.objects.filter(network_id=network_id)
        .order_by("pk")
        .values_list(
            "pk",
            "role",
            "organization_id",
            "organization__kind",
            "organization__region_id",
            "organization__latitude",
            "organization__longitude",
            "joined_on",
            "left_on",
            "recruited_by_id",
        )
    )
    # Fetched whole rather than through a server-side cursor: the rows are all kept
    # anyway, and one fetch is several times faster than hundreds of round trips.
    for pk, role, org, kind, region, lat, lon, joined, left, recruiter in rows:
        # The organization's own point, else its region's centre (both or neither).
        if lat is None or lon is None:
            lat, lon = centres.get(region, (None, None))
        people.append(PersonRow(pk, role, org, kind, region, lat, lon, joined, left, recruiter))

    # Confirmed ties only: a reported tie awaits the coordinator, a rejected one is not
    # a tie, a deleted one is kept for its history only.
    ties = list(
        map(
            TieRow._make,
            Tie.objects.filter(
                network_id=network_id, status=Tie.Status.CONFIRMED, deleted_at__isnull=True
            )
            .order_by("pk")
            .values_list(
                "source_id", "target_id", "kind", "started_on", "ended_on", "initiated_by_id"
            ),
        )
    )

    events = []
    answered = ~Q(invitations__answer=Invitation.Answer.PENDING)
    event_rows = (
        Event.objects.filter(network_id=network_id)
        .order_by("pk")
        .values_list(
            "pk", "status", "starts_at", "rsvp_deadline", "attendance_recorded", "proposed_by_id"
        )
        .annotate(
            invited=Count("invitations"),
            answered=Count("invitations", filter=answered),
            attended=Count("invitations", filter=Q(invitations__attended=True)),
        )
    )
    for pk, status, starts, deadline, recorded, proposer, invited, yes_no, came in event_rows:
        events.append(
            EventRow(
                id=pk,
                cancelled=status == Event.Status.CANCELLED,
                starts_on=timezone.localdate(starts),
                answer_by=timezone.localdate(deadline or starts),
                attendance_recorded=recorded,
                proposed_by=proposer,
                invitations=invited,
                answered=yes_no,
                attended=came,
            )
        )

    # A continuity notice is a bulletin to one person (it carries their reply link);
    # it is not one of the coordinator's bulletins that these indicators count.
    notices = Reply.objects.filter(bulletin=OuterRef("pk"))
    bulletins = [
        BulletinRow(pk, timezone.localdate(started), status == Bulletin.Status.CANCELLED)
        for pk, status, started in Bulletin.objects.filter(
            network_id=network_id, started_at__isnull=False
        )
        .exclude(Exists(notices))
        .order_by("pk")
        .values_list("pk", "status", "started_at")
    ]

    # TruncDate uses the current time zone (Asia/Tokyo): days are local days. By the
    # bulletins' ids rather than a join: with other networks' deliveries in the table,
    # PostgreSQL misjudges the join and scans them all. (No bulletin sent: no query.)
    sent_bulletins = [bulletin.id for bulletin in bulletins]
    deliveries = [
        DeliveryCount(*row)
        for row in Delivery.objects.filter(bulletin_id__in=sent_bulletins, sent_at__isnull=False)
        .annotate(sent_on=TruncDate("sent_at"), read_on=TruncDate("read_at"))
        .values("bulletin_id", "sent_on", "read_on")
        .annotate(count=Count("pk"))
        .order_by("bulletin_id", "sent_on", "read_on")
        .values_list("bulletin_id", "sent_on", "read_on", "count")
    ]
    data = NetworkData(
        regions=regions,
        people=people,
        ties=ties,
        events=events,
        bulletins=bulletins,
        deliveries=deliveries,
    )
    # Read by observations.indicators.compute (getattr: rows built by hand lack it).
    data.continuity = (
        continuity_data_load(network_id=network_id, regions=regions)
        if any_continuity
        else ContinuityData(regions=regions)
    )
    return data


def _continuity_exists():
    network = OuterRef("network_id")
    return (
        Exists(Capability.objects.filter(organization__region=OuterRef("pk")))
        | Exists(Need.objects.filter(organization__region=OuterRef("pk")))
        | Exists(Agreement.objects.filter(network_id=network).exclude(status="draft"))
        | Exists(Incident.objects.filter(network_id=network, kind="drill", status="closed"))
    )


def continuity_data_load(
    *, network_id: int, regions: dict[int, str] | None = None
) -> ContinuityData:
    """The continuity rows of a network in four queries (five without `regions`)."""
    if regions is None:
        regions = dict(Region.objects.filter(network_id=network_id).values_list("pk", "name"))

    def day(moment):
        return None if moment is None else timezone.localdate(moment)

    capabilities = [
        CapabilityRow(org, region, match_key(category, process), day(added), day(removed))
        for org, region, category, process, added, removed in Capability.objects.filter(
            network_id=network_id
        )
        .order_by("pk")
        .values_list(
            "organization_id",
            "organization__region_id",
            "category",
            "process",
            "created_at",
            "removed_at",
        )
    ]
    needs = [
        NeedRow(org, region, match_key(category, process), critical, day(added), day(removed))
        for org, region, category, process, critical, added, removed in Need.objects.filter(
            network_id=network_id
        )
        .order_by("pk")
        .values_list(
            "organization_id",
            "organization__region_id",
            "category",
            "process",
            "critical",
            "created_at",
            "removed_at",
        )
    ]
    agreements = [
        AgreementRow(*row)
        for row in Agreement.objects.filter(network_id=network_id, signed_on__isnull=False)
        .exclude(status=Agreement.Status.DRAFT)
        .order_by("pk")
        .values_list("pk", "signed_on", "ended_on")
    ]
    drills = [
        DrillRow(pk, day(starts or activated or closed), minutes, coverage)
        for pk, starts, activated, closed, minutes, coverage in Incident.objects.filter(
            network_id=network_id, kind=Incident.Kind.DRILL, status=Incident.Status.CLOSED
        )
        .order_by("pk")
        .values_list(
            "pk",
            "event__starts_at",
            "activated_at",
            "closed_at",
            "median_response_minutes",
            "coverage",
        )
    ]
    return ContinuityData(
        regions=regions,
        capabilities=capabilities,
        needs=needs,
        agreements=agreements,
        drills=drills,
    )
