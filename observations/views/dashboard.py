"""The indicator dashboard: headline numbers, time series and the network graph, for
coordinators and researchers. Numbers come from stored snapshots only; the graph and
the engagement table read the network's current records (in a fixed number of
queries whatever its size)."""

from __future__ import annotations

import csv
import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from coordination.models import Participant
from coordination.permissions import get_network_for_user

from .. import selectors
from ..export import network_rows, pseudonymize
from ..pseudonyms import namer_for

VIEW = "coordination.view_network"
MANAGE = "coordination.manage_network"

# Headline numbers, in the order shown; "rate" ones are shown as percentages.
HEADLINES = [
    ("members", "count"),
    ("organizations", "count"),
    ("regions", "count"),
    ("ties", "count"),
    ("cross_region_ties", "count"),
    ("ei_index", "index"),
    ("hub_dependence", "share"),
    ("brokered_share", "share"),
    ("recruited_by_members", "count"),
    ("member_initiated_events", "count"),
    ("spread_km", "km"),
    ("attendance_rate", "share"),
]
# The series the charts draw (and the CSV holds, with members by region spread out).
SERIES = [
    "members",
    "members_by_region",
    "ties",
    "cross_region_ties",
    "cross_region_joint_projects",
    "ei_index",
    "hub_dependence",
    "brokered_share",
    "lcc_share",
    "lcc_share_with_hub",
    "density",
    "fragmentation",
    "region_modularity",
    "coordinator_cross_region_path_share",
    "rsvp_response_rate",
    "attendance_rate",
    "bulletin_read_rate",
    "events_held",
    "bulletins_sent",
    "recruited_by_members",
    "spread_km",
    "organizations",
    "regions",
    "member_initiated_events",
]
# Everything the page reads from the snapshots.
KEYS = list(dict.fromkeys([*SERIES, *(key for key, _kind in HEADLINES)]))


def _month_before(day: dt.date) -> dt.date:
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    # The same day of the previous month, or its last day.
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    return dt.date(year, month, 28)


def _headlines(series) -> list[dict]:
    if not series:
        return []
    latest = series[-1]
    cutoff = _month_before(latest.as_of)
    previous = next((p for p in reversed(series[:-1]) if p.as_of <= cutoff), None)
    labels = selectors.INDICATOR_LABELS
    headlines = []
    for key, kind in HEADLINES:
        value = latest.values.get(key)
        before = previous.values.get(key) if previous else None
        change = None
        if isinstance(value, int | float) and isinstance(before, int | float):
            change = value - before
        headlines.append(
            {
                "key": key,
                "label": labels.get(key, key),
                "kind": kind,
                "value": value,
                "change": change,
            }
        )
    return headlines


@login_required
def dashboard(request, slug):
    network = get_network_for_user(request.user, slug, VIEW)
    namer = namer_for(request.user, network)
    series = selectors.snapshot_series(network=network, keys=KEYS)
    latest = series[-1] if series else None
    today = timezone.localdate()
    # A page of people (by name), then their numbers: the cost of the table does not
    # grow with the network.
    people = (
        Participant.objects.filter(network=network, joined_on__lte=today)
        .order_by("name_kana", "full_name", "pk")
        .values_list("pk", flat=True)
    )
    page = Paginator(people, 50).get_page(request.GET.get("page"))
    page.object_list = selectors.participant_engagement(
        network=network, as_of=today, participant_ids=list(page.object_list)
    )
    chart_data = {
        "dates": [point.as_of.isoformat() for point in series],
        "series": {key: [point.values.get(key) for point in series] for key in SERIES},
        "labels": {key: str(selectors.INDICATOR_LABELS.get(key, key)) for key in SERIES},
    }
    return render(
        request,
        "observations/dashboard.html",
        {
            "network": network,
            "namer": namer,
            "latest": latest,
            "previous_month": _month_before(latest.as_of) if latest else None,
            "headlines": _headlines(series),
            "chart_data": chart_data,
            "page": page,
            "today": today,
            "can_manage": request.user.has_perm(MANAGE, network),
            "graph_strings": {
                "coordinator": _("coordinator"),
                "members": _("members"),
                "ties": _("tie records"),
            },
        },
    )


@login_required
@require_POST
def dashboard_refresh(request, slug):
    """Queues the computation: the whole monthly history when there is none yet, else
    today's snapshot. The page shows the result when the worker is done."""
    network = get_network_for_user(request.user, slug, MANAGE)
    from ..tasks_indicators import backfill_indicator_snapshots, compute_indicator_snapshot

    has_history = selectors.snapshot_latest(network=network) is not None
    task = compute_indicator_snapshot if has_history else backfill_indicator_snapshots
    transaction.on_commit(lambda: task.delay(network.pk))
    messages.info(request, _("The indicators are being computed; reload the page in a moment."))
    return redirect("dashboard", network.slug)


@login_required
@require_GET
def dashboard_series_csv(request, slug):
    network = get_network_for_user(request.user, slug, VIEW)
    series = selectors.snapshot_series(network=network, keys=SERIES)
    regions = sorted(
        {name for point in series for name in (point.values.get("members_by_region") or {})}
    )
    plain = [key for key in SERIES if key != "members_by_region"]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response.write("\ufeff")  # Excel reads UTF-8 with a BOM
    writer = csv.writer(response, lineterminator="\r\n")
    writer.writerow(["as_of", *plain, *[f"members_by_region:{name}" for name in regions]])
    for point in series:
        by_region = point.values.get("members_by_region") or {}
        writer.writerow(
            [
                point.as_of.isoformat(),
                *["" if point.values.get(key) is None else point.values[key] for key in plain],
                *[by_region.get(name, 0) for name in regions],
            ]
        )
    response["Content-Disposition"] = (
        f'attachment; filename="indicators-{network.slug}-{timezone.localdate().isoformat()}.csv"'
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def dashboard_graph(request, slug):
    """The graph the dashboard draws: every participant with its dates (so the page can
    replay growth) and every confirmed tie, pseudonymised for those who may not see
    names. Never carries e-mail addresses."""
    network = get_network_for_user(request.user, slug, VIEW)
    namer = namer_for(request.user, network)
    nodes, edges = network_rows(network)
    if namer.pseudonymous:
        nodes, edges = pseudonymize(nodes, edges, network)
    data = {
        "nodes": [
            {
                "id": node["id"],
                "label": node.get("full_name") or node["id"],
                "region": node["region"],
                "organization": node["organization"],
                "kind": node["organization_kind"],
                "role": node["role"],
                "joined_on": node["joined_on"],
                "left_on": node["left_on"],
            }
            for node in nodes
        ],
        "edges": [
            {
                "id": edge["id"],
                "source": edge["source"],
                "target": edge["target"],
                "kind": edge["kind"],
                "started_on": edge["started_on"],
                "ended_on": edge["ended_on"],
                "brokered": bool(edge["initiated_by"]),
            }
            for edge in edges
        ],
    }
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "private, no-store"
    return response
