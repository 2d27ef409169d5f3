"""The demo's mutual-support data: created once, unchanged by a second run."""

from __future__ import annotations

import pytest

from continuity.demo import DRILL_TITLE, continuity_demo_seed
from continuity.models import Agreement, Capability, Incident, Need
from coordination import demo
from observations.models import Observation, Tie

pytestmark = pytest.mark.django_db


def test_the_demo_seed_adds_capabilities_an_agreement_and_a_past_drill_once(mailoutbox):
    network = demo.demo_seed().network
    first = continuity_demo_seed(network=network)
    assert first == {"capabilities": 11, "needs": 7, "agreements": 1, "drills": 1}
    agreement = Agreement.objects.get()
    assert agreement.organization_a.name == "山本金属工業株式会社"
    assert agreement.organization_b.name == "中村プラスチック工業株式会社"
    assert agreement.tie.kind == Tie.Kind.MUTUAL_SUPPORT_AGREEMENT
    drill = Incident.objects.get(title=DRILL_TITLE)
    assert drill.status == Incident.Status.CLOSED
    assert drill.coverage == 0.5  # the press found Kato's; nobody in Uonuma polishes
    assert drill.median_response_minutes is not None
    assert Observation.objects.filter(category="bcp", event=drill.event).count() == 3
    assert mailoutbox == []

    again = continuity_demo_seed(network=network)
    assert again == {"capabilities": 0, "needs": 0, "agreements": 0, "drills": 0}
    assert Capability.objects.count() == 11 and Need.objects.count() == 7
    assert Incident.objects.count() == 1
