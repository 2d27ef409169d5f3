"""Activation, answers, matching, drills, agreements and reminders through the services."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone

from continuity import services, tasks
from continuity.models import (
    Agreement,
    AgreementReminder,
    HelpRequest,
    Incident,
    Reply,
)
from coordination.models import Bulletin, Delivery, Event
from coordination.tasks import deliver_bulletin
from observations.models import Observation, Tie
from tests import factories

from .helpers import build_world, capability, person

pytestmark = pytest.mark.django_db
LINK = re.compile(r"(http://\S+/help/(\d+)/(\S+)/)")


@pytest.fixture
def world(network, region_a, region_b, member_a, member_b, coordinator):
    return build_world(network, region_a, region_b, member_a, member_b, coordinator)


def _declare(network, region, user, capture):
    with capture(execute=True):
        return services.incident_declare(network=network, region=region, user=user)


def _mailed_to() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


def _addresses(*people) -> list[str]:
    return sorted(f"{p.full_name} <{p.email}>" for p in people)


def test_the_coordinator_activates_at_once_and_exactly_the_right_partners_are_mailed(
    network, region_a, coordinator, member_b, world, django_capture_on_commit_callbacks
):
    result = _declare(network, region_a, coordinator, django_capture_on_commit_callbacks)
    assert result.activated
    assert result.incident.status == Incident.Status.ACTIVE
    # B Works by its plating (both active people, not the one who left), E Logistics by
    # its agreement; not the press, not the plater in the region hit.
    assert _mailed_to() == _addresses(member_b, world.b2, world.e1)
    reasons = {
        r.participant_id: (r.via_agreement, r.via_capability)
        for r in Reply.objects.filter(incident=result.incident)
    }
    assert reasons == {
        member_b.pk: (False, True),
        world.b2.pk: (False, True),
        world.e1.pk: (True, False),
    }
    requests = HelpRequest.objects.filter(incident=result.incident)
    assert {r.description for r in requests} == {world.plating.description, "a truck"}
    assert all(r.status == HelpRequest.Status.OPEN for r in requests)


def test_a_partner_who_opted_out_of_news_still_gets_the_notice(
    network, region_a, coordinator, member_b, world, django_capture_on_commit_callbacks
):
    member_b.bulletin_opt_out = True
    member_b.save()
    _declare(network, region_a, coordinator, django_capture_on_commit_callbacks)
    assert _mailed_to() == _addresses(member_b, world.b2, world.e1)


def test_each_mail_carries_its_own_reply_link(
    network, region_a, coordinator, world, django_capture_on_commit_callbacks
):
    _declare(network, region_a, coordinator, django_capture_on_commit_callbacks)
    links = {}
    for message in mail.outbox:
        (match,) = set(LINK.findall(message.body))
        links[message.to[0]] = match
        reply = services.reply_resolve(reply_id=int(match[1]), raw=match[2])
        assert reply.participant.email in message.to[0]
        assert "plating of 5,000 parts a week" in message.body
    assert len(set(links.values())) == 3


def test_two_members_activate_once_and_a_third_confirmation_changes_nothing(
    network, region_a, member_a, member_b, world, django_capture_on_commit_callbacks
):
    first = _declare(network, region_a, member_a.user, django_capture_on_commit_callbacks)
    assert not first.activated
    assert first.incident.status == Incident.Status.PENDING
    assert mail.outbox == []
    # The same member again is not a second member.
    again = _declare(network, region_a, member_a.user, django_capture_on_commit_callbacks)
    assert not again.activated and again.incident.pk == first.incident.pk
    assert mail.outbox == []

    second = _declare(network, region_a, world.b2.user, django_capture_on_commit_callbacks)
    assert second.activated
    assert second.incident.pk == first.incident.pk
    assert second.incident.status == Incident.Status.ACTIVE
    assert _mailed_to() == _addresses(member_b, world.b2, world.e1)

    third = _declare(network, region_a, world.c1.user, django_capture_on_commit_callbacks)
    assert not third.activated and third.incident.pk == first.incident.pk
    assert third.confirmations == 3
    assert len(mail.outbox) == 3
    assert Incident.objects.count() == 1
    assert Reply.objects.count() == 3
    assert Bulletin.objects.count() == 3


def test_running_the_sending_task_again_sends_no_second_mail(
    network, region_a, coordinator, world, django_capture_on_commit_callbacks
):
    result = _declare(network, region_a, coordinator, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 3
    for bulletin_id in Reply.objects.filter(incident=result.incident).values_list(
        "bulletin_id", flat=True
    ):
        deliver_bulletin.delay(bulletin_id)
        deliver_bulletin.delay(bulletin_id)
    assert len(mail.outbox) == 3
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.SENT}


def test_asking_the_same_person_twice_creates_nothing(
    network, region_a, coordinator, member_b, world, django_capture_on_commit_callbacks
):
    result = _declare(network, region_a, coordinator, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        again = services._ask(
            result.incident,
            member_b,
            requests=[],
            via_agreement=False,
            via_capability=True,
            now=timezone.now(),
        )
    assert again is None
    assert len(mail.outbox) == 3


def test_a_participant_of_another_network_cannot_declare(
    network, region_a, world, other_network, django_capture_on_commit_callbacks
):
    stranger = person(
        other_network,
        factories.OrganizationFactory(network=other_network),
        "Other Person",
        user=True,
    )
    with pytest.raises(services.ContinuityError):
        services.incident_declare(network=network, region=region_a, user=stranger.user)
    assert not Incident.objects.exists()


def test_a_region_of_another_network_is_refused(network, coordinator, other_network):
    elsewhere = factories.RegionFactory(network=other_network)
    with pytest.raises(services.ContinuityError):
        services.incident_declare(network=network, region=elsewhere, user=coordinator)


# --- answers and matching ---------------------------------------------------------------------


@pytest.fixture
def active(network, region_a, coordinator, world, django_capture_on_commit_callbacks):
    return _declare(network, region_a, coordinator, django_capture_on_commit_callbacks).incident


def test_a_yes_matches_the_open_request_and_the_first_offer_wins(active, member_b, world):
    plating = active.requests.get(need=world.plating)
    first = Reply.objects.get(incident=active, participant=member_b)
    second = Reply.objects.get(incident=active, participant=world.b2)
    services.reply_answer(reply=first, can_help=True, request_ids=[plating.pk], hours=24)
    services.reply_answer(reply=second, can_help=True, request_ids=[plating.pk], hours=4)
    plating.refresh_from_db()
    assert plating.status == HelpRequest.Status.MATCHED
    assert plating.matched_reply_id == first.pk
    assert set(plating.offers.values_list("pk", flat=True)) == {first.pk, second.pk}


def test_changing_to_no_gives_the_request_back(active, member_b, world):
    plating = active.requests.get(need=world.plating)
    reply = Reply.objects.get(incident=active, participant=member_b)
    services.reply_answer(reply=reply, can_help=True, request_ids=[plating.pk], hours=24)
    answered_at = Reply.objects.get(pk=reply.pk).answered_at
    services.reply_answer(reply=reply, can_help=False)
    plating.refresh_from_db()
    reply.refresh_from_db()
    assert plating.status == HelpRequest.Status.OPEN and plating.matched_reply is None
    # The response time is the first answer's.
    assert reply.answered_at == answered_at
    assert not reply.offered_for.exists()


def test_a_yes_needs_what_and_how_soon(active, member_b):
    reply = Reply.objects.get(incident=active, participant=member_b)
    with pytest.raises(services.ContinuityError):
        services.reply_answer(reply=reply, can_help=True, hours=24)
    with pytest.raises(services.ContinuityError):
        services.reply_answer(reply=reply, can_help=True, what="a truck")
    assert Reply.objects.get(pk=reply.pk).answered_at is None


def test_a_request_is_tracked_to_closure(active, member_b, world):
    plating = active.requests.get(need=world.plating)
    reply = Reply.objects.get(incident=active, participant=member_b)
    services.reply_answer(reply=reply, can_help=True, what="we plate", hours=24)
    plating = services.request_update(request=plating, action="match", reply_id=reply.pk)
    assert plating.status == HelpRequest.Status.MATCHED
    plating = services.request_update(request=plating, action="fulfil")
    assert plating.status == HelpRequest.Status.FULFILLED and plating.closed_at
    with pytest.raises(services.ContinuityError):
        services.request_update(request=plating, action="close")
    plating = services.request_update(request=plating, action="reopen")
    assert plating.status == HelpRequest.Status.OPEN and plating.matched_reply is None


def test_matching_with_a_reply_that_cannot_help_is_refused(active, member_b, world):
    plating = active.requests.get(need=world.plating)
    reply = Reply.objects.get(incident=active, participant=member_b)
    services.reply_answer(reply=reply, can_help=False)
    with pytest.raises(services.ContinuityError):
        services.request_update(request=plating, action="match", reply_id=reply.pk)


def test_closing_the_incident_closes_open_requests_and_stops_answers(active, coordinator, member_b):
    services.incident_close(incident=active, user=coordinator)
    assert set(active.requests.values_list("status", flat=True)) == {HelpRequest.Status.CLOSED}
    reply = Reply.objects.get(incident=active, participant=member_b)
    with pytest.raises(services.ContinuityError):
        services.reply_answer(reply=reply, can_help=False)
    observation = Observation.objects.get(network=active.network)
    assert observation.category == Observation.Category.BCP
    # A region can be declared again after its incident closed.
    with pytest.raises(services.ContinuityError):
        services.incident_close(incident=active, user=coordinator)


# --- drills -------------------------------------------------------------------------------------


def _drill(network, region, organizations, coordinator, capabilities=()):
    start = timezone.now() - dt.timedelta(hours=1)
    return services.drill_schedule(
        network=network,
        data={
            "title": "Autumn drill",
            "region": region,
            "starts_at": start,
            "ends_at": start + dt.timedelta(hours=3),
            "description": "An earthquake hits Tsubame.",
        },
        organizations=organizations,
        capabilities=list(capabilities),
        user=coordinator,
    )


def test_a_drill_is_an_event_and_asks_partners_for_the_capabilities_lost(
    network,
    region_a,
    region_b,
    coordinator,
    member_a,
    member_b,
    world,
    django_capture_on_commit_callbacks,
):
    # B Works could take over A Works' polishing.
    capability(member_b.organization, "process", "polishing", "buffing line")
    drill = _drill(network, region_a, [member_a.organization], coordinator)
    assert drill.event.kind == Event.Kind.DRILL
    assert drill.status == Incident.Status.PLANNED
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        services.drill_start(incident=drill)
    # Lost: A Works' buffing. Asked: B Works (capability), E Logistics (agreement).
    assert [r.description for r in drill.requests.all()] == ["buffing"]
    assert _mailed_to() == _addresses(member_b, world.b2, world.e1)
    # Each in the recipient's language (the fixture members read Japanese).
    language = {p.email: p.preferred_language for p in (member_b, world.b2, world.e1)}
    for message in mail.outbox:
        address = message.to[0].split("<")[-1].rstrip(">")
        prefix = "【訓練】" if language[address] == "ja" else "[Drill]"
        assert message.subject.startswith(prefix), message.subject
    with pytest.raises(services.ContinuityError):
        services.drill_start(incident=drill)


def test_finishing_a_drill_keeps_response_times_and_coverage_as_observations(
    network, region_a, coordinator, member_a, member_b, world, django_capture_on_commit_callbacks
):
    capability(member_b.organization, "process", "polishing", "buffing line")
    extra = capability(member_a.organization, "space", "", "warehouse")
    drill = _drill(network, region_a, [member_a.organization], coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        services.drill_start(incident=drill)
    drill.refresh_from_db()
    requests = {r.capability_id: r for r in drill.requests.all()}
    assert set(requests) == {
        extra.pk,
        *member_a.organization.capabilities.exclude(pk=extra.pk).values_list("pk", flat=True),
    }
    polishing = next(r for r in requests.values() if r.process == "polishing")
    start = drill.activated_at
    answers = [
        (member_b, True, [polishing.pk], 10),
        (world.b2, False, [], 30),
        (world.e1, True, [], 50),  # offers a truck, none of the requests
    ]
    for who, yes, ids, minutes in answers:
        services.reply_answer(
            reply=Reply.objects.get(incident=drill, participant=who),
            can_help=yes,
            request_ids=ids,
            what="" if ids else "a truck",
            hours=24 if yes else None,
            now=start + dt.timedelta(minutes=minutes),
        )
    closed = services.incident_close(incident=drill, user=coordinator)
    assert closed.coverage == 0.5  # buffing found an offer, the warehouse did not
    assert closed.median_response_minutes == 30
    assert Event.objects.get(pk=drill.event_id).status == Event.Status.HELD
    observations = Observation.objects.filter(network=network, category="bcp")
    values = {o.metric.name: float(o.value) for o in observations if o.metric}
    assert values == {"Drill coverage": 50.0, "Drill median response time": 30.0}
    assert all(o.event_id == drill.event_id for o in observations)
    assert observations.count() == 3


def test_a_drill_scenario_must_stay_in_the_network(network, region_a, coordinator, other_network):
    elsewhere = factories.OrganizationFactory(network=other_network)
    with pytest.raises(services.ContinuityError):
        _drill(network, region_a, [elsewhere], coordinator)


# --- agreements ---------------------------------------------------------------------------------


def test_an_agreement_in_force_is_recorded_as_a_mutual_support_tie(world, member_a):
    tie = world.agreement.tie
    assert tie.kind == Tie.Kind.MUTUAL_SUPPORT_AGREEMENT
    assert {tie.source_id, tie.target_id} == {member_a.pk, world.e1.pk}
    assert tie.started_on == dt.date(2025, 9, 1)


def test_ending_an_agreement_ends_its_tie(network, world, coordinator):
    services.agreement_save(
        network=network,
        agreement=world.agreement,
        data={"status": Agreement.Status.ENDED, "ended_on": dt.date(2026, 3, 1)},
        user=coordinator,
    )
    assert Tie.objects.get(pk=world.agreement.tie_id).ended_on == dt.date(2026, 3, 1)
    assert Tie.objects.count() == 1


def test_an_existing_tie_is_adopted_rather_than_duplicated(
    network, member_a, member_b, coordinator
):
    imported = Tie.objects.create(
        network=network,
        source=member_b,
        target=member_a,
        kind=Tie.Kind.MUTUAL_SUPPORT_AGREEMENT,
        started_on=dt.date(2025, 5, 1),
    )
    agreement = services.agreement_save(
        network=network,
        data={
            "organization_a": member_a.organization,
            "organization_b": member_b.organization,
            "contact_a": member_a,
            "contact_b": member_b,
            "status": Agreement.Status.IN_FORCE,
            "signed_on": dt.date(2025, 10, 1),
        },
        user=coordinator,
    )
    assert agreement.tie_id == imported.pk
    assert Tie.objects.count() == 1


def test_a_draft_has_no_tie_and_a_contact_must_belong_to_the_organization(
    network, member_a, member_b, coordinator
):
    draft = services.agreement_save(
        network=network,
        data={
            "organization_a": member_a.organization,
            "organization_b": member_b.organization,
            "contact_a": member_a,
            "contact_b": member_b,
        },
        user=coordinator,
    )
    assert draft.tie is None
    with pytest.raises(services.ContinuityError):
        services.agreement_save(
            network=network,
            data={
                "organization_a": member_a.organization,
                "organization_b": member_b.organization,
                "contact_a": member_b,
                "contact_b": member_a,
            },
            user=coordinator,
        )


def test_the_review_reminder_goes_to_the_coordinator_once_per_review_date(
    network, world, coordinator, settings
):
    Agreement.objects.filter(pk=world.agreement.pk).update(
        review_on=timezone.localdate() + dt.timedelta(days=3)
    )
    assert tasks.send_agreement_review_reminders.delay().get() == 1
    assert tasks.send_agreement_review_reminders.delay().get() == 0
    assert [m.to for m in mail.outbox] == [[coordinator.email]]
    assert "due for review" in mail.outbox[0].subject
    # Reviewed: a new date reminds again, once.
    Agreement.objects.filter(pk=world.agreement.pk).update(
        review_on=timezone.localdate() + dt.timedelta(days=10)
    )
    tasks.send_agreement_review_reminders.delay()
    tasks.send_agreement_review_reminders.delay()
    assert len(mail.outbox) == 2
    assert AgreementReminder.objects.count() == 2


def test_an_agreement_far_from_review_sends_nothing(world):
    assert tasks.send_agreement_review_reminders.delay().get() == 0
    assert mail.outbox == []


def test_a_failed_reminder_gives_its_claim_back(world, monkeypatch):
    from continuity import mail as continuity_mail

    Agreement.objects.filter(pk=world.agreement.pk).update(review_on=timezone.localdate())

    def broken(agreement):
        raise RuntimeError("mail server down")

    monkeypatch.setattr(continuity_mail, "send_review_reminder", broken)
    with pytest.raises(RuntimeError):
        tasks.send_agreement_review_reminder(world.agreement.pk, timezone.localdate().isoformat())
    assert not AgreementReminder.objects.exists()
