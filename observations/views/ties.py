"""The tie registry pages: thin, access first, then a selector or a service."""

from __future__ import annotations

import base64

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from coordination.models import Participant
from coordination.paging import page_of, querystring_without_page
from coordination.permissions import get_network_for_user
from coordination.tables import TableError

from .. import selectors, services
from ..forms import TieFilterForm, TieForm, TieImportApplyForm, TieImportForm, TieReportForm
from ..permissions import IDENTITIES, MANAGE, PORTAL, get_tie_for_user


def _detail_url(tie) -> str:
    return reverse("tie_detail", args=[tie.network.slug, tie.pk])


@login_required
def tie_list(request, slug):
    network = get_network_for_user(request.user, slug, IDENTITIES)
    filters = TieFilterForm(request.GET or None, network=network)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    ties = selectors.tie_list(
        network=network,
        kind=criteria.get("kind", ""),
        status=criteria.get("status", ""),
        region=criteria["region"].pk if criteria.get("region") else None,
        participant=criteria["participant"].pk if criteria.get("participant") else None,
        active_on=criteria.get("active_on"),
    )
    return render(
        request,
        "observations/tie_list.html",
        {
            "network": network,
            "filters": filters,
            "page": page_of(request, ties),
            "querystring": querystring_without_page(request),
            "can_manage": request.user.has_perm(MANAGE, network),
        },
    )


def _edit(request, network, *, tie=None):
    form = TieForm(request.POST or None, instance=tie, network=network)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.tie_save(
                network=network, tie=tie, data=form.cleaned_data, user=request.user
            )
        except services.TieError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Saved."))
            saved.network = network
            return redirect(_detail_url(saved))
    return render(
        request,
        "coordination/form.html",
        {
            "form": form,
            "network": network,
            "title": _("Edit tie") if tie else _("New tie"),
            "cancel_url": _detail_url(tie) if tie else reverse("tie_list", args=[network.slug]),
        },
    )


@login_required
def tie_create(request, slug):
    return _edit(request, get_network_for_user(request.user, slug, MANAGE))


@login_required
def tie_edit(request, slug, pk):
    tie = get_tie_for_user(request.user, slug, pk, MANAGE)
    return _edit(request, tie.network, tie=tie)


@login_required
def tie_detail(request, slug, pk):
    tie = get_tie_for_user(request.user, slug, pk, IDENTITIES)
    return render(
        request,
        "observations/tie_detail.html",
        {
            "network": tie.network,
            "tie": tie,
            "history": selectors.tie_history(tie=tie),
            "can_manage": request.user.has_perm(MANAGE, tie.network),
        },
    )


ACTIONS = {
    "confirm": (services.tie_confirm, _("The tie is confirmed.")),
    "reject": (services.tie_reject, _("The tie is rejected.")),
    "delete": (services.tie_delete, _("The tie is deleted; its history is kept.")),
}


@login_required
@require_POST
def tie_action(request, slug, pk):
    tie = get_tie_for_user(request.user, slug, pk, MANAGE)
    action = ACTIONS.get(request.POST.get("action", ""))
    if action is None:
        raise Http404
    service, done = action
    try:
        service(tie=tie)
    except services.TieError as exc:
        messages.error(request, str(exc))
        return redirect(_detail_url(tie))
    messages.success(request, done)
    if request.POST.get("action") == "delete":
        return redirect("tie_list", slug)
    return redirect(_detail_url(tie))


@login_required
def tie_import(request, slug):
    """Upload → dry run and preview (the file rides along in a hidden field) → apply."""
    network = get_network_for_user(request.user, slug, MANAGE)
    context = {
        "network": network,
        "columns": services.TIE_COLUMNS,
        "required": services.TIE_REQUIRED,
    }
    form = TieImportForm()
    if request.method == "POST" and "apply" in request.POST:
        apply_form = TieImportApplyForm(request.POST)
        if not apply_form.is_valid():
            messages.error(request, _("The file was damaged on the way; upload it again."))
            return redirect("tie_import", slug)
        data, filename = apply_form.cleaned_data["content"], apply_form.cleaned_data["filename"]
        dry_run = False
    elif request.method == "POST":
        form = TieImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, "observations/tie_import.html", {**context, "form": form})
        upload = form.cleaned_data["file"]
        data, filename = upload.read(), upload.name
        dry_run = True
    else:
        return render(request, "observations/tie_import.html", {**context, "form": form})

    try:
        result = services.ties_import(
            network=network, data=data, filename=filename, dry_run=dry_run
        )
    except TableError as exc:
        context.update(errors=exc.errors, filename=filename)
        if not dry_run:
            messages.error(request, _("The data changed since the preview; nothing was imported."))
        return render(request, "observations/tie_import.html", {**context, "form": form})
    if not dry_run:
        messages.success(request, _("Imported: %(summary)s.") % {"summary": result.summary()})
        return redirect("tie_list", slug)
    context.update(
        result=result,
        filename=filename,
        apply_form=TieImportApplyForm(
            initial={"filename": filename, "content": base64.b64encode(data).decode("ascii")}
        ),
        form=form,
    )
    return render(request, "observations/tie_import.html", context)


# --- participant portal -----------------------------------------------------------------


@login_required
def portal_tie_report(request, slug):
    network = get_network_for_user(request.user, slug, PORTAL)
    me = (
        Participant.objects.select_related("network", "organization")
        .filter(network=network, user=request.user)
        .get()
    )
    form = TieReportForm(request.POST or None, participant=me)
    if request.method == "POST" and form.is_valid():
        try:
            services.tie_report(participant=me, data=form.cleaned_data)
        except services.TieError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, _("Thank you. The coordinator will confirm the tie before it counts.")
            )
            return redirect("portal_tie_report", slug)
    return render(
        request,
        "observations/portal_tie_report.html",
        {
            "network": network,
            "me": me,
            "form": form,
            "reported": selectors.portal_reported_ties(participant=me),
        },
    )
