"""The dashboard in a real browser: the charts and the network graph are drawn, the
coordinator can be hidden, and the date slider replays growth."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from coordination.models import Participant
from observations.models import Tie
from observations.services.indicators import snapshots_backfill
from tests import factories
from tests.e2e.session import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_dashboard_draws_charts_and_the_graph(
    page, client, network, region_a, member_a, member_b, coordinator
):
    late = factories.ParticipantFactory(
        network=network, full_name="Late Joiner", joined_on=timezone.localdate()
    )
    hub = Participant.objects.get(user=coordinator)
    Tie.objects.create(
        network=network,
        source=member_a,
        target=member_b,
        kind="joint_project",
        started_on=dt.date(2025, 6, 1),
        initiated_by=hub,
    )
    Tie.objects.create(
        network=network,
        source=hub,
        target=late,
        kind="acquaintance",
        started_on=timezone.localdate(),
    )
    snapshots_backfill(network=network, until=timezone.localdate())
    log_in(page, client, coordinator)
    page.goto(page.base + "/n/alpha/dashboard/")
    page.wait_for_selector("#graph[data-ready=true]")
    for chart in ("chart-members", "chart-ties", "chart-hub", "chart-engagement"):
        assert page.evaluate(f"!!window.Chart.getChart('{chart}')"), chart
    visible = "document.getElementById('graph').cy.nodes(':visible').length"
    edges = "document.getElementById('graph').cy.edges(':visible').length"
    assert page.evaluate(visible) == 4 and page.evaluate(edges) == 2
    assert page.locator("#graph canvas").count() >= 1
    # Without the coordinator, their tie goes too.
    page.uncheck("#show-hub")
    assert page.evaluate(visible) == 3 and page.evaluate(edges) == 1
    page.check("#show-hub")
    # Back to the first month: only the founders, no ties yet.
    page.evaluate(
        "(() => { const s = document.getElementById('graph-date'); s.value = '0';"
        " s.dispatchEvent(new Event('input')); })()"
    )
    assert page.evaluate(visible) == 3 and page.evaluate(edges) == 0
    assert "2025-04" in page.locator("#graph-date-label").inner_text()
    # The PNG link gets an image when clicked.
    page.click("#graph-png")
    assert page.get_attribute("#graph-png", "href").startswith("data:image/png")
