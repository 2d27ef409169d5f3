"""iCalendar (RFC 5545) for events: one stable UID per event, SEQUENCE for revisions,
METHOD:REQUEST for invitations and updates, METHOD:CANCEL to remove the entry."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, vCalAddress, vText
from icalendar import Event as VEvent

from .markup import plain_text
from .models import Event, Invitation

PARTSTAT = {
    Invitation.Answer.PENDING: "NEEDS-ACTION",
    Invitation.Answer.YES: "ACCEPTED",
    Invitation.Answer.MAYBE: "TENTATIVE",
    Invitation.Answer.NO: "DECLINED",
}


def _organizer() -> vCalAddress:
    from email.utils import parseaddr

    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    organizer = vCalAddress(f"mailto:{address or 'hubless@localhost'}")
    organizer.params["cn"] = vText(name or "Hubless")
    return organizer


def _location(event: Event) -> str:
    parts = [event.venue, event.address]
    if event.online_url:
        parts.append(event.online_url)
    return " / ".join(p for p in parts if p)


def _vevent(event: Event, invitation: Invitation | None, *, cancelled: bool) -> VEvent:
    item = VEvent()
    item.add("uid", event.uid)
    item.add("sequence", event.sequence)
    item.add("dtstamp", timezone.now())
    item.add("dtstart", timezone.localtime(event.starts_at))
    item.add("dtend", timezone.localtime(event.ends_at))
    item.add("summary", event.title)
    item.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    location = _location(event)
    if location:
        item.add("location", location)
    description = plain_text(event.description)
    link = settings.SITE_URL + event.get_portal_url()
    item.add("description", f"{description}\n\n{link}".strip())
    item.add("url", link)
    item.add("organizer", _organizer())
    if invitation is not None:
        attendee = vCalAddress(f"mailto:{invitation.participant.email}")
        attendee.params["cn"] = vText(invitation.participant.full_name)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        # On the waiting list "yes" is not a place yet.
        status = "TENTATIVE" if invitation.is_waitlisted else PARTSTAT[invitation.answer]
        attendee.params["partstat"] = vText(status)
        attendee.params["rsvp"] = vText("FALSE")
        item.add("attendee", attendee, encode=0)
    return item


def _calendar(method: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", "-//Hubless//Hubless events//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    return calendar


def _to_ical(calendar: Calendar) -> bytes:
    # Times carry TZID=Asia/Tokyo; RFC 5545 (3.2.19) requires a VTIMEZONE for each TZID,
    # and clients without one (Outlook) may show the wrong time or refuse the entry.
    calendar.add_missing_timezones()
    return calendar.to_ical()


def invitation_ics(invitation: Invitation) -> bytes:
    """What an invitation, update or cancellation e-mail carries."""
    event = invitation.event
    cancelled = event.status == Event.Status.CANCELLED
    calendar = _calendar("CANCEL" if cancelled else "REQUEST")
    calendar.add_component(_vevent(event, invitation, cancelled=cancelled))
    return _to_ical(calendar)


def feed_ics(invitations: Iterable[Invitation], name: str) -> bytes:
    """A subscribable feed (METHOD:PUBLISH) of a participant's events."""
    calendar = _calendar("PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", settings.TIME_ZONE)
    for invitation in invitations:
        event = invitation.event
        calendar.add_component(
            _vevent(event, invitation, cancelled=event.status == Event.Status.CANCELLED)
        )
    return _to_ical(calendar)


def event_ics(event: Event, invitation: Invitation | None = None) -> bytes:
    """A single event to add to one's calendar (no METHOD: a plain import)."""
    calendar = _calendar("")
    calendar.add_component(
        _vevent(event, invitation, cancelled=event.status == Event.Status.CANCELLED)
    )
    return _to_ical(calendar)
