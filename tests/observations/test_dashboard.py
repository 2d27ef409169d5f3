"""The indicator dashboard: who sees it, what it shows, what it downloads, and that its
query count does not grow with the network."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from coordination.models import Participant
from observations.models import IndicatorSnapshot, Tie
from observations.pseudonyms import pseudonym
from observations.services.indicators import snapshots_backfill
from tests import factories

pytestmark = pytest.mark.django_db

ROLES = [
    "coordinator",
    "researcher",
    "identified_researcher",
    "member_a",
    "outsider",
    "stranger",
    "anonymous",
]
READERS = {"coordinator", "researcher", "identified_researcher"}


def _user(request, role):
    if role == "anonymous":
        return None
    value = request.getfixturevalue(role)
    return value.user if isinstance(value, Participant) else value


@pytest.fixture
def tied(network, member_a, member_b, coordinator):
    Tie.objects.create(
        network=network,
        source=member_a,
        target=member_b,
        kind=Tie.Kind.JOINT_PROJECT,
        started_on=dt.date(2025, 6, 1),
        initiated_by=Participant.objects.get(user=coordinator),
    )
    snapshots_backfill(network=network, until=timezone.localdate())
    return network


@pytest.mark.parametrize("role", ROLES)
def test_dashboard_pages_by_role(client, request, role, tied):
    user = _user(request, role)
    if user is not None:
        client.force_login(user)
    slug = tied.slug
    for name in ("dashboard", "dashboard_series_csv", "dashboard_graph"):
        response = client.get(reverse(name, args=[slug]))
        if user is None:
            assert response.status_code == 302, name
        elif role in READERS:
            assert response.status_code == 200, name
        else:
            assert response.status_code == 404, name
    refresh = client.post(reverse("dashboard_refresh", args=[slug]))
    if user is None:
        assert refresh.status_code == 302 and "/accounts/login/" in refresh.url
    elif role == "coordinator":
        assert refresh.status_code == 302 and refresh.url == reverse("dashboard", args=[slug])
    else:
        assert refresh.status_code == 404


def test_headlines_show_the_latest_snapshot_and_the_change_since_a_month(
    client, network, coordinator, member_a, member_b
):
    today = timezone.localdate()
    month_ago = today - dt.timedelta(days=40)
    IndicatorSnapshot.objects.create(
        network=network, as_of=month_ago, values={"members": 3, "ties": 1, "ei_index": -1.0}
    )
    IndicatorSnapshot.objects.create(
        network=network, as_of=today, values={"members": 5, "ties": 4, "ei_index": 0.5}
    )
    client.force_login(coordinator)
    html = client.get(reverse("dashboard", args=[network.slug])).content.decode()
    headlines = html[html.index('id="headlines"') : html.index('id="charts"')]
    assert '<div class="stat" data-key="members">5</div>' in headlines
    assert "+2" in headlines and "+3" in headlines  # members and ties since a month ago
    assert "0.50" in headlines and "+1.50" in headlines


def test_without_snapshots_the_coordinator_can_compute_the_history(
    client, network, coordinator, member_a, django_capture_on_commit_callbacks
):
    client.force_login(coordinator)
    html = client.get(reverse("dashboard", args=[network.slug])).content.decode()
    assert 'id="no-snapshots"' in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("dashboard_refresh", args=[network.slug]))
    assert response.status_code == 302
    # Eager Celery in tests: the backfill ran on commit, from the start to today.
    assert IndicatorSnapshot.objects.filter(network=network).exists()
    assert IndicatorSnapshot.objects.filter(network=network, as_of=timezone.localdate()).exists()


def test_the_graph_never_carries_emails_and_uses_pseudonyms_for_researchers(
    client, tied, researcher, identified_researcher, member_a
):
    url = reverse("dashboard_graph", args=[tied.slug])
    client.force_login(researcher)
    data = client.get(url).json()
    text = repr(data)
    assert "Member A" not in text and "@" not in text
    assert pseudonym(tied, member_a.pk) in {node["id"] for node in data["nodes"]}
    assert [edge["kind"] for edge in data["edges"]] == ["joint_project"]
    assert data["edges"][0]["brokered"] is True
    client.force_login(identified_researcher)
    data = client.get(url).json()
    assert "Member A" in {node["label"] for node in data["nodes"]}
    assert "@" not in repr(data)
    coordinator_node = next(node for node in data["nodes"] if node["role"] == "coordinator")
    assert coordinator_node["joined_on"]


def test_the_series_csv_has_one_row_per_snapshot_and_regions_spread_out(client, tied, coordinator):
    client.force_login(coordinator)
    response = client.get(reverse("dashboard_series_csv", args=[tied.slug]))
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == IndicatorSnapshot.objects.filter(network=tied).count()
    last = rows[-1]
    assert last["as_of"] == timezone.localdate().isoformat()
    assert (last["members"], last["ties"], last["cross_region_ties"]) == ("2", "1", "1")
    assert (last["members_by_region:Tsubame"], last["members_by_region:Uonuma"]) == ("1", "1")


def test_the_researchers_engagement_table_is_pseudonymised(client, tied, researcher, member_a):
    client.force_login(researcher)
    html = client.get(reverse("dashboard", args=[tied.slug])).content.decode()
    table = html[html.index('id="engagement"') :]
    assert "Member A" not in table and "A Works" not in table
    assert pseudonym(tied, member_a.pk) in table


def _grow(network, region_a, region_b, n: int) -> None:
    regions = [region_a, region_b]
    people = [
        factories.ParticipantFactory(
            network=network,
            organization=factories.OrganizationFactory(network=network, region=regions[i % 2]),
        )
        for i in range(n)
    ]
    Tie.objects.bulk_create(
        Tie(
            network=network,
            source=people[i],
            target=people[i + 1],
            kind=Tie.Kind.TRANSACTION,
            started_on=dt.date(2025, 5, 1),
        )
        for i in range(n - 1)
    )


def test_the_dashboard_query_count_does_not_grow_with_the_network(
    client, network, region_a, region_b, coordinator, django_assert_num_queries
):
    def queries() -> int:
        snapshots_backfill(network=network, until=timezone.localdate())
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("dashboard", args=[network.slug])).status_code == 200
        return len(captured)

    client.force_login(coordinator)
    client.get(reverse("dashboard", args=[network.slug]))
    _grow(network, region_a, region_b, 5)
    small = queries()
    _grow(network, region_a, region_b, 80)
    assert queries() == small
