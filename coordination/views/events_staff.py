"""The coordinator's event pages: the list, the form, the detail with its answers,
choosing who to invite, the actions, exports, the sign-in sheet and the door check-in.

Researchers read (list, detail, exports, sign-in sheet); only coordinators change
anything. No page changes state on a GET."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from .. import selectors, services
from ..forms_events import AudienceForm, EventForm, WalkInForm
from ..models import Event, Invitation, Network
from ..paging import page_of, querystring_without_page
from ..permissions import get_event_for_user, get_network_for_user
from .people import IDENTITIES, MANAGE

__all__ = [
    "event_action",
    "event_audience",
    "event_checkin",
    "event_create",
    "event_detail",
    "event_edit",
    "event_export",
    "event_list",
    "event_signin_sheet",
]

TOKYO = ZoneInfo("Asia/Tokyo")
WHEN = ("upcoming", "past", "all")
# Attendance is taken at the door or afterwards, never for an event that cannot happen.
ATTENDANCE_OPEN = (Event.Status.SCHEDULED, Event.Status.HELD)
ACTIONS = {
    "approve": services.event_approve,
    "cancel": services.event_cancel,
    "held": services.event_mark_held,
}
# Printed rows left empty for people who come without having answered.
BLANK_SIGNIN_ROWS = 5
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _waiting_list(invitations: Iterable[Invitation]) -> list[Invitation]:
    """The waiting list in the order the service promotes from it."""
    return sorted(
        (i for i in invitations if i.waitlisted_at is not None),
        key=lambda i: (i.waitlisted_at, i.pk),
    )


# --- list, create, edit ----------------------------------------------------------------


@login_required
def event_list(request, slug):
    network = get_network_for_user(request.user, slug, IDENTITIES)
    when = request.GET.get("when") if request.GET.get("when") in WHEN else "upcoming"
    status = request.GET.get("status") if request.GET.get("status") in Event.Status.values else ""
    events = selectors.event_list(
        network=network, when="" if when == "all" else when, status=status
    )
    return render(
        request,
        "coordination/events/event_list.html",
        {
            "network": network,
            "page": page_of(request, events),
            "querystring": querystring_without_page(request),
            "when": when,
            "status": status,
            "statuses": Event.Status.choices,
            "tabs": [
                ("upcoming", _("Upcoming")),
                ("past", _("Past")),
                ("all", _("All")),
            ],
            "proposals": selectors.event_list(
                network=network, when="upcoming", status=Event.Status.PROPOSED
            ).count(),
            "can_manage": request.user.has_perm(MANAGE, network),
        },
    )


def _event_form(request, network: Network, event: Event | None):
    form = EventForm(request.POST or None, instance=event, network=network)
    if request.method == "POST" and form.is_valid():
        event = services.event_save(network=network, event=event, data=form.cleaned_data)
        messages.success(request, _("Saved."))
        return redirect("event_detail", network.slug, event.pk)
    return render(
        request,
        "coordination/events/event_form.html",
        {
            "network": network,
            "event": event,
            "form": form,
            "title": _("Edit event") if event else _("New event"),
            "cancel_url": reverse("event_detail", args=[network.slug, event.pk])
            if event
            else reverse("event_list", args=[network.slug]),
        },
    )


@login_required
def event_create(request, slug):
    network = get_network_for_user(request.user, slug, MANAGE)
    return _event_form(request, network, None)


@login_required
def event_edit(request, slug, pk):
    event = get_event_for_user(request.user, slug, pk, MANAGE)
    return _event_form(request, event.network, event)


# --- detail --------------------------------------------------------------------------------


@login_required
def event_detail(request, slug, pk):
    event = get_event_for_user(request.user, slug, pk, IDENTITIES)
    network = event.network
    invitations = list(selectors.event_invitations(event=event))
    by_answer: dict[str, list[Invitation]] = {a: [] for a in Invitation.Answer.values}
    for invitation in invitations:
        if invitation.waitlisted_at is None:
            by_answer[invitation.answer].append(invitation)
    groups = [
        ("yes", _("Yes"), by_answer["yes"]),
        ("waitlisted", _("Waiting list"), _waiting_list(invitations)),
        ("maybe", _("Maybe"), by_answer["maybe"]),
        ("no", _("No"), by_answer["no"]),
        ("pending", _("Not answered"), by_answer["pending"]),
    ]
    return render(
        request,
        "coordination/events/event_detail.html",
        {
            "network": network,
            "event": event,
            "summary": selectors.event_answer_summary(event=event),
            "groups": groups,
            "unanswered": by_answer["pending"],
            "can_manage": request.user.has_perm(MANAGE, network),
            "attendance_open": event.status in ATTENDANCE_OPEN,
        },
    )


# --- choosing who to invite -------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def event_audience(request, slug, pk):
    event = get_event_for_user(request.user, slug, pk, MANAGE)
    network = event.network
    if request.method == "POST":
        try:
            ids = [int(v) for v in request.POST.getlist("participant_id")]
        except ValueError:
            raise Http404 from None
        if not ids:
            messages.warning(request, _("Nobody was chosen; nobody was invited."))
            return redirect(request.get_full_path())
        try:
            count = services.event_invite(event=event, participant_ids=ids)
        except services.EventError as exc:
            messages.error(request, str(exc))
            return redirect(request.get_full_path())
        messages.success(
            request,
            ngettext("%(count)s person invited.", "%(count)s people invited.", count)
            % {"count": count},
        )
        return redirect("event_detail", slug, event.pk)

    form = AudienceForm(request.GET or None, network=network)
    preview = None
    if form.is_bound and form.is_valid():
        invited = set(event.invitations.values_list("participant_id", flat=True))
        preview = [
            (participant, participant.pk in invited)
            for participant in selectors.audience(event=event, **form.audience_kwargs())
        ]
    return render(
        request,
        "coordination/events/event_audience.html",
        {
            "network": network,
            "event": event,
            "form": form,
            "preview": preview,
            "new_count": sum(1 for _p, already in preview or [] if not already),
            "can_invite": event.status in (Event.Status.DRAFT, Event.Status.SCHEDULED),
        },
    )


# --- actions ----------------------------------------------------------------------------


@login_required
def event_action(request, slug, pk, action):
    event = get_event_for_user(request.user, slug, pk, MANAGE)
    network = event.network
    if action not in (*ACTIONS, "remind"):
        raise Http404
    if request.method == "GET" and action == "cancel":
        # A plain GET only asks: links get opened by previews and scanners.
        return render(
            request,
            "coordination/events/event_cancel_confirm.html",
            {"network": network, "event": event},
        )
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        if action == "remind":
            count = services.event_remind_now(event=event)
            messages.success(
                request,
                ngettext(
                    "Sent a reminder to %(count)s person who has not answered.",
                    "Sent a reminder to %(count)s people who have not answered.",
                    count,
                )
                % {"count": count},
            )
        else:
            ACTIONS[action](event=event)
            messages.success(request, _action_done(action))
    except services.EventError as exc:
        messages.error(request, str(exc))
    return redirect("event_detail", slug, event.pk)


def _action_done(action: str) -> str:
    return {
        "approve": _("The event is approved and scheduled. Invite people next."),
        "cancel": _("The event is cancelled."),
        "held": _("The event is marked as held."),
    }[action]


# --- exports ------------------------------------------------------------------------------


def _export_header() -> list[str]:
    return [
        _("Name"),
        _("Kana"),
        _("E-mail address"),
        _("Organization"),
        _("Organization kind"),
        _("Region"),
        _("Answer"),
        _("Answered at"),
        _("Waiting list position"),
        _("Attended"),
        _("Walk-in"),
    ]


def _export_rows(event: Event) -> list[list[object]]:
    invitations = list(selectors.event_invitations(event=event))
    position = {inv.pk: n for n, inv in enumerate(_waiting_list(invitations), start=1)}
    return [
        [
            inv.participant.full_name,
            inv.participant.name_kana,
            inv.participant.email,
            inv.participant.organization.name,
            inv.participant.organization.get_kind_display(),
            inv.participant.organization.region.name,
            inv.get_answer_display(),
            inv.answered_at.astimezone(TOKYO).isoformat(timespec="seconds")
            if inv.answered_at
            else "",
            position.get(inv.pk, ""),
            int(inv.attended),
            int(inv.walk_in),
        ]
        for inv in invitations
    ]


def _cell(value: object) -> object:
    # Excel runs a cell that starts like a formula; names are typed by participants.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@login_required
def event_export(request, slug, pk, fmt):
    event = get_event_for_user(request.user, slug, pk, IDENTITIES)
    if fmt not in ("csv", "xlsx"):
        raise Http404
    rows = [_export_header(), *_export_rows(event)]
    if not request.user.has_perm(MANAGE, event.network):
        # Contact addresses are for the coordinator; researchers get the rest.
        email_column = 2
        rows = [row[:email_column] + row[email_column + 1 :] for row in rows]
    rows = [[_cell(v) for v in row] for row in rows]
    day = timezone.localtime(event.starts_at, TOKYO).date().isoformat()
    filename = f"event-{day}-{event.pk}.{fmt}"
    if fmt == "csv":
        # UTF-8 with a BOM: Excel on Japanese Windows otherwise reads it as CP932.
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response.write("\ufeff")
        csv.writer(response).writerows(rows)
    else:
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = _("Invitations")[:31]
        for row in rows:
            sheet.append(row)
        buffer = io.BytesIO()
        book.save(buffer)
        response = HttpResponse(buffer.getvalue(), content_type=XLSX)
    response.headers["Content-Disposition"] = content_disposition_header(True, filename)
    return response


@login_required
def event_signin_sheet(request, slug, pk):
    event = get_event_for_user(request.user, slug, pk, IDENTITIES)
    network = event.network
    invitations = list(selectors.event_invitations(event=event))
    return render(
        request,
        "coordination/events/event_signin_sheet.html",
        {
            "network": network,
            "event": event,
            "confirmed": [i for i in invitations if i.is_confirmed],
            "maybe": [i for i in invitations if i.answer == Invitation.Answer.MAYBE],
            "blank_rows": range(BLANK_SIGNIN_ROWS),
        },
    )


# --- check-in at the door -----------------------------------------------------------


def _matches(invitation: Invitation, q: str) -> bool:
    person = invitation.participant
    haystack = " ".join([person.full_name, person.name_kana, person.organization.name])
    return q.casefold() in haystack.casefold()


@login_required
@require_http_methods(["GET", "POST"])
def event_checkin(request, slug, pk):
    event = get_event_for_user(request.user, slug, pk, MANAGE)
    network = event.network
    url = reverse("event_checkin", args=[slug, event.pk])
    if request.method == "POST":
        return _checkin_post(request, event, url)

    q = request.GET.get("q", "").strip()
    invitations = list(selectors.event_invitations(event=event))
    expected, others = [], []
    for invitation in invitations:
        coming = invitation.is_confirmed or invitation.answer == Invitation.Answer.MAYBE
        (expected if coming else others).append(invitation)
    return render(
        request,
        "coordination/events/event_checkin.html",
        {
            "network": network,
            "event": event,
            "q": q,
            "expected": [i for i in expected if _matches(i, q)] if q else expected,
            "others": [i for i in others if _matches(i, q)] if q else others,
            "checked_in": sum(1 for i in invitations if i.attended),
            "expected_count": len(expected),
            "walk_ins": sum(1 for i in invitations if i.walk_in),
            "walk_in_form": WalkInForm(event=event),
            "attendance_open": event.status in ATTENDANCE_OPEN,
        },
    )


def _checkin_post(request, event: Event, url: str):
    q = request.POST.get("q", "").strip()
    back = f"{url}?{urlencode({'q': q})}" if q else url
    if event.status not in ATTENDANCE_OPEN:
        messages.error(request, _("Attendance can only be recorded for a scheduled or held event."))
        return redirect(back)
    if "participant" in request.POST:
        form = WalkInForm(request.POST, event=event)
        if not form.is_valid():
            messages.error(request, _("Choose a participant who has not checked in yet."))
            return redirect(back)
        try:
            invitation = services.event_add_walk_in(
                event=event, participant=form.cleaned_data["participant"]
            )
        except services.EventError as exc:
            messages.error(request, str(exc))
            return redirect(back)
        messages.success(
            request,
            _("%(name)s is checked in.") % {"name": form.cleaned_data["participant"].full_name},
        )
        return redirect(f"{url}#i{invitation.pk}")
    try:
        invitation_id = int(request.POST.get("invitation", ""))
    except ValueError:
        raise Http404 from None
    invitation = get_object_or_404(Invitation, event=event, pk=invitation_id)
    # The button sends the state it shows next, so a double tap does not undo itself.
    services.invitation_check_in(
        invitation=invitation, attended=request.POST.get("attended") == "1"
    )
    return redirect(f"{back}#i{invitation.pk}")
