"""The coordinator's bulletin pages: the list, the form with its live preview, the
audience with its recipient preview, the detail with statistics and deliveries, the
actions, and attachment downloads.

Researchers read (list, detail, attachments); only coordinators change anything. No
page changes state on a GET: the send and cancel links open a confirmation first."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from .. import selectors, services
from ..forms_bulletins import BulletinForm, ScheduleForm
from ..forms_events import BulletinAudienceForm
from ..markup import render_markdown
from ..models import (
    Bulletin,
    BulletinAttachment,
    Delivery,
    Network,
    OrganizationKind,
    Participant,
    Region,
)
from ..paging import page_of, querystring_without_page
from ..permissions import get_bulletin_for_user, get_network_for_user
from .people import IDENTITIES, MANAGE, PORTAL

__all__ = [
    "bulletin_action",
    "bulletin_attachment",
    "bulletin_audience",
    "bulletin_create",
    "bulletin_detail",
    "bulletin_edit",
    "bulletin_list",
    "bulletin_preview",
]

TEMPLATES = "coordination/bulletins"
EDITABLE = (Bulletin.Status.DRAFT, Bulletin.Status.SCHEDULED)
ACTIONS = ("send", "schedule", "unschedule", "cancel", "resend_failed", "duplicate", "detach")
# Actions whose GET only asks (links get opened by previews and scanners).
CONFIRMED = ("send", "cancel")
LIST_PAGE_SIZE = 50
DELIVERY_PAGE_SIZE = 100
# The failed deliveries listed with their errors in the statistics; all of them are in
# the delivery list filtered by ?status=failed.
FAILED_SHOWN = 20
SKIP_REASONS = {
    "opted_out": gettext_lazy("Opted out of bulletins"),
    "consent_withdrawn": gettext_lazy("Research consent withdrawn"),
    "cancelled": gettext_lazy("Bulletin cancelled before sending"),
}


def _audience_summary(bulletin: Bulletin, *, resolve: bool = True) -> dict:
    """The chosen audience in words and, with `resolve`, who it reaches today and how
    many of them a send would skip. (Once sent, the deliveries say who got it.)"""
    chosen = bulletin.audience or {}
    kinds = dict(OrganizationKind.choices)
    people = list(selectors.bulletin_audience(bulletin=bulletin)) if resolve else []
    skipped = sum(1 for p in people if services.skip_reason(p))
    return {
        "chosen": bool(
            chosen.get("everyone")
            or chosen.get("regions")
            or chosen.get("kinds")
            or chosen.get("participant_ids")
        ),
        "everyone": bool(chosen.get("everyone")),
        "regions": list(
            Region.objects.filter(
                network=bulletin.network, pk__in=chosen.get("regions") or []
            ).values_list("name", flat=True)
        )
        if chosen.get("regions")
        else [],
        "kinds": [kinds.get(k, k) for k in chosen.get("kinds") or []],
        "individuals": list(
            Participant.objects.filter(
                network=bulletin.network, pk__in=chosen.get("participant_ids") or []
            ).values_list("full_name", flat=True)
        )
        if chosen.get("participant_ids")
        else [],
        "count": len(people),
        "skipped": skipped,
        "receiving": len(people) - skipped,
    }


# --- list ----------------------------------------------------------------------------


@login_required
def bulletin_list(request, slug):
    network = get_network_for_user(request.user, slug, IDENTITIES)
    page = page_of(request, selectors.bulletin_list(network=network), LIST_PAGE_SIZE)
    return render(
        request,
        f"{TEMPLATES}/list.html",
        {
            "network": network,
            "page": page,
            "querystring": querystring_without_page(request),
            "can_manage": request.user.has_perm(MANAGE, network),
        },
    )


# --- the form, with its preview ----------------------------------------------------


def _save_with_attachments(
    request, network: Network, bulletin: Bulletin | None, form: BulletinForm
) -> Bulletin | None:
    """Save the bulletin and its new attachments together: a refused attachment
    (type, size) keeps nothing, and the error goes next to the field."""
    data = {k: form.cleaned_data[k] for k in ("kind", "subject", "body", "event")}
    kept: list[BulletinAttachment] = []
    field = None
    try:
        with transaction.atomic():
            saved = services.bulletin_save(
                network=network,
                bulletin=bulletin,
                data=data,
                author=request.user if bulletin is None else None,
            )
            field = "attachments"
            for upload in form.cleaned_data.get("attachments") or []:
                kept.append(services.bulletin_attach(bulletin=saved, upload=upload))
    except services.BulletinError as exc:
        # The rows are rolled back; the files already stored are removed by hand.
        for attachment in kept:
            attachment.file.delete(save=False)
        form.add_error(field, str(exc))
        return None
    return saved


def _bulletin_form(request, network: Network, bulletin: Bulletin | None):
    form = BulletinForm(
        request.POST or None, request.FILES or None, instance=bulletin, network=network
    )
    previewing = request.method == "POST" and "preview" in request.POST
    if request.method == "POST" and not previewing and form.is_valid():
        saved = _save_with_attachments(request, network, bulletin, form)
        if saved is not None:
            messages.success(request, _("Saved."))
            return redirect("bulletin_detail", network.slug, saved.pk)
    if request.method == "POST":
        body = request.POST.get("body", "")
    else:
        body = bulletin.body if bulletin else ""
    return render(
        request,
        f"{TEMPLATES}/form.html",
        {
            "network": network,
            "bulletin": bulletin,
            "form": form,
            "preview": render_markdown(body[: services.MAX_BODY_CHARS]),
            "previewing": previewing,
            "attachments": list(bulletin.attachments.order_by("pk")) if bulletin else [],
            "title": _("Edit bulletin") if bulletin else _("New bulletin"),
            "cancel_url": reverse("bulletin_detail", args=[network.slug, bulletin.pk])
            if bulletin
            else reverse("bulletin_list", args=[network.slug]),
        },
    )


@login_required
def bulletin_create(request, slug):
    network = get_network_for_user(request.user, slug, MANAGE)
    return _bulletin_form(request, network, None)


@login_required
def bulletin_edit(request, slug, pk):
    bulletin = get_bulletin_for_user(request.user, slug, pk, MANAGE)
    if bulletin.status not in EDITABLE:
        messages.error(request, _("A bulletin that is being sent or was sent cannot be changed."))
        return redirect("bulletin_detail", slug, bulletin.pk)
    return _bulletin_form(request, bulletin.network, bulletin)


@login_required
@require_POST
def bulletin_preview(request, slug):
    """The body as recipients will see it, for the live preview of the form."""
    get_network_for_user(request.user, slug, MANAGE)
    body = request.POST.get("body", "")[: services.MAX_BODY_CHARS]
    # render_markdown's output is sanitised by nh3: only the allowed tags remain.
    return HttpResponse(render_markdown(body), content_type="text/html; charset=utf-8")


# --- the audience ----------------------------------------------------------------------


def _audience_initial(bulletin: Bulletin) -> dict:
    chosen = bulletin.audience or {}
    return {
        "everyone": bool(chosen.get("everyone")),
        "regions": chosen.get("regions") or [],
        "kinds": chosen.get("kinds") or [],
        "participants": chosen.get("participant_ids") or [],
    }


def _audience_fields(form: BulletinAudienceForm) -> list[tuple[str, object]]:
    """The previewed choice as hidden fields of the form that saves it."""
    data = form.cleaned_data
    fields: list[tuple[str, object]] = [("everyone", "on")] if data["everyone"] else []
    fields += [("regions", r.pk) for r in data["regions"]]
    fields += [("kinds", k) for k in data["kinds"]]
    fields += [("participants", p.pk) for p in data["participants"]]
    return fields


@login_required
@require_http_methods(["GET", "POST"])
def bulletin_audience(request, slug, pk):
    bulletin = get_bulletin_for_user(request.user, slug, pk, MANAGE)
    network = bulletin.network
    if request.method == "POST":
        form = BulletinAudienceForm(request.POST, network=network)
        if form.is_valid():
            try:
                services.bulletin_save(
                    network=network, bulletin=bulletin, data={"audience": form.audience_kwargs()}
                )
            except services.BulletinError as exc:
                messages.error(request, str(exc))
                return redirect("bulletin_detail", slug, bulletin.pk)
            messages.success(request, _("The audience is saved."))
            return redirect("bulletin_detail", slug, bulletin.pk)
    else:
        form = BulletinAudienceForm(
            request.GET or None, network=network, initial=_audience_initial(bulletin)
        )
    preview, hidden = None, []
    if form.is_bound and form.is_valid():
        # The choice in the query string, on an unsaved copy: nothing is stored yet.
        candidate = Bulletin(network=network, audience=form.audience_kwargs())
        preview = list(selectors.bulletin_audience(bulletin=candidate))
        hidden = _audience_fields(form)
    elif not form.is_bound and any(_audience_initial(bulletin).values()):
        preview = list(selectors.bulletin_audience(bulletin=bulletin))
    rows = [(p, services.skip_reason(p)) for p in preview or []]
    rows = [(p, reason, SKIP_REASONS.get(reason, "")) for p, reason in rows]
    skipped = sum(1 for _p, reason, _label in rows if reason)
    return render(
        request,
        f"{TEMPLATES}/audience.html",
        {
            "network": network,
            "bulletin": bulletin,
            "form": form,
            "preview": rows if preview is not None else None,
            "saved_preview": not form.is_bound,
            "hidden": hidden,
            "skipped": skipped,
            "receiving": len(rows) - skipped,
            "editable": bulletin.status in EDITABLE,
        },
    )


# --- detail ------------------------------------------------------------------------------


@login_required
def bulletin_detail(request, slug, pk):
    bulletin = get_bulletin_for_user(request.user, slug, pk, IDENTITIES)
    network = bulletin.network
    status = request.GET.get("status")
    status = status if status in Delivery.Status.values else ""
    deliveries = page_of(
        request, selectors.bulletin_deliveries(bulletin=bulletin, status=status), DELIVERY_PAGE_SIZE
    )
    for delivery in deliveries:
        delivery.skip_label = SKIP_REASONS.get(delivery.skip_reason, delivery.skip_reason)
    skipped_by_reason = [
        (SKIP_REASONS.get(row["skip_reason"], row["skip_reason"] or "–"), row["n"])
        for row in bulletin.deliveries.filter(status=Delivery.Status.SKIPPED)
        .values("skip_reason")
        .annotate(n=Count("pk"))
        .order_by("skip_reason")
    ]
    failed = list(
        selectors.bulletin_deliveries(bulletin=bulletin, status=Delivery.Status.FAILED)[
            :FAILED_SHOWN
        ]
    )
    return render(
        request,
        f"{TEMPLATES}/detail.html",
        {
            "network": network,
            "bulletin": bulletin,
            "attachments": list(bulletin.attachments.order_by("pk")),
            "audience": _audience_summary(bulletin, resolve=bulletin.status in EDITABLE),
            "stats": selectors.bulletin_statistics(bulletin=bulletin),
            "skipped_by_reason": skipped_by_reason,
            "failed": failed,
            "deliveries": deliveries,
            "status": status,
            "statuses": Delivery.Status.choices,
            "querystring": querystring_without_page(request),
            "schedule_form": ScheduleForm(
                initial={"scheduled_at": bulletin.scheduled_at} if bulletin.scheduled_at else None
            ),
            "can_manage": request.user.has_perm(MANAGE, network),
            "editable": bulletin.status in EDITABLE,
        },
    )


# --- actions ----------------------------------------------------------------------------


@login_required
def bulletin_action(request, slug, pk, action):
    bulletin = get_bulletin_for_user(request.user, slug, pk, MANAGE)
    network = bulletin.network
    if action not in ACTIONS:
        raise Http404
    if request.method == "GET" and action in CONFIRMED:
        return render(
            request,
            f"{TEMPLATES}/confirm.html",
            {
                "network": network,
                "bulletin": bulletin,
                "action": action,
                "audience": _audience_summary(bulletin) if action == "send" else None,
                "can_do": bulletin.status in EDITABLE
                if action == "send"
                else bulletin.status not in (Bulletin.Status.SENT, Bulletin.Status.CANCELLED),
            },
        )
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    detail = redirect("bulletin_detail", slug, bulletin.pk)
    try:
        if action == "send":
            services.bulletin_send(bulletin=bulletin)
            messages.success(request, _("Sending has started."))
        elif action == "schedule":
            form = ScheduleForm(request.POST)
            if not form.is_valid():
                messages.error(request, _("Choose a date and time to send at."))
                return detail
            services.bulletin_schedule(bulletin=bulletin, at=form.cleaned_data["scheduled_at"])
            messages.success(request, _("The bulletin is scheduled."))
        elif action == "unschedule":
            services.bulletin_unschedule(bulletin=bulletin)
            messages.success(request, _("The bulletin is a draft again; it will not be sent."))
        elif action == "cancel":
            services.bulletin_cancel(bulletin=bulletin)
            messages.success(request, _("The bulletin is cancelled."))
        elif action == "resend_failed":
            count = services.bulletin_resend_failed(bulletin=bulletin)
            messages.success(
                request,
                ngettext(
                    "Sending again to %(count)s person.",
                    "Sending again to %(count)s people.",
                    count,
                )
                % {"count": count},
            )
        elif action == "duplicate":
            copy = services.bulletin_duplicate(bulletin=bulletin, author=request.user)
            messages.success(request, _("This is a copy, as a new draft."))
            return redirect("bulletin_edit", slug, copy.pk)
        elif action == "detach":
            raw = request.POST.get("attachment") or request.GET.get("attachment") or ""
            if not raw.isdigit():
                raise Http404
            attachment = get_object_or_404(BulletinAttachment, bulletin=bulletin, pk=int(raw))
            attachment.bulletin = bulletin
            services.bulletin_detach(attachment=attachment)
            messages.success(request, _("%(name)s is removed.") % {"name": attachment.filename})
            return redirect("bulletin_edit", slug, bulletin.pk)
    except services.BulletinError as exc:
        messages.error(request, str(exc))
    return detail


# --- attachments ----------------------------------------------------------------------


def _may_download(request, network: Network, bulletin_id: int) -> bool:
    """Staff who read the network, or a participant the bulletin was sent to."""
    if request.user.has_perm(IDENTITIES, network):
        return True
    return request.user.has_perm(PORTAL, network) and (
        Delivery.objects.filter(
            bulletin_id=bulletin_id,
            bulletin__network=network,
            participant__network=network,
            participant__user=request.user,
            status=Delivery.Status.SENT,
        ).exists()
    )


@login_required
@never_cache
def bulletin_attachment(request, slug, pk, attachment):
    network = Network.objects.filter(slug=slug).first()
    if network is None or not _may_download(request, network, pk):
        raise Http404
    item = get_object_or_404(
        BulletinAttachment, bulletin__network=network, bulletin_id=pk, pk=attachment
    )
    try:
        handle = item.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(
        handle, as_attachment=True, filename=item.filename, content_type=item.content_type
    )
