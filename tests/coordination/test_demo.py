import math

import pytest
from django.core.management import call_command

from coordination import demo
from coordination.models import (
    Bulletin,
    Delivery,
    Event,
    Invitation,
    Network,
    NetworkRole,
    Organization,
    Participant,
    Region,
)
from observations.models import Tie

pytestmark = pytest.mark.django_db


def _haversine(a, b):
    la1, lo1, la2, lo2 = map(math.radians, [a.latitude, a.longitude, b.latitude, b.longitude])
    h = (
        math.sin((la2 - la1) / 2) ** 2
        + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def _snapshot():
    return (
        list(Region.objects.order_by("pk").values()),
        list(Organization.objects.order_by("pk").values()),
        list(
            Participant.objects.order_by("pk").values_list(
                "pk", "email", "full_name", "recruited_by", "user"
            )
        ),
        list(NetworkRole.objects.order_by("pk").values_list("pk", "user", "role")),
        list(Event.objects.order_by("pk").values_list("pk", "title", "status", "sequence")),
        list(Invitation.objects.order_by("pk").values_list("pk", "answer", "attended")),
        list(Delivery.objects.order_by("pk").values_list("pk", "status", "read_at")),
        list(Tie.objects.order_by("pk").values_list("pk", "source", "target", "kind")),
    )


def test_seed_demo_builds_the_model_case_and_is_idempotent(capsys):
    call_command("seed_demo")
    first_output = capsys.readouterr().out
    before = _snapshot()
    call_command("seed_demo")
    second_output = capsys.readouterr().out
    assert _snapshot() == before
    assert "0 created, 0 updated, 12 unchanged" in second_output
    assert demo.COORDINATOR_EMAIL in first_output and demo.PASSWORD in first_output

    network = Network.objects.get(slug=demo.SLUG)
    tsubame, uonuma = Region.objects.filter(network=network).order_by("municipality_code")
    assert 40 <= _haversine(tsubame, uonuma) <= 60
    members = Participant.objects.filter(network=network, role="member")
    founders = members.filter(recruited_by__isnull=True)
    recruits = members.filter(recruited_by__isnull=False)
    assert founders.count() == 9 and recruits.count() == 2
    assert all(r.recruited_by.role == "member" for r in recruits)
    founding_orgs = {p.organization for p in founders}
    by_region = {r.name: [o for o in founding_orgs if o.region == r] for r in (tsubame, uonuma)}
    assert sorted(o.kind for o in by_region["燕市"]) == ["firm"] * 4
    assert sorted(o.kind for o in by_region["魚沼市"]) == ["chamber_of_commerce"] + ["firm"] * 4
    assert Participant.objects.filter(network=network, role="coordinator").count() == 1
    assert (
        NetworkRole.objects.get(network=network, user__email=demo.COORDINATOR_EMAIL).role
        == "coordinator"
    )
    assert all(p.user_id for p in Participant.objects.filter(network=network))
    # Five meetings and site visits held (with attendance), one coming.
    events = Event.objects.filter(network=network)
    assert events.filter(status="held", attendance_recorded=True).count() == 5
    assert events.filter(status="scheduled").count() == 1
    assert Invitation.objects.filter(event__network=network, attended=True).exists()
    # Ties: brokered by the coordinator at first, then the two firms' joint projects.
    ties = Tie.objects.filter(network=network)
    assert ties.count() == 12
    assert ties.filter(kind="joint_project", initiated_by__isnull=True).count() == 2
    assert ties.filter(initiated_by__role="coordinator").exists()
    # Eight bulletins, sent, some read.
    assert Bulletin.objects.filter(network=network, status="sent").count() == 8
    assert Delivery.objects.filter(bulletin__network=network, read_at__isnull=False).exists()


def test_demo_coordinator_signs_in_and_sees_both_regions_and_everyone(client):
    call_command("seed_demo")
    assert client.login(email=demo.COORDINATOR_EMAIL, password=demo.PASSWORD)
    html = client.get("/n/demo/participants/").content.decode()
    for person in demo.PEOPLE:
        assert person[0] in html
    html = client.get("/n/demo/regions/").content.decode()
    assert "燕市" in html and "魚沼市" in html
