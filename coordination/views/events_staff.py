"""The coordinator's event pages. (Being written: see the events issue.)"""

from django.http import Http404


def _todo(*args, **kwargs):
    raise Http404


event_list = event_create = event_detail = event_edit = event_audience = _todo
event_action = event_export = event_signin_sheet = event_checkin = _todo
