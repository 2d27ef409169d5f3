"""Writes about events: scheduling, invitations, answers, the waiting list, attendance."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from hubless.indicators_dirty import indicators_mark_dirty

from ..models import Event, Invitation, InvitationNotice, Network, Participant, RsvpToken

# Changing one of these moves the calendar entry: invitees get an update.
CALENDAR_FIELDS = ("starts_at", "ends_at", "venue", "address", "online_url", "title")


class EventError(Exception):
    """An action the event's state does not allow; the message says why."""


def _enqueue(task, *args) -> None:
    transaction.on_commit(lambda: task.delay(*args))


def _mail_invitees(event: Event) -> None:
    from ..tasks import send_event_mail

    _enqueue(send_event_mail, event.pk)


# --- scheduling ---------------------------------------------------------------------


@transaction.atomic
def event_save(*, network: Network, event: Event | None = None, data: dict) -> Event:
    """Create or edit an event. A scheduled event whose time or place changes gets a new
    calendar revision, and everyone already mailed gets the update."""
    creating = event is None or event._state.adding
    event = event or Event(network=network)
    # Compare with the stored row, not with the instance: a valid ModelForm has already
    # copied the new values onto its instance, which would hide every change.
    stored = None if creating else Event.objects.select_for_update().get(pk=event.pk)
    before = {f: getattr(stored, f) for f in CALENDAR_FIELDS} if stored else {}
    old_capacity = stored.capacity if stored else None
    if stored is not None:
        # Only the services change these; a stale instance must not undo them.
        event.status = stored.status
        event.sequence = stored.sequence
        event.attendance_recorded = stored.attendance_recorded
    for key, value in data.items():
        setattr(event, key, value)
    event.reminder_days = sorted({int(d) for d in event.reminder_days or []}, reverse=True)
    event.full_clean()
    moved = not creating and any(before[f] != getattr(event, f) for f in CALENDAR_FIELDS)
    if moved and event.status == Event.Status.SCHEDULED:
        event.sequence += 1
    event.save()
    if moved and event.status == Event.Status.SCHEDULED:
        RsvpToken.objects.filter(invitation__event=event).update(expires_at=event.ends_at)
        _mail_invitees(event)
    if not creating and event.capacity != old_capacity:
        _fill_from_waitlist(Event.objects.select_for_update().get(pk=event.pk))
    indicators_mark_dirty(event.network_id)
    return event


@transaction.atomic
def event_propose(*, participant: Participant, data: dict) -> Event:
    """A member proposes an event ("come and visit my factory")."""
    network = participant.network
    status = Event.Status.SCHEDULED if network.members_schedule_directly else Event.Status.PROPOSED
    event = event_save(network=network, data={**data, "status": status, "proposed_by": participant})
    if status == Event.Status.SCHEDULED:
        # Nobody approves it, so nobody chooses the audience: the whole network.
        from ..selectors import audience

        event_invite(
            event=event,
            participant_ids=list(audience(event=event, everyone=True).values_list("pk", flat=True)),
        )
    return event


@transaction.atomic
def event_approve(*, event: Event) -> Event:
    event = Event.objects.select_for_update().get(pk=event.pk)
    if event.status != Event.Status.PROPOSED:
        raise EventError(_("Only a proposed event can be approved."))
    event.status = Event.Status.SCHEDULED
    event.save(update_fields=["status", "updated_at"])
    indicators_mark_dirty(event.network_id)
    return event


@transaction.atomic
def event_cancel(*, event: Event) -> Event:
    event = Event.objects.select_for_update().get(pk=event.pk)
    if event.status in (Event.Status.CANCELLED, Event.Status.HELD):
        raise EventError(_("This event is already cancelled or held."))
    was_scheduled = event.status == Event.Status.SCHEDULED
    event.status = Event.Status.CANCELLED
    event.sequence += 1
    event.save(update_fields=["status", "sequence", "updated_at"])
    RsvpToken.objects.filter(invitation__event=event).update(revoked=True)
    if was_scheduled:
        _mail_invitees(event)  # the cancellation removes the calendar entry
    indicators_mark_dirty(event.network_id)
    return event


@transaction.atomic
def event_mark_held(*, event: Event) -> Event:
    event = Event.objects.select_for_update().get(pk=event.pk)
    if event.status not in (Event.Status.SCHEDULED, Event.Status.HELD):
        raise EventError(_("Only a scheduled event can be marked as held."))
    event.status = Event.Status.HELD
    event.attendance_recorded = True
    event.save(update_fields=["status", "attendance_recorded", "updated_at"])
    indicators_mark_dirty(event.network_id)
    return event


# --- invitations ----------------------------------------------------------------------


@transaction.atomic
def event_invite(*, event: Event, participant_ids: list[int]) -> int:
    """Invite participants of the event's network; returns how many are new.

    One invitation per participant (a unique constraint); the e-mails go out from a
    task after the commit, each exactly once."""
    event = Event.objects.select_for_update().get(pk=event.pk)
    if event.status in (Event.Status.CANCELLED, Event.Status.HELD, Event.Status.PROPOSED):
        raise EventError(_("Invitations can only be sent for a draft or scheduled event."))
    if event.status == Event.Status.DRAFT:
        event.status = Event.Status.SCHEDULED
        event.save(update_fields=["status", "updated_at"])
    ids = set(
        Participant.objects.filter(network=event.network, pk__in=participant_ids).values_list(
            "pk", flat=True
        )
    )
    already = set(
        event.invitations.filter(participant_id__in=ids).values_list("participant_id", flat=True)
    )
    Invitation.objects.bulk_create(
        [Invitation(event=event, participant_id=pk) for pk in sorted(ids - already)],
        ignore_conflicts=True,
    )
    _mail_invitees(event)
    indicators_mark_dirty(event.network_id)
    return len(ids - already)


def invitation_claim_mail(
    *, invitation_id: int, sequence: int
) -> tuple[Invitation, int | None] | None:
    """Claim the right to mail revision `sequence` of the event to one invitee.

    Returns the invitation and the revision they had before (None: first mail), or None
    when another run already sent it. A conditional UPDATE, so a task delivered twice
    mails once."""
    previous = (
        Invitation.objects.filter(pk=invitation_id)
        .values_list("mailed_sequence", flat=True)
        .first()
    )
    if previous is not None and previous >= sequence:
        return None
    claimed = (
        Invitation.objects.filter(pk=invitation_id)
        .filter(
            Q(mailed_sequence__isnull=True) if previous is None else Q(mailed_sequence=previous)
        )
        .update(mailed_sequence=sequence, mailed_at=timezone.now())
    )
    if not claimed:
        return None
    invitation = Invitation.objects.select_related(
        "event__network", "event__region", "event__host_organization", "participant"
    ).get(pk=invitation_id)
    return invitation, previous


def invitation_unclaim_mail(*, invitation_id: int, sequence: int, previous: int | None) -> None:
    Invitation.objects.filter(pk=invitation_id, mailed_sequence=sequence).update(
        mailed_sequence=previous
    )


# --- answer links ---------------------------------------------------------------------


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def rsvp_token_issue(*, invitation: Invitation) -> str:
    """A new secret for one e-mail's links; only its digest is kept."""
    raw = secrets.token_urlsafe(32)
    RsvpToken.objects.create(
        invitation=invitation, digest=_digest(raw), expires_at=invitation.event.ends_at
    )
    return raw


class TokenRefused(Exception):
    """The link is forged, for another invitation, revoked or expired."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def rsvp_token_resolve(
    *, invitation_id: int, raw: str, now: dt.datetime | None = None
) -> Invitation:
    now = now or timezone.now()
    token = (
        RsvpToken.objects.select_related("invitation__event__network", "invitation__participant")
        .filter(digest=_digest(raw))
        .first()
    )
    # A forged token and another invitation's token look the same to the visitor.
    if token is None or token.invitation_id != invitation_id:
        raise TokenRefused("unknown")
    if token.revoked:
        raise TokenRefused("revoked")
    if now >= token.expires_at:
        raise TokenRefused("expired")
    RsvpToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.invitation


# --- answers and the waiting list ------------------------------------------------------------


@dataclass
class AnswerResult:
    invitation: Invitation
    changed: bool
    waitlisted: bool
    promoted: list[int] = field(default_factory=list)


def _confirmed(event: Event):
    return event.invitations.filter(answer=Invitation.Answer.YES, waitlisted_at__isnull=True)


def _fill_from_waitlist(event: Event) -> list[int]:
    """Promote the longest waiting while there are seats. The caller holds the event lock."""
    from ..tasks import send_promotion_mail

    if event.status != Event.Status.SCHEDULED:
        return []
    waiting = event.invitations.filter(waitlisted_at__isnull=False).order_by("waitlisted_at", "pk")
    if event.capacity is not None:
        seats = event.capacity - _confirmed(event).count()
        waiting = waiting[: max(seats, 0)]
    promoted = list(waiting.values_list("pk", flat=True))
    if promoted:
        Invitation.objects.filter(pk__in=promoted).update(waitlisted_at=None)
        for pk in promoted:
            _enqueue(send_promotion_mail, pk)
    return promoted


@transaction.atomic
def invitation_answer(
    *, invitation_id: int, answer: str, now: dt.datetime | None = None
) -> AnswerResult:
    """Record an answer. Concurrent answers to one event are serialised by locking the
    event row, so the seats counted are the seats taken: capacity is never exceeded."""
    now = now or timezone.now()
    if answer not in (Invitation.Answer.YES, Invitation.Answer.NO, Invitation.Answer.MAYBE):
        raise EventError(_("Answer yes, no or maybe."))
    event_id = Invitation.objects.values_list("event_id", flat=True).get(pk=invitation_id)
    event = Event.objects.select_for_update().get(pk=event_id)
    invitation = Invitation.objects.select_for_update().get(pk=invitation_id)
    if not event.answers_open(now):
        raise EventError(_("Answers for this event are closed."))
    if invitation.answer == answer:
        return AnswerResult(invitation, changed=False, waitlisted=invitation.is_waitlisted)
    was_confirmed = invitation.is_confirmed
    invitation.answer = answer
    invitation.answered_at = now
    invitation.waitlisted_at = None
    full = (
        event.capacity is not None
        and _confirmed(event).exclude(pk=invitation.pk).count() >= event.capacity
    )
    if answer == Invitation.Answer.YES and full:
        invitation.waitlisted_at = now
    invitation.save(update_fields=["answer", "answered_at", "waitlisted_at"])
    promoted = _fill_from_waitlist(event) if was_confirmed else []
    indicators_mark_dirty(event.network_id)
    return AnswerResult(
        invitation, changed=True, waitlisted=invitation.is_waitlisted, promoted=promoted
    )


# --- attendance ---------------------------------------------------------------------------------


ATTENDANCE_OPEN = (Event.Status.SCHEDULED, Event.Status.HELD)


@transaction.atomic
def invitation_check_in(*, invitation: Invitation, attended: bool) -> Invitation:
    if (
        Event.objects.values_list("status", flat=True).get(pk=invitation.event_id)
        not in ATTENDANCE_OPEN
    ):
        raise EventError(_("Attendance can only be recorded for a scheduled or held event."))
    invitation.attended = attended
    invitation.checked_in_at = timezone.now() if attended else None
    invitation.save(update_fields=["attended", "checked_in_at"])
    indicators_mark_dirty(invitation.event.network_id)
    return invitation


@transaction.atomic
def event_add_walk_in(*, event: Event, participant: Participant) -> Invitation:
    if participant.network_id != event.network_id:
        raise EventError(_("The walk-in must be a participant of this network."))
    if event.status not in ATTENDANCE_OPEN:
        raise EventError(_("Attendance can only be recorded for a scheduled or held event."))
    invitation, _created = Invitation.objects.get_or_create(
        event=event, participant=participant, defaults={"walk_in": True}
    )
    return invitation_check_in(invitation=invitation, attended=True)


# --- notices (reminders, promotions) ---------------------------------------------------------


def notice_claim(*, invitation_id: int, key: str) -> bool:
    """True once per (invitation, key): the row is the proof the notice went out."""
    try:
        with transaction.atomic():
            InvitationNotice.objects.create(invitation_id=invitation_id, key=key)
    except IntegrityError:
        return False
    return True


def notice_sent(*, invitation_id: int, key: str) -> None:
    InvitationNotice.objects.filter(invitation_id=invitation_id, key=key).update(
        sent_at=timezone.now()
    )


def notice_release(*, invitation_id: int, key: str) -> None:
    """The send failed: let a retry claim it again."""
    InvitationNotice.objects.filter(
        invitation_id=invitation_id, key=key, sent_at__isnull=True
    ).delete()


@transaction.atomic
def event_remind_now(*, event: Event, only_unanswered: bool = True) -> int:
    """The coordinator's "remind now": one reminder per person per click."""
    from ..tasks import send_reminder

    event = Event.objects.get(pk=event.pk)
    if event.status != Event.Status.SCHEDULED:
        raise EventError(_("Only a scheduled event has reminders."))
    invitations = event.invitations.all()
    invitations = (
        invitations.filter(answer=Invitation.Answer.PENDING)
        if only_unanswered
        else invitations.exclude(answer=Invitation.Answer.NO)
    )
    key = f"manual:{timezone.now().strftime('%Y%m%dT%H%M%S%f')}"
    ids = list(invitations.values_list("pk", flat=True))
    for pk in ids:
        _enqueue(send_reminder, pk, key)
    return len(ids)


# --- the personal calendar feed -------------------------------------------------------------------


def participant_calendar_token_reset(*, participant: Participant) -> str:
    """A new secret feed address; the old one stops working at once."""
    participant.calendar_token = secrets.token_urlsafe(32)
    participant.save(update_fields=["calendar_token"])
    return participant.calendar_token
