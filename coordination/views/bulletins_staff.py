"""The coordinator's bulletin pages. (Being written.)"""

from django.http import Http404

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


def _todo(*args, **kwargs):
    raise Http404


bulletin_list = bulletin_create = bulletin_detail = bulletin_edit = _todo
bulletin_audience = bulletin_preview = bulletin_action = bulletin_attachment = _todo
