"""Every non-trivial read of the coordination app."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .models import (
    Bulletin,
    Delivery,
    Event,
    Invitation,
    Network,
    Organization,
    Participant,
    Region,
)


def network_summary(*, network: Network) -> dict:
    today = timezone.localdate()
    active = Q(joined_on__lte=today) & (Q(left_on__isnull=True) | Q(left_on__gt=today))
    counts = Participant.objects.filter(network=network).aggregate(
        participants=Count("pk"),
        active=Count("pk", filter=active),
        members=Count("pk", filter=active & Q(role=Participant.Role.MEMBER)),
        invited=Count("pk", filter=Q(invited_at__isnull=False)),
        signed_in=Count("pk", filter=Q(user__last_login__isnull=False)),
    )
    counts["organizations"] = Organization.objects.filter(network=network).count()
    return counts


def region_list(*, network: Network, q: str = "", prefecture: str = "") -> QuerySet[Region]:
    today = timezone.localdate()
    active = Q(organizations__participants__joined_on__lte=today) & (
        Q(organizations__participants__left_on__isnull=True)
        | Q(organizations__participants__left_on__gt=today)
    )
    qs = (
        Region.objects.filter(network=network)
        .select_related("network")
        .annotate(
            organization_count=Count("organizations", distinct=True),
            participant_count=Count("organizations__participants", filter=active, distinct=True),
        )
        .order_by("name")
    )
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(municipality_code__startswith=q))
    if prefecture:
        qs = qs.filter(prefecture=prefecture)
    return qs


def organization_list(
    *, network: Network, q: str = "", region: int | None = None, kind: str = ""
) -> QuerySet[Organization]:
    qs = Organization.objects.filter(network=network).select_related("region", "network")
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(name_kana__icontains=q) | Q(industry__icontains=q))
    if region:
        qs = qs.filter(region_id=region)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.annotate(participant_count=Count("participants")).order_by("region__name", "name")


def participant_list(
    *,
    network: Network,
    q: str = "",
    region: int | None = None,
    organization: int | None = None,
    role: str = "",
    status: str = "",
    on: dt.date | None = None,
) -> QuerySet[Participant]:
    """Participants with their organization and region; `status` is active or left."""
    on = on or timezone.localdate()
    qs = Participant.objects.filter(network=network).select_related(
        "network", "organization__region", "recruited_by", "user"
    )
    if q:
        qs = qs.filter(
            Q(full_name__icontains=q)
            | Q(name_kana__icontains=q)
            | Q(email__icontains=q)
            | Q(organization__name__icontains=q)
        )
    if region:
        qs = qs.filter(organization__region_id=region)
    if organization:
        qs = qs.filter(organization_id=organization)
    if role:
        qs = qs.filter(role=role)
    active = Q(joined_on__lte=on) & (Q(left_on__isnull=True) | Q(left_on__gt=on))
    if status == "active":
        qs = qs.filter(active)
    elif status == "left":
        qs = qs.exclude(active)
    return qs.order_by("organization__region__name", "organization__name", "name_kana", "full_name")


def portal_directory(*, network: Network) -> QuerySet[Participant]:
    """The other participants a participant may see: active ones, names and places only."""
    today = timezone.localdate()
    return (
        Participant.objects.filter(network=network, joined_on__lte=today)
        .filter(Q(left_on__isnull=True) | Q(left_on__gt=today))
        .select_related("organization__region")
        .only(
            "full_name",
            "name_kana",
            "position",
            "role",
            "network_id",
            "organization__name",
            "organization__kind",
            "organization__region__name",
        )
        .order_by("organization__region__name", "organization__name", "name_kana", "full_name")
    )


def participations_of(*, user) -> QuerySet[Participant]:
    return Participant.objects.filter(user=user).select_related("network", "organization__region")


# --- events ------------------------------------------------------------------------------


def _active_on(day: dt.date) -> Q:
    return Q(joined_on__lte=day) & (Q(left_on__isnull=True) | Q(left_on__gt=day))


def chosen_participants(
    *,
    network: Network,
    day: dt.date,
    everyone: bool = False,
    regions: list[int] | tuple = (),
    kinds: list[str] | tuple = (),
    participant_ids: list[int] | tuple = (),
) -> QuerySet[Participant]:
    """Participants active on `day`, chosen as the whole network or any mix of regions,
    organization kinds and individuals (the audience of an event or a bulletin)."""
    qs = Participant.objects.filter(network=network).filter(_active_on(day))
    if not everyone:
        if not (regions or kinds or participant_ids):
            return qs.none()
        chosen = Q(pk__in=list(participant_ids))
        if regions:
            chosen |= Q(organization__region__in=list(regions))
        if kinds:
            chosen |= Q(organization__kind__in=list(kinds))
        qs = qs.filter(chosen)
    return qs.select_related("organization__region").order_by(
        "organization__region__name", "organization__name", "name_kana", "full_name"
    )


def audience(*, event: Event, **chosen) -> QuerySet[Participant]:
    """Who an invitation reaches: people active on the event's day."""
    day = timezone.localtime(event.starts_at).date()
    return chosen_participants(network=event.network, day=day, **chosen)


def event_list(*, network: Network, when: str = "", status: str = "") -> QuerySet[Event]:
    now = timezone.now()
    qs = (
        Event.objects.filter(network=network)
        .select_related("network", "region", "host_organization", "proposed_by")
        .annotate(
            invited=Count("invitations", distinct=True),
            yes=Count(
                "invitations",
                filter=Q(invitations__answer="yes", invitations__waitlisted_at__isnull=True),
                distinct=True,
            ),
            attended=Count("invitations", filter=Q(invitations__attended=True), distinct=True),
        )
    )
    if when == "upcoming":
        qs = qs.filter(ends_at__gte=now).order_by("starts_at")
    elif when == "past":
        qs = qs.filter(ends_at__lt=now).order_by("-starts_at")
    else:
        qs = qs.order_by("-starts_at")
    if status:
        qs = qs.filter(status=status)
    return qs


def event_invitations(*, event: Event) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(event=event)
        .select_related("participant__organization__region")
        .order_by(
            "participant__organization__region__name",
            "participant__organization__name",
            "participant__name_kana",
            "participant__full_name",
        )
    )


def event_answer_summary(*, event: Event) -> dict:
    """Counts by answer (the waiting list apart), and by region and answer."""
    rows = (
        Invitation.objects.filter(event=event)
        .values("participant__organization__region__name", "answer")
        .annotate(
            n=Count("pk"),
            waiting=Count("pk", filter=Q(waitlisted_at__isnull=False)),
            came=Count("pk", filter=Q(attended=True)),
        )
    )
    totals = {"pending": 0, "yes": 0, "maybe": 0, "no": 0, "waitlisted": 0, "attended": 0}
    regions: dict[str, dict] = {}
    for row in rows:
        region = row["participant__organization__region__name"]
        counts = regions.setdefault(region, {**{k: 0 for k in totals}})
        confirmed = row["n"] - row["waiting"]
        for bucket in (totals, counts):
            bucket[row["answer"]] += confirmed if row["answer"] == "yes" else row["n"]
            bucket["waitlisted"] += row["waiting"]
            bucket["attended"] += row["came"]
    totals["invited"] = sum(totals[k] for k in ("pending", "yes", "maybe", "no", "waitlisted"))
    return {"totals": totals, "regions": dict(sorted(regions.items()))}


def portal_invitations(*, participant: Participant) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(participant=participant)
        .exclude(event__status__in=[Event.Status.DRAFT, Event.Status.PROPOSED])
        .select_related("event__network", "event__region", "event__host_organization")
        .order_by("event__starts_at")
    )


def event_attendees_visible(*, event: Event) -> QuerySet[Invitation]:
    """Who is coming, as shown to other invitees when the event allows it."""
    return (
        Invitation.objects.filter(event=event, answer="yes", waitlisted_at__isnull=True)
        .select_related("participant__organization__region")
        .order_by("participant__organization__region__name", "participant__name_kana")
    )


def due_reminders(*, now: dt.datetime) -> list[tuple[int, str]]:
    """(invitation, key) pairs whose scheduled reminder is due; sending claims each."""
    horizon = now + dt.timedelta(days=60)
    events = Event.objects.filter(
        status=Event.Status.SCHEDULED, starts_at__gt=now, starts_at__lte=horizon
    ).exclude(reminder_days=[])
    due: list[tuple[int, str]] = []
    for event in events:
        for days in event.reminder_days:
            at = event.starts_at - dt.timedelta(days=int(days))
            if at > now:
                continue
            # Someone invited after the reminder's time was just told, so skip them.
            invitations = event.invitations.filter(created_at__lte=at).exclude(
                answer=Invitation.Answer.NO
            )
            due += [(pk, f"remind:{days}d") for pk in invitations.values_list("pk", flat=True)]
    return due


# --- bulletins ------------------------------------------------------------------------


def bulletin_audience(*, bulletin: Bulletin) -> QuerySet[Participant]:
    """The people the bulletin's audience names, active today."""
    chosen = bulletin.audience or {}
    return chosen_participants(
        network=bulletin.network,
        day=timezone.localdate(),
        everyone=bool(chosen.get("everyone")),
        regions=chosen.get("regions") or [],
        kinds=chosen.get("kinds") or [],
        participant_ids=chosen.get("participant_ids") or [],
    )


def bulletin_list(*, network: Network) -> QuerySet[Bulletin]:
    return (
        Bulletin.objects.filter(network=network)
        .select_related("network", "author", "event")
        .annotate(
            delivered=Count("deliveries", filter=Q(deliveries__status="sent")),
            read=Count("deliveries", filter=Q(deliveries__read_at__isnull=False)),
            failed=Count("deliveries", filter=Q(deliveries__status="failed")),
        )
        .order_by("-created_at")
    )


def bulletin_statistics(*, bulletin: Bulletin) -> dict:
    """Delivered, failed (with reasons), skipped, read; read rate by region."""
    by_status = dict(
        Delivery.objects.filter(bulletin=bulletin)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    regions = []
    for row in (
        Delivery.objects.filter(bulletin=bulletin, status="sent")
        .values("participant__organization__region__name")
        .annotate(sent=Count("pk"), read=Count("pk", filter=Q(read_at__isnull=False)))
        .order_by("participant__organization__region__name")
    ):
        regions.append(
            {
                "region": row["participant__organization__region__name"],
                "sent": row["sent"],
                "read": row["read"],
                "rate": row["read"] / row["sent"] if row["sent"] else None,
            }
        )
    sent = by_status.get("sent", 0)
    read = Delivery.objects.filter(bulletin=bulletin, read_at__isnull=False).count()
    return {
        "queued": by_status.get("queued", 0) + by_status.get("sending", 0),
        "sent": sent,
        "failed": by_status.get("failed", 0),
        "skipped": by_status.get("skipped", 0),
        "read": read,
        "read_rate": read / sent if sent else None,
        "regions": regions,
    }


def bulletin_deliveries(*, bulletin: Bulletin, status: str = "") -> QuerySet[Delivery]:
    qs = Delivery.objects.filter(bulletin=bulletin).select_related(
        "participant__organization__region"
    )
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("participant__organization__region__name", "participant__name_kana")


def portal_bulletins(*, participant: Participant) -> QuerySet[Delivery]:
    """What was sent to the participant, newest first (read or not)."""
    return (
        Delivery.objects.filter(participant=participant, status="sent")
        .select_related("bulletin__network")
        .order_by("-bulletin__started_at", "-pk")
    )
