"""The participants' bulletin pages, unsubscribe and the open pixel. (Being written.)"""

from django.http import Http404

__all__ = ["bulletin_open", "bulletin_unsubscribe", "portal_bulletin", "portal_bulletins"]


def _todo(*args, **kwargs):
    raise Http404


portal_bulletins = portal_bulletin = bulletin_unsubscribe = bulletin_open = _todo
