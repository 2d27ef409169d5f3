from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .. import emails, selectors, services
from ..forms import (
    ImportForm,
    NetworkForm,
    OrganizationFilterForm,
    OrganizationForm,
    ParticipantFilterForm,
    ParticipantForm,
    ProfileForm,
    RegionFilterForm,
    RegionForm,
    StaffAddForm,
)
from ..models import ImportRun, NetworkRole, Organization, Participant, Region
from ..paging import page_of, querystring_without_page
from ..permissions import get_network_for_user, networks_for_user

VIEW = "coordination.view_network"
IDENTITIES = "coordination.view_identities"
MANAGE = "coordination.manage_network"
PORTAL = "coordination.use_portal"


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


@login_required
def home(request):
    networks = list(networks_for_user(request.user))
    staff_networks = [n for n in networks if request.user.has_perm(VIEW, n)]
    if not staff_networks:
        participations = list(selectors.participations_of(user=request.user))
        if len(participations) == 1:
            return redirect("portal_home", participations[0].network.slug)
        return render(request, "coordination/portal_index.html", {"participations": participations})
    return render(
        request,
        "coordination/network_list.html",
        {
            "networks": staff_networks,
            "can_create": request.user.has_perm("coordination.create_network"),
        },
    )


@login_required
def network_create(request):
    if not request.user.has_perm("coordination.create_network"):
        raise Http404
    form = NetworkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        network = services.network_create(**form.cleaned_data, coordinator=request.user)
        messages.success(request, _("Network created."))
        return redirect(network)
    return render(request, "coordination/form.html", {"form": form, "title": _("New network")})


@login_required
def network_detail(request, slug):
    network = get_network_for_user(request.user, slug, VIEW)
    return render(
        request,
        "coordination/network_detail.html",
        {
            "network": network,
            "summary": selectors.network_summary(network=network),
            "regions": selectors.region_list(network=network),
            "can_manage": request.user.has_perm(MANAGE, network),
            "can_identify": request.user.has_perm(IDENTITIES, network),
            "export_formats": [
                ("graphml", "GraphML"),
                ("gexf", "GEXF (Gephi)"),
                ("json", "JSON"),
                ("csv", "CSV (ZIP)"),
            ],
        },
    )


@login_required
def staff_list(request, slug):
    """The network's coordinators and researchers; the coordinator adds people and
    decides which researchers may see real names."""
    network = get_network_for_user(request.user, slug, MANAGE)
    form = StaffAddForm(request.POST or None)
    if request.method == "POST":
        try:
            if "role_id" in request.POST:
                staff_role = get_object_or_404(
                    NetworkRole, network=network, pk=request.POST["role_id"]
                )
                action = request.POST.get("action")
                changes = (
                    {"remove": True}
                    if action == "remove"
                    else {"identified_access": action == "grant"}
                )
                services.staff_update(
                    network=network, staff_role=staff_role, acting_user=request.user, **changes
                )
                messages.success(request, _("Saved."))
                return redirect("staff_list", network.slug)
            if form.is_valid():
                services.staff_add(network=network, **form.cleaned_data)
                messages.success(
                    request, _("Added. They sign in with a code sent to that address.")
                )
                return redirect("staff_list", network.slug)
        except services.StaffError as exc:
            messages.error(request, str(exc))
    roles = (
        NetworkRole.objects.filter(network=network)
        .select_related("user")
        .order_by("role", "user__email")
    )
    return render(
        request,
        "coordination/staff_list.html",
        {"network": network, "roles": roles, "form": form},
    )


@login_required
def network_edit(request, slug):
    network = get_network_for_user(request.user, slug, MANAGE)
    form = NetworkForm(request.POST or None, instance=network)
    form.fields.pop("slug")
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Saved."))
        return redirect(network)
    return render(
        request,
        "coordination/form.html",
        {"form": form, "network": network, "title": _("Edit network")},
    )


def _edit(request, network, *, form, save, title, cancel_url):
    """Shared create/edit flow: validate the form, hand the data to a service."""
    if request.method == "POST" and form.is_valid():
        obj = save(data=form.cleaned_data)
        messages.success(request, _("Saved."))
        return redirect(obj)
    return render(
        request,
        "coordination/form.html",
        {"form": form, "network": network, "title": title, "cancel_url": cancel_url},
    )


# --- regions ---------------------------------------------------------------------------


@login_required
def region_list(request, slug):
    network = get_network_for_user(request.user, slug, VIEW)
    filters = RegionFilterForm(request.GET or None, network=network)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    regions = selectors.region_list(
        network=network, q=criteria.get("q", ""), prefecture=criteria.get("prefecture", "")
    )
    return render(
        request,
        "coordination/region_list.html",
        {
            "network": network,
            "filters": filters,
            "page": page_of(request, regions),
            "querystring": querystring_without_page(request),
            "can_manage": request.user.has_perm(MANAGE, network),
        },
    )


@login_required
def region_detail(request, slug, pk):
    network = get_network_for_user(request.user, slug, IDENTITIES)
    region = get_object_or_404(Region, network=network, pk=pk)
    return render(
        request,
        "coordination/region_detail.html",
        {
            "network": network,
            "region": region,
            "organizations": selectors.organization_list(network=network, region=region.pk),
            "can_manage": request.user.has_perm(MANAGE, network),
        },
    )


@login_required
def region_edit(request, slug, pk=None):
    network = get_network_for_user(request.user, slug, MANAGE)
    region = get_object_or_404(Region, network=network, pk=pk) if pk else None
    form = RegionForm(request.POST or None, instance=region)
    return _edit(
        request,
        network,
        form=form,
        save=lambda data: services.region_save(network=network, region=region, data=data),
        title=_("Edit region") if region else _("New region"),
        cancel_url=region.get_absolute_url() if region else reverse("region_list", args=[slug]),
    )


# --- organizations -----------------------------------------------------------------------


@login_required
def organization_list(request, slug):
    network = get_network_for_user(request.user, slug, IDENTITIES)
    filters = OrganizationFilterForm(request.GET or None, network=network)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    organizations = selectors.organization_list(
        network=network,
        q=criteria.get("q", ""),
        region=criteria["region"].pk if criteria.get("region") else None,
        kind=criteria.get("kind", ""),
    )
    return render(
        request,
        "coordination/organization_list.html",
        {
            "network": network,
            "filters": filters,
            "page": page_of(request, organizations),
            "querystring": querystring_without_page(request),
            "can_manage": request.user.has_perm(MANAGE, network),
        },
    )


@login_required
def organization_detail(request, slug, pk):
    network = get_network_for_user(request.user, slug, IDENTITIES)
    organization = get_object_or_404(
        Organization.objects.select_related("region"), network=network, pk=pk
    )
    return render(
        request,
        "coordination/organization_detail.html",
        {
            "network": network,
            "organization": organization,
            "participants": selectors.participant_list(
                network=network, organization=organization.pk
            ),
            "can_manage": request.user.has_perm(MANAGE, network),
        },
    )


@login_required
def organization_edit(request, slug, pk=None):
    network = get_network_for_user(request.user, slug, MANAGE)
    organization = get_object_or_404(Organization, network=network, pk=pk) if pk else None
    form = OrganizationForm(request.POST or None, instance=organization, network=network)
    return _edit(
        request,
        network,
        form=form,
        save=lambda data: services.organization_save(
            network=network, organization=organization, data=data
        ),
        title=_("Edit organization") if organization else _("New organization"),
        cancel_url=organization.get_absolute_url()
        if organization
        else reverse("organization_list", args=[slug]),
    )


# --- participants ------------------------------------------------------------------------


@login_required
def participant_list(request, slug):
    network = get_network_for_user(request.user, slug, IDENTITIES)
    filters = ParticipantFilterForm(request.GET or None, network=network)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    participants = selectors.participant_list(
        network=network,
        q=criteria.get("q", ""),
        region=criteria["region"].pk if criteria.get("region") else None,
        organization=criteria["organization"].pk if criteria.get("organization") else None,
        role=criteria.get("role", ""),
        status=criteria.get("status", ""),
    )
    return render(
        request,
        "coordination/participant_list.html",
        {
            "network": network,
            "filters": filters,
            "page": page_of(request, participants),
            "querystring": querystring_without_page(request),
            "can_manage": request.user.has_perm(MANAGE, network),
        },
    )


@login_required
def participant_detail(request, slug, pk):
    network = get_network_for_user(request.user, slug, IDENTITIES)
    participant = get_object_or_404(
        Participant.objects.select_related("organization__region", "recruited_by", "user"),
        network=network,
        pk=pk,
    )
    return render(
        request,
        "coordination/participant_detail.html",
        {
            "network": network,
            "participant": participant,
            "recruits": participant.recruits.select_related("organization"),
            "can_manage": request.user.has_perm(MANAGE, network),
        },
    )


@login_required
def participant_edit(request, slug, pk=None):
    network = get_network_for_user(request.user, slug, MANAGE)
    participant = get_object_or_404(Participant, network=network, pk=pk) if pk else None
    form = ParticipantForm(request.POST or None, instance=participant, network=network)
    return _edit(
        request,
        network,
        form=form,
        save=lambda data: services.participant_save(
            network=network, participant=participant, data=data
        ),
        title=_("Edit participant") if participant else _("New participant"),
        cancel_url=participant.get_absolute_url()
        if participant
        else reverse("participant_list", args=[slug]),
    )


@login_required
@require_POST
def participant_invite(request, slug):
    network = get_network_for_user(request.user, slug, MANAGE)
    try:
        ids = [int(v) for v in request.POST.getlist("participant")]
    except ValueError:
        raise Http404 from None
    invited = services.participants_invite(network=network, participant_ids=ids)
    if invited:
        messages.success(
            request,
            _("Sent a sign-in invitation to %(count)s participant(s).") % {"count": len(invited)},
        )
    else:
        messages.warning(request, _("Choose at least one participant to invite."))
    return redirect(request.POST.get("next") or reverse("participant_list", args=[slug]))


# --- imports ---------------------------------------------------------------------------------

IMPORT_COLUMNS = {
    ImportRun.Kind.REGIONS: services.REGION_COLUMNS,
    ImportRun.Kind.PARTICIPANTS: services.PARTICIPANT_COLUMNS,
}


@login_required
def import_upload(request, slug, kind):
    network = get_network_for_user(request.user, slug, MANAGE)
    if kind not in ImportRun.Kind.values:
        raise Http404
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        run = services.import_run_preview(
            network=network, kind=kind, filename=upload.name, data=upload.read(), user=request.user
        )
        return redirect("import_detail", slug, run.pk)
    return render(
        request,
        "coordination/import_upload.html",
        {
            "network": network,
            "form": form,
            "kind": ImportRun.Kind(kind),
            "columns": IMPORT_COLUMNS[kind],
            "required": ["name"]
            if kind == ImportRun.Kind.REGIONS
            else services.PARTICIPANT_REQUIRED,
        },
    )


@login_required
def import_detail(request, slug, pk):
    network = get_network_for_user(request.user, slug, MANAGE)
    run = get_object_or_404(ImportRun.objects.defer("content"), network=network, pk=pk)
    return render(request, "coordination/import_detail.html", {"network": network, "run": run})


@login_required
@require_POST
def import_apply(request, slug, pk):
    network = get_network_for_user(request.user, slug, MANAGE)
    run = get_object_or_404(ImportRun.objects.only("pk"), network=network, pk=pk)
    try:
        run = services.import_run_apply(run_id=run.pk)
    except services.ImportNotApplicable as exc:
        messages.error(request, str(exc))
    else:
        if run.status == ImportRun.Status.APPLIED:
            report = run.report
            messages.success(
                request,
                _("Imported: %(created)s created, %(updated)s updated, %(unchanged)s unchanged.")
                % report,
            )
        else:
            messages.error(request, _("The data changed since the preview; nothing was imported."))
    return redirect("import_detail", slug, run.pk)


# --- participant portal -------------------------------------------------------------------


def _own_participation(request, slug) -> Participant:
    network = get_network_for_user(request.user, slug, PORTAL)
    return (
        Participant.objects.select_related("network", "organization__region")
        .filter(network=network, user=request.user)
        .get()
    )


@login_required
def portal_home(request, slug):
    me = _own_participation(request, slug)
    return render(
        request,
        "coordination/portal_home.html",
        {
            "network": me.network,
            "me": me,
            "directory": selectors.portal_directory(network=me.network),
            "upcoming": selectors.portal_invitations(participant=me).filter(
                event__ends_at__gte=timezone.now()
            )[:5],
            "bulletins": selectors.portal_bulletins(participant=me)[:3],
            "unread": selectors.portal_bulletins(participant=me)
            .filter(read_at__isnull=True)
            .count(),
        },
    )


@login_required
def portal_profile(request, slug):
    me = _own_participation(request, slug)
    form = ProfileForm(
        request.POST or None, instance=me, initial={"research_consent": me.research_consent}
    )
    if request.method == "POST" and form.is_valid():
        services.participant_update_own_profile(participant=me, data=form.cleaned_data)
        messages.success(request, _("Your profile and preferences are saved."))
        return redirect("portal_home", slug)
    return render(
        request, "coordination/portal_profile.html", {"network": me.network, "me": me, "form": form}
    )


def portal_welcome(request, token):
    """The landing page of an invitation link. GET changes nothing (mail scanners open
    links); the button asks allauth to e-mail a sign-in code to the invited address."""
    participant = emails.participant_from_welcome_token(token)
    if participant is None:
        return render(request, "coordination/portal_welcome_invalid.html", status=404)
    if request.user.is_authenticated and participant.user_id == request.user.pk:
        return redirect("portal_home", participant.network.slug)
    return render(
        request,
        "coordination/portal_welcome.html",
        {"participant": participant, "network": participant.network},
    )
