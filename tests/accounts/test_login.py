"""Signing in through allauth's real views, with the mail outbox."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from coordination import emails

pytestmark = pytest.mark.django_db

CODE = re.compile(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", re.MULTILINE)


def _code_from_last_mail() -> str:
    body = mail.outbox[-1].body
    match = CODE.search(body)
    assert match, body
    return match.group(1)


def _sign_in_by_code(client, email: str):
    response = client.post(reverse("account_request_login_code"), {"email": email})
    assert response.status_code == 302
    assert response.url == reverse("account_confirm_login_code")
    assert mail.outbox[-1].to == [email.lower()]
    return client.post(reverse("account_confirm_login_code"), {"code": _code_from_last_mail()})


def test_participant_signs_in_by_code_and_lands_in_the_portal(client, member_a):
    response = _sign_in_by_code(client, member_a.email)
    assert response.status_code == 302
    home = client.get(response.url, follow=True)
    assert home.redirect_chain[-1][0] == reverse("portal_home", args=[member_a.network.slug])
    assert member_a.full_name in home.content.decode()
    member_a.user.refresh_from_db()
    assert member_a.user.last_login is not None


def test_email_matching_ignores_case_at_sign_in(client, member_a):
    response = _sign_in_by_code(client, member_a.email.upper())
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302  # signed in: home redirects to portal


def test_a_wrong_code_does_not_sign_in(client, member_a):
    client.post(reverse("account_request_login_code"), {"email": member_a.email})
    response = client.post(reverse("account_confirm_login_code"), {"code": "WRONG1"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_unknown_address_gets_no_code_and_no_account(client, db):
    client.post(reverse("account_request_login_code"), {"email": "nobody@example.com"})
    assert not get_user_model().objects.filter(email="nobody@example.com").exists()
    # allauth prevents enumeration: it may tell the address it is unknown, never a code.
    assert all(not CODE.search(m.body) for m in mail.outbox)


def test_coordinator_signs_in_with_a_password(client, coordinator):
    response = client.post(
        reverse("account_login"), {"login": coordinator.email, "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(coordinator.pk)


def test_participant_without_password_cannot_use_the_password_form(client, member_a):
    response = client.post(reverse("account_login"), {"login": member_a.email, "password": ""})
    assert "_auth_user_id" not in client.session
    assert response.status_code == 200


def test_requesting_codes_is_rate_limited(member_a):
    # A fresh browser session each time, as an attacker would use: the limit is per address.
    statuses = [
        Client().post(reverse("account_request_login_code"), {"email": member_a.email}).status_code
        for _ in range(5)
    ]
    assert statuses == [302, 302, 302, 200, 200]
    assert len(mail.outbox) == 3  # the refused requests send nothing


def test_open_sign_up_is_closed(client, db):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "new@example.com",
            "password1": "a long pass phrase",
            "password2": "a long pass phrase",
        },
    )
    assert not get_user_model().objects.filter(email="new@example.com").exists()
    assert response.status_code == 200
    assert (
        "signup_closed" in response.templates[0].name
        or "closed" in response.content.decode().lower()
    )


def test_admin_login_goes_through_allauth(client, db):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_admin_refuses_signed_in_non_staff(client, member_a):
    client.force_login(member_a.user)
    assert client.get("/admin/login/").status_code == 403
    assert client.get("/admin/").status_code == 302


def test_staff_coordinator_reaches_the_admin(client, coordinator):
    client.force_login(coordinator)
    assert client.get("/admin/").status_code in (
        200,
        403,
    )  # staff, no model perms needed to see the index
    coordinator.is_superuser = True
    coordinator.save()
    assert client.get("/admin/coordination/participant/").status_code == 200


def test_invitation_link_page_changes_nothing_on_get_and_posts_to_the_code_flow(client, member_a):
    token = emails.welcome_token(member_a)
    response = client.get(reverse("portal_welcome", args=[token]))
    assert response.status_code == 200
    assert len(mail.outbox) == 0  # a mail scanner opening the link sends nothing
    assert "_auth_user_id" not in client.session
    html = response.content.decode()
    assert reverse("account_request_login_code") in html
    assert member_a.email in html


def test_invitation_link_dies_when_the_address_changes(client, member_a):
    token = emails.welcome_token(member_a)
    member_a.email = "changed@example.com"
    member_a.save()
    assert client.get(reverse("portal_welcome", args=[token])).status_code == 404


def test_a_forged_invitation_token_is_refused(client, member_a):
    assert client.get(reverse("portal_welcome", args=["not-a-token"])).status_code == 404


def test_a_freshly_invited_participant_signs_in_by_code(
    client, network, django_capture_on_commit_callbacks
):
    from allauth.account.models import EmailAddress

    from coordination import services
    from tests.factories import ParticipantFactory

    person = ParticipantFactory(network=network, email="new.member@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        services.participants_invite(network=network, participant_ids=[person.pk])
    assert not EmailAddress.objects.get(email="new.member@example.com").verified
    response = _sign_in_by_code(client, "new.member@example.com")
    assert response.status_code == 302
    assert client.get(reverse("home")).url == reverse("portal_home", args=[network.slug])
    # Receiving the code proved the address.
    assert EmailAddress.objects.get(email="new.member@example.com").verified
