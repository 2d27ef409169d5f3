"""Downloads for research: the network as a graph file, and the observation log as
CSV, XLSX or JSON (coordinators and researchers)."""

from __future__ import annotations

import datetime as dt
import tempfile

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from coordination.permissions import get_network_for_user

from . import export_log
from .export import FORMATS, export_filename, network_export
from .forms.log import ObservationFilterForm
from .models import ExportJob
from .pseudonyms import namer_for

VIEW = "coordination.view_network"
MANAGE = "coordination.manage_network"
IDENTITIES = "coordination.view_identities"


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


# --- the observation log -------------------------------------------------------------


class ObservationExportForm(forms.Form):
    format = forms.ChoiceField(
        label=gettext_lazy("Format"),
        choices=[
            ("csv", gettext_lazy("CSV: a ZIP of observations, codings, codes and memos")),
            ("xlsx", gettext_lazy("Excel workbook (XLSX) with the same four sheets")),
            ("json", gettext_lazy("JSON: observations with their codings and memos")),
        ],
        initial="csv",
        widget=forms.RadioSelect,
    )
    pseudonymize = forms.BooleanField(
        label=gettext_lazy("Pseudonymise"),
        required=False,
        initial=True,
        help_text=gettext_lazy(
            "Replace participants, organizations, authors and events by stable pseudonyms "
            "and mask known names in every text."
        ),
    )

    def __init__(self, *args, may_name: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not may_name:
            del self.fields["pseudonymize"]


def _applied_filters(filters: ObservationFilterForm) -> list[tuple[str, str]]:
    """(label, value) of each filter that restricts the export, as the page names it."""
    if not filters.is_bound or not filters.is_valid():
        return []
    applied = []
    for name, field in filters.fields.items():
        value = filters.cleaned_data.get(name)
        if value in (None, ""):
            continue
        if isinstance(field, forms.ModelChoiceField):
            text = field.label_from_instance(value)
        elif isinstance(field, forms.ChoiceField):
            text = str(dict(field.choices).get(value, value))
        elif isinstance(value, dt.date):
            text = date_format(value)
        else:
            text = str(value)
        applied.append((str(field.label), text))
    return applied


def _attachment(response, filename: str):
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def observation_export(request, slug: str):
    network = get_network_for_user(request.user, slug, VIEW)
    may_name = request.user.has_perm(IDENTITIES, network)
    # The log's filters come from the query string (the log links here with its own);
    # the POST carries only the format and the pseudonymisation.
    filters = ObservationFilterForm(
        request.GET or None, network=network, namer=namer_for(request.user, network)
    )
    form = ObservationExportForm(request.POST or None, may_name=may_name)
    filters_ok = not filters.is_bound or filters.is_valid()
    criteria = filters.criteria if filters.is_bound else {}
    if request.method == "POST" and form.is_valid() and filters_ok:
        fmt = form.cleaned_data["format"]
        # Without identified access, always pseudonyms, whatever was posted.
        pseudonymized = not may_name or form.cleaned_data["pseudonymize"]
        filename = export_log.export_filename(network, fmt)
        if fmt == "xlsx":
            count = export_log.observation_count(network=network, criteria=criteria)
            if count > export_log.XLSX_INLINE_MAX_ROWS:
                export_log.export_job_create(
                    network=network,
                    user=request.user,
                    fmt=fmt,
                    pseudonymized=pseudonymized,
                    parameters={
                        name: request.GET[name] for name in filters.fields if request.GET.get(name)
                    },
                )
                messages.info(
                    request,
                    _(
                        "%(count)s observations: the workbook is being prepared in the "
                        "background and appears in the list below when it is ready."
                    )
                    % {"count": count},
                )
                return redirect(request.get_full_path())
            # Kept in memory up to a few MB, then on disk; FileResponse closes it.
            buffer = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)  # noqa: SIM115
            export_log.log_export_write(
                network=network, fmt=fmt, fp=buffer, pseudonymized=pseudonymized, criteria=criteria
            )
            buffer.seek(0)
            response = FileResponse(buffer, content_type=export_log.FORMATS[fmt].content_type)
            return _attachment(response, filename)
        response = StreamingHttpResponse(
            export_log.log_export_stream(
                network=network, fmt=fmt, pseudonymized=pseudonymized, criteria=criteria
            ),
            content_type=export_log.FORMATS[fmt].content_type,
        )
        return _attachment(response, filename)
    jobs = export_log.export_job_list(network=network, user=request.user)
    return render(
        request,
        "observations/export.html",
        {
            "network": network,
            "filters": filters,
            "form": form,
            "applied": _applied_filters(filters),
            "filters_ok": filters_ok,
            "count": export_log.observation_count(network=network, criteria=criteria)
            if filters_ok
            else None,
            "may_name": may_name,
            "xlsx_inline_max": export_log.XLSX_INLINE_MAX_ROWS,
            "jobs": jobs,
            "refresh": any(
                job.status in (ExportJob.Status.PENDING, ExportJob.Status.RUNNING) for job in jobs
            ),
            "querystring": request.GET.urlencode(),
        },
    )


def get_export_job_for_user(user, slug: str, pk: int) -> ExportJob:
    """The job if the user may download it (its requester, or a coordinator of the
    network), else 404. A file with real names also needs identified access now."""
    network = get_network_for_user(user, slug, VIEW)
    job = ExportJob.objects.filter(network=network, pk=pk, what="observations").first()
    if job is None:
        raise Http404
    if job.requested_by_id != user.pk and not user.has_perm(MANAGE, network):
        raise Http404
    if not job.pseudonymized and not user.has_perm(IDENTITIES, network):
        raise Http404
    job.network = network
    return job


@login_required
@require_GET
def observation_export_job_download(request, slug: str, pk: int):
    job = get_export_job_for_user(request.user, slug, pk)
    if job.status != ExportJob.Status.DONE or not job.file:
        raise Http404
    try:
        handle = job.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, content_type=export_log.FORMATS[job.format].content_type)
    filename = export_log.export_filename(
        job.network, job.format, day=timezone.localdate(job.created_at)
    )
    return _attachment(response, filename)
