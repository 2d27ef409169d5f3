"""Every non-trivial read of the continuity app."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from coordination.models import Delivery, Network, Organization

from .models import Agreement, Capability, HelpRequest, Incident, Need, Reply


def capability_search(
    *,
    network: Network,
    q: str = "",
    category: str = "",
    process: str = "",
    region_ids: list[int] | None = None,
    exclude_region_id: int | None = None,
) -> QuerySet[Capability]:
    """Who can do what: by words (description, quantity, organization, industry), by
    category and process, in chosen regions or every region but one's own."""
    qs = Capability.objects.filter(network=network, removed_at__isnull=True).select_related(
        "organization__region"
    )
    for word in q.split():
        qs = qs.filter(
            Q(description__icontains=word)
            | Q(quantity__icontains=word)
            | Q(organization__name__icontains=word)
            | Q(organization__industry__icontains=word)
        )
    if category:
        qs = qs.filter(category=category)
    if process:
        qs = qs.filter(process=process)
    if region_ids:
        qs = qs.filter(organization__region_id__in=region_ids)
    if exclude_region_id is not None:
        qs = qs.exclude(organization__region_id=exclude_region_id)
    return qs.order_by("organization__region__name", "organization__name", "category", "pk")


def organization_capabilities(*, organization: Organization) -> QuerySet[Capability]:
    return Capability.objects.filter(organization=organization, removed_at__isnull=True).order_by(
        "category", "process", "pk"
    )


def organization_needs(*, organization: Organization) -> QuerySet[Need]:
    return Need.objects.filter(organization=organization, removed_at__isnull=True).order_by(
        "-critical", "category", "process", "pk"
    )


def organizations_overview(*, network: Network) -> QuerySet[Organization]:
    live = Q(capabilities__removed_at__isnull=True)
    return (
        Organization.objects.filter(network=network)
        .select_related("region")
        .annotate(
            capability_count=Count("capabilities", filter=live, distinct=True),
            need_count=Count("needs", filter=Q(needs__removed_at__isnull=True), distinct=True),
            critical_count=Count(
                "needs",
                filter=Q(needs__removed_at__isnull=True, needs__critical=True),
                distinct=True,
            ),
        )
        .order_by("region__name", "name")
    )


def agreement_list(*, network: Network) -> QuerySet[Agreement]:
    return (
        Agreement.objects.filter(network=network)
        .select_related(
            "organization_a__region", "organization_b__region", "contact_a", "contact_b"
        )
        .order_by("status", "review_on", "-pk")
    )


def agreements_of(*, organization: Organization) -> QuerySet[Agreement]:
    return agreement_list(network=organization.network).filter(
        Q(organization_a=organization) | Q(organization_b=organization)
    )


def agreements_due(*, network: Network, today: dt.date | None = None, days: int = 30):
    today = today or timezone.localdate()
    return agreement_list(network=network).filter(
        status=Agreement.Status.IN_FORCE,
        review_on__isnull=False,
        review_on__lte=today + dt.timedelta(days=days),
    )


def incident_list(*, network: Network) -> QuerySet[Incident]:
    return (
        Incident.objects.filter(network=network)
        .select_related("region", "event")
        .annotate(
            asked=Count("replies", distinct=True),
            answered=Count("replies", filter=Q(replies__answered_at__isnull=False), distinct=True),
            request_count=Count("requests", distinct=True),
        )
        .order_by("-created_at")
    )


def open_incidents(*, network: Network) -> QuerySet[Incident]:
    return incident_list(network=network).filter(
        status__in=[Incident.Status.PENDING, Incident.Status.ACTIVE]
    )


def incident_requests(*, incident: Incident) -> QuerySet[HelpRequest]:
    return (
        incident.requests.select_related(
            "organization__region", "matched_reply__organization", "matched_reply__participant"
        )
        .prefetch_related(
            Prefetch(
                "offers",
                queryset=Reply.objects.filter(can_help=True).select_related(
                    "organization__region", "participant"
                ),
            )
        )
        .order_by("-critical", "pk")
    )


def incident_replies(*, incident: Incident) -> QuerySet[Reply]:
    return (
        incident.replies.select_related("organization__region", "participant", "bulletin")
        .prefetch_related(
            Prefetch(
                "bulletin__deliveries",
                queryset=Delivery.objects.only("pk", "bulletin_id", "status", "skip_reason"),
            ),
            "offered_for",
        )
        .order_by("answered_at", "pk")
    )
