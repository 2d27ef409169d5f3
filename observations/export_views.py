"""Download of the network as a graph file (coordinators and researchers)."""

from __future__ import annotations

import tempfile

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from coordination.permissions import get_network_for_user

from .export import FORMATS, export_filename, network_export

VIEW = "coordination.view_network"
MANAGE = "coordination.manage_network"


@login_required
@require_GET
def network_export_download(request, slug: str, fmt: str):
    network = get_network_for_user(request.user, slug, VIEW)
    if fmt not in FORMATS:
        raise Http404
    # Researchers always get pseudonyms; a coordinator chooses (names by default).
    pseudonymized = (
        not request.user.has_perm(MANAGE, network) or request.GET.get("pseudonymize") == "1"
    )
    # Kept in memory up to a few MB, then on disk; FileResponse streams it from there
    # and closes it when the response is done, hence no context manager.
    buffer = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)  # noqa: SIM115
    network_export(network=network, fmt=fmt, fp=buffer, pseudonymized=pseudonymized)
    buffer.seek(0)
    response = FileResponse(
        buffer,
        as_attachment=True,
        filename=export_filename(network, fmt),
        content_type=FORMATS[fmt].content_type,
    )
    response["Cache-Control"] = "private, no-store"
    return response
