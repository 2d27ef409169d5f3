from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model

from coordination.models import Network, Organization, Participant, Region


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        if extracted:
            obj.set_password(extracted)
        else:
            obj.set_unusable_password()
        if create:
            obj.save()


class NetworkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Network

    slug = factory.Sequence(lambda n: f"network-{n}")
    name = factory.Sequence(lambda n: f"Network {n}")


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region

    network = factory.SubFactory(NetworkFactory)
    name = factory.Sequence(lambda n: f"Region {n}")


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    network = factory.SubFactory(NetworkFactory)
    region = factory.SubFactory(RegionFactory, network=factory.SelfAttribute("..network"))
    name = factory.Sequence(lambda n: f"Organization {n}")


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participant

    network = factory.SubFactory(NetworkFactory)
    organization = factory.SubFactory(
        OrganizationFactory, network=factory.SelfAttribute("..network")
    )
    full_name = factory.Sequence(lambda n: f"Person {n}")
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    joined_on = dt.date(2025, 4, 19)


class MetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "observations.Metric"

    network = factory.SubFactory(NetworkFactory)
    name = factory.Sequence(lambda n: f"Metric {n}")
    unit = "count"


class ObservationFactory(factory.django.DjangoModelFactory):
    """A qualitative field note; pass kind="quantitative", metric= and value= for a
    measurement."""

    class Meta:
        model = "observations.Observation"

    network = factory.SubFactory(NetworkFactory)
    observed_on = dt.date(2025, 6, 1)
    category = "mutual_learning"
    title = factory.Sequence(lambda n: f"Observation {n}")
    body = "The two firms compared their press lines and agreed to visit each other."


class CodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "observations.Code"

    network = factory.SubFactory(NetworkFactory)
    name = factory.Sequence(lambda n: f"Code {n}")


class CodingFactory(factory.django.DjangoModelFactory):
    """A whole-observation coding; pass start=, end= and quote= for a passage."""

    class Meta:
        model = "observations.Coding"

    observation = factory.SubFactory(ObservationFactory)
    code = factory.SubFactory(CodeFactory, network=factory.SelfAttribute("..observation.network"))


class MemoFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "observations.Memo"

    network = factory.SubFactory(NetworkFactory)
    body = "A first thought."
