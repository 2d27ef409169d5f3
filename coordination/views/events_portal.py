"""The participants' event pages, the answer links of the e-mails and the calendar feed."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from .. import ics, selectors, services
from ..forms_events import AnswerForm, ProposalForm
from ..models import Event, Invitation, Participant
from .people import _own_participation

__all__ = [
    "calendar_feed",
    "portal_calendar",
    "portal_event",
    "portal_event_ics",
    "portal_event_propose",
    "portal_events",
    "rsvp",
]

TEMPLATES = "coordination/portal_events"
CALENDAR = "text/calendar; charset=utf-8"


# --- reading a participant's own events -------------------------------------------------


def _with_waitlist_position(invitations: QuerySet[Invitation]) -> QuerySet[Invitation]:
    """Annotate `waitlist_position` (1 = next to get a seat), in the order the waiting
    list is promoted (waitlisted_at, then pk); None for those not waiting."""
    ahead = (
        Invitation.objects.filter(event=OuterRef("event"), waitlisted_at__isnull=False)
        .filter(
            Q(waitlisted_at__lt=OuterRef("waitlisted_at"))
            | Q(waitlisted_at=OuterRef("waitlisted_at"), pk__lt=OuterRef("pk"))
        )
        .order_by()
        .values("event")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return invitations.annotate(
        waitlist_ahead=Coalesce(Subquery(ahead, output_field=IntegerField()), Value(0))
    )


def _position(invitation: Invitation) -> int | None:
    if not invitation.is_waitlisted:
        return None
    return invitation.waitlist_ahead + 1


def _waitlist_position_of(invitation: Invitation) -> int | None:
    if not invitation.is_waitlisted:
        return None
    return _position(_with_waitlist_position(Invitation.objects.all()).get(pk=invitation.pk))


def _own_invitations(me: Participant) -> QuerySet[Invitation]:
    return _with_waitlist_position(selectors.portal_invitations(participant=me))


def _own_event(me: Participant, pk: int) -> tuple[Event, Invitation | None]:
    """The event if the participant is invited to it or proposed it, else 404."""
    invitation = _own_invitations(me).filter(event_id=pk).first()
    if invitation is not None:
        invitation.participant = me
        return invitation.event, invitation
    event = get_object_or_404(
        Event.objects.select_related("network", "region", "host_organization"),
        network=me.network,
        proposed_by=me,
        pk=pk,
    )
    return event, None


def _answer_message(result: services.AnswerResult, position: int | None) -> str:
    invitation = result.invitation
    if result.waitlisted:
        text = _(
            "The event is full: you are on the waiting list (position %(position)s). "
            "We will e-mail you when a place becomes free."
        ) % {"position": position}
    elif invitation.answer == Invitation.Answer.YES:
        text = _("Your place is confirmed. See you there!")
    elif invitation.answer == Invitation.Answer.MAYBE:
        text = _("Your answer is saved: maybe. Please confirm when you know.")
    else:
        text = _("Your answer is saved: you cannot come.")
    if not result.changed:
        text = _("Your answer was already recorded.") + " " + text
    return text


def _answer(invitation: Invitation, answer: str) -> tuple[services.AnswerResult, int | None]:
    result = services.invitation_answer(invitation_id=invitation.pk, answer=answer)
    return result, _waitlist_position_of(result.invitation)


# --- the portal pages -------------------------------------------------------------------


@login_required
def portal_events(request: HttpRequest, slug: str) -> HttpResponse:
    me = _own_participation(request, slug)
    now = timezone.now()
    invitations = list(_own_invitations(me))
    for invitation in invitations:
        invitation.position = _position(invitation)
    proposals = Event.objects.filter(network=me.network, proposed_by=me).order_by("-starts_at")
    return render(
        request,
        f"{TEMPLATES}/list.html",
        {
            "network": me.network,
            "me": me,
            "upcoming": [i for i in invitations if i.event.ends_at >= now],
            "past": [i for i in reversed(invitations) if i.event.ends_at < now],
            "proposals": proposals,
        },
    )


@login_required
def portal_event(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    me = _own_participation(request, slug)
    event, invitation = _own_event(me, pk)
    if request.method == "POST" and invitation is None:
        raise Http404
    form = AnswerForm(
        request.POST or None,
        initial={"answer": invitation.answer} if invitation is not None else None,
    )
    if request.method == "POST" and form.is_valid():
        try:
            result, position = _answer(invitation, form.cleaned_data["answer"])
        except services.EventError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _answer_message(result, position))
        return redirect("portal_event", slug, event.pk)
    return render(
        request,
        f"{TEMPLATES}/detail.html",
        {
            "network": me.network,
            "me": me,
            "event": event,
            "invitation": invitation,
            "position": _position(invitation) if invitation is not None else None,
            "form": form,
            "answers_open": invitation is not None and event.answers_open(),
            "over": event.ends_at < timezone.now(),
            "attendees": selectors.event_attendees_visible(event=event)
            if event.show_attendees
            and invitation is not None
            and event.status != Event.Status.CANCELLED
            else None,
        },
    )


@login_required
def portal_event_ics(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    me = _own_participation(request, slug)
    event, invitation = _own_event(me, pk)
    response = HttpResponse(ics.event_ics(event, invitation), content_type=CALENDAR)
    response["Content-Disposition"] = f'attachment; filename="event-{event.pk}.ics"'
    return response


@login_required
def portal_event_propose(request: HttpRequest, slug: str) -> HttpResponse:
    me = _own_participation(request, slug)
    form = ProposalForm(
        request.POST or None,
        network=me.network,
        initial={"host_organization": me.organization, "region": me.organization.region},
    )
    if request.method == "POST" and form.is_valid():
        event = services.event_propose(participant=me, data=form.cleaned_data)
        if event.status == Event.Status.PROPOSED:
            messages.success(
                request,
                _("Thank you! Your proposal waits for the coordinator's approval."),
            )
        else:
            messages.success(
                request, _("Your event is scheduled and the whole network is invited.")
            )
        return redirect("portal_events", slug)
    return render(
        request, f"{TEMPLATES}/propose.html", {"network": me.network, "me": me, "form": form}
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def portal_calendar(request: HttpRequest, slug: str) -> HttpResponse:
    me = _own_participation(request, slug)
    if request.method == "POST":
        had_one = bool(me.calendar_token)
        services.participant_calendar_token_reset(participant=me)
        if had_one:
            messages.success(
                request, _("Your calendar feed has a new address; the old one no longer works.")
            )
        else:
            messages.success(request, _("Your calendar feed is ready."))
        return redirect("portal_calendar", slug)
    feed_url = (
        settings.SITE_URL + reverse("calendar_feed", args=[me.calendar_token])
        if me.calendar_token
        else ""
    )
    return render(
        request,
        f"{TEMPLATES}/calendar.html",
        {
            "network": me.network,
            "me": me,
            "feed_url": feed_url,
            # webcal:// opens the subscribe dialog of Apple Calendar and Outlook directly.
            "webcal_url": "webcal://" + feed_url.split("://", 1)[1] if feed_url else "",
        },
    )


# --- without signing in: the answer links and the calendar feed --------------------------


def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The participant's subscribed calendar; the token in the address is the secret.
    Cancelled events stay in it (STATUS:CANCELLED) so that calendars remove them."""
    participant = get_object_or_404(
        Participant.objects.select_related("network"), calendar_token=token
    )
    invitations = list(selectors.portal_invitations(participant=participant))
    for invitation in invitations:
        invitation.participant = participant
    body = ics.feed_ics(invitations, name=participant.network.name)
    response = HttpResponse(body, content_type=CALENDAR)
    response["Content-Disposition"] = 'inline; filename="calendar.ics"'
    return response


REFUSED_STATUS = {"unknown": 404, "revoked": 410, "expired": 410}


def _invitee_language(request: HttpRequest, participant: Participant) -> str:
    """The invitee's own language, unless the visitor picked one with the switcher."""
    if settings.LANGUAGE_COOKIE_NAME in request.COOKIES:
        return translation.get_language()
    return participant.preferred_language


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def rsvp(request: HttpRequest, invitation_id: int, token: str) -> HttpResponse:
    """The answer link of an e-mail. A GET only shows the chosen answer, pre-selected;
    the confirming POST records it (mail scanners open links, they do not submit)."""
    try:
        invitation = services.rsvp_token_resolve(invitation_id=invitation_id, raw=token)
    except services.TokenRefused as refused:
        return render(
            request,
            f"{TEMPLATES}/rsvp_refused.html",
            {"reason": refused.reason},
            status=REFUSED_STATUS.get(refused.reason, 404),
        )
    event = invitation.event
    with translation.override(_invitee_language(request, invitation.participant)):
        context = {
            "network": event.network,
            "event": event,
            "invitation": invitation,
            "over": event.ends_at < timezone.now(),
        }
        chosen = request.GET.get("answer")
        form = AnswerForm(
            request.POST if request.method == "POST" else None,
            initial={"answer": chosen if chosen in Invitation.Answer.values else invitation.answer},
        )
        if request.method == "POST" and event.answers_open() and form.is_valid():
            before = Invitation.Answer(invitation.answer)
            try:
                result, position = _answer(invitation, form.cleaned_data["answer"])
            except services.EventError:
                invitation.refresh_from_db()  # closed in the meantime: fall through
            else:
                return render(
                    request,
                    f"{TEMPLATES}/rsvp_done.html",
                    {
                        **context,
                        "invitation": result.invitation,
                        "result": result,
                        "position": position,
                        "message": _answer_message(result, position),
                        "previous_answer": before.label
                        if result.changed and before != Invitation.Answer.PENDING
                        else None,
                    },
                )
        return render(
            request,
            f"{TEMPLATES}/rsvp.html",
            {
                **context,
                "form": form,
                "answers_open": event.answers_open(),
                "position": _waitlist_position_of(invitation),
            },
        )
