"""Builders for the continuity tests: a small network hit in region A."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from allauth.account.models import EmailAddress

from continuity import services
from continuity.models import Agreement, Capability, Need
from coordination.models import Organization, Participant, Region
from tests import factories


def person(network, organization: Organization, name: str, *, user: bool = False, **extra):
    account = None
    email = f"{name.lower().replace(' ', '.')}@example.com"
    if user:
        account = factories.UserFactory(email=email)
        EmailAddress.objects.create(user=account, email=email, primary=True, verified=True)
    return factories.ParticipantFactory(
        network=network,
        organization=organization,
        full_name=name,
        email=email,
        user=account,
        preferred_language="en",
        **extra,
    )


def capability(organization: Organization, category: str, process: str = "", text: str = ""):
    return Capability.objects.create(
        network_id=organization.network_id,
        organization=organization,
        category=category,
        process=process,
        description=text or f"{category} {process}".strip(),
    )


def need(organization: Organization, category: str, process: str = "", *, critical=True, text=""):
    return Need.objects.create(
        network_id=organization.network_id,
        organization=organization,
        category=category,
        process=process,
        critical=critical,
        description=text or f"needs {category} {process}".strip(),
    )


@dataclass
class World:
    """Region A is the one hit. A Works needs plating (critical) and transport.

    - B Works (region B) can plate: asked (member_b and Bea; Ben has left).
    - C Press (region B) has only a press: not asked.
    - D Plating (region A) can plate, but is in the region hit: not asked.
    - E Logistics (region C) has an agreement with A Works: asked (Eve).
    """

    region_c: Region
    b2: Participant
    b_left: Participant
    c1: Participant
    d1: Participant
    e1: Participant
    agreement: Agreement
    plating: Need
    transport: Need


def build_world(network, region_a, region_b, member_a, member_b, coordinator) -> World:
    region_c = factories.RegionFactory(network=network, name="Kashiwazaki")
    a_works, b_works = member_a.organization, member_b.organization
    c_press = factories.OrganizationFactory(network=network, region=region_b, name="C Press")
    d_plating = factories.OrganizationFactory(network=network, region=region_a, name="D Plating")
    e_logistics = factories.OrganizationFactory(
        network=network, region=region_c, name="E Logistics"
    )
    b2 = person(network, b_works, "Bea Second", user=True)
    b_left = person(
        network, b_works, "Ben Gone", joined_on=dt.date(2025, 4, 19), left_on=dt.date(2025, 6, 1)
    )
    c1 = person(network, c_press, "Cid Press", user=True)
    d1 = person(network, d_plating, "Dee Plating")
    e1 = person(network, e_logistics, "Eve Logistics")
    capability(b_works, "process", "plating", "zinc plating line")
    capability(c_press, "process", "press", "200 t press")
    capability(d_plating, "process", "plating", "nickel plating")
    capability(a_works, "process", "polishing", "buffing")
    plating = need(a_works, "process", "plating", text="plating of 5,000 parts a week")
    transport = need(a_works, "transport", critical=False, text="a truck")
    agreement = services.agreement_save(
        network=network,
        data={
            "organization_a": a_works,
            "organization_b": e_logistics,
            "contact_a": member_a,
            "contact_b": e1,
            "offers_a": "polishing",
            "offers_b": "trucks",
            "status": Agreement.Status.IN_FORCE,
            "signed_on": dt.date(2025, 9, 1),
            "review_on": dt.date.today() + dt.timedelta(days=180),
        },
        user=coordinator,
    )
    return World(region_c, b2, b_left, c1, d1, e1, agreement, plating, transport)
