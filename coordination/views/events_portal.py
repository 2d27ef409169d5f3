"""The participants' event pages, answer links and calendar feed. (Being written.)"""

from django.http import Http404


def _todo(*args, **kwargs):
    raise Http404


portal_events = portal_event = portal_event_ics = portal_event_propose = _todo
portal_calendar = calendar_feed = rsvp = _todo
