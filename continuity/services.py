"""Every write of the continuity app: capabilities and needs, agreements (with their
tie), review reminders, drills and incidents (declaring, activating, notifying,
answering, matching, closing)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from coordination import permissions as _rules  # noqa: F401  (registers the permissions)
from coordination import services as coordination_services
from coordination.models import Bulletin, Event, Network, Organization, Participant, Region
from hubless.indicators_dirty import indicators_mark_dirty
from observations.models import Metric, Observation, Tie
from observations.services.log import metric_save, observation_create
from observations.services.ties import TieError, tie_save

from . import matching
from .models import (
    Agreement,
    AgreementReminder,
    Capability,
    Category,
    Confirmation,
    HelpRequest,
    Incident,
    Need,
    Reply,
)

# Reminders start this long before an agreement's review date.
REVIEW_NOTICE_DAYS = 14
# Distinct members whose declarations activate an incident without the coordinator.
MEMBERS_TO_ACTIVATE = 2
RESOURCE_FIELDS = ("category", "process", "description", "quantity")


class ContinuityError(Exception):
    """A write that is refused; the message says why, for the person who tried."""


def _mark(network_id: int) -> None:
    indicators_mark_dirty(network_id)


# --- capabilities and needs -------------------------------------------------------------


def _resource_save(model, *, organization: Organization, item=None, data: dict):
    item = item or model(network_id=organization.network_id, organization=organization)
    if item.organization_id != organization.pk or item.removed_at is not None:
        raise ContinuityError(_("This entry belongs to another organization or was removed."))
    for name in (*RESOURCE_FIELDS, "critical"):
        if name in data and hasattr(item, name):
            setattr(item, name, data[name])
    if item.category != Category.PROCESS:
        item.process = ""
    if not (item.description or "").strip():
        raise ContinuityError(_("Describe the entry."))
    item.full_clean()
    item.save()
    _mark(organization.network_id)
    return item


@transaction.atomic
def capability_save(
    *, organization: Organization, capability: Capability | None = None, data: dict
) -> Capability:
    return _resource_save(Capability, organization=organization, item=capability, data=data)


@transaction.atomic
def need_save(*, organization: Organization, need: Need | None = None, data: dict) -> Need:
    return _resource_save(Need, organization=organization, item=need, data=data)


@transaction.atomic
def resource_remove(*, item: Capability | Need, now: dt.datetime | None = None) -> None:
    """Soft: the indicators of past dates still count it."""
    type(item).objects.filter(pk=item.pk, removed_at__isnull=True).update(
        removed_at=now or timezone.now()
    )
    _mark(item.network_id)


# --- agreements ---------------------------------------------------------------------------

AGREEMENT_FIELDS = (
    "organization_a",
    "organization_b",
    "offers_a",
    "offers_b",
    "contact_a",
    "contact_b",
    "signed_on",
    "review_on",
    "ended_on",
    "status",
    "note",
)


def _check_agreement(network: Network, agreement: Agreement) -> None:
    a, b = agreement.organization_a, agreement.organization_b
    if a.network_id != network.pk or b.network_id != network.pk:
        raise ContinuityError(_("Both organizations must belong to this network."))
    if a.pk == b.pk:
        raise ContinuityError(_("An agreement needs two different organizations."))
    if agreement.contact_a.organization_id != a.pk or agreement.contact_b.organization_id != b.pk:
        raise ContinuityError(_("Each contact must be a participant of their organization."))
    if agreement.status != Agreement.Status.DRAFT and agreement.signed_on is None:
        raise ContinuityError(_("An agreement in force needs the date it was signed."))
    if agreement.status == Agreement.Status.ENDED and agreement.ended_on is None:
        agreement.ended_on = timezone.localdate()
    if agreement.ended_on and agreement.signed_on and agreement.ended_on < agreement.signed_on:
        raise ContinuityError(_("An agreement cannot end before it was signed."))
    clash = Agreement.objects.filter(network=network, status=Agreement.Status.IN_FORCE).filter(
        Q(organization_a=a, organization_b=b) | Q(organization_a=b, organization_b=a)
    )
    if agreement.pk:
        clash = clash.exclude(pk=agreement.pk)
    if agreement.status == Agreement.Status.IN_FORCE and clash.exists():
        raise ContinuityError(_("These two organizations already have an agreement in force."))


def _existing_tie(agreement: Agreement) -> Tie | None:
    source, target = agreement.contact_a_id, agreement.contact_b_id
    return (
        Tie.objects.filter(
            Q(source_id=source, target_id=target) | Q(source_id=target, target_id=source),
            network_id=agreement.network_id,
            kind=Tie.Kind.MUTUAL_SUPPORT_AGREEMENT,
            deleted_at__isnull=True,
        )
        .exclude(status=Tie.Status.REJECTED)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=agreement.signed_on))
        .order_by("started_on")
        .first()
    )


def _record_tie(agreement: Agreement, user) -> None:
    """The agreement as a mutual_support_agreement tie between the two contacts, so the
    network indicators count it. A tie recorded earlier (an import) is adopted."""
    if agreement.status == Agreement.Status.DRAFT:
        return
    data = {
        "source": agreement.contact_a,
        "target": agreement.contact_b,
        "kind": Tie.Kind.MUTUAL_SUPPORT_AGREEMENT,
        "started_on": agreement.signed_on,
        "ended_on": agreement.ended_on,
        "note": _("Mutual-support agreement %(a)s – %(b)s")
        % {"a": agreement.organization_a.name, "b": agreement.organization_b.name},
    }
    tie = agreement.tie if agreement.tie_id and agreement.tie.deleted_at is None else None
    try:
        tie = tie_save(network=agreement.network, tie=tie, data=data, user=user)
    except TieError as error:
        existing = _existing_tie(agreement) if tie is None else None
        if existing is None:
            raise ContinuityError(str(error)) from None
        tie = existing
    agreement.tie = tie
    agreement.save(update_fields=["tie", "updated_at"])


@transaction.atomic
def agreement_save(
    *, network: Network, agreement: Agreement | None = None, data: dict, user=None
) -> Agreement:
    if agreement is not None and agreement.pk:
        agreement = Agreement.objects.select_for_update().get(pk=agreement.pk, network=network)
    else:
        agreement = Agreement(network=network, created_by=user)
    for name in AGREEMENT_FIELDS:
        if name in data:
            setattr(agreement, name, data[name])
    _check_agreement(network, agreement)
    agreement.save()
    _record_tie(agreement, user)
    _mark(network.pk)
    return agreement


def agreements_due_for_review(*, today: dt.date | None = None) -> list[tuple[int, dt.date]]:
    today = today or timezone.localdate()
    return list(
        Agreement.objects.filter(
            status=Agreement.Status.IN_FORCE,
            review_on__isnull=False,
            review_on__lte=today + dt.timedelta(days=REVIEW_NOTICE_DAYS),
        )
        # Once per review date: a new date (the agreement was reviewed) reminds again.
        .exclude(reminders__review_on=F("review_on"))
        .values_list("pk", "review_on")
    )


def agreement_reminder_claim(*, agreement_id: int, review_on: dt.date) -> bool:
    """The row is the claim: the unique constraint lets one run through per date."""
    try:
        with transaction.atomic():
            AgreementReminder.objects.create(agreement_id=agreement_id, review_on=review_on)
    except IntegrityError:
        return False
    return True


def agreement_reminder_sent(*, agreement_id: int, review_on: dt.date) -> None:
    AgreementReminder.objects.filter(agreement_id=agreement_id, review_on=review_on).update(
        sent_at=timezone.now()
    )


def agreement_reminder_release(*, agreement_id: int, review_on: dt.date) -> None:
    """The mail failed: give the claim back so that the next run tries again."""
    AgreementReminder.objects.filter(
        agreement_id=agreement_id, review_on=review_on, sent_at__isnull=True
    ).delete()


# --- tokens -------------------------------------------------------------------------------


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class TokenRefused(Exception):
    """The link is forged or belongs to another reply."""


def reply_resolve(*, reply_id: int, raw: str) -> Reply:
    reply = (
        Reply.objects.select_related(
            "incident__network", "incident__region", "participant", "organization__region"
        )
        .filter(digest=_digest(raw))
        .first()
    )
    if reply is None or reply.pk != reply_id:
        raise TokenRefused
    return reply


# --- incidents and drills -----------------------------------------------------------------


@dataclass
class Declared:
    incident: Incident
    activated: bool  # this declaration activated it
    confirmations: int  # distinct people who declared it so far


def _open_incident(*, network: Network, region: Region, user, description: str) -> Incident:
    found = Incident.objects.select_for_update().filter(
        network=network,
        region=region,
        kind=Incident.Kind.INCIDENT,
        status__in=[Incident.Status.PENDING, Incident.Status.ACTIVE],
    )
    incident = found.first()
    if incident is not None:
        return incident
    try:
        with transaction.atomic():
            return Incident.objects.create(
                network=network,
                region=region,
                kind=Incident.Kind.INCIDENT,
                status=Incident.Status.PENDING,
                title=_("Incident in %(region)s") % {"region": region.name},
                description=description,
                created_by=user,
            )
    except IntegrityError:
        # Declared by someone else at the same moment: theirs is the incident.
        return found.get()


@transaction.atomic
def incident_declare(
    *,
    network: Network,
    region: Region,
    user,
    description: str = "",
    now: dt.datetime | None = None,
) -> Declared:
    """The coordinator declares an incident and it is active at once; a member's
    declaration waits for a second, distinct member, whose confirmation activates it.
    Further confirmations change nothing."""
    now = now or timezone.now()
    if region.network_id != network.pk:
        raise ContinuityError(_("The region must belong to this network."))
    as_coordinator = user.has_perm("coordination.manage_network", network)
    participant = None
    if not as_coordinator:
        participant = (
            Participant.objects.filter(network=network, user=user)
            .filter(joined_on__lte=timezone.localdate())
            .filter(Q(left_on__isnull=True) | Q(left_on__gt=timezone.localdate()))
            .first()
        )
        if participant is None:
            raise ContinuityError(_("Only the coordinator or members can declare an incident."))
    incident = _open_incident(network=network, region=region, user=user, description=description)
    Confirmation.objects.get_or_create(
        incident=incident,
        user=user,
        defaults={
            "participant": participant,
            "as_coordinator": as_coordinator,
            "note": description,
            "created_at": now,
        },
    )
    people = incident.confirmations.values("user").distinct().count()
    members = (
        incident.confirmations.filter(participant__isnull=False)
        .values("participant")
        .distinct()
        .count()
    )
    activated = False
    if incident.status == Incident.Status.PENDING and (
        as_coordinator or members >= MEMBERS_TO_ACTIVATE
    ):
        activated = _activate(incident, now=now)
    incident.refresh_from_db()
    return Declared(incident=incident, activated=activated, confirmations=people)


def _active_participants(organization_ids: set[int]):
    today = timezone.localdate()
    return (
        Participant.objects.filter(organization_id__in=organization_ids, joined_on__lte=today)
        .filter(Q(left_on__isnull=True) | Q(left_on__gt=today))
        .select_related("organization")
        .order_by("pk")
    )


def _build_requests(incident: Incident) -> list[HelpRequest]:
    affected = list(incident.affected_organizations.values_list("pk", flat=True))
    rows = []
    if incident.is_drill:
        lost = list(incident.lost_capabilities.filter(removed_at__isnull=True))
        if not lost:
            lost = list(
                Capability.objects.filter(organization_id__in=affected, removed_at__isnull=True)
            )
        for capability in lost:
            rows.append(
                HelpRequest(
                    incident=incident,
                    organization_id=capability.organization_id,
                    capability=capability,
                    category=capability.category,
                    process=capability.process,
                    description=capability.description,
                    critical=True,
                )
            )
    else:
        for need in Need.objects.filter(organization_id__in=affected, removed_at__isnull=True):
            rows.append(
                HelpRequest(
                    incident=incident,
                    organization_id=need.organization_id,
                    need=need,
                    category=need.category,
                    process=need.process,
                    description=need.description,
                    critical=need.critical,
                )
            )
    HelpRequest.objects.bulk_create(rows)
    return list(incident.requests.select_related("organization").order_by("-critical", "pk"))


def incident_partners(*, incident: Incident, requests: list[HelpRequest]) -> matching.Partners:
    """Who to ask: read from the database, decided by `matching.find_partners`."""
    network_id = incident.network_id
    region_of = dict(
        Organization.objects.filter(network_id=network_id).values_list("pk", "region_id")
    )
    offers = [
        matching.Offer(org, region_of.get(org), Capability(category=c, process=p).key)
        for org, c, p in Capability.objects.filter(
            network_id=network_id, removed_at__isnull=True
        ).values_list("organization_id", "category", "process")
    ]
    agreements = Agreement.objects.filter(
        network_id=network_id, status=Agreement.Status.IN_FORCE
    ).values_list("organization_a_id", "organization_b_id")
    return matching.find_partners(
        hit_region=incident.region_id,
        affected=incident.affected_organizations.values_list("pk", flat=True),
        wanted=[matching.Wanted(r.pk, r.organization_id, r.key) for r in requests],
        offers=offers,
        agreements=list(agreements),
        region_of=region_of,
    )


def _activate(incident: Incident, *, now: dt.datetime) -> bool:
    """Claimed by a conditional update: whoever flips the status notifies, once."""
    claimed = Incident.objects.filter(
        pk=incident.pk, status__in=[Incident.Status.PENDING, Incident.Status.PLANNED]
    ).update(status=Incident.Status.ACTIVE, activated_at=now)
    if not claimed:
        return False
    incident.status = Incident.Status.ACTIVE
    incident.activated_at = now
    if not incident.is_drill and not incident.affected_organizations.exists():
        incident.affected_organizations.set(
            Organization.objects.filter(network_id=incident.network_id, region=incident.region)
        )
    requests = _build_requests(incident)
    partners = incident_partners(incident=incident, requests=requests)
    for person in _active_participants(partners.organizations):
        _ask(
            incident,
            person,
            requests=requests,
            via_agreement=person.organization_id in partners.by_agreement,
            via_capability=person.organization_id in partners.by_capability,
            now=now,
        )
    _mark(incident.network_id)
    return True


def _ask(
    incident: Incident,
    person: Participant,
    *,
    requests: list[HelpRequest],
    via_agreement: bool,
    via_capability: bool,
    now: dt.datetime,
) -> Reply | None:
    """One reply row and one notice per person: the unique row makes a second call a
    no-op. The notice is a bulletin to this one person, because its body carries their
    own reply link; the bulletin machinery sends it exactly once."""
    raw = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            reply = Reply.objects.create(
                incident=incident,
                participant=person,
                organization_id=person.organization_id,
                via_agreement=via_agreement,
                via_capability=via_capability,
                digest=_digest(raw),
                notified_at=now,
            )
    except IntegrityError:
        return None
    link = settings.SITE_URL + reverse("continuity_reply", args=[reply.pk, raw])
    with translation.override(person.preferred_language):
        subject, body = _notice(incident, person, requests=requests, link=link)
    bulletin = coordination_services.bulletin_save(
        network=incident.network,
        data={
            "kind": Bulletin.Kind.CONTINUITY,
            "subject": subject,
            "body": body,
            "event": incident.event,
            "audience": {"participant_ids": [person.pk]},
        },
        author=incident.created_by,
    )
    coordination_services.bulletin_send(bulletin=bulletin, now=now)
    Reply.objects.filter(pk=reply.pk).update(bulletin=bulletin)
    reply.bulletin = bulletin
    return reply


def _notice(
    incident: Incident, person: Participant, *, requests: list[HelpRequest], link: str
) -> tuple[str, str]:
    region = incident.region.name
    if incident.is_drill:
        subject = _("[Drill] %(title)s: could you help?") % {"title": incident.title}
        intro = _(
            "This is a **drill** of the network's mutual support. In the scenario, "
            "%(region)s is hit and these organizations are down:"
        ) % {"region": region}
    else:
        subject = _("Help needed: %(region)s has been hit") % {"region": region}
        intro = _(
            "An incident has been declared for %(region)s. These organizations are affected:"
        ) % {"region": region}
    affected = ", ".join(o.name for o in incident.affected_organizations.order_by("name"))
    lines = [
        _("Dear %(name)s,") % {"name": person.full_name},
        "",
        intro,
        "",
        affected or "–",
        "",
    ]
    if incident.description:
        lines += [incident.description, ""]
    if requests:
        lines.append(_("What they need:"))
        lines.append("")
        for request in requests:
            mark = _(" (critical)") if request.critical else ""
            lines.append(
                f"- {request.kind_label}{mark}: {request.description} ({request.organization.name})"
            )
        lines.append("")
    lines += [
        _("Could %(org)s help, and how soon? Answer here, no sign-in needed (about a minute):")
        % {"org": person.organization.name},
        "",
        link,
        "",
        _("The status page for members of the network: %(url)s")
        % {"url": settings.SITE_URL + incident.get_portal_url()},
    ]
    return subject[:200], "\n".join(lines)


@transaction.atomic
def drill_schedule(
    *,
    network: Network,
    data: dict,
    organizations: list[Organization],
    capabilities: list[Capability] = (),
    user=None,
) -> Incident:
    """A drill: an event of kind drill, and the scenario (the region hit, the
    organizations down, the capabilities lost)."""
    region = data["region"]
    if region.network_id != network.pk:
        raise ContinuityError(_("The region must belong to this network."))
    for org in organizations:
        if org.network_id != network.pk:
            raise ContinuityError(_("Every organization must belong to this network."))
    if not organizations:
        raise ContinuityError(_("Choose the organizations that are down in the scenario."))
    down = {org.pk for org in organizations}
    for capability in capabilities:
        if capability.organization_id not in down:
            raise ContinuityError(_("A lost capability must be one of an organization down."))
    event = coordination_services.event_save(
        network=network,
        data={
            "kind": Event.Kind.DRILL,
            "title": data["title"],
            "description": data.get("description", ""),
            "starts_at": data["starts_at"],
            "ends_at": data["ends_at"],
            "region": region,
            "status": Event.Status.SCHEDULED,
        },
    )
    incident = Incident.objects.create(
        network=network,
        kind=Incident.Kind.DRILL,
        region=region,
        title=data["title"],
        description=data.get("description", ""),
        status=Incident.Status.PLANNED,
        event=event,
        created_by=user,
    )
    incident.affected_organizations.set(organizations)
    incident.lost_capabilities.set(capabilities)
    return incident


@transaction.atomic
def drill_start(*, incident: Incident, now: dt.datetime | None = None) -> Incident:
    """Runs the scenario: the partners are asked, as in a real activation."""
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if not incident.is_drill or incident.status != Incident.Status.PLANNED:
        raise ContinuityError(_("Only a planned drill can be started."))
    _activate(incident, now=now or timezone.now())
    incident.refresh_from_db()
    return incident


def incident_results(*, incident: Incident) -> tuple[float | None, float | None, dict]:
    """(coverage, median response minutes, request → organizations that offered from
    another region)."""
    offered: dict[int, set[int]] = {}
    replies = incident.replies.filter(can_help=True).select_related("organization")
    for reply in replies.prefetch_related("offered_for"):
        if reply.organization.region_id == incident.region_id:
            continue
        for request in reply.offered_for.all():
            offered.setdefault(request.pk, set()).add(reply.organization_id)
    coverage = matching.coverage(
        requests=incident.requests.values_list("pk", flat=True), offered=offered
    )
    median = matching.median_minutes(
        r.response_minutes for r in incident.replies.filter(answered_at__isnull=False)
    )
    return coverage, median, offered


def _metric(network: Network, name: str, unit: str) -> Metric:
    found = Metric.objects.filter(network=network, name__iexact=name).first()
    return found or metric_save(
        network=network, data={"name": name, "unit": unit, "description": ""}
    )


@transaction.atomic
def incident_close(*, incident: Incident, user=None, now: dt.datetime | None = None) -> Incident:
    """Close an incident or finish a drill: its results are kept and, for a drill,
    written to the observation log (category bcp)."""
    now = now or timezone.now()
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident.status != Incident.Status.ACTIVE:
        raise ContinuityError(_("Only an active incident or a running drill can be closed."))
    coverage, median, _offered = incident_results(incident=incident)
    incident.status = Incident.Status.CLOSED
    incident.closed_at = now
    incident.coverage = coverage
    incident.median_response_minutes = median
    incident.save()
    incident.requests.filter(status=HelpRequest.Status.OPEN).update(
        status=HelpRequest.Status.CLOSED, closed_at=now
    )
    _write_observations(incident, user=user, coverage=coverage, median=median)
    if incident.event_id:
        Event.objects.filter(pk=incident.event_id, status=Event.Status.SCHEDULED).update(
            status=Event.Status.HELD
        )
    _mark(incident.network_id)
    return incident


def _write_observations(
    incident: Incident, *, user, coverage: float | None, median: float | None
) -> None:
    network = incident.network
    asked = incident.replies.count()
    answered = incident.replies.filter(answered_at__isnull=False).count()
    helping = incident.replies.filter(can_help=True)
    day = timezone.localdate(incident.closed_at)
    subjects = {
        "event": incident.event,
        "regions": [incident.region],
        "organizations": list(incident.affected_organizations.all())
        + [r.organization for r in helping.select_related("organization")],
        "participants": [r.participant for r in helping.select_related("participant")],
        "category": Observation.Category.BCP,
        "observed_on": day,
    }
    kind = _("Drill") if incident.is_drill else _("Incident")
    body = [
        _("%(kind)s “%(title)s”, %(region)s hit.")
        % {"kind": kind, "title": incident.title, "region": incident.region.name},
        "",
        _("Partners asked: %(asked)s; answered: %(answered)s; could help: %(helping)s.")
        % {"asked": asked, "answered": answered, "helping": helping.count()},
        _("Requests: %(n)s; found an offer in another region: %(coverage)s.")
        % {
            "n": incident.requests.count(),
            "coverage": "–" if coverage is None else f"{coverage:.0%}",
        },
        _("Median response time: %(minutes)s minutes.")
        % {"minutes": "–" if median is None else f"{median:.0f}"},
    ]
    observation_create(
        network=network,
        data={
            **subjects,
            "title": _("%(kind)s results: %(title)s") % {"kind": kind, "title": incident.title},
            "body": "\n".join(body),
        },
        user=user,
    )
    if not incident.is_drill:
        return
    if coverage is not None:
        observation_create(
            network=network,
            data={
                **subjects,
                "kind": Observation.Kind.QUANTITATIVE,
                "title": _("Drill coverage: %(title)s") % {"title": incident.title},
                "metric": _metric(network, _("Drill coverage"), "%"),
                "value": Decimal(f"{coverage * 100:.2f}"),
            },
            user=user,
        )
    if median is not None:
        observation_create(
            network=network,
            data={
                **subjects,
                "kind": Observation.Kind.QUANTITATIVE,
                "title": _("Drill response time: %(title)s") % {"title": incident.title},
                "metric": _metric(network, _("Drill median response time"), _("minutes")),
                "value": Decimal(f"{median:.2f}"),
            },
            user=user,
        )


# --- answers and matching ----------------------------------------------------------------


@transaction.atomic
def reply_answer(
    *,
    reply: Reply,
    can_help: bool,
    request_ids: list[int] = (),
    what: str = "",
    hours: int | None = None,
    note: str = "",
    now: dt.datetime | None = None,
) -> Reply:
    """Record a partner's answer. Requests they offer to help with and that were still
    open are matched with them; the first offer wins. Changing to no gives those back."""
    now = now or timezone.now()
    reply = Reply.objects.select_for_update().select_related("incident").get(pk=reply.pk)
    if reply.incident.status != Incident.Status.ACTIVE:
        raise ContinuityError(_("This call for help is closed."))
    chosen = list(reply.incident.requests.filter(pk__in=list(request_ids))) if can_help else []
    if can_help and not chosen and not what.strip():
        raise ContinuityError(_("Say what you could offer."))
    if can_help and hours is None:
        raise ContinuityError(_("Say how soon you could help."))
    reply.can_help = can_help
    reply.what = what.strip()[:300] if can_help else ""
    reply.hours = hours if can_help else None
    reply.note = note
    reply.answered_at = reply.answered_at or now
    reply.updated_at = now
    reply.save()
    reply.offered_for.set(chosen)
    ids = [r.pk for r in chosen]
    HelpRequest.objects.filter(matched_reply=reply, status=HelpRequest.Status.MATCHED).exclude(
        pk__in=ids
    ).update(status=HelpRequest.Status.OPEN, matched_reply=None)
    HelpRequest.objects.filter(pk__in=ids, status=HelpRequest.Status.OPEN).update(
        status=HelpRequest.Status.MATCHED, matched_reply=reply
    )
    _mark(reply.incident.network_id)
    return reply


REQUEST_ACTIONS = ("match", "fulfil", "close", "reopen")


@transaction.atomic
def request_update(
    *, request: HelpRequest, action: str, reply_id: int | None = None
) -> HelpRequest:
    """Track a request to closure: open → matched → fulfilled, or closed."""
    request = HelpRequest.objects.select_for_update().select_related("incident").get(pk=request.pk)
    if request.incident.status == Incident.Status.CLOSED:
        raise ContinuityError(_("The incident is closed."))
    Status = HelpRequest.Status
    if action == "match":
        reply = request.incident.replies.filter(pk=reply_id, can_help=True).first()
        if reply is None or request.status in (Status.FULFILLED, Status.CLOSED):
            raise ContinuityError(_("Choose an offer of this incident for an open request."))
        request.status, request.matched_reply = Status.MATCHED, reply
    elif action == "fulfil":
        if request.status in (Status.FULFILLED, Status.CLOSED):
            raise ContinuityError(_("This request is already done."))
        request.status, request.closed_at = Status.FULFILLED, timezone.now()
    elif action == "close":
        if request.status in (Status.FULFILLED, Status.CLOSED):
            raise ContinuityError(_("This request is already done."))
        request.status, request.closed_at = Status.CLOSED, timezone.now()
    elif action == "reopen":
        request.status, request.matched_reply, request.closed_at = Status.OPEN, None, None
    else:
        raise ContinuityError(_("Unknown action."))
    request.save()
    return request
