"""The observation log: writes, history, filters, pages per role, pseudonyms."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from coordination.models import Participant
from coordination.paging import PAGE_SIZE
from observations import selectors, services
from observations.models import Coding, Metric, Observation
from observations.pseudonyms import Namer, pseudonym
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
def metric(network):
    return factories.MetricFactory(network=network, name="Inter-region transactions", unit="件")


@pytest.fixture
def note(network, member_a, coordinator):
    observation = services.observation_create(
        network=network,
        data={
            "observed_on": dt.date(2025, 6, 1),
            "category": Observation.Category.ATTITUDE_CHANGE,
            "title": "Member A opens up",
            "body": "Member A said A Works would share its press line.",
            "participants": [member_a],
            "organizations": [member_a.organization],
        },
        user=coordinator,
    )
    return observation


# --- services --------------------------------------------------------------------------


def test_a_quantitative_observation_needs_a_metric_and_a_value(network, coordinator, metric):
    with pytest.raises(services.ObservationError, match="metric and a value"):
        services.observation_create(
            network=network,
            data={
                "observed_on": dt.date(2025, 6, 1),
                "kind": "quantitative",
                "category": "collaboration",
                "title": "Count",
            },
            user=coordinator,
        )
    saved = services.observation_create(
        network=network,
        data={
            "observed_on": dt.date(2025, 6, 1),
            "kind": "quantitative",
            "category": "collaboration",
            "title": "Count",
            "metric": metric,
            "value": Decimal("3"),
        },
        user=coordinator,
    )
    assert (saved.value, saved.unit, saved.author) == (Decimal("3"), "件", coordinator)


def test_a_qualitative_observation_drops_a_stray_measurement(network, coordinator, metric):
    saved = services.observation_create(
        network=network,
        data={
            "observed_on": dt.date(2025, 6, 1),
            "kind": "qualitative",
            "category": "other",
            "title": "Note",
            "metric": metric,
            "value": Decimal("2"),
            "unit": "x",
        },
        user=coordinator,
    )
    assert (saved.metric, saved.value, saved.unit) == (None, None, "")


def test_the_database_refuses_a_measurement_without_a_metric(network):
    with pytest.raises(IntegrityError), transaction.atomic():
        Observation.objects.create(
            network=network,
            observed_on=dt.date(2025, 1, 1),
            kind="quantitative",
            category="other",
            title="x",
        )


def test_a_missing_title_comes_from_the_first_line_of_the_text(network, coordinator):
    saved = services.observation_create(
        network=network,
        data={
            "observed_on": dt.date(2025, 6, 1),
            "category": "other",
            "title": "",
            "body": "\n## Lively debate about plating\nMore text.",
        },
        user=coordinator,
    )
    assert saved.title == "Lively debate about plating"


def test_subjects_and_events_of_another_network_are_refused(network, other_network, coordinator):
    stranger_person = factories.ParticipantFactory(network=other_network)
    with pytest.raises(services.ObservationError, match="subject"):
        services.observation_create(
            network=network,
            data={
                "observed_on": dt.date(2025, 6, 1),
                "category": "other",
                "title": "x",
                "participants": [stranger_person],
            },
            user=coordinator,
        )
    assert not Observation.objects.exists()


def test_soft_delete_hides_and_restore_brings_back(network, note, coordinator):
    services.observation_delete(observation=note, user=coordinator)
    assert not selectors.observation_queryset(network=network).exists()
    assert Observation.objects.filter(pk=note.pk).exists()
    services.observation_restore(observation=note, user=coordinator)
    assert list(selectors.observation_queryset(network=network)) == [note]


def test_editing_the_text_moves_coded_passages_along(network, note, coordinator):
    code = factories.CodeFactory(network=network, name="Openness")
    start = note.body.index("share")
    coding = Coding.objects.create(
        observation=note, code=code, start=start, end=start + 5, quote="share"
    )
    outcome = services.observation_update(
        observation=note,
        data={"body": "Today, " + note.body, "category": note.category, "title": note.title},
        user=coordinator,
    )
    coding.refresh_from_db()
    note.refresh_from_db()
    assert note.body[coding.start : coding.end] == "share"
    assert outcome["moved"] == 1 and not coding.needs_review


# --- history ---------------------------------------------------------------------------


def test_history_records_who_changed_what_before_and_after(
    network, note, coordinator, identified_researcher, member_b
):
    services.observation_update(
        observation=note,
        data={
            "title": "Member A opens up to region B",
            "body": note.body,
            "category": note.category,
            "participants": [note.participants.get(), member_b],
        },
        user=identified_researcher,
    )
    services.observation_delete(observation=note, user=coordinator)
    history = selectors.observation_history(
        observation=note, namer=Namer(network, pseudonymous=False)
    )
    deleted, changed, created = history[0], history[1], history[-1]
    assert (deleted.action, deleted.who) == ("-", coordinator)
    assert changed.who == identified_researcher
    assert ("title", "Member A opens up", "Member A opens up to region B") in [
        (str(label), old, new) for label, old, new in changed.changes
    ]
    assert ("participants", "Member A", "Member A, Member B") in [
        (str(label), old, new) for label, old, new in changed.changes
    ]
    assert (created.action, created.who) == ("+", coordinator)


def test_history_in_pseudonyms_masks_names(network, note, coordinator, member_a, member_b):
    services.observation_update(
        observation=note,
        data={
            "title": note.title,
            "body": note.body + " Member B agreed.",
            "category": note.category,
            "participants": [member_a, member_b],
        },
        user=coordinator,
    )
    history = selectors.observation_history(
        observation=note, namer=Namer(network, pseudonymous=True)
    )
    text = repr([entry.changes for entry in history])
    assert "Member A" not in text and "Member B" not in text
    assert pseudonym(network, member_b.pk) in text


# --- filters ---------------------------------------------------------------------------


def test_the_log_filters_by_every_criterion(
    network, region_a, region_b, member_a, member_b, coordinator, identified_researcher
):
    event = factories_event(network, region_b)
    code = factories.CodeFactory(network=network, name="Learning")
    child = factories.CodeFactory(network=network, name="From peers", parent=code)
    first = factories.ObservationFactory(
        network=network,
        observed_on=dt.date(2025, 5, 1),
        category="mutual_learning",
        title="Plating visit",
        body="めっき工程を見学した",
        author=coordinator,
        event=event,
    )
    first.participants.set([member_a])
    second = factories.ObservationFactory(
        network=network,
        observed_on=dt.date(2025, 7, 1),
        category="stakeholder_stance",
        title="City hall",
        body="The city offered a subsidy.",
        author=identified_researcher,
    )
    second.organizations.set([member_b.organization])
    Coding.objects.create(observation=first, code=child)

    def titles(**criteria):
        return {o.title for o in selectors.observation_queryset(network=network, criteria=criteria)}

    assert titles() == {"Plating visit", "City hall"}
    assert titles(category="mutual_learning") == {"Plating visit"}
    assert titles(date_from=dt.date(2025, 6, 1)) == {"City hall"}
    assert titles(date_to=dt.date(2025, 6, 1)) == {"Plating visit"}
    assert titles(event=event) == {"Plating visit"}
    assert titles(participant=member_a) == {"Plating visit"}
    assert titles(author=identified_researcher) == {"City hall"}
    assert titles(region=region_b) == {"Plating visit", "City hall"}  # event there; firm there
    assert titles(region=region_a) == {"Plating visit"}  # member A is from region A
    assert titles(code=code) == {"Plating visit"}  # a sub-code counts for its parent
    assert titles(q="めっき") == {"Plating visit"}
    assert titles(q="city subsidy") == {"City hall"}
    assert titles(q="city めっき") == set()


def factories_event(network, region):
    from django.utils import timezone

    from coordination.models import Event

    start = timezone.now() - dt.timedelta(days=3)
    return Event.objects.create(
        network=network,
        title="Visit to B Works",
        kind=Event.Kind.SITE_VISIT,
        starts_at=start,
        ends_at=start + dt.timedelta(hours=2),
        region=region,
        status=Event.Status.HELD,
    )


# --- pages -----------------------------------------------------------------------------


def _pages(network, note, metric):
    slug = network.slug
    return [
        ("observation_list", [slug], READERS),
        ("observation_create", [slug], READERS),
        ("observation_quick", [slug], READERS),
        ("observation_deleted", [slug], READERS),
        ("observation_edit", [slug, note.pk], READERS),
        ("observation_history", [slug, note.pk], READERS),
        ("metric_list", [slug], READERS),
        ("metric_edit", [slug, metric.pk], READERS),
        ("staff_list", [slug], {"coordinator"}),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_log_pages_by_role(client, request, role, network, note, metric):
    user = _user(request, role)
    if user is not None:
        client.force_login(user)
    for name, args, allowed in _pages(network, note, metric):
        response = client.get(reverse(name, args=args))
        if user is None:
            assert response.status_code == 302, name
        elif role in allowed:
            assert response.status_code == 200, name
        else:
            assert response.status_code == 404, name


@pytest.mark.parametrize("role", ["member_a", "outsider", "stranger"])
def test_others_cannot_write_to_the_log(client, request, role, network, note):
    client.force_login(_user(request, role))
    before = list(Observation.objects.values_list("pk", "title", "deleted_at"))
    slug = network.slug
    posts = [
        (
            "observation_create",
            [slug],
            {"category": "other", "title": "x", "observed_on": "2025-01-01"},
        ),
        ("observation_quick", [slug], {"category": "other", "body": "x"}),
        ("observation_edit", [slug, note.pk], {"category": "other", "title": "x"}),
        ("observation_delete", [slug, note.pk], {}),
        ("metric_list", [slug], {"name": "New"}),
    ]
    for name, args, data in posts:
        assert client.post(reverse(name, args=args), data).status_code == 404, name
    assert list(Observation.objects.values_list("pk", "title", "deleted_at")) == before
    assert not Metric.objects.filter(name="New").exists()


def test_a_researcher_without_access_sees_pseudonyms_in_the_log(
    client, network, note, researcher, identified_researcher, member_a
):
    url = reverse("observation_list", args=[network.slug])
    client.force_login(researcher)
    html = client.get(url).content.decode()
    assert "Member A" not in html and "A Works" not in html
    assert pseudonym(network, member_a.pk) in html
    assert 'id="pseudonym-notice"' in html
    client.force_login(identified_researcher)
    html = client.get(url).content.decode()
    assert "Member A" in html and 'id="pseudonym-notice"' not in html


def test_a_researcher_without_access_cannot_reveal_names_by_editing(
    client, network, note, researcher
):
    client.force_login(researcher)
    url = reverse("observation_edit", args=[network.slug, note.pk])
    html = client.get(url).content.decode()
    assert "Member A" not in html
    response = client.post(
        url,
        {
            "observed_on": "2025-06-02",
            "kind": "qualitative",
            "category": "attitude_change",
            "title": "overwritten",
            "body": "overwritten",
        },
    )
    assert response.status_code == 302
    note.refresh_from_db()
    assert note.observed_on == dt.date(2025, 6, 2)
    assert note.title == "Member A opens up" and "Member A said" in note.body


def test_the_log_page_query_count_does_not_grow(
    client, network, coordinator, member_a, django_assert_max_num_queries
):
    code = factories.CodeFactory(network=network)
    for _i in range(PAGE_SIZE + 5):
        observation = factories.ObservationFactory(network=network, author=coordinator)
        observation.participants.set([member_a])
        observation.organizations.set([member_a.organization])
        Coding.objects.create(observation=observation, code=code)
    client.force_login(coordinator)
    url = reverse("observation_list", args=[network.slug])
    client.get(url)
    with django_assert_max_num_queries(20):
        response = client.get(url)
    assert (
        response.content.decode().count('class="list-group-item list-group-item-action"')
        == PAGE_SIZE
    )


def test_quick_entry_saves_with_today_and_comes_back_for_the_next(
    client, network, coordinator, member_a
):
    client.force_login(coordinator)
    url = reverse("observation_quick", args=[network.slug])
    response = client.post(
        url,
        {
            "category": "meeting_atmosphere",
            "kind": "qualitative",
            "body": "Laughter at the kickoff",
            "rating": "4",
        },
    )
    assert response.status_code == 302 and response.url.startswith(url)
    saved = Observation.objects.get()
    from django.utils import timezone

    assert saved.observed_on == timezone.localdate() and saved.observed_time is not None
    assert (saved.title, saved.rating, saved.author) == ("Laughter at the kickoff", 4, coordinator)


def test_quick_entry_reports_what_is_wrong(client, network, coordinator):
    client.force_login(coordinator)
    response = client.post(
        reverse("observation_quick", args=[network.slug]), {"kind": "qualitative", "body": ""}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "This field is required." in html  # the category
    assert not Observation.objects.exists()


def test_metrics_can_be_added_suggested_and_retired_but_not_deleted_in_use(
    client, network, coordinator, metric, note
):
    client.force_login(coordinator)
    url = reverse("metric_list", args=[network.slug])
    client.post(url, {"name": "Shared customers", "unit": "社", "is_active": "on"})
    client.post(url, {"action": "suggested"})
    names = set(network.metrics.values_list("name", flat=True))
    assert {"Shared customers", "Participating firms", "New joint projects"} <= names
    response = client.post(url, {"name": "shared CUSTOMERS"})
    assert "already has a metric" in response.content.decode()
    note_with_metric = factories.ObservationFactory(
        network=network, kind="quantitative", metric=metric, value=Decimal(2)
    )
    edit = reverse("metric_edit", args=[network.slug, metric.pk])
    client.post(edit, {"action": "delete"})
    assert Metric.objects.filter(pk=metric.pk).exists() and note_with_metric.metric == metric
    client.post(edit, {"name": metric.name, "unit": metric.unit})  # unticked: retired
    metric.refresh_from_db()
    assert not metric.is_active


def test_the_coordinator_grants_and_withdraws_identified_access(
    client, network, coordinator, researcher
):
    client.force_login(coordinator)
    url = reverse("staff_list", args=[network.slug])
    role = researcher.network_roles.get(network=network)
    client.post(url, {"role_id": role.pk, "action": "grant"})
    role.refresh_from_db()
    assert role.identified_access
    client.post(url, {"role_id": role.pk, "action": "withdraw"})
    role.refresh_from_db()
    assert not role.identified_access
    client.post(url, {"email": "new.researcher@example.org", "role": "researcher"})
    assert network.staff_roles.filter(user__email="new.researcher@example.org").exists()
    own = coordinator.network_roles.get(network=network)
    response = client.post(url, {"role_id": own.pk, "action": "remove"}, follow=True)
    assert "You cannot remove yourself." in response.content.decode()
    assert network.staff_roles.filter(pk=own.pk).exists()


def test_the_demo_log_seeds_once_with_passages_that_match_their_text():
    from django.core.management import call_command

    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    counts = (Observation.objects.count(), Coding.objects.count())
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert (Observation.objects.count(), Coding.objects.count()) == counts
    assert counts[0] >= 10
    passages = Coding.objects.filter(start__isnull=False).select_related("observation")
    assert passages.count() >= 8
    for coding in passages:
        assert coding.observation.body[coding.start : coding.end] == coding.quote
