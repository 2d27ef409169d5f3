"""Writes about networks, roles, regions, organizations and participants."""

from __future__ import annotations

import datetime as dt

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from hubless.indicators_dirty import indicators_mark_dirty

from ..models import (
    Network,
    NetworkRole,
    Organization,
    Participant,
    Region,
)

# --- networks and roles -------------------------------------------------------------


class NetworkExists(Exception):
    pass


@transaction.atomic
def network_create(
    *, slug: str, name: str, coordinator=None, description: str = "", **options
) -> Network:
    if Network.objects.filter(slug=slug).exists():
        raise NetworkExists(_("A network with the slug %(slug)s already exists.") % {"slug": slug})
    network = Network.objects.create(slug=slug, name=name, description=description, **options)
    if coordinator is not None:
        network_role_set(network=network, user=coordinator, role=NetworkRole.Role.COORDINATOR)
    return network


def network_role_set(*, network: Network, user, role: str) -> NetworkRole:
    obj, _created = NetworkRole.objects.update_or_create(
        network=network, user=user, defaults={"role": role}
    )
    return obj


class StaffError(Exception):
    """A change of the staff team that is refused; the message says why."""


@transaction.atomic
def staff_add(*, network: Network, email: str, role: str, identified_access: bool = False):
    """Adds a coordinator or researcher by e-mail (an account is created if needed; they
    sign in with a code sent to that address)."""
    user = user_for_email(email=email)
    existing = NetworkRole.objects.filter(network=network, user=user).first()
    if existing is not None:
        raise StaffError(
            _("%(email)s is already on the staff of this network.") % {"email": user.email}
        )
    return NetworkRole.objects.create(
        network=network,
        user=user,
        role=role,
        identified_access=identified_access and role == NetworkRole.Role.RESEARCHER,
    )


@transaction.atomic
def staff_update(*, network: Network, staff_role: NetworkRole, acting_user, **changes):
    """Grants or withdraws a researcher's identified access, or removes a staff member.
    A network never loses its last coordinator, and nobody removes themselves."""
    current = NetworkRole.objects.select_for_update().get(pk=staff_role.pk, network=network)
    if changes.get("remove"):
        if current.user_id == acting_user.pk:
            raise StaffError(_("You cannot remove yourself."))
        if current.role == NetworkRole.Role.COORDINATOR and (
            NetworkRole.objects.filter(network=network, role=NetworkRole.Role.COORDINATOR).count()
            <= 1
        ):
            raise StaffError(_("A network needs at least one coordinator."))
        current.delete()
        return None
    if "identified_access" in changes:
        if current.role != NetworkRole.Role.RESEARCHER:
            raise StaffError(_("Coordinators always see names."))
        current.identified_access = bool(changes["identified_access"])
        current.save(update_fields=["identified_access"])
    return current


def user_for_email(*, email: str, display_name: str = ""):
    """The sign-in account for an address, created (without a password) if missing.

    The coordinator registered the address, and allauth's login by code proves it on
    first sign-in; we record it as the account's primary address.
    """
    User = get_user_model()
    email = email.strip().lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email=email, display_name=display_name)
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"primary": True, "verified": False}
    )
    return user


# --- plain create and update (forms) --------------------------------------------------


def _save(obj, data: dict):
    for key, value in data.items():
        setattr(obj, key, value)
    obj.full_clean()
    obj.save()
    return obj


@transaction.atomic
def region_save(*, network: Network, region: Region | None = None, data: dict) -> Region:
    indicators_mark_dirty(network.pk)
    return _save(region or Region(network=network), data)


@transaction.atomic
def organization_save(
    *, network: Network, organization: Organization | None = None, data: dict
) -> Organization:
    indicators_mark_dirty(network.pk)
    return _save(organization or Organization(network=network), data)


def _consent_dates(participant: Participant, today: dt.date) -> None:
    if participant.research_consent == Participant.Consent.GIVEN:
        participant.consent_given_on = participant.consent_given_on or today
        participant.consent_withdrawn_on = None
    elif participant.research_consent == Participant.Consent.WITHDRAWN:
        participant.consent_withdrawn_on = participant.consent_withdrawn_on or today


@transaction.atomic
def participant_save(
    *, network: Network, participant: Participant | None = None, data: dict
) -> Participant:
    participant = participant or Participant(network=network)
    data = dict(data)
    if "email" in data:
        data["email"] = data["email"].strip().lower()
    for key, value in data.items():
        setattr(participant, key, value)
    _consent_dates(participant, timezone.localdate())
    participant.full_clean()
    participant.save()
    indicators_mark_dirty(network.pk)
    return participant


@transaction.atomic
def participant_update_own_profile(*, participant: Participant, data: dict) -> Participant:
    """What a participant may change about themself in the portal."""
    allowed = {"full_name", "name_kana", "position", "preferred_language", "bulletin_opt_out"}
    for key in set(data) & allowed:
        setattr(participant, key, data[key])
    consent = data.get("research_consent")
    if consent and consent != participant.research_consent:
        participant.research_consent = consent
        if consent == Participant.Consent.GIVEN:
            participant.consent_given_on = timezone.localdate()
            participant.consent_withdrawn_on = None
        elif consent == Participant.Consent.WITHDRAWN:
            participant.consent_withdrawn_on = timezone.localdate()
    participant.full_clean()
    participant.save()
    return participant


# --- portal invitations ---------------------------------------------------------------


@transaction.atomic
def participants_invite(*, network: Network, participant_ids: list[int]) -> list[Participant]:
    """Give each participant a sign-in account and e-mail them a sign-in link.

    The e-mail is sent by a task after the commit; the task sends once per invitation
    (it claims the row by clearing nothing twice: see send_portal_invitation).
    """
    from ..tasks import send_portal_invitation

    now = timezone.now()
    stamp = now.isoformat()
    invited = list(
        Participant.objects.select_for_update()
        .filter(network=network, pk__in=participant_ids)
        .order_by("pk")
    )
    for participant in invited:
        participant.user = participant.user or user_for_email(
            email=participant.email, display_name=participant.full_name
        )
        participant.invited_at = now
        participant.invitation_sent_at = None
        participant.save(update_fields=["user", "invited_at", "invitation_sent_at", "updated_at"])
        transaction.on_commit(lambda pk=participant.pk: send_portal_invitation.delay(pk, stamp))
    return invited


def participant_claim_invitation(*, participant_id: int, invited_at: str) -> Participant | None:
    """Claim the right to send one invitation; None if already sent or superseded.

    A conditional UPDATE so that a task delivered twice sends one e-mail.
    """
    at = dt.datetime.fromisoformat(invited_at)
    claimed = Participant.objects.filter(
        pk=participant_id, invited_at=at, invitation_sent_at__isnull=True
    ).update(invitation_sent_at=timezone.now())
    if not claimed:
        return None
    return Participant.objects.select_related("network", "organization").get(pk=participant_id)


def participant_unclaim_invitation(*, participant_id: int) -> None:
    Participant.objects.filter(pk=participant_id).update(invitation_sent_at=None)
