"""The participants' bulletin pages, the unsubscribe page (RFC 8058 one-click) and the
open-tracking pixel. The last two work without signing in: the signed token in the
address is the secret."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .. import selectors, services
from ..bulletin_mail import delivery_from_open_token, participant_from_unsubscribe_token
from ..models import Delivery
from ..paging import page_of
from .events_portal import _invitee_language
from .people import _own_participation

__all__ = ["bulletin_open", "bulletin_unsubscribe", "portal_bulletin", "portal_bulletins"]

TEMPLATES = "coordination/bulletins"
PAGE_SIZE = 30
ONE_CLICK = "One-Click"
# The smallest transparent GIF: 1×1, one transparent colour.
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


# --- the portal ----------------------------------------------------------------------


@login_required
def portal_bulletins(request: HttpRequest, slug: str) -> HttpResponse:
    me = _own_participation(request, slug)
    page = page_of(request, selectors.portal_bulletins(participant=me), PAGE_SIZE)
    return render(
        request,
        f"{TEMPLATES}/portal_list.html",
        {"network": me.network, "me": me, "page": page, "querystring": ""},
    )


@login_required
def portal_bulletin(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """The web version of a bulletin sent to me; anything else is a 404."""
    me = _own_participation(request, slug)
    delivery = (
        selectors.portal_bulletins(participant=me)
        .filter(bulletin_id=pk, bulletin__network=me.network)
        .first()
    )
    if delivery is None:
        raise Http404
    first_read = services.delivery_mark_read(delivery=delivery)
    bulletin = delivery.bulletin
    return render(
        request,
        f"{TEMPLATES}/portal_detail.html",
        {
            "network": me.network,
            "me": me,
            "bulletin": bulletin,
            "delivery": delivery,
            "first_read": first_read,
            "attachments": list(bulletin.attachments.order_by("pk")),
        },
    )


# --- without signing in --------------------------------------------------------------


def _one_click(request: HttpRequest) -> bool:
    """RFC 8058: the mail program POSTs "List-Unsubscribe=One-Click"."""
    if request.POST.get("List-Unsubscribe") == ONE_CLICK:
        return True
    if request.content_type == "multipart/form-data":
        return False
    return request.body.strip() == b"List-Unsubscribe=One-Click"


# CSRF is off on purpose: mail programs post the one-click request without a token, and
# the signed token in the address is the secret, so the page's own buttons do not need
# one either. A GET never changes anything (mail scanners open links).
@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def bulletin_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    participant = participant_from_unsubscribe_token(token)
    if participant is None:
        raise Http404
    changed = None
    if request.method == "POST":
        if _one_click(request):
            receive = False
        elif request.POST.get("receive") in ("0", "1"):
            receive = request.POST["receive"] == "1"
        else:
            return HttpResponse(status=400)
        participant = services.participant_set_bulletins(participant=participant, receive=receive)
        changed = "subscribed" if receive else "unsubscribed"
    with translation.override(_invitee_language(request, participant)):
        return render(
            request,
            f"{TEMPLATES}/unsubscribe.html",
            {
                "participant": participant,
                "network": participant.network,
                "changed": changed,
            },
        )


@never_cache
@require_http_methods(["GET", "HEAD"])
def bulletin_open(request: HttpRequest, token: str) -> HttpResponse:
    """The invisible image of the e-mail: the first load records the first read, only
    where the network chose to track opens; elsewhere the address does not exist."""
    delivery = delivery_from_open_token(token)
    if delivery is None or not delivery.bulletin.network.track_bulletin_opens:
        raise Http404
    # "sending": the message is out but its worker has not recorded that yet.
    if request.method == "GET" and delivery.status in (
        Delivery.Status.SENT,
        Delivery.Status.SENDING,
    ):
        services.delivery_mark_read(delivery=delivery)
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store"
    return response
