"""Thin views: access first (404 for outsiders), then a selector or a service."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from coordination.models import Participant
from coordination.paging import page_of
from observations.pseudonyms import Namer, namer_for

from . import permissions, selectors, services
from .forms import (
    AgreementForm,
    CapabilityForm,
    DeclareForm,
    DrillForm,
    NeedForm,
    ReplyForm,
    SearchForm,
)
from .models import Agreement, Capability, HelpRequest, Incident, Need

KINDS = {"capability": (Capability, CapabilityForm), "need": (Need, NeedForm)}
T = "continuity"


def _kind(kind: str):
    if kind not in KINDS:
        raise Http404
    return KINDS[kind]


def _coverage_now(network) -> dict:
    from observations.indicator_data import continuity_data_load
    from observations.indicators.continuity import capability_coverage

    return capability_coverage(continuity_data_load(network_id=network.pk), timezone.localdate())


# --- the staff side ---------------------------------------------------------------------


@login_required
def continuity_home(request: HttpRequest, slug: str) -> HttpResponse:
    network = permissions.staff_network(request.user, slug)
    form = SearchForm(request.GET or None, network=network)
    results = selectors.capability_search(network=network, **form.criteria())
    return render(
        request,
        f"{T}/home.html",
        {
            "network": network,
            "namer": namer_for(request.user, network),
            "can_manage": permissions.can_manage(request.user, network),
            "form": form,
            "page": page_of(request, results),
            "organizations": selectors.organizations_overview(network=network),
            "incidents": selectors.incident_list(network=network)[:20],
            "due": selectors.agreements_due(network=network),
            "coverage": _coverage_now(network),
        },
    )


@login_required
def continuity_organization(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    organization = permissions.get_organization_for_user(request.user, slug, pk)
    network = organization.network
    return render(
        request,
        f"{T}/organization.html",
        {
            "network": network,
            "organization": organization,
            "namer": namer_for(request.user, network),
            "can_manage": permissions.can_manage(request.user, network),
            "capabilities": selectors.organization_capabilities(organization=organization),
            "needs": selectors.organization_needs(organization=organization),
            "agreements": selectors.agreements_of(organization=organization),
        },
    )


def _item_form(request, *, organization, kind: str, item_pk: int | None, done_url: str, portal):
    model, form_class = _kind(kind)
    item = None
    if item_pk is not None:
        item = get_object_or_404(
            model, pk=item_pk, organization=organization, removed_at__isnull=True
        )
    form = form_class(request.POST or None, instance=item)
    if request.method == "POST" and form.is_valid():
        save = services.capability_save if kind == "capability" else services.need_save
        try:
            if kind == "capability":
                save(organization=organization, capability=item, data=form.cleaned_data)
            else:
                save(organization=organization, need=item, data=form.cleaned_data)
        except services.ContinuityError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Saved."))
            return redirect(done_url)
    title = {
        ("capability", False): _("New capability"),
        ("capability", True): _("Edit capability"),
        ("need", False): _("New need"),
        ("need", True): _("Edit need"),
    }[kind, item is not None]
    return render(
        request,
        f"{T}/item_form.html",
        {
            "network": organization.network,
            "organization": organization,
            "form": form,
            "title": title,
            "cancel_url": done_url,
            "portal": portal,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def continuity_item_edit(
    request: HttpRequest, slug: str, pk: int, kind: str, item: int | None = None
) -> HttpResponse:
    permissions.manager_network(request.user, slug)
    organization = permissions.get_organization_for_user(request.user, slug, pk)
    done = organization_url(organization)
    return _item_form(
        request, organization=organization, kind=kind, item_pk=item, done_url=done, portal=False
    )


def organization_url(organization) -> str:
    from django.urls import reverse

    return reverse("continuity_organization", args=[organization.network.slug, organization.pk])


@login_required
@require_POST
def continuity_item_remove(
    request: HttpRequest, slug: str, pk: int, kind: str, item: int
) -> HttpResponse:
    permissions.manager_network(request.user, slug)
    organization = permissions.get_organization_for_user(request.user, slug, pk)
    model, _form = _kind(kind)
    entry = get_object_or_404(model, pk=item, organization=organization, removed_at__isnull=True)
    services.resource_remove(item=entry)
    messages.success(request, _("Removed."))
    return redirect(organization_url(organization))


@login_required
def continuity_agreements(request: HttpRequest, slug: str) -> HttpResponse:
    network = permissions.staff_network(request.user, slug)
    return render(
        request,
        f"{T}/agreement_list.html",
        {
            "network": network,
            "namer": namer_for(request.user, network),
            "can_manage": permissions.can_manage(request.user, network),
            "page": page_of(request, selectors.agreement_list(network=network)),
        },
    )


@login_required
def continuity_agreement(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    network = permissions.staff_network(request.user, slug)
    agreement = get_object_or_404(selectors.agreement_list(network=network), pk=pk)
    return render(
        request,
        f"{T}/agreement_detail.html",
        {
            "network": network,
            "agreement": agreement,
            "namer": namer_for(request.user, network),
            "can_manage": permissions.can_manage(request.user, network),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def continuity_agreement_edit(request: HttpRequest, slug: str, pk: int | None = None):
    network = permissions.manager_network(request.user, slug)
    agreement = get_object_or_404(Agreement, network=network, pk=pk) if pk else None
    form = AgreementForm(request.POST or None, instance=agreement, network=network)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.agreement_save(
                network=network, agreement=agreement, data=form.cleaned_data, user=request.user
            )
        except services.ContinuityError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Agreement saved."))
            return redirect("continuity_agreement", network.slug, saved.pk)
    return render(
        request,
        "coordination/form.html",
        {
            "network": network,
            "form": form,
            "title": _("Edit agreement") if agreement else _("New agreement"),
            "cancel_url": agreement.get_absolute_url() if agreement else None,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def continuity_drill_create(request: HttpRequest, slug: str) -> HttpResponse:
    network = permissions.manager_network(request.user, slug)
    form = DrillForm(request.POST or None, network=network)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = services.drill_schedule(
                network=network,
                data=data,
                organizations=list(data["organizations"]),
                capabilities=list(data["capabilities"]),
                user=request.user,
            )
        except services.ContinuityError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Drill scheduled. Start it when the drill begins."))
            return redirect("continuity_incident", network.slug, incident.pk)
    return render(
        request,
        "coordination/form.html",
        {"network": network, "form": form, "title": _("New drill")},
    )


def _declare(request, network, form, done) -> HttpResponse | None:
    if not form.is_valid():
        return None
    try:
        result = services.incident_declare(
            network=network,
            region=form.cleaned_data["region"],
            user=request.user,
            description=form.cleaned_data["description"],
        )
    except services.ContinuityError as error:
        form.add_error(None, str(error))
        return None
    if result.activated:
        messages.success(request, _("Incident activated: the partners are being notified."))
    elif result.incident.status == Incident.Status.PENDING:
        messages.info(
            request,
            _(
                "Declaration recorded. The incident is activated when a second member "
                "(or the coordinator) confirms it."
            ),
        )
    else:
        messages.info(request, _("This incident is already active."))
    return redirect(done, network.slug, result.incident.pk)


@login_required
@require_http_methods(["GET", "POST"])
def continuity_declare(request: HttpRequest, slug: str) -> HttpResponse:
    network = permissions.manager_network(request.user, slug)
    form = DeclareForm(request.POST or None, network=network)
    if request.method == "POST":
        done = _declare(request, network, form, "continuity_incident")
        if done:
            return done
    return render(
        request,
        "coordination/form.html",
        {"network": network, "form": form, "title": _("Declare an incident")},
    )


def _incident_context(request, network, incident, *, me: Participant | None, namer, portal):
    requests = list(selectors.incident_requests(incident=incident))
    for item in requests:
        item.trackable = permissions.can_track(request.user, network, item, me)
    replies = list(selectors.incident_replies(incident=incident))
    offers = [r for r in replies if r.can_help]
    confirmed_by_me = (
        incident.status == Incident.Status.PENDING
        and incident.confirmations.filter(user=request.user).exists()
    )
    return {
        "network": network,
        "incident": incident,
        "namer": namer,
        "portal": portal,
        "me": me,
        "requests": requests,
        "replies": replies,
        "offers": offers,
        "answered": sum(1 for r in replies if r.answered_at),
        "affected": incident.affected_organizations.select_related("region").order_by("name"),
        "confirmations": incident.confirmations.select_related("participant__organization"),
        "confirmed_by_me": confirmed_by_me,
        "can_manage": permissions.can_manage(request.user, network),
    }


@login_required
def continuity_incident(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    network = permissions.staff_network(request.user, slug)
    incident = permissions.get_incident(network, pk)
    context = _incident_context(
        request, network, incident, me=None, namer=namer_for(request.user, network), portal=False
    )
    if incident.is_drill or incident.status == Incident.Status.CLOSED:
        coverage, median, _offered = services.incident_results(incident=incident)
        context.update(result_coverage=coverage, result_median=median)
    return render(request, f"{T}/incident.html", context)


@login_required
@require_POST
def continuity_incident_action(request: HttpRequest, slug: str, pk: int, action: str):
    network = permissions.manager_network(request.user, slug)
    incident = permissions.get_incident(network, pk)
    try:
        if action == "start":
            services.drill_start(incident=incident)
            messages.success(request, _("Drill started: the partners are being asked."))
        elif action == "close":
            services.incident_close(incident=incident, user=request.user)
            messages.success(request, _("Closed; the results are kept in the observation log."))
        else:
            raise Http404
    except services.ContinuityError as error:
        messages.error(request, str(error))
    return redirect("continuity_incident", network.slug, incident.pk)


def _track(request, network, incident, request_pk: int, me) -> None:
    item = get_object_or_404(HelpRequest, incident=incident, pk=request_pk)
    if not permissions.can_track(request.user, network, item, me):
        raise Http404
    action = request.POST.get("action", "")
    if action not in services.REQUEST_ACTIONS:
        raise Http404
    reply = request.POST.get("reply")
    try:
        services.request_update(
            request=item, action=action, reply_id=int(reply) if reply and reply.isdigit() else None
        )
    except services.ContinuityError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Request updated."))


@login_required
@require_POST
def continuity_request_action(request: HttpRequest, slug: str, pk: int, request_pk: int):
    network = permissions.manager_network(request.user, slug)
    incident = permissions.get_incident(network, pk)
    _track(request, network, incident, request_pk, None)
    return redirect("continuity_incident", network.slug, incident.pk)


# --- the portal ------------------------------------------------------------------------------


def _portal_namer(network) -> Namer:
    # Participants see each other by name in the portal already (the directory).
    return Namer(network, pseudonymous=False)


@login_required
def portal_continuity(request: HttpRequest, slug: str) -> HttpResponse:
    me = permissions.portal_participant(request.user, slug)
    network = me.network
    form = SearchForm(request.GET or None, network=network, own_region=me.organization.region)
    results = selectors.capability_search(network=network, **form.criteria())
    return render(
        request,
        f"{T}/portal_home.html",
        {
            "network": network,
            "me": me,
            "namer": _portal_namer(network),
            "form": form,
            "page": page_of(request, results),
            "capabilities": selectors.organization_capabilities(organization=me.organization),
            "needs": selectors.organization_needs(organization=me.organization),
            "incidents": selectors.incident_list(network=network).exclude(
                status=Incident.Status.PLANNED
            )[:10],
            "declare_form": DeclareForm(network=network),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def portal_continuity_item_edit(
    request: HttpRequest, slug: str, kind: str, item: int | None = None
) -> HttpResponse:
    me = permissions.portal_participant(request.user, slug)
    me.organization.network = me.network
    from django.urls import reverse

    done = reverse("portal_continuity", args=[me.network.slug])
    return _item_form(
        request, organization=me.organization, kind=kind, item_pk=item, done_url=done, portal=True
    )


@login_required
@require_POST
def portal_continuity_item_remove(request: HttpRequest, slug: str, kind: str, item: int):
    me = permissions.portal_participant(request.user, slug)
    model, _form = _kind(kind)
    entry = get_object_or_404(model, pk=item, organization=me.organization, removed_at__isnull=True)
    services.resource_remove(item=entry)
    messages.success(request, _("Removed."))
    return redirect("portal_continuity", me.network.slug)


@login_required
@require_POST
def portal_continuity_declare(request: HttpRequest, slug: str) -> HttpResponse:
    me = permissions.portal_participant(request.user, slug)
    form = DeclareForm(request.POST, network=me.network)
    done = _declare(request, me.network, form, "portal_continuity_incident")
    if done:
        return done
    for error in form.non_field_errors() or [_("Choose the region hit.")]:
        messages.error(request, error)
    return redirect("portal_continuity", me.network.slug)


@login_required
def portal_continuity_incident(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    me = permissions.portal_participant(request.user, slug)
    incident = permissions.get_incident(me.network, pk)
    if incident.status == Incident.Status.PLANNED:
        raise Http404  # a drill's scenario stays with the coordinator until it starts
    context = _incident_context(
        request, me.network, incident, me=me, namer=_portal_namer(me.network), portal=True
    )
    return render(request, f"{T}/incident.html", context)


@login_required
@require_POST
def portal_continuity_request_action(request: HttpRequest, slug: str, pk: int, request_pk: int):
    me = permissions.portal_participant(request.user, slug)
    incident = permissions.get_incident(me.network, pk)
    _track(request, me.network, incident, request_pk, me)
    return redirect("portal_continuity_incident", me.network.slug, incident.pk)


# --- the reply link of a notice ----------------------------------------------------------------


def _language(request: HttpRequest, participant: Participant) -> str:
    """The partner's own language, unless the visitor picked one with the switcher."""
    if settings.LANGUAGE_COOKIE_NAME in request.COOKIES:
        return translation.get_language()
    return participant.preferred_language


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def continuity_reply(request: HttpRequest, reply_id: int, token: str) -> HttpResponse:
    """The personal link of a notice: no sign-in. A GET only shows the form (mail
    scanners open links, they do not submit it)."""
    try:
        reply = services.reply_resolve(reply_id=reply_id, raw=token)
    except services.TokenRefused:
        return render(request, f"{T}/reply_refused.html", status=404)
    incident = reply.incident
    with translation.override(_language(request, reply.participant)):
        initial = {
            "can_help": {True: "yes", False: "no"}.get(reply.can_help),
            "requests": list(reply.offered_for.values_list("pk", flat=True)),
            "what": reply.what,
            "hours": reply.hours,
            "note": reply.note,
        }
        form = ReplyForm(
            request.POST if request.method == "POST" else None, reply=reply, initial=initial
        )
        is_open = incident.status == Incident.Status.ACTIVE
        context = {
            "network": incident.network,
            "incident": incident,
            "reply": reply,
            "form": form,
            "is_open": is_open,
            "affected": incident.affected_organizations.order_by("name"),
        }
        if request.method == "POST" and is_open and form.is_valid():
            data = form.cleaned_data
            try:
                services.reply_answer(
                    reply=reply,
                    can_help=data["can_help"],
                    request_ids=[r.pk for r in data["requests"]],
                    what=data["what"],
                    hours=data["hours"],
                    note=data["note"],
                )
            except services.ContinuityError as error:
                form.add_error(None, str(error))
            else:
                reply.refresh_from_db()
                return render(request, f"{T}/reply_done.html", {**context, "reply": reply})
        return render(request, f"{T}/reply.html", context)
