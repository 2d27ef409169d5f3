"""Every non-trivial read of the coordination app."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .models import Network, Organization, Participant, Region


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
