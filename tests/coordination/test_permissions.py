"""Each role × each page and action: allowed, or refused without leaking anything."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from coordination.models import ImportRun, Network, Participant, Region
from coordination.permissions import roles_of

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

# page -> the roles that may open it (everyone else gets 404, anonymous a redirect)
VIEWERS = {"coordinator", "researcher", "identified_researcher"}
# Pages that name people and firms: researchers only with identified access.
IDENTIFIED = {"coordinator", "identified_researcher"}
MANAGERS = {"coordinator"}
PORTAL = {"coordinator", "member_a"}  # the coordinator fixture is also a participant

PAGES = [
    ("network_detail", lambda w: [w.network.slug], VIEWERS),
    ("network_edit", lambda w: [w.network.slug], MANAGERS),
    ("region_list", lambda w: [w.network.slug], VIEWERS),
    ("region_create", lambda w: [w.network.slug], MANAGERS),
    ("region_detail", lambda w: [w.network.slug, w.region.pk], IDENTIFIED),
    ("region_edit", lambda w: [w.network.slug, w.region.pk], MANAGERS),
    ("organization_list", lambda w: [w.network.slug], IDENTIFIED),
    ("organization_create", lambda w: [w.network.slug], MANAGERS),
    ("organization_detail", lambda w: [w.network.slug, w.organization.pk], IDENTIFIED),
    ("organization_edit", lambda w: [w.network.slug, w.organization.pk], MANAGERS),
    ("participant_list", lambda w: [w.network.slug], IDENTIFIED),
    ("participant_create", lambda w: [w.network.slug], MANAGERS),
    ("participant_detail", lambda w: [w.network.slug, w.member.pk], IDENTIFIED),
    ("participant_edit", lambda w: [w.network.slug, w.member.pk], MANAGERS),
    ("import_upload", lambda w: [w.network.slug, "participants"], MANAGERS),
    ("import_upload", lambda w: [w.network.slug, "regions"], MANAGERS),
    ("import_detail", lambda w: [w.network.slug, w.import_run.pk], MANAGERS),
    ("portal_home", lambda w: [w.network.slug], PORTAL),
    ("portal_profile", lambda w: [w.network.slug], PORTAL),
]


class World:
    def __init__(self, request, network, member_a, region_a):
        self.network = network
        self.member = member_a
        self.region = region_a
        self.organization = member_a.organization
        self.import_run = ImportRun.objects.create(
            network=network,
            kind="regions",
            filename="r.csv",
            content=b"name\nX\n",
            status="previewed",
            report={"rows": [], "created": 1, "updated": 0, "unchanged": 0},
        )
        self.users = {
            "anonymous": None,
            **{r: request.getfixturevalue(r) for r in ROLES if r != "anonymous"},
        }

    def user(self, role):
        user = self.users[role]
        return user.user if isinstance(user, Participant) else user


@pytest.fixture
def world(request, network, member_a, region_a):
    return World(request, network, member_a, region_a)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("name", "args", "allowed"), PAGES, ids=[f"{p[0]}-{i}" for i, p in enumerate(PAGES)]
)
def test_page_access_by_role(client, world, role, name, args, allowed):
    user = world.user(role)
    if user is not None:
        client.force_login(user)
    response = client.get(reverse(name, args=args(world)))
    if role == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))
    elif role in allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 404


@pytest.mark.parametrize("role", ["researcher", "member_a", "outsider", "stranger"])
def test_only_the_coordinator_may_write(client, world, role):
    client.force_login(world.user(role))
    slug = world.network.slug
    attempts = [
        (reverse("region_create", args=[slug]), {"name": "Intruded"}),
        (reverse("region_edit", args=[slug, world.region.pk]), {"name": "Renamed"}),
        (reverse("participant_edit", args=[slug, world.member.pk]), {"full_name": "Renamed"}),
        (reverse("participant_invite", args=[slug]), {"participant": [world.member.pk]}),
        (reverse("import_apply", args=[slug, world.import_run.pk]), {}),
        (reverse("network_edit", args=[slug]), {"name": "Renamed"}),
    ]
    for url, data in attempts:
        assert client.post(url, data).status_code == 404, url
    assert not Region.objects.filter(name__in=["Intruded", "Renamed"]).exists()
    world.member.refresh_from_db()
    assert world.member.full_name == "Member A"
    assert world.member.invited_at is None
    assert len(mail.outbox) == 0
    world.import_run.refresh_from_db()
    assert world.import_run.status == "previewed"


def test_coordinator_writes_are_applied(client, world, coordinator):
    client.force_login(coordinator)
    slug = world.network.slug
    response = client.post(
        reverse("region_create", args=[slug]), {"name": "Sanjo", "prefecture": "新潟県"}
    )
    assert response.status_code == 302
    assert Region.objects.get(network=world.network, name="Sanjo").prefecture == "新潟県"


def test_participant_sees_own_network_people_but_not_their_contact_data(client, member_a, member_b):
    client.force_login(member_a.user)
    html = client.get(reverse("portal_home", args=[member_a.network.slug])).content.decode()
    assert "Member B" in html
    assert "B Works" in html
    assert member_b.email not in html


def test_participant_of_another_network_is_not_listed(client, member_a, other_network):
    from tests.factories import ParticipantFactory

    ParticipantFactory(network=other_network, full_name="Someone Elsewhere")
    client.force_login(member_a.user)
    html = client.get(reverse("portal_home", args=[member_a.network.slug])).content.decode()
    assert "Someone Elsewhere" not in html


def test_people_who_left_are_not_in_the_portal_directory(client, member_a, member_b):
    import datetime as dt

    member_b.left_on = dt.date(2025, 12, 31)
    member_b.save()
    client.force_login(member_a.user)
    html = client.get(reverse("portal_home", args=[member_a.network.slug])).content.decode()
    assert "Member B" not in html


def test_outsider_gets_404_on_objects_in_a_network_they_do_not_belong_to(
    client, outsider, member_a
):
    client.force_login(outsider)
    url = reverse("participant_detail", args=[member_a.network.slug, member_a.pk])
    assert client.get(url).status_code == 404
    # ... and an object id from another network under their own network's slug is 404 too
    assert client.get(reverse("participant_detail", args=["beta", member_a.pk])).status_code == 404


def test_roles_are_per_network(coordinator, network, other_network):
    assert "coordinator" in roles_of(coordinator, network)
    assert roles_of(coordinator, other_network) == frozenset()


def test_home_sends_a_participant_to_their_portal_and_staff_to_the_network_list(
    client, member_a, coordinator
):
    client.force_login(member_a.user)
    assert client.get(reverse("home")).url == reverse("portal_home", args=[member_a.network.slug])
    client.force_login(coordinator)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "Alpha network" in response.content.decode()


def test_only_staff_may_create_networks(client, stranger, coordinator):
    client.force_login(stranger)
    assert client.get(reverse("network_create")).status_code == 404
    client.force_login(coordinator)
    response = client.post(reverse("network_create"), {"name": "Gamma", "slug": "gamma"})
    assert response.status_code == 302
    fresh = type(coordinator).objects.get(pk=coordinator.pk)
    assert "coordinator" in roles_of(fresh, Network.objects.get(slug="gamma"))


def test_researchers_do_not_see_contact_addresses(
    client, identified_researcher, coordinator, member_a
):
    url = reverse("participant_detail", args=[member_a.network.slug, member_a.pk])
    client.force_login(identified_researcher)
    response = client.get(url)
    assert response.status_code == 200
    assert member_a.full_name in response.content.decode()
    assert member_a.email not in response.content.decode()
    client.force_login(coordinator)
    assert member_a.email in client.get(url).content.decode()


def test_a_researcher_sees_names_only_once_granted(client, researcher, network, member_a):
    url = reverse("participant_list", args=[network.slug])
    client.force_login(researcher)
    assert client.get(url).status_code == 404
    role = researcher.network_roles.get(network=network)
    role.identified_access = True
    role.save()
    client.force_login(researcher)  # a fresh request: roles are cached per user object
    assert member_a.full_name in client.get(url).content.decode()
