"""The partner-region finder's pages: thin, access first, then a selector or a service."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from coordination.permissions import get_network_for_user
from coordination.tables import TableError
from observations.pseudonyms import namer_for

from . import charts, export, selectors, services
from .forms import DatasetResolveForm, DatasetUploadForm, SearchForm, initial_from_parameters
from .models import PartnerSearch
from .permissions import MANAGE, VIEW, get_dataset_for_user, get_search_for_user
from .search import SearchError, SearchParameters
from .stats import BASE_COLUMNS, indicator_label

RECENT_SEARCHES = 20


def _download(content: bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def partner_home(request, slug):
    network = get_network_for_user(request.user, slug, VIEW)
    return render(
        request,
        "partners/home.html",
        {
            "network": network,
            "datasets": selectors.dataset_list(network=network),
            "searches": selectors.search_list(network=network)[:RECENT_SEARCHES],
            "can_manage": request.user.has_perm(MANAGE, network),
            "namer": namer_for(request.user, network),
        },
    )


@login_required
def dataset_upload(request, slug):
    network = get_network_for_user(request.user, slug, MANAGE)
    form = DatasetUploadForm(request.POST or None, request.FILES or None)
    errors = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        coordinates = data.get("coordinates")
        try:
            dataset = services.dataset_upload(
                network=network,
                user=request.user,
                name=data["name"],
                layout=data["layout"],
                filename=data["file"].name,
                data=data["file"].read(),
                source_note=data["source_note"],
                year=data["year"],
                coordinates_filename=coordinates.name if coordinates else "",
                coordinates=coordinates.read() if coordinates else b"",
            )
        except TableError as exc:
            errors = exc.errors
        else:
            if dataset.is_ready:
                messages.success(
                    request,
                    _("%(name)s is ready: %(rows)s municipalities, %(indicators)s indicators.")
                    % {
                        "name": dataset.name,
                        "rows": dataset.row_count,
                        "indicators": len(dataset.indicators),
                    },
                )
            return redirect(dataset)
    return render(
        request,
        "partners/dataset_upload.html",
        {"network": network, "form": form, "errors": errors, "columns": BASE_COLUMNS},
    )


@login_required
@require_GET
def dataset_detail(request, slug, pk):
    dataset = get_dataset_for_user(request.user, slug, pk, VIEW)
    return render(
        request,
        "partners/dataset_detail.html",
        {
            "network": dataset.network,
            "dataset": dataset,
            "indicators": [(name, indicator_label(name)) for name in dataset.indicators],
            "searches": selectors.search_list(network=dataset.network, dataset=dataset)[
                :RECENT_SEARCHES
            ],
            "can_manage": request.user.has_perm(MANAGE, dataset.network),
            "namer": namer_for(request.user, dataset.network),
        },
    )


@login_required
@require_POST
def dataset_resolve(request, slug, pk):
    dataset = get_dataset_for_user(request.user, slug, pk, MANAGE)
    form = DatasetResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose to drop the indicators or the municipalities."))
        return redirect(dataset)
    try:
        dataset = services.dataset_resolve(dataset_id=dataset.pk, drop=form.cleaned_data["drop"])
    except services.DatasetNotResolvable as exc:
        messages.error(request, str(exc))
    except TableError as exc:
        messages.error(request, " ".join(str(e) for e in exc.errors))
    else:
        messages.success(
            request,
            _("%(name)s is ready: %(rows)s municipalities, %(indicators)s indicators.")
            % {
                "name": dataset.name,
                "rows": dataset.row_count,
                "indicators": len(dataset.indicators),
            },
        )
    return redirect("partner_dataset_detail", slug, pk)


@login_required
def dataset_delete(request, slug, pk):
    dataset = get_dataset_for_user(request.user, slug, pk, MANAGE)
    if request.method == "POST":
        services.dataset_delete(dataset=dataset)
        messages.success(request, _("Dataset deleted with its searches."))
        return redirect("partner_home", slug)
    return render(
        request,
        "partners/dataset_delete.html",
        {
            "network": dataset.network,
            "dataset": dataset,
            "search_count": dataset.searches.count(),
        },
    )


@login_required
@require_GET
def dataset_download(request, slug, pk):
    dataset = get_dataset_for_user(request.user, slug, pk, VIEW)
    if not dataset.is_ready:
        raise Http404
    table = selectors.dataset_table(dataset=dataset)
    return _download(table.to_csv(), export.dataset_filename(dataset), export.CONTENT_TYPES["csv"])


@login_required
def search_create(request, slug, pk):
    dataset = get_dataset_for_user(request.user, slug, pk, MANAGE)
    if not dataset.is_ready:
        messages.error(request, _("Resolve the dataset's problems before searching it."))
        return redirect(dataset)
    targets, prefectures = selectors.dataset_choices(dataset=dataset)
    initial = {}
    earlier = request.GET.get("from", "")
    if request.method == "GET" and earlier.isdigit():
        # "Change and run again": the form starts from an earlier search's parameters.
        search = selectors.search_of_dataset(dataset=dataset, pk=int(earlier))
        if search is not None:
            initial = initial_from_parameters(search.parameters)
    form = SearchForm(
        request.POST or None,
        request.FILES or None,
        initial=initial,
        targets=targets,
        prefectures=prefectures,
    )
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data.get("travel_times")
        try:
            search = services.partner_search_create(
                dataset=dataset,
                user=request.user,
                parameters=form.parameters(),
                travel_matrix=form.travel_matrix,
                travel_times_filename=upload.name if upload else "",
            )
        except SearchError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect(search)
    return render(
        request,
        "partners/search_form.html",
        {"network": dataset.network, "dataset": dataset, "form": form},
    )


def _candidate_view(candidate: dict, details: dict[int, dict], regions: dict) -> dict:
    drivers = []
    for driver in candidate["drivers"]:
        component = details.get(driver["component"], {})
        drivers.append(
            {
                **driver,
                "indicators": [
                    {"label": indicator_label(x["indicator"]), "loading": x["loading"]}
                    for x in component.get("top_loadings", [])[:3]
                ],
            }
        )
    return {**candidate, "drivers": drivers, "region": regions.get(candidate["code"])}


@login_required
@require_GET
def search_detail(request, slug, pk):
    search = get_search_for_user(request.user, slug, pk, VIEW)
    network = search.network
    context = {
        "network": network,
        "search": search,
        "dataset": search.dataset,
        "can_manage": request.user.has_perm(MANAGE, network),
        # Staff are named by e-mail for those who may see names, else by pseudonym.
        "namer": namer_for(request.user, network),
    }
    if search.status == PartnerSearch.Status.DONE:
        result = search.result
        top = search.parameters.get("top") or len(result["candidates"])
        details = {c["number"]: c for c in result["component_details"]}
        regions = selectors.region_codes(network=network)
        shown = [_candidate_view(c, details, regions) for c in result["candidates"][:top]]
        cumulative = 0.0
        components = []
        for c in result["component_details"]:
            cumulative += c["explained"]
            components.append(
                {
                    **c,
                    "cumulative": cumulative,
                    "top_loadings": [
                        {**x, "label": indicator_label(x["indicator"])} for x in c["top_loadings"]
                    ],
                }
            )
        context.update(
            {
                "result": result,
                "candidates": shown,
                "components": components,
                "target_region": regions.get(search.target_code),
                "dropped_constant": [indicator_label(n) for n in result["dropped_constant"]],
                "scree": charts.scree_svg(
                    result["eigenvalues"], result["explained_variance"], result["components"]
                ),
                "scatter": charts.scatter_svg(
                    result["candidates"],
                    highlighted=len(shown),
                    min_km=search.parameters.get("min_km"),
                ),
                "map": charts.map_svg(result["points"], result["target"], shown),
                "command": export.cli_command(search),
                "dataset_file": export.dataset_filename(search.dataset),
            }
        )
    return render(request, "partners/search_detail.html", context)


@login_required
@require_GET
def search_export(request, slug, pk, fmt):
    search = get_search_for_user(request.user, slug, pk, VIEW)
    if fmt not in export.CONTENT_TYPES or search.status != PartnerSearch.Status.DONE:
        raise Http404
    content = export.search_csv(search) if fmt == "csv" else export.search_xlsx(search)
    return _download(content, export.export_filename(search, fmt), export.CONTENT_TYPES[fmt])


@login_required
@require_POST
def search_rerun(request, slug, pk):
    """The same search again, on the same dataset with the same parameters (and travel
    times): a check that the stored result is reproducible."""
    search = get_search_for_user(request.user, slug, pk, MANAGE)
    matrix = None
    if search.travel_times is not None:
        matrix = [(search.target_code, code, hours) for code, hours in search.travel_times.items()]
    try:
        again = services.partner_search_create(
            dataset=search.dataset,
            user=request.user,
            parameters=SearchParameters.from_dict(search.parameters),
            travel_matrix=matrix,
            travel_times_filename=search.travel_times_filename,
        )
    except SearchError as exc:
        messages.error(request, str(exc))
        return redirect(search)
    return redirect(again)


@login_required
@require_POST
def search_make_region(request, slug, pk):
    search = get_search_for_user(request.user, slug, pk, MANAGE)
    if search.status != PartnerSearch.Status.DONE:
        raise Http404
    try:
        region = services.candidate_region_create(search=search, code=request.POST.get("code", ""))
    except services.RegionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("%(name)s is now a region of %(network)s.")
            % {"name": region.name, "network": search.network.name},
        )
    return redirect(reverse("partner_search_detail", args=[slug, pk]) + "#candidates")
